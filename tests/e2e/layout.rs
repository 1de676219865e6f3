//! The workspace layout (issue 13), proven on real projects: a project of
//! palisade 0.1's layout moved by `palisade generate`, keeping the team's
//! hooks and lock file ([`migrate`], run by the server setup of every
//! example that has one), and a project its team grows (a dependency, a
//! route of its own, a hook using the dependency) across a regeneration
//! after a spec change ([`team_grows_its_service`]).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use palisade::source::SourceFile;
use serde_json::{Value, json};

use super::http::Request;
use super::server::{self, palisade, repo};
use super::tokens::Principal;

/// The project palisade 0.1 generated from `examples/<example>.yaml`, if
/// the fixtures hold one.
pub fn old_project(example: &str) -> Option<PathBuf> {
    let dir = repo().join("tests/fixtures/layout-0.1").join(example);
    dir.is_dir().then_some(dir)
}

/// What a move kept of the old project.
pub struct Moved {
    /// The old project's `Cargo.lock`, if it had one.
    pub lock: Option<Vec<u8>>,
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// The team's hook files (`src/hooks/<resource>.rs`; `mod.rs` is
/// palisade's), by name, with their bytes.
fn team_hooks(project: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(project.join("src/hooks"))
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_name() != "mod.rs")
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

fn stdout_of(output: &std::process::Output, what: &str) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{what} failed:\n{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// Runs `palisade generate spec --out out`; its standard output.
fn generate(spec: &Path, out: &Path) -> String {
    let output = palisade([
        "generate".as_ref(),
        spec.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ]);
    stdout_of(&output, "`palisade generate`")
}

/// Copies the 0.1-layout project `old` to `out` and moves it to the
/// current layout with `palisade generate spec`: the move is announced,
/// the team's hooks and lock file are kept byte for byte, the manifest,
/// `main` and library are handed over, and nothing of the old generated
/// layout (`src/api`, `src/runtime`, `tests/security*`) remains.
pub fn migrate(old: &Path, spec: &Path, out: &Path) -> Moved {
    copy_dir(old, out);
    for path in ["src/api/mod.rs", "src/runtime/mod.rs", "tests/security.rs"] {
        assert!(
            out.join(path).is_file(),
            "{} is not a project of the old layout: no {path}",
            old.display()
        );
    }
    let hooks = team_hooks(out);
    assert!(!hooks.is_empty(), "{} has no hooks", old.display());
    let lock = std::fs::read(out.join("Cargo.lock")).ok();

    let said = generate(spec, out);
    for expected in [
        "moved to the workspace layout of palisade",
        if lock.is_some() {
            "your hooks and Cargo.lock were kept (run `cargo update -w`"
        } else {
            "your hooks were kept"
        },
        "yours from now on: Cargo.toml",
        "yours from now on: src/main.rs",
        "yours from now on: src/lib.rs",
        "removed src/api/mod.rs",
        "removed src/runtime/mod.rs",
        "removed tests/security.rs",
        "removed tests/security/cases.rs",
    ] {
        assert!(
            said.contains(expected),
            "moving {}: `palisade generate` does not say {expected:?}:\n{said}",
            old.display()
        );
    }
    assert_eq!(
        team_hooks(out),
        hooks,
        "moving {}: the team's hooks changed",
        old.display()
    );
    if let Some(lock) = &lock {
        assert!(
            std::fs::read(out.join("Cargo.lock")).unwrap() == *lock,
            "moving {}: Cargo.lock changed",
            old.display()
        );
    }
    for gone in [
        "src/api",
        "src/runtime",
        "tests/security.rs",
        "tests/security",
    ] {
        assert!(
            !out.join(gone).exists(),
            "moving {}: {gone} is still there",
            old.display()
        );
    }
    for new in [
        "api/Cargo.toml",
        "api/src/lib.rs",
        "api/tests/security.rs",
        "runtime/Cargo.toml",
        "runtime/src/lib.rs",
        "src/hooks/mod.rs",
    ] {
        assert!(
            out.join(new).is_file(),
            "moving {}: no {new}",
            old.display()
        );
    }
    let manifest = std::fs::read_to_string(out.join("Cargo.toml")).unwrap();
    assert!(
        manifest.contains("[workspace]") && !manifest.contains("@generated"),
        "moving {}: Cargo.toml is not the team's workspace manifest:\n{manifest}",
        old.display()
    );
    println!("{}: moved from palisade 0.1's layout", old.display());
    Moved { lock }
}

/// The `[[package]]` entries of a lock file: name, version, source and
/// checksum lines.
fn locked_packages(lock: &str) -> BTreeSet<Vec<String>> {
    lock.split("[[package]]")
        .skip(1)
        .map(|entry| {
            entry
                .lines()
                .filter(|l| {
                    ["name = ", "version = ", "source = ", "checksum = "]
                        .iter()
                        .any(|k| l.starts_with(k))
                })
                .map(str::to_owned)
                .collect()
        })
        .collect()
}

/// The lock file after the first build of a moved project still pins every
/// package of `old` (the team's lock) at its version and checksum; cargo
/// only added the workspace's own crates (`<service>-api` and
/// `palisade-runtime`) and what the runtime needs that the team's lock
/// lacked, at the versions of the lock palisade ships.
pub fn lock_kept(old: &[u8], new: &Path, service: &str) {
    let old = locked_packages(&String::from_utf8_lossy(old));
    let new = locked_packages(&std::fs::read_to_string(new).unwrap());
    let dropped: Vec<_> = old.difference(&new).collect();
    assert!(
        dropped.is_empty(),
        "the build changed packages of the team's Cargo.lock: {dropped:?}"
    );
    let workspace = [
        format!("name = \"{service}-api\""),
        "name = \"palisade-runtime\"".into(),
    ];
    let shipped = locked_packages(palisade::generate::LOCK);
    let added: Vec<_> = new.difference(&old).collect();
    assert!(
        added.iter().all(|p| {
            (workspace.contains(&p[0]) && !p.iter().any(|l| l.starts_with("source = ")))
                || shipped.contains(*p)
        }),
        "the build added more than the workspace crates to the team's Cargo.lock: {added:?}"
    );
}

/// The team's `src/main.rs`: a route for signed-in callers and a public
/// one, beside the spec's.
const TEAM_MAIN: &str = r#"//! The billing server, with routes of our own beside the spec's.

use palisade_runtime::auth::Caller;
use palisade_runtime::axum::routing::get;

/// Signed-in callers only: who is asking.
async fn ping(caller: Caller) -> String {
    match caller.principal() {
        Some(p) => format!("pong {}", p.user),
        None => "pong".to_owned(),
    }
}

/// Anyone: whether the service is up.
async fn status() -> &'static str {
    "up"
}

fn main() -> std::process::ExitCode {
    let service = billing::hooks::service()
        .route("/ping", get(ping))
        .public_route("/status", get(status));
    palisade_runtime::main(service)
}
"#;

/// The team's invoice hook, using the dependency it added (`itoa`).
const TEAM_HOOK: &str = r#"//! Business logic for `invoice` rows: ours.

use crate::api::invoice::{CreateInput, Hooks};
use crate::runtime::access::Access;
use crate::runtime::problem::Problem;

impl Hooks for super::Custom {
    /// An invoice created without notes gets its amount as notes.
    async fn before_create(_access: &Access, input: &mut CreateInput) -> Result<(), Problem> {
        if input.notes.is_none() {
            let mut amount = itoa::Buffer::new();
            input.notes = Some(format!("{} cents", amount.format(input.amount_cents.get())));
        }
        Ok(())
    }
}
"#;

/// The dependency the team adds to its manifest.
const TEAM_DEPENDENCY: &str = "itoa = \"1\"";

/// Issue 13's "done when": billing generated fresh, grown by its team (a
/// dependency in `Cargo.toml`, a signed-in and a public route in
/// `src/main.rs`, a hook using the dependency), regenerated after a spec
/// change (a field added to `customer`): every team file is kept, the
/// project builds, lints, passes its tests and `check`, and over HTTP the
/// routes, the hook and the new field all work.
pub fn team_grows_its_service() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("billing.yaml");
    let out = dir.path().join("billing");
    let original = std::fs::read_to_string(repo().join("examples/billing.yaml")).unwrap();
    std::fs::write(&spec, &original).unwrap();
    let said = generate(&spec, &out);
    assert!(
        !said.contains("moved to the workspace layout"),
        "a fresh project is not moved:\n{said}"
    );
    // The lock file of a fresh project is complete and current: cargo
    // resolves the workspace with it as it is.
    if let Err(output) =
        super::build::cargo(&out, &["metadata", "--locked", "--format-version", "1"])
    {
        panic!("the fresh project's Cargo.lock needs updating:\n{output}");
    }

