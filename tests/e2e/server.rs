//! Generating, building and starting a project from an example spec.
//!
//! Every generated project is built in one shared target directory
//! (`target/e2e`), so dependencies compile once for all of them; each is
//! checked with `cargo clippy --workspace --all-targets -- -D warnings`,
//! `cargo fmt --all --check`, its own `cargo test` and `palisade check`
//! before it is started on a free loopback port with a fresh SQLite
//! database.

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
    /// The server's SQLite database file (its log is `<file>-wal`); not
    /// used by a server on PostgreSQL.
    pub database: PathBuf,
    /// The PostgreSQL database the server runs on, if it does (dropped
    /// after the server stops).
    pub postgres: Option<PgDatabase>,
    child: Child,
    _dir: tempfile::TempDir,
}

/// The machine's PostgreSQL for tests: `PALISADE_TEST_POSTGRES`
/// (`postgres://postgres@127.0.0.1:5432` unless set), if it answers.
/// Where it does not, a test that wants it is skipped with a message,
/// unless `PALISADE_REQUIRE_POSTGRES=1` (CI), which makes it a failure.
pub fn postgres_base() -> Option<String> {
    let base = std::env::var("PALISADE_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    let answers = Command::new("psql")
        .args([&format!("{base}/postgres"), "-qAtc", "SELECT 1"])
        .stdin(Stdio::null())
        .output()
        .is_ok_and(|o| o.status.success());
    if answers {
        return Some(base);
    }
    let required = std::env::var("PALISADE_REQUIRE_POSTGRES").is_ok_and(|v| v == "1");
    assert!(
        !required,
        "PostgreSQL does not answer at {base} (psql), and PALISADE_REQUIRE_POSTGRES=1"
    );
    eprintln!(
        "SKIPPED: the PostgreSQL tier (no PostgreSQL answers psql at {base}; start one, or set \
         PALISADE_TEST_POSTGRES=postgres://USER@HOST:PORT)"
    );
    None
}

/// A database made for one test on the machine's PostgreSQL, with a name
/// no other run uses, dropped (with its connections) when this is dropped.
pub struct PgDatabase {
    base: String,
    pub name: String,
}

impl PgDatabase {
    /// A new, empty database on `base` (from [`postgres_base`]).
    pub fn create(base: &str, label: &str) -> PgDatabase {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis();
        let label: String = label
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .collect();
        let name = format!("palisade_{label}_{}_{stamp}_{n}", std::process::id());
        psql(base, &format!("CREATE DATABASE \"{name}\""));
        PgDatabase {
            base: base.to_owned(),
            name,
        }
    }

    /// The database's URL.
    pub fn url(&self) -> String {
        format!("{}/{}", self.base, self.name)
    }

    /// Runs `statement` in this database (as the connecting superuser,
    /// whom row-level security does not hold); answers psql's unaligned
    /// output.
    pub fn query(&self, statement: &str) -> String {
        let out = Command::new("psql")
            .args([&self.url(), "-qAtc", statement])
            .stdin(Stdio::null())
            .output()
            .expect("psql runs");
        assert!(
            out.status.success(),
            "psql {statement:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .args([
                &format!("{}/postgres", self.base),
                "-qAtc",
                &format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name),
            ])
            .stdin(Stdio::null())
            .output();
        // The role the server made for it (roles are the cluster's).
        let _ = Command::new("psql")
            .args([
                &format!("{}/postgres", self.base),
                "-qAtc",
                &format!("DROP ROLE IF EXISTS \"{}_app\"", self.name),
            ])
            .stdin(Stdio::null())
            .output();
    }
}

