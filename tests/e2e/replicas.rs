//! Two replicas of one generated server on one Redis (the spec's
//! `throttle.redis`): one PostgreSQL database (one SQLite file where no
//! PostgreSQL answers), started at once (the migrations are applied once,
//! under the advisory lock), a row made on one read on the other, two
//! ports, a private
//! `redis-server` on a free port (never the machine's shared one, since
//! this test stops it). A user's requests alternating between the
//! replicas are limited at the declared rate, not twice it, and so is an
//! anonymous address; both say `"limiter": "shared"` on `/health`. Then
//! Redis is stopped mid-run: under `on_error: local` the replicas keep
//! serving, each counting in its own memory (429s, never a 5xx), and
//! `/health` says `degraded` with 200. A server whose spec names Redis
//! refuses to start without the variable, or with a value that is not a
//! redis:// URL, naming it. Skipped, with a message, where no
//! `redis-server` (or `REDIS_SERVER`) can run. The servers run in a
//! directory of their own, so a developer's `.env` (which the server reads
//! for unset variables) does not change what they see.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use palisade::source::SourceFile;

use super::http::{Request, Response, fresh_source};
use super::server::{build, claim, free_port, repo, verify};
use super::tokens::{Keys, Principal};

const SPEC: &str = "tests/fixtures/replicas.yaml";

/// A child process killed when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A `redis-server` of this test's own, or `None` where none can run.
/// Ready once it answers `INFO` with its own process id: a port that
/// merely accepts connections may be another process's, should the child
/// have failed to listen.
fn private_redis() -> Option<(Running, u16)> {
    let binary = std::env::var("REDIS_SERVER").unwrap_or_else(|_| "redis-server".into());
    let port = free_port();
    let child = Command::new(&binary)
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let mut redis = Running(child);
    let pid = format!("process_id:{}\r\n", redis.0.id());
    let deadline = Instant::now() + Duration::from_secs(10);
    while !redis_info(port).is_some_and(|info| info.contains(&pid)) {
        if let Ok(Some(status)) = redis.0.try_wait() {
            panic!("{binary} exited ({status}) before serving on port {port}: is it taken?");
        }
        assert!(Instant::now() < deadline, "{binary} did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    Some((redis, port))
}

/// What the Redis on `port` answers to `INFO server`, if one answers.
fn redis_info(port: u16) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(1))).ok()?;
    s.write_all(b"INFO server\r\n").ok()?;
    let mut buf = Vec::new();
    let mut chunk = [0; 4096];
    loop {
        let n = s.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf);
        let header = text.strip_prefix('$')?;
        let Some((len, body)) = header.split_once("\r\n") else {
            continue;
        };
        let len: usize = len.parse().ok()?;
        if body.len() >= len {
            return Some(body[..len].to_owned());
        }
    }
}

/// Starts a replica without waiting for it; its log goes to `log`.
fn spawn_replica(
    binary: &Path,
    env: &[(&str, String)],
    dir: &Path,
    log: &Path,
) -> (Running, SocketAddr) {
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let mut cmd = Command::new(binary);
    cmd.current_dir(dir)
        .env("BIND_ADDR", addr.to_string())
        .env("RUST_LOG", "info");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap();
    (Running(child), addr)
}