    // The team's changes.
    let manifest = std::fs::read_to_string(out.join("Cargo.toml")).unwrap();
    let grown = manifest.replacen(
        "[dependencies]\n",
        &format!("[dependencies]\n# Ours: amounts written by a hook.\n{TEAM_DEPENDENCY}\n"),
        1,
    );
    assert_ne!(
        grown, manifest,
        "the team's Cargo.toml has a [dependencies] table"
    );
    std::fs::write(out.join("Cargo.toml"), &grown).unwrap();
    std::fs::write(out.join("src/main.rs"), TEAM_MAIN).unwrap();
    std::fs::write(out.join("src/hooks/invoice.rs"), TEAM_HOOK).unwrap();
    let team_files = [
        "Cargo.toml",
        "src/main.rs",
        "src/lib.rs",
        "src/hooks/customer.rs",
    ]
    .into_iter()
    .map(|f| (f, std::fs::read(out.join(f)).unwrap()))
    .collect::<Vec<_>>();

    // A spec change: a field added to customer.
    let changed = original.replacen(
        "      email: { type: email, pii: true }\n",
        "      email: { type: email, pii: true }\n      phone: { type: string, max_length: 32 }\n",
        1,
    );
    assert_ne!(
        changed, original,
        "billing.yaml has the expected customer fields"
    );
    std::fs::write(&spec, &changed).unwrap();
    let said = generate(&spec, &out);
    assert!(
        !said.contains("yours from now on"),
        "a regeneration hands nothing over:\n{said}"
    );
    for (file, bytes) in &team_files {
        assert!(
            std::fs::read(out.join(file)).unwrap() == *bytes,
            "the regeneration changed the team's {file}"
        );
    }
    assert_eq!(
        std::fs::read_to_string(out.join("src/hooks/invoice.rs")).unwrap(),
        TEAM_HOOK,
        "the regeneration changed the team's invoice hook"
    );
    let manifest = std::fs::read_to_string(out.join("Cargo.toml")).unwrap();
    assert!(
        manifest.lines().any(|l| l == TEAM_DEPENDENCY),
        "the team's dependency is gone from Cargo.toml:\n{manifest}"
    );
    assert!(
        std::fs::read_to_string(out.join("api/src/customer.rs"))
            .unwrap()
            .contains("phone"),
        "the regenerated API has no `phone`"
    );

