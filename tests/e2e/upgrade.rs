//! A deployed service across three versions of its spec (issue 15): each
//! version is generated over the last, built, and started on the same
//! databases (an SQLite file, and a PostgreSQL database under row-level
//! security where PostgreSQL answers), which keep every row; the
//! destructive change is refused without `--allow-destructive` (exit 2,
//! nothing written) and applied with it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use palisade::source::SourceFile;
use serde_json::{Value, json};

use super::http::Request;
use super::server::{self, palisade, repo};
use super::tokens::{Keys, Principal};

/// A server process on a database that outlives it.
struct Running {
    addr: SocketAddr,
    child: Child,
    log: PathBuf,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(binary: &Path, database: &str, keys: &Keys, key_env: &str, log: PathBuf) -> Running {
    let addr: SocketAddr = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap();
    let child = Command::new(binary)
        .env("BIND_ADDR", addr.to_string())
        .env("DATABASE_URL", database)
        .env(key_env, keys.server_key())
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(std::fs::File::options().append(true).open(&log).unwrap())
        .spawn()
        .unwrap();
    let running = Running { addr, child, log };
    let deadline = Instant::now() + Duration::from_secs(20);
    while !(std::net::TcpStream::connect(addr).is_ok()
        && Request::new("GET", "/health").send(addr).status == 200)
    {
        assert!(
            Instant::now() < deadline,
            "the server did not start:\n{}",
            std::fs::read_to_string(&running.log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    running
}

fn generate(spec: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    let mut args: Vec<&std::ffi::OsStr> = vec![
        "generate".as_ref(),
        spec.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ];
    args.extend(extra.iter().map(std::ffi::OsStr::new));
    palisade(args)
}

/// The SQLite migrations of the project at `out` (PostgreSQL's are in
/// `migrations/postgres/`, numbered alike).
fn migrations(out: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(out.join("migrations"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".sql"))
        .collect();
    names.sort();
    names
}

/// Builds the project at `out` and keeps its binary as `<keep>/<package>.bin`.
fn build(out: &Path, keep: &Path) -> PathBuf {
    std::fs::create_dir_all(keep).unwrap();
    let claim = server::claim(out);
    server::build(&claim, out, "billing", false, keep)
}

fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = Request::new(method, path).bearer(token);
    if let Some(body) = &body {
        request = request.json(body);
    }
    let r = request.send(addr);
    assert!(
        r.status < 500,
        "{method} {path} answered {}: {}",
        r.status,
        r.text()
    );
    let value = if r.text().is_empty() {
        Value::Null
    } else {
        r.json()
    };
    (r.status, value)
}

pub fn service_keeps_its_rows_across_three_spec_versions() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("billing.yaml");
    let out = dir.path().join("billing");
    let database = dir.path().join("billing.db");
    let sqlite = format!("sqlite://{}?mode=rwc", database.display());
    let postgres = server::postgres_base().map(|base| server::PgDatabase::create(&base, "upgrade"));
    let mut databases = vec![sqlite.clone()];
    databases.extend(postgres.as_ref().map(server::PgDatabase::url));
    let v1 = std::fs::read_to_string(repo().join("examples/billing.yaml")).unwrap();
    std::fs::write(&spec, &v1).unwrap();
    let said = generate(&spec, &out, &[]);
    assert!(
        said.status.success(),
        "{}",
        String::from_utf8_lossy(&said.stderr)
    );
    assert_eq!(migrations(&out), ["0001_init.sql"]);
    let model = palisade::compile(SourceFile::new("billing.yaml", v1.clone()))
        .unwrap()
        .model;
    let keys = Keys::for_model(&model);
    let key_env = model.auth.key.env().expect("a key variable").to_string();
    let alice = keys.token(&Principal::new("alice", "acme", &[]));
    let bob = keys.token(&Principal::new("bob", "acme", &[]));

    // Version 1: rows of two owners.
    let binary = build(&out, &dir.path().join("v1"));
    let made: Vec<(Value, Value, Value)> = databases.iter().enumerate().map(|(n, database)| {
        let s = serve(
            &binary,
            database,
            &keys,
            &key_env,
            dir.path().join(format!("v1-{n}.log")),
        );
        let (status, customer) = send(
            s.addr,
            "POST",
            "/customers",
            &alice,
            Some(json!({"name": "Ada", "email": "ada@example.com"})),
        );
        assert_eq!(status, 201, "{customer}");
        let (status, invoice) = send(
            s.addr,
            "POST",
            "/invoices",
            &alice,
            Some(
                json!({"number": "N-1", "amount_cents": 1200, "customer": customer["id"], "notes": "first invoice"}),
            ),
        );
        assert_eq!(status, 201, "{invoice}");
        let (status, bobs) = send(
            s.addr,
            "POST",
            "/customers",
            &bob,
            Some(json!({"name": "Bo"})),
        );
        assert_eq!(status, 201, "{bobs}");
        (customer, invoice, bobs)
    }).collect();

    // Version 2: a required field with a default, a renamed field, a new
    // resource. Without `renamed_from` the rename is refused with a hint.
    let unhinted = v1
        .replacen(
            "      email: { type: email, pii: true }\n",
            "      email: { type: email, pii: true }\n      tier: { type: string, enum: [basic, gold], required: true, default: basic }\n",
            1,
        )
        .replacen("      notes:        { type: string, max_length: 2000 }\n", "      memo:         { type: string, max_length: 2000 }\n", 1);
    assert_ne!(unhinted, v1, "billing.yaml has the expected fields");
    std::fs::write(&spec, &unhinted).unwrap();
    let refused = generate(&spec, &out, &[]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("did you rename `notes` to `memo`? add `renamed_from: notes`"),
        "{stderr}"
    );
    assert_eq!(migrations(&out), ["0001_init.sql"], "nothing written");
    let v2 = unhinted.replacen(
        "      memo:         { type: string, max_length: 2000 }\n",
        "      memo:         { type: string, max_length: 2000, renamed_from: notes }\n",
        1,
    ) + "  payment:\n    owner: owner_id\n    fields:\n      invoice: { type: ref, resource: invoice, required: true }\n      cents: { type: integer, required: true }\n";
    std::fs::write(&spec, &v2).unwrap();
    let said = generate(&spec, &out, &[]);
    assert!(
        said.status.success(),
        "{}",
        String::from_utf8_lossy(&said.stderr)
    );
    let after_v2 = migrations(&out);
    assert_eq!(after_v2.len(), 2, "{after_v2:?}");
    let binary = build(&out, &dir.path().join("v2"));
    for (n, (database, (customer, invoice, bobs))) in databases.iter().zip(&made).enumerate() {
        let s = serve(
            &binary,
            database,
            &keys,
            &key_env,
            dir.path().join(format!("v2-{n}.log")),
        );
        let path = format!("/invoices/{}", invoice["id"].as_str().unwrap());
        let (status, row) = send(s.addr, "GET", &path, &alice, None);
        assert_eq!(status, 200, "{row}");
        assert_eq!(
            row["memo"], "first invoice",
            "the renamed field keeps its value"
        );
        assert_eq!(row["amount_cents"], 1200);
        let path = format!("/customers/{}", customer["id"].as_str().unwrap());
        let (status, row) = send(s.addr, "GET", &path, &alice, None);
        assert_eq!(status, 200, "{row}");
        assert_eq!(
            row["tier"], "basic",
            "the new required field has its default"
        );
        assert_eq!(row["email"], "ada@example.com");
        // Still owner-scoped after the rebuild.
        let path = format!("/customers/{}", bobs["id"].as_str().unwrap());
        assert_eq!(send(s.addr, "GET", &path, &alice, None).0, 404);
        let (status, payment) = send(
            s.addr,
            "POST",
            "/payments",
            &alice,
            Some(json!({"invoice": invoice["id"], "cents": 1200})),
        );
        assert_eq!(status, 201, "{payment}");
        let (status, _) = send(
            s.addr,
            "POST",
            "/payments",
            &bob,
            Some(json!({"invoice": invoice["id"], "cents": 1})),
        );
        assert_eq!(status, 422, "bob cannot link alice's invoice");
    }

    // Version 3: a dropped field and a new unique, refused without the
    // flag (exit 2, the change and the flag named, nothing written).
    let v3 = v2
        .replacen("      email: { type: email, pii: true }\n", "", 1)
        .replacen(
            "      name:  { type: string, max_length: 120, required: true }\n",
            "      name:  { type: string, max_length: 120, required: true, unique: per_owner }\n",
            1,
        );
    assert_ne!(v3, v2);
    std::fs::write(&spec, &v3).unwrap();
    let manifest = std::fs::read(out.join(".palisade/manifest.json")).unwrap();
    let refused = generate(&spec, &out, &[]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("drop field `email` of `customer`"),
        "{stderr}"
    );
    assert!(stderr.contains("--allow-destructive"), "{stderr}");
    assert_eq!(migrations(&out), after_v2, "nothing written");
    assert_eq!(
        std::fs::read(out.join(".palisade/manifest.json")).unwrap(),
        manifest
    );
    let said = generate(&spec, &out, &["--allow-destructive"]);
    assert!(
        said.status.success(),
        "{}",
        String::from_utf8_lossy(&said.stderr)
    );
    assert_eq!(migrations(&out).len(), 3);
    let binary = build(&out, &dir.path().join("v3"));
    {
        let claim = server::claim(&out);
        server::verify(&claim, &out, &spec);
    }
    for (n, (database, (customer, ..))) in databases.iter().zip(&made).enumerate() {
        let s = serve(
            &binary,
            database,
            &keys,
            &key_env,
            dir.path().join(format!("v3-{n}.log")),
        );
        let path = format!("/customers/{}", customer["id"].as_str().unwrap());
        let (status, row) = send(s.addr, "GET", &path, &alice, None);
        assert_eq!(status, 200, "{row}");
        assert_eq!(row["name"], "Ada");
        assert!(
            row.get("email").is_none(),
            "the dropped field is gone: {row}"
        );
        let (status, list) = send(s.addr, "GET", "/payments", &alice, None);
        assert_eq!(status, 200);
        assert_eq!(list["items"].as_array().map(Vec::len), Some(1), "{list}");
        let ada = json!({"name": "Ada", "tier": "gold"});
        let (status, body) = send(s.addr, "POST", "/customers", &alice, Some(ada.clone()));
        assert_eq!(status, 409, "the new unique holds: {body}");
        let (status, _) = send(s.addr, "POST", "/customers", &bob, Some(ada));
        assert_eq!(status, 201, "per owner");
        drop(s);
        // A restart applies nothing again.
        let again = serve(
            &binary,
            database,
            &keys,
            &key_env,
            dir.path().join(format!("v3b-{n}.log")),
        );
        let (status, _) = send(again.addr, "GET", &path, &alice, None);
        assert_eq!(status, 200);
        drop(again);
    }
    let path = format!("/customers/{}", made[0].0["id"].as_str().unwrap());

    // A migration edited after it was applied: the rebuilt server refuses
    // to start, naming the file, and the database keeps its rows.
    let second = out.join("migrations").join(&after_v2[1]);
    let text = std::fs::read_to_string(&second).unwrap();
    std::fs::write(&second, format!("{text}-- edited by hand\n")).unwrap();
    let edited = build(&out, &dir.path().join("edited"));
    let log = dir.path().join("edited.log");
    let mut child = Command::new(&edited)
        .env("BIND_ADDR", "127.0.0.1:0")
        .env("DATABASE_URL", &sqlite)
        .env(&key_env, keys.server_key())
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(std::fs::File::options().append(true).open(&log).unwrap())
        .spawn()
        .unwrap();
    let status = server::refused_by(
        &mut child,
        Instant::now() + Duration::from_secs(20),
        "an edited migration",
    );
    let said = std::fs::read_to_string(&log).unwrap();
    assert!(!status.success(), "{said}");
    assert!(
        said.contains(&format!("migrations/{}", after_v2[1]))
            && said.contains("changed after it was applied"),
        "the refusal names the edited file: {said}"
    );
    std::fs::write(&second, text).unwrap();
    let restored = build(&out, &dir.path().join("restored"));
    let s = serve(
        &restored,
        &sqlite,
        &keys,
        &key_env,
        dir.path().join("restored.log"),
    );
    assert_eq!(send(s.addr, "GET", &path, &alice, None).0, 200);
}