/// Waits until the replica at `addr` answers `/health`.
fn wait_for(_: &Running, addr: SocketAddr, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !(TcpStream::connect(addr).is_ok()
        && Request::new("GET", "/health").send(addr).status == 200)
    {
        assert!(
            Instant::now() < deadline,
            "the replica did not start:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The server refuses to start with `env` (in `dir`, where no `.env`
/// supplies the variable the test leaves out), naming `var`.
fn refuses(binary: &Path, env: &[(&str, String)], dir: &Path, var: &str, what: &str) {
    let mut cmd = Command::new(binary);
    cmd.current_dir(dir)
        .env("BIND_ADDR", format!("127.0.0.1:{}", free_port()))
        .env_remove(var);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = Running(
        cmd.stdin(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let status =
        super::server::refused_by(&mut child.0, Instant::now() + Duration::from_secs(20), what);
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.0.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert!(!status.success(), "{what}: the server must not start");
    assert!(
        stderr.contains("error:") && stderr.contains(var),
        "{what}: a message naming {var}: {stderr}"
    );
    assert!(
        !stderr.contains("hunter2"),
        "{what}: the value is not shown: {stderr}"
    );
}

fn remaining(r: &Response) -> Option<u32> {
    let field = r.header("ratelimit")?;
    let r = field.split(';').find_map(|p| p.strip_prefix("r="))?;
    r.parse().ok()
}

pub fn two_replicas_share_each_bucket() {
    let Some((redis, redis_port)) = private_redis() else {
        println!(
            "SKIPPED two replicas on one Redis: no redis-server could run; install Redis or set \
             REDIS_SERVER to its path to run this test"
        );
        return;
    };
    let spec_path = repo().join(SPEC);
    let text = std::fs::read_to_string(&spec_path).unwrap();
    let compiled =
        palisade::compile(SourceFile::new("replicas.yaml", text.clone())).expect("a valid spec");
    let model = compiled.model;
    let shared = model.throttle.redis.clone().expect("the spec names Redis");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("replicas");
    let project = palisade::generate::generate(&model, "replicas.yaml");
    let manifest = palisade::write::Manifest::of(&project, "replicas.yaml", text.as_bytes());
    palisade::write::write(&project, &manifest, &out, Default::default()).unwrap();
    let binary = {
        let claim = claim(&out);
        let binary = build(&claim, &out, &model.name, true, dir.path());
        verify(&claim, &out, &spec_path);
        binary
    };
    let keys = Keys::for_model(&model);
    let key_env = model
        .auth
        .key
        .env()
        .expect("the example reads its key from a variable");
    let database = dir.path().join("db.sqlite");
    let postgres = super::server::postgres_base()
        .map(|base| super::server::PgDatabase::create(&base, "replicas"));
    let url = match &postgres {
        Some(db) => db.url(),
        None => format!("sqlite://{}?mode=rwc", database.display()),
    };
    let redis_url = format!("redis://127.0.0.1:{redis_port}");
    let env = vec![
        (key_env, keys.server_key()),
        ("DATABASE_URL", url),
        (shared.url_env.as_str(), redis_url.clone()),
    ];
    // Fails closed: no variable, or not a Redis URL.
    let without: Vec<(&str, String)> = env
        .iter()
        .filter(|(k, _)| *k != shared.url_env)
        .cloned()
        .collect();
    let run = dir.path().join("run");
    std::fs::create_dir(&run).unwrap();
    refuses(&binary, &without, &run, &shared.url_env, "no Redis URL");
    let mut wrong = without.clone();
    wrong.push((
        shared.url_env.as_str(),
        "http://user:hunter2@cache:6379".into(),
    ));
    refuses(&binary, &wrong, &run, &shared.url_env, "not a redis:// URL");

    // Both start at once on a new database: each migration is applied once.
    let (a_log, b_log) = (dir.path().join("a.log"), dir.path().join("b.log"));
    let (replica_a, a) = spawn_replica(&binary, &env, &run, &a_log);
    let (replica_b, b) = spawn_replica(&binary, &env, &run, &b_log);
    wait_for(&replica_a, a, &a_log);
    wait_for(&replica_b, b, &b_log);
    let applied = |log: &Path| {
        std::fs::read_to_string(log)
            .unwrap_or_default()
            .matches("migration applied")
            .count()
    };
    assert_eq!(
        applied(&a_log) + applied(&b_log),
        1,
        "the one migration was applied once by the two replicas"
    );
    if let Some(db) = &postgres {
        let rows = db.query("SELECT count(*) FROM \"_palisade_migrations\"");
        assert_eq!(rows.trim(), "1", "one migration recorded");
    }
    // A row made through one replica is read through the other.
    let carol = Principal::new(
        &format!("carol-{}", uuid::Uuid::new_v4().simple()),
        "t",
        &[],
    );
    let token = keys.token(&carol);
    let made = Request::new("POST", "/notes")
        .bearer(&token)
        .json(&serde_json::json!({"title": "shared"}))
        .send(a);
    assert_eq!(made.status, 201, "{}", made.text());
    let id = made.json()["id"].as_str().unwrap().to_owned();
    let read = Request::new("GET", &format!("/notes/{id}"))
        .bearer(&token)
        .send(b);
    assert_eq!(read.status, 200, "{}", read.text());
    for addr in [a, b] {
        let r = Request::new("GET", "/health").send(addr);
        assert_eq!(
            r.json(),
            serde_json::json!({"status": "ok", "limiter": "shared"})
        );
    }
    // A user alternating between the replicas: the declared rate, once.
    let user_rate = model.throttle.user;
    let alice = Principal::new(
        &format!("alice-{}", uuid::Uuid::new_v4().simple()),
        "t",
        &[],
    );
    let token = keys.token(&alice);
    let mut allowed = Vec::new();
    for i in 0..(2 * user_rate.count) {
        let addr = if i % 2 == 0 { a } else { b };
        let r = Request::new("GET", "/notes").bearer(&token).send(addr);
        assert!(r.status < 500, "{}: {}", r.status, r.text());
        if r.status == 200 {
            allowed.push(remaining(&r).expect("a RateLimit header"));
        } else {
            assert_eq!(r.status, 429, "{}", r.text());
            assert!(r.header("retry-after").is_some());
        }
    }
    let expected: Vec<u32> = (0..user_rate.count).rev().collect();
    assert_eq!(
        allowed, expected,
        "{user_rate} per user across both replicas, the bucket counted once"
    );
    // An anonymous address alternating: the anonymous rate, once.
    let anon_rate = model.throttle.anon;
    let source = fresh_source();
    let started = Instant::now();
    let anon_allowed = (0..2 * anon_rate.count)
        .filter(|i| {
            let addr = if i % 2 == 0 { a } else { b };
            let r = Request::new("GET", "/notes").from(source).send(addr);
            assert!(r.status == 200 || r.status == 429, "{}", r.status);
            r.status == 200
        })
        .count() as u64;
    let period = u64::from(anon_rate.per.seconds() / anon_rate.count).max(1);
    let refill = started.elapsed().as_secs() / period;
    assert!(
        (u64::from(anon_rate.count)..=u64::from(anon_rate.count) + refill).contains(&anon_allowed),
        "{anon_allowed} anonymous requests allowed at {anon_rate} over two replicas"
    );

    // Redis stops: under `local`, each replica counts in its own memory.
    drop(redis);
    let bob = Principal::new(&format!("bob-{}", uuid::Uuid::new_v4().simple()), "t", &[]);
    let token = keys.token(&bob);
    for addr in [a, b] {
        let statuses: Vec<u16> = (0..user_rate.count + 2)
            .map(|_| {
                Request::new("GET", "/notes")
                    .bearer(&token)
                    .send(addr)
                    .status
            })
            .collect();
        let ok = statuses.iter().filter(|s| **s == 200).count();
        assert!(
            statuses.iter().all(|s| *s == 200 || *s == 429),
            "never a 5xx under on_error: local: {statuses:?}"
        );
        assert_eq!(ok as u32, user_rate.count, "per replica: {statuses:?}");
        let r = Request::new("GET", "/health").send(addr);
        assert_eq!(r.status, 200);
        assert_eq!(
            r.json(),
            serde_json::json!({"status": "degraded", "limiter": "local"})
        );
    }
    let log = std::fs::read_to_string(dir.path().join("a.log")).unwrap();
    let lines = log.matches("Redis does not answer").count();
    assert!(
        (1..=2).contains(&lines),
        "the degradation is logged, not once per request ({lines} lines):\n{log}"
    );
    assert!(!log.contains(&redis_url), "the URL is never logged");
    println!(
        "replicas: {} of {} alternating requests allowed at {user_rate} per user; Redis stopped: \
         each replica allowed {} on its own, no 5xx",
        allowed.len(),
        2 * user_rate.count,
        user_rate.count
    );
}