    // The dependency is new to the lock file: no --locked.
    let claim = server::claim(&out);
    let binary = server::build(&claim, &out, "billing", false, dir.path());
    server::verify(&claim, &out, &spec);
    drop(claim);
    let lock = std::fs::read_to_string(out.join("Cargo.lock")).unwrap();
    let root = lock
        .split("[[package]]")
        .find(|p| p.contains("\nname = \"billing\"\n"))
        .expect("the lock file has the service's package");
    assert!(
        root.contains("\"itoa\""),
        "the service's package in Cargo.lock does not depend on itoa:\n{root}"
    );

    let model = palisade::compile(SourceFile::new("billing.yaml", changed))
        .expect("the changed spec is valid")
        .model;
    let server = server::launch(dir, out, model, binary);
    let addr = server.addr;
    let alice = Principal::new("alice", "acme", &[]);
    let token = server.keys.token(&alice);

    // The team's routes.
    let r = Request::new("GET", "/ping").send(addr);
    assert_eq!(r.status, 401, "/ping without a token: {}", r.text());
    let r = Request::new("GET", "/ping").bearer(&token).send(addr);
    assert_eq!(r.status, 200, "/ping with a token: {}", r.text());
    assert_eq!(r.text(), "pong alice", "/ping sees the caller");
    let r = Request::new("GET", "/status").send(addr);
    assert_eq!(r.status, 200, "/status without a token: {}", r.text());
    assert_eq!(r.text(), "up");

    // The new field.
    let r = Request::new("POST", "/customers")
        .bearer(&token)
        .json(&json!({"name": "Ada", "phone": "+44 20 7946 0000"}))
        .send(addr);
    assert_eq!(r.status, 201, "a customer with a phone: {}", r.text());
    let customer = r.json();
    assert_eq!(customer["phone"], json!("+44 20 7946 0000"), "{customer}");

    // The hook, with the team's dependency: notes written from the amount
    // when there are none, kept when there are.
    let r = Request::new("POST", "/invoices")
        .bearer(&token)
        .json(&json!({"number": "INV-1", "amount_cents": 1234, "customer": customer["id"]}))
        .send(addr);
    assert_eq!(r.status, 201, "an invoice: {}", r.text());
    assert_eq!(
        r.json()["notes"],
        json!("1234 cents"),
        "the hook wrote the notes"
    );
    let r = Request::new("POST", "/invoices")
        .bearer(&token)
        .json(&json!({
            "number": "INV-2",
            "amount_cents": 99,
            "customer": customer["id"],
            "notes": "by hand"
        }))
        .send(addr);
    assert_eq!(r.status, 201, "an invoice with notes: {}", r.text());
    assert_eq!(
        r.json()["notes"],
        Value::from("by hand"),
        "the hook kept the notes"
    );
    println!("billing, grown by its team: regenerated, built, checked and served");
}
