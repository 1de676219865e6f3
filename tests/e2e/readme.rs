//! The generated README, run as a newcomer pastes it: its "Run it" block
//! in one shell (a fresh `.env`, then `cargo run`), its "Call it" session
//! in a second one, each in the project's directory. Every call of the
//! session must answer the status its line shows (`# -> 201`), so the
//! README can never drift from the server again.

use std::io::Read;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::build::configure;
use super::http::Request;
use super::server::Server;

/// The README's address, which the test replaces by a free port's.
const README_API: &str = "API=http://127.0.0.1:8080";

/// The body of the first ```sh block after the heading `heading`.
fn block<'a>(readme: &'a str, heading: &str) -> &'a str {
    let section = &readme[readme
        .find(heading)
        .unwrap_or_else(|| panic!("the README has no `{heading}`"))..];
    let start = section.find("```sh\n").expect("a shell block") + "```sh\n".len();
    let end = section[start..].find("\n```").expect("a closed block");
    &section[start..start + end]
}

/// A shell in `dir` as a newcomer's: the shared target directory (the
/// project was built there), nothing of the spec's keys in the
/// environment, so only what the README writes counts.
fn shell(dir: &Path, script: &str, key_env: &str) -> Command {
    let mut cmd = Command::new("bash");
    configure(
        cmd.args(["-euo", "pipefail", "-c", script])
            .current_dir(dir),
    )
    .env_remove(key_env)
    .env_remove("DATABASE_URL")
    .env_remove("BIND_ADDR")
    .env_remove("RUST_LOG")
    .stdin(Stdio::null());
    cmd
}

/// The "Run it" block, serving in a process group of its own.
struct Serving(Child);

impl Drop for Serving {
    fn drop(&mut self) {
        let group = format!("-{}", self.0.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let _ = self.0.wait();
    }
}

/// Runs the README's session against a server started as the README says.
pub fn session(server: &Server) {
    use std::os::unix::process::CommandExt;

    let dir = &server.project;
    let key_env = server
        .model
        .auth
        .key
        .env()
        .expect("the README's examples read their key from a variable");
    let readme = std::fs::read_to_string(dir.join("README.md")).unwrap();
    let run = block(&readme, "## Run it");
    assert!(
        run.lines().last().unwrap().starts_with("cargo run"),
        "the Run it block ends with `cargo run`:\n{run}"
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let log = dir.join("readme-server.log");
    // `cargo run` builds in the shared target directory: held until the
    // server it started answers.
    let claim = super::server::claim(dir);
    let serving = Serving(
        shell(dir, run, key_env)
            .env("BIND_ADDR", addr.to_string())
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(std::fs::File::options().append(true).open(&log).unwrap())
            .process_group(0)
            .spawn()
            .expect("bash runs"),
    );
    let deadline = Instant::now() + Duration::from_secs(120);
    while !(std::net::TcpStream::connect(addr).is_ok()
        && Request::new("GET", "/health").send(addr).status == 200)
    {
        assert!(
            Instant::now() < deadline,
            "{}: the README's Run it block did not serve:\n{}",
            server.model.name,
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // The session's `cargo run -- dev-token` lines run cargo in the shared
    // target directory too: the claim is held until they are done, or a
    // build of another project there could race with them (and one of the
    // two would get the other's crates).
    let calls = block(&readme, "## Call it");
    assert!(
        calls.contains(README_API),
        "the session names the README's address"
    );
    let script = format!(
        "exec 2>&1\n{}",
        calls.replace(README_API, &format!("API=http://{addr}"))
    );
    let mut child = shell(dir, &script, key_env)
        .stdout(Stdio::piped())
        .spawn()
        .expect("bash runs");
    let mut output = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut output)
        .unwrap();
    let status = child.wait().unwrap();
    drop(claim);
    drop(serving);
    let shown: Vec<&str> = calls
        .lines()
        .filter_map(|l| l.rsplit_once("# -> ").map(|(_, s)| s.trim()))
        .collect();
    let got: Vec<&str> = output
        .lines()
        .filter_map(|l| l.strip_prefix("HTTP "))
        .collect();
    assert!(
        status.success() && shown == got,
        "{}: the README's session got statuses {got:?}, its lines show {shown:?}:\n{output}",
        server.model.name
    );
    for expected in ["201", "200", "404", "204"] {
        assert!(
            shown.contains(&expected),
            "{}: the session shows no {expected}:\n{calls}",
            server.model.name
        );
    }
    println!(
        "{}: the README's session ran as pasted ({} calls)",
        server.model.name,
        got.len()
    );
}
