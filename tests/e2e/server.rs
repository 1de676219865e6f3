//! Generating, building and starting a project from an example spec.
//!
//! Every generated project is built in one shared target directory
//! (`target/e2e`), so dependencies compile once for all of them; each is
//! checked with `cargo clippy --all-targets -- -D warnings` and `cargo fmt
//! --check` before it is started on a free loopback port with a fresh
//! SQLite database.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use palisade::model::Service;
use palisade::source::SourceFile;

use super::http::Request;
use super::tokens::Keys;

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub use super::build::target_dir;

/// A generated project, built and running.
pub struct Server {
    pub addr: SocketAddr,
    pub model: Service,
    pub keys: Keys,
    pub log: PathBuf,
    pub binary: PathBuf,
    /// The generated project's directory.
    pub project: PathBuf,
    /// The server's SQLite database file (its log is `<file>-wal`).
    pub database: PathBuf,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Server {
    /// The server process's id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn cargo(dir: &Path, args: &[&str]) {
    if let Err(output) = super::build::cargo(dir, args) {
        panic!(
            "`cargo {}` failed in {}:\n{output}",
            args.join(" "),
            dir.display()
        );
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The binary refuses to start, with a clear message, on a missing or
/// short key, an unreadable key, or a bad database URL.
pub fn fails_closed(server: &Server) {
    let binary = &server.binary;
    let key_env = server.model.auth.key.env();
    let hmac = matches!(server.model.auth.key, palisade::model::Key::Secret { .. });
    let short = if hmac {
        "too-short"
    } else {
        "-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----\n"
    };
    // RFC 7518 section 3.2: an HMAC key at least as long as the hash (32,
    // 48 or 64 bytes): one byte less is refused, with the length needed.
    let min = server.model.auth.algorithm.min_secret_bytes();
    let mut cases: Vec<(&str, Vec<(&str, String)>)> = vec![
        ("missing key", vec![]),
        ("bad key", vec![(key_env, short.to_string())]),
        (
            "bad database URL",
            vec![
                (key_env, server.keys.server_key()),
                ("DATABASE_URL", "postgres://nowhere/x".into()),
            ],
        ),
        (
            "bad bind address",
            vec![
                (key_env, server.keys.server_key()),
                ("BIND_ADDR", "not-an-address".into()),
            ],
        ),
    ];
    if let Some(min) = min {
        cases.push((
            "secret one byte short",
            vec![(key_env, "k".repeat(min - 1))],
        ));
    }
    for (what, env) in cases {
        let mut cmd = Command::new(binary);
        cmd.env_remove(key_env)
            .env("BIND_ADDR", "127.0.0.1:1")
            .env("DATABASE_URL", "sqlite::memory:");
        for (k, v) in env {
            cmd.env(k, v);
        }
        // A server that starts anyway would never exit: wait a bounded time.
        let log = tempfile::NamedTempFile::new().unwrap();
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log.reopen().unwrap())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{what}: the server must not start (still running after 20 s)");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let stderr = std::fs::read_to_string(log.path()).unwrap_or_default();
        assert!(!status.success(), "{what}: the server must not start");
        assert!(
            stderr.contains("error:"),
            "{what}: a clear message, got {stderr}"
        );
        if what != "bad database URL" && what != "bad bind address" {
            assert!(
                stderr.contains(key_env),
                "{what}: the message names {key_env}: {stderr}"
            );
        }
        if let (Some(min), "secret one byte short") = (min, what) {
            assert!(
                stderr.contains(&format!("at least {min} ")),
                "{what}: the message says {min} bytes are needed: {stderr}"
            );
        }
    }
}

/// Generates the spec at `spec` (relative to the repository), builds and
/// lints the project, and starts it.
pub fn start(spec: &str) -> Server {
    start_with(spec, None)
}

/// A deliberate flaw applied to the generated project before it is built:
/// a name (the package is renamed after it, so its binary never replaces
/// the sound one) and an edit of the project directory.
/// The flag says whether the project's own `tests/security.rs` must notice
/// the flaw too (they cover isolation, tokens, bodies and grants, not rates
/// or CORS, which only the e2e suite attacks over a real socket).
pub type Flaw<'a> = (&'a str, &'a dyn Fn(&Path), bool);

/// Replaces the first `from` after `anchor` in `file` by `to`; panics when
/// the generated code no longer has that shape (so the flaw test is fixed,
/// not silently void).
pub fn edit(file: &Path, anchor: &str, from: &str, to: &str) {
    let text = std::fs::read_to_string(file).unwrap();
    let start = text
        .find(anchor)
        .unwrap_or_else(|| panic!("{anchor:?} not in {}", file.display()));
    let at = start
        + text[start..]
            .find(from)
            .unwrap_or_else(|| panic!("{from:?} not after {anchor:?} in {}", file.display()));
    let edited = format!("{}{to}{}", &text[..at], &text[at + from.len()..]);
    std::fs::write(file, edited).unwrap();
}

/// Like [`start`], with a flaw injected (and no lint: flawed code may warn).
pub fn start_with(spec: &str, flaw: Option<Flaw<'_>>) -> Server {
    let spec_path = repo().join(spec);
    let example = spec_path
        .file_stem()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let example = example.as_str();
    let text = std::fs::read_to_string(&spec_path).unwrap();
    let file = format!("{example}.yaml");
    let compiled =
        palisade::compile(SourceFile::new(file.clone(), text.clone())).expect("example is valid");
    let project = palisade::generate::generate(&compiled.model, &file);
    let manifest = palisade::write::Manifest::of(&project, &file, text.as_bytes());
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join(example);
    palisade::write::write(&project, &manifest, &out, Default::default()).expect("project written");
    let mut binary_name = compiled.model.name.clone();
    if let Some((name, apply, own_tests_notice)) = flaw {
        binary_name = format!("{}-flaw-{name}", compiled.model.name);
        edit(
            &out.join("Cargo.toml"),
            "[package]",
            &format!("name = \"{}\"", compiled.model.name),
            &format!("name = \"{binary_name}\""),
        );
        // The library keeps its name, which the binary refers to.
        let manifest = out.join("Cargo.toml");
        let text = std::fs::read_to_string(&manifest).unwrap();
        let lib = compiled.model.name.replace('-', "_");
        std::fs::write(&manifest, format!("{text}\n[lib]\nname = \"{lib}\"\n")).unwrap();
        apply(&out);
        cargo(&out, &["build", "--quiet"]);
        // The project's own security tests must notice the flaw as well.
        let own = super::build::configure(
            Command::new(env!("CARGO"))
                .args(["test", "--quiet", "--test", "security"])
                .current_dir(&out),
        )
        .output()
        .expect("cargo runs");
        if own_tests_notice {
            assert!(
                !own.status.success(),
                "the generated project's own tests did not notice the flaw `{name}`"
            );
        }
    } else {
        // --locked: the shipped Cargo.lock must be complete and current.
        cargo(&out, &["build", "--quiet", "--locked"]);
        cargo(
            &out,
            &["clippy", "--quiet", "--all-targets", "--", "-D", "warnings"],
        );
        cargo(&out, &["fmt", "--check"]);
        // The project's own tests (runtime units and tests/security.rs).
        cargo(&out, &["test", "--quiet"]);
    }

    let keys = Keys::for_model(&compiled.model);
    let port = free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let log = dir.path().join("server.log");
    // A copy of the binary just built: another run sharing the target
    // directory may rebuild the same package from other sources meanwhile.
    let built = target_dir().join("debug").join(&binary_name);
    let binary = dir.path().join(format!("{binary_name}.bin"));
    std::fs::copy(&built, &binary)
        .unwrap_or_else(|e| panic!("cannot copy {}: {e}", built.display()));
    let database = dir.path().join("db.sqlite");
    let child = Command::new(&binary)
        .env("BIND_ADDR", addr.to_string())
        .env(
            "DATABASE_URL",
            format!("sqlite://{}?mode=rwc", database.display()),
        )
        .env(compiled.model.auth.key.env(), keys.server_key())
        .env("RUST_LOG", "debug")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(std::fs::File::options().append(true).open(&log).unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
    let binary = binary.clone();
    let server = Server {
        addr,
        model: compiled.model,
        keys,
        log,
        binary,
        project: out.clone(),
        database,
        child,
        _dir: dir,
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let up = std::net::TcpStream::connect(addr).is_ok()
            && Request::new("GET", "/health").send(addr).status == 200;
        if up {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the server did not start:\n{}",
            std::fs::read_to_string(&server.log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    server
}