/// Runs one statement on the `postgres` database of `base`; panics with
/// psql's message when it fails.
pub fn psql(base: &str, statement: &str) -> String {
    let out = Command::new("psql")
        .args([&format!("{base}/postgres"), "-qAtc", statement])
        .stdin(Stdio::null())
        .output()
        .expect("psql runs");
    assert!(
        out.status.success(),
        "psql {statement:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The same project as `server`, started again from its binary on a new
/// PostgreSQL database; `None` (with a message) where there is no
/// PostgreSQL to use.
pub fn on_postgres(server: &Server) -> Option<Server> {
    let base = postgres_base()?;
    let db = PgDatabase::create(&base, &server.model.name);
    let dir = tempfile::tempdir().unwrap();
    let url = db.url();
    Some(launch_on(
        dir,
        server.project.clone(),
        server.model.clone(),
        server.binary.clone(),
        url,
        Some(db),
    ))
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
        // A failing test shows what the server said last.
        if std::thread::panicking() {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            eprintln!(
                "--- the last lines of {}'s log:\n{}",
                self.model.name,
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
    }
}

/// The generated project whose crates the shared target directory holds.
static BUILT: std::sync::Mutex<Option<PathBuf>> = std::sync::Mutex::new(None);

/// The shared target directory, held for one project while cargo runs on
/// it: every project's crates have the same names and the same paths in
/// their workspace (`palisade-runtime` in `runtime/`, `<service>-api` in
/// `api/`, the service's package at the root), so cargo gives every
/// project the same artifacts there and decides whether they are current
/// by modification times alone. A project whose files are older than
/// another project's build of the same crates would be served that build
/// (a flaw would not be compiled in, or a sound project would be tested
/// with a flawed crate). So cargo runs for one project at a time in this
/// process, and a project that was not the last one built has its files
/// touched first, which makes cargo rebuild its own crates.
pub struct Claim {
    _held: std::sync::MutexGuard<'static, Option<PathBuf>>,
}

/// Waits for the shared target directory and claims it for `project`.
pub fn claim(project: &Path) -> Claim {
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if built.as_deref() != Some(project) {
        touch(project);
        *built = Some(project.to_path_buf());
    }
    Claim { _held: built }
}

/// Sets the modification time of every file under `dir` to now.
fn touch(dir: &Path) {
    let now = std::time::SystemTime::now();
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let kind = entry.file_type().unwrap();
        if kind.is_dir() {
            touch(&entry.path());
        } else if kind.is_file() {
            std::fs::File::options()
                .write(true)
                .open(entry.path())
                .and_then(|f| f.set_modified(now))
                .unwrap_or_else(|e| panic!("cannot touch {}: {e}", entry.path().display()));
        }
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

pub fn free_port() -> u16 {
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
    let auth = &server.model.auth;
    let key_env = auth.key.env().expect("the e2e suite sets the key variable");
    let jwks = auth.key.is_jwks();
    let short = if auth.hmac() {
        "too-short"
    } else if jwks {
        // Plain http to another host: anyone on the way could swap keys.
        "http://id.example.com/jwks"
    } else {
        "-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----\n"
    };
    // RFC 7518 section 3.2: an HMAC key at least as long as the hash (32,
    // 48 or 64 bytes): one byte less is refused, with the length needed.
    let min = auth.algorithms[0]
        .min_secret_bytes()
        .filter(|_| auth.hmac());
    // A port nothing listens on now (not a fixed one: as root, a test's
    // server may hold even port 1).
    let unanswered = format!("postgres://postgres@127.0.0.1:{}/x", free_port());
    let mut cases: Vec<(&str, Vec<(&str, String)>)> = vec![
        ("missing key", vec![]),
        ("bad key", vec![(key_env, short.to_string())]),
        (
            "bad database URL",
            vec![
                (key_env, server.keys.server_key()),
                ("DATABASE_URL", "mysql://nowhere/x".into()),
            ],
        ),
        (
            "PostgreSQL that does not answer",
            vec![
                (key_env, server.keys.server_key()),
                ("DATABASE_URL", unanswered.clone()),
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
    if jwks {
        // No key can be had: the server gives up after its start-up
        // deadline (15 s) and does not start.
        cases.push((
            "unreachable key set",
            vec![(key_env, "http://127.0.0.1:9/jwks".into())],
        ));
    }
    if jwks {
        key_sets_fail_closed(server, key_env);
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
        let status = refused_by(&mut child, Instant::now() + Duration::from_secs(20), what);
        let stderr = std::fs::read_to_string(log.path()).unwrap_or_default();
        assert!(!status.success(), "{what}: the server must not start");
        assert!(
            stderr.contains("error:"),
            "{what}: a clear message, got {stderr}"
        );
        if what == "unreachable key set" {
            assert!(
                stderr.contains("no signing key could be had from http://127.0.0.1:9/jwks"),
                "{what}: the message names the key set: {stderr}"
            );
        } else if what == "PostgreSQL that does not answer" {
            assert!(
                stderr.contains(&format!("cannot open {unanswered}: ")),
                "{what}: the message names the database and why: {stderr}"
            );
        } else if what != "bad database URL" && what != "bad bind address" {
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

/// MISC-07: a key set that is slow, 5 MB, malformed or a redirect to
/// another host gives no key: the server does not start, says why, within
/// its start-up bound, and never follows the redirect.
fn key_sets_fail_closed(server: &Server, key_env: &str) {
    use super::jwks::{Provider, set};
    let canary = Provider::start(&set(&[&server.keys.provider_key().jwk]));
    let moved = canary.url().replace("127.0.0.1", "127.0.0.2");
    let huge = format!("{{\"keys\": [], \"padding\": \"{}\"}}", "x".repeat(5 << 20));
    let providers = [
        (
            "slow",
            Provider::hostile(200, "{}".into(), Duration::from_secs(30), None),
        ),
        ("5 MB", Provider::hostile(200, huge, Duration::ZERO, None)),
        (
            "malformed",
            Provider::hostile(200, "{\"keys\": [".into(), Duration::ZERO, None),
        ),
        (
            "redirect",
            Provider::hostile(302, String::new(), Duration::ZERO, Some(moved)),
        ),
    ];
    // All at once: each takes the server's start-up bound (15 s).
    let started = Instant::now();
    let children: Vec<_> = providers
        .iter()
        .map(|(what, provider)| {
            let log = tempfile::NamedTempFile::new().unwrap();
            let child = Command::new(&server.binary)
                .env(key_env, provider.url())
                .env("BIND_ADDR", "127.0.0.1:1")
                .env("DATABASE_URL", "sqlite::memory:")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log.reopen().unwrap())
                .spawn()
                .unwrap();
            (*what, child, log)
        })
        .collect();
    for (what, mut child, log) in children {
        let status = refused_by(
            &mut child,
            started + Duration::from_secs(25),
            &format!("a {what} key set"),
        );
        let stderr = std::fs::read_to_string(log.path()).unwrap_or_default();
        assert!(
            !status.success(),
            "a {what} key set: the server must not start"
        );
        assert!(
            stderr.contains("no signing key could be had from"),
            "a {what} key set: the message says why: {stderr}"
        );
    }
    assert_eq!(
        canary.hits(),
        0,
        "the server followed a redirect to another host"
    );
    super::attacks::hit(&["MISC-07"]);
}

/// The exit status of `child`, a server that must not start: it must have
/// exited by `deadline`, else it is killed and the test fails with `what`.
pub fn refused_by(child: &mut Child, deadline: Instant, what: &str) -> std::process::ExitStatus {
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what}: the server must not start (still running at its deadline)");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Runs the palisade binary under test with `args`, without colour.
pub fn palisade<I, S>(args: I) -> std::process::Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("palisade runs")
}

/// Generates the spec at `spec` (relative to the repository), builds,
/// lints and tests the project, and starts it. An example with a project
/// of palisade 0.1's layout in `tests/fixtures/layout-0.1/` starts from a
/// copy of that project, moved to the current layout by `palisade
/// generate` ([`super::layout::migrate`]): the attacks then run against
/// the moved project, which is how each example's move is proven to build,
/// pass its own tests and `check`.
pub fn start(spec: &str) -> Server {
    start_with(spec, None)
}

/// A deliberate flaw applied to the generated project before it is built:
/// a name (the package is renamed after it, so its binary never replaces
/// the sound one) and an edit of the project directory.
/// The flag says whether the project's own tests (`api/tests/security.rs`)
/// must notice the flaw too (they cover isolation, tokens, bodies and
/// grants, not rates or CORS, which only the e2e suite attacks over a real
/// socket).
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

/// Like [`start`], with a flaw injected (and no lint: flawed code may
/// warn). A flawed project is always generated fresh.
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
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join(example);
    let name = compiled.model.name.clone();
    let write_fresh = || {
        let project = palisade::generate::generate(&compiled.model, &file);
        let manifest = palisade::write::Manifest::of(&project, &file, text.as_bytes());
        palisade::write::write(&project, &manifest, &out, Default::default())
            .expect("project written");
    };
    let binary = match (flaw, super::layout::old_project(example)) {
        (Some((flaw, apply, own_tests_notice)), _) => {
            write_fresh();
            let binary_name = format!("{name}-flaw-{flaw}");
            edit(
                &out.join("Cargo.toml"),
                "[package]",
                &format!("name = \"{name}\""),
                &format!("name = \"{binary_name}\""),
            );
            // The library keeps its name, which the binary refers to.
            let manifest = out.join("Cargo.toml");
            let text = std::fs::read_to_string(&manifest).unwrap();
            let lib = name.replace('-', "_");
            std::fs::write(&manifest, format!("{text}\n[lib]\nname = \"{lib}\"\n")).unwrap();
            apply(&out);
            let claim = claim(&out);
            let binary = build(&claim, &out, &binary_name, false, dir.path());
            // The project's own security tests must notice the flaw as well.
            let own = super::build::configure(
                Command::new(env!("CARGO"))
                    .args(["test", "-p", &format!("{name}-api"), "--test", "security"])
                    .current_dir(&out),
            )
            .output()
            .expect("cargo runs");
            if own_tests_notice {
                let stdout = String::from_utf8_lossy(&own.stdout);
                assert!(
                    !own.status.success() && stdout.contains("test result: FAILED"),
                    "the generated project's own tests did not notice the flaw `{flaw}`:\n{stdout}{}",
                    String::from_utf8_lossy(&own.stderr)
                );
            }
            binary
        }
        (None, Some(old)) => {
            let moved = super::layout::migrate(&old, &spec_path, &out);
            let claim = claim(&out);
            // A lock file the team kept lacks the new workspace crates,
            // which the first build adds: --locked would refuse it.
            let binary = build(&claim, &out, &name, moved.lock.is_none(), dir.path());
            if let Some(lock) = &moved.lock {
                super::layout::lock_kept(lock, &out.join("Cargo.lock"), &name);
            }
            verify(&claim, &out, &spec_path);
            binary
        }
        (None, None) => {
            write_fresh();
            let claim = claim(&out);
            // --locked: the shipped Cargo.lock must be complete and current.
            let binary = build(&claim, &out, &name, true, dir.path());
            verify(&claim, &out, &spec_path);
            binary
        }
    };
    launch(dir, out, compiled.model, binary)
}

/// Builds the project at `out`, whose root package is `package`, and
/// returns a copy of its binary in `keep`: another test of this run may
/// build a package of that name from other sources into the shared target
/// directory once the claim is released.
pub fn build(_: &Claim, out: &Path, package: &str, locked: bool, keep: &Path) -> PathBuf {
    let mut args = vec!["build", "--quiet"];
    if locked {
        args.push("--locked");
    }
    cargo(out, &args);
    let built = target_dir().join("debug").join(package);
    let binary = keep.join(format!("{package}.bin"));
    std::fs::copy(&built, &binary)
        .unwrap_or_else(|e| panic!("cannot copy {}: {e}", built.display()));
    binary
}

/// What every sound project must pass once built: clippy on every crate
/// of the workspace, rustfmt on every file, its own tests (the API's
/// security tests, not the runtime's unit tests), and `palisade check`
/// against `spec`.
pub fn verify(_: &Claim, out: &Path, spec: &Path) {
    cargo(
        out,
        &[
            "clippy",
            "--quiet",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
    );
    cargo(out, &["fmt", "--all", "--check"]);
    // Cargo's messages and the tests' output in one file, in order.
    let log = tempfile::NamedTempFile::new().unwrap();
    let shared = log.reopen().unwrap();
    let status = super::build::configure(
        Command::new(env!("CARGO"))
            .arg("test")
            .current_dir(out)
            .stdout(shared.try_clone().unwrap())
            .stderr(shared),
    )
    .status()
    .expect("cargo runs");
    let text = std::fs::read_to_string(log.path()).unwrap();
    assert!(
        status.success(),
        "`cargo test` failed in {}:\n{text}",
        out.display()
    );
    let security = text
        .split("Running tests/security.rs")
        .nth(1)
        .and_then(|rest| rest.lines().find_map(|l| l.strip_prefix("running ")))
        .and_then(|l| l.strip_suffix(" tests"))
        .and_then(|n| n.parse::<usize>().ok());
    assert!(
        security.is_some_and(|n| n > 0),
        "`cargo test` at the project root runs the API's security tests:\n{text}"
    );
    assert!(
        !text.contains("palisade_runtime-"),
        "`cargo test` at the project root runs the runtime's own tests:\n{text}"
    );
    let check = palisade([
        "check".as_ref(),
        spec.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ]);
    assert!(
        check.status.success(),
        "`palisade check` after the build:\n{}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
}

/// Starts `binary`, the server of the project `out` (inside `dir`, which
/// the server keeps), on a free loopback port with a fresh database, and
/// waits until it answers.
pub fn launch(dir: tempfile::TempDir, out: PathBuf, model: Service, binary: PathBuf) -> Server {
    let database = dir.path().join("db.sqlite");
    let url = format!("sqlite://{}?mode=rwc", database.display());
    launch_on(dir, out, model, binary, url, None)
}

/// [`launch`] on the database `url` (`postgres` is the PostgreSQL
/// database it names, if it does).
fn launch_on(
    dir: tempfile::TempDir,
    out: PathBuf,
    model: Service,
    binary: PathBuf,
    url: String,
    postgres: Option<PgDatabase>,
) -> Server {
    let keys = Keys::for_model(&model);
    let port = free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let log = dir.path().join("server.log");
    let database = dir.path().join("db.sqlite");
    let child = Command::new(&binary)
        .env("BIND_ADDR", addr.to_string())
        .env("DATABASE_URL", url)
        .env(
            model
                .auth
                .key
                .env()
                .expect("the e2e suite sets the key variable"),
            keys.server_key(),
        )
        .env("RUST_LOG", "debug")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(std::fs::File::options().append(true).open(&log).unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
    let server = Server {
        addr,
        model,
        keys,
        log,
        binary,
        project: out,
        database,
        postgres,
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
