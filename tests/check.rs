//! `palisade check`: drift of a generated project, found without writing.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::SystemTime;

use assert_cmd::Command;
use predicates::prelude::*;

fn palisade() -> Command {
    let mut cmd = Command::cargo_bin("palisade").unwrap();
    cmd.env_remove("GITHUB_ACTIONS").env_remove("NO_COLOR");
    cmd
}

fn mtimes(dir: &Path) -> BTreeMap<String, (SystemTime, Vec<u8>)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let m = std::fs::metadata(&p).unwrap().modified().unwrap();
                out.insert(
                    p.strip_prefix(dir).unwrap().display().to_string(),
                    (m, std::fs::read(&p).unwrap()),
                );
            }
        }
    }
    out
}

/// A copy of an example spec in `dir`, so tests can change it.
fn spec_copy(dir: &Path, example: &str) -> std::path::PathBuf {
    let path = dir.join(format!("{example}.yaml"));
    std::fs::copy(format!("examples/{example}.yaml"), &path).unwrap();
    path
}

/// `palisade check SPEC --out OUT`, run.
fn check(spec: &Path, out: &Path) -> assert_cmd::assert::Assert {
    palisade()
        .arg("check")
        .arg(spec)
        .arg("--out")
        .arg(out)
        .assert()
}

fn generate(spec: &Path, out: &Path) {
    palisade()
        .arg("generate")
        .arg(spec)
        .arg("--out")
        .arg(out)
        .assert()
        .code(0);
}

#[test]
fn a_fresh_generation_is_clean_and_check_never_writes() {
    let dir = tempfile::tempdir().unwrap();
    let spec = spec_copy(dir.path(), "billing");
    let out = dir.path().join("project");
    generate(&spec, &out);
    let before = mtimes(&out);
    check(&spec, &out)
        .code(0)
        .stdout(predicate::str::contains("up to date"));
    std::fs::write(out.join("api/src/invoice.rs"), "// edited\n").unwrap();
    let before_edit = mtimes(&out);
    check(&spec, &out).code(1);
    assert_eq!(mtimes(&out), before_edit, "check wrote something");
    assert_ne!(before, before_edit);
}

#[test]
fn a_hand_edited_file_is_named_with_its_diff() {
    let dir = tempfile::tempdir().unwrap();
    let spec = spec_copy(dir.path(), "billing");
    let out = dir.path().join("project");
    generate(&spec, &out);
    let file = out.join("api/src/customer.rs");
    let text = std::fs::read_to_string(&file).unwrap().replace(
        "update_reply: Grants::OWNER,",
        "update_reply: Grants::OWNER.public(),",
    );
    std::fs::write(&file, text).unwrap();
    check(&spec, &out)
        .code(1)
        .stdout(predicate::str::contains("hand-edited: api/src/customer.rs"))
        .stdout(predicate::str::contains("--- a/api/src/customer.rs"))
        .stdout(predicate::str::contains(
            "-    update_reply: Grants::OWNER.public(),",
        ))
        .stdout(predicate::str::contains(
            "0 stale, 1 hand-edited, 0 missing, 0 unexpected",
        ));
    // User files are never compared.
    std::fs::write(out.join("src/hooks/customer.rs"), "// mine\n").unwrap();
    check(&spec, &out)
        .code(1)
        .stdout(predicate::str::contains("1 hand-edited"));
}

#[test]
fn a_changed_spec_makes_the_project_stale_and_removed_resources_leave_unexpected_files() {
    let dir = tempfile::tempdir().unwrap();
    let spec = spec_copy(dir.path(), "billing");
    let out = dir.path().join("project");
    generate(&spec, &out);
    let text = std::fs::read_to_string(&spec).unwrap();
    std::fs::write(&spec, text.replace("max_length: 2000", "max_length: 3000")).unwrap();
    check(&spec, &out)
        .code(1)
        .stdout(predicate::str::contains("stale: api/src/invoice.rs"))
        .stdout(predicate::str::contains(
            "the spec changed since the last generation",
        ));
    generate(&spec, &out);
    check(&spec, &out).code(0);

    // Remove the invoice resource: its generated files are left behind until
    // generate removes them; the user's hook file stays, with a warning.
    std::fs::write(out.join("src/hooks/invoice.rs"), "// my invoice logic\n").unwrap();
    std::fs::write(out.join("src/notes.md"), "mine\n").unwrap();
    let text = std::fs::read_to_string(&spec).unwrap();
    let cut = text.find("  invoice:").unwrap();
    std::fs::write(&spec, &text[..cut]).unwrap();
    check(&spec, &out)
        .code(1)
        .stdout(predicate::str::contains("unexpected: api/src/invoice.rs"))
        .stdout(predicate::str::contains("warning: src/hooks/invoice.rs"))
        .stdout(predicate::str::contains(
            "migration missing: the spec's schema differs",
        ));
    // Dropping the table drops its rows: refused without the flag, and
    // nothing is written.
    let before = std::fs::read(out.join(".palisade/manifest.json")).unwrap();
    palisade()
        .arg("generate")
        .arg(&spec)
        .arg("--out")
        .arg(&out)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("error[unsafe-migration]"))
        .stderr(predicate::str::contains(
            "resource `invoice` was removed: migrating drops its table and every row of it",
        ))
        .stderr(predicate::str::contains("--allow-destructive"));
    assert_eq!(
        std::fs::read(out.join(".palisade/manifest.json")).unwrap(),
        before
    );
    assert!(out.join("api/src/invoice.rs").exists());
    palisade()
        .arg("generate")
        .arg(&spec)
        .arg("--out")
        .arg(&out)
        .arg("--allow-destructive")
        .assert()
        .code(0)
        .stdout(predicate::str::contains("removed api/src/invoice.rs"))
        .stderr(predicate::str::contains("src/hooks/invoice.rs"));
    assert!(!out.join("api/src/invoice.rs").exists());
    let drop = std::fs::read_dir(out.join("migrations"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .find(|n| n.starts_with("0002_drop_invoice"))
        .expect("the drop is the next migration");
    assert_eq!(
        std::fs::read_to_string(out.join("migrations").join(&drop))
            .unwrap()
            .matches("DROP TABLE \"invoice\";")
            .count(),
        1
    );
    assert_eq!(
        std::fs::read_to_string(out.join("src/hooks/invoice.rs")).unwrap(),
        "// my invoice logic\n"
    );
    assert_eq!(
        std::fs::read_to_string(out.join("src/notes.md")).unwrap(),
        "mine\n"
    );
    check(&spec, &out)
        .code(0)
        .stdout(predicate::str::contains("warning: src/hooks/invoice.rs"));
}

#[test]
fn missing_files_json_and_github_annotations() {
    let dir = tempfile::tempdir().unwrap();
    let spec = spec_copy(dir.path(), "shop");
    let out = dir.path().join("project");
    generate(&spec, &out);
    std::fs::remove_file(out.join("openapi.json")).unwrap();
    let output = palisade()
        .arg("check")
        .arg(&spec)
        .arg("--out")
        .arg(&out)
        .args(["--format", "json"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let doc: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(doc["clean"], false);
    assert_eq!(doc["summary"]["missing"], 1);
    assert_eq!(doc["files"][0]["path"], "openapi.json");
    assert_eq!(doc["files"][0]["kind"], "missing");
    palisade()
        .arg("check")
        .arg(&spec)
        .arg("--out")
        .arg(&out)
        .env("GITHUB_ACTIONS", "true")
        .assert()
        .code(1)
        .stdout(predicate::str::contains("::error file="))
        .stdout(predicate::str::contains(
            "openapi.json,line=1::missing generated file",
        ));
}

#[test]
fn an_invalid_spec_is_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("bad.yaml");
    std::fs::write(&spec, "palisade: 1\n").unwrap();
    palisade()
        .arg("check")
        .arg(&spec)
        .arg("--out")
        .arg(dir.path())
        .assert()
        .code(2);
}

/// The spec's file name is shown in the header comment of every generated
/// file; a name with a newline (or `-->`, `*/`) must not end that comment
/// and write lines of its own into the project, which `check` would then
/// accept as up to date. (A file name cannot hold `/`, so not `*/`.)
#[test]
fn a_spec_file_name_cannot_inject_text_into_generated_files() {
    let dir = tempfile::tempdir().unwrap();
    let name = "api.yaml\nfn pwned() {}\n[pwned]\n--> <script> pwned";
    let spec = dir.path().join(name);
    std::fs::copy("examples/billing.yaml", &spec).unwrap();
    let out = dir.path().join("project");
    generate(&spec, &out);
    let files = mtimes(&out);
    let header =
        "from api.yaml%0Afn%20pwned%28%29%20%7B%7D%0A%5Bpwned%5D%0A--%3E%20%3Cscript%3E%20pwned.";
    for (path, (_, bytes)) in &files {
        let text = String::from_utf8_lossy(bytes);
        if path.starts_with(".palisade") {
            continue;
        }
        for line in text.lines() {
            assert!(
                !line.contains("pwned") || line.contains(header),
                "{path}: a line of the file name got into the file: {line:?}"
            );
        }
        let first = text.lines().next().unwrap_or_default();
        if first.contains("@generated") && first.contains(" from ") {
            assert!(first.contains(header), "{path}: {first}");
        }
    }
    assert!(files.keys().any(|p| p == "Cargo.toml"));
    check(&spec, &out).code(0);
}

/// A symbolic link inside the output tree is never followed: `check` does
/// not print the content of a linked file in its diff, and `generate` does
/// not write through a linked directory; both refuse with exit 2.
#[cfg(unix)]
#[test]
fn links_inside_the_output_directory_are_refused() {
    use std::os::unix::fs::symlink;
    let dir = tempfile::tempdir().unwrap();
    let spec = spec_copy(dir.path(), "billing");
    let out = dir.path().join("project");
    generate(&spec, &out);
    let secret = dir.path().join("secret.txt");
    std::fs::write(&secret, "TOP-SECRET-LINE\n").unwrap();

    // check: a generated file replaced by a link to a file outside.
    std::fs::remove_file(out.join("api/src/invoice.rs")).unwrap();
    symlink(&secret, out.join("api/src/invoice.rs")).unwrap();
    check(&spec, &out)
        .code(2)
        .stdout(predicate::str::contains("TOP-SECRET").not())
        .stderr(predicate::str::contains("TOP-SECRET").not())
        .stderr(predicate::str::contains(
            "api/src/invoice.rs is a symbolic link",
        ));
    // generate refuses it too, and leaves the link and its target alone.
    palisade()
        .arg("generate")
        .arg(&spec)
        .arg("--out")
        .arg(&out)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("is a symbolic link"));
    assert_eq!(
        std::fs::read_to_string(&secret).unwrap(),
        "TOP-SECRET-LINE\n"
    );
    std::fs::remove_file(out.join("api/src/invoice.rs")).unwrap();

    // generate: a generated directory replaced by a link to one outside.
    let elsewhere = dir.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    std::fs::remove_dir_all(out.join("migrations")).unwrap();
    symlink(&elsewhere, out.join("migrations")).unwrap();
    palisade()
        .arg("generate")
        .arg(&spec)
        .arg("--out")
        .arg(&out)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("migrations is a symbolic link"));
    assert_eq!(
        std::fs::read_dir(&elsewhere).unwrap().count(),
        0,
        "generate wrote through the link"
    );
    assert!(!out.join("api/src/invoice.rs").exists(), "nothing written");
    check(&spec, &out)
        .code(2)
        .stderr(predicate::str::contains("migrations is a symbolic link"));
}

/// An update stages each changed file under a name of its own before
/// renaming it into place; a link planted at that name is never followed.
#[test]
fn a_link_at_a_staging_name_is_not_followed() {
    use palisade::source::SourceFile;
    let dir = tempfile::tempdir().unwrap();
    let spec = spec_copy(dir.path(), "billing");
    let out = dir.path().join("project");
    generate(&spec, &out);
    // The spec changes, so the invoice module is staged again.
    let text =
        std::fs::read_to_string(&spec)
            .unwrap()
            .replacen("max_length: 2000", "max_length: 1999", 1);
    let compiled = palisade::compile(SourceFile::new("billing.yaml", text.clone())).unwrap();
    let project = palisade::generate::generate(&compiled.model, "billing.yaml");
    let manifest = palisade::write::Manifest::of(&project, "billing.yaml", text.as_bytes());
    let victim = dir.path().join("victim.txt");
    std::fs::write(&victim, "untouched\n").unwrap();
    let stage = out.join(format!(
        "api/src/invoice.rs.palisade-new-{}",
        std::process::id()
    ));
    std::os::unix::fs::symlink(&victim, &stage).unwrap();
    let result = palisade::write::write(&project, &manifest, &out, Default::default());
    assert!(result.is_err(), "the update went through a planted link");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "untouched\n");
}

#[test]
fn migrations_are_never_rewritten_and_an_edited_or_missing_one_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let spec = spec_copy(dir.path(), "billing");
    let out = dir.path().join("project");
    generate(&spec, &out);
    let first = out.join("migrations/0001_init.sql");
    let written = std::fs::read_to_string(&first).unwrap();
    // A spec change that touches the schema: the next migration, the
    // first one untouched.
    let text = std::fs::read_to_string(&spec).unwrap();
    std::fs::write(
        &spec,
        text.replacen(
            "      email: { type: email, pii: true }\n",
            "      email: { type: email, pii: true }\n      phone: { type: string }\n",
            1,
        ),
    )
    .unwrap();
    check(&spec, &out)
        .code(1)
        .stdout(predicate::str::contains(
            "missing: migrations/0002_add_customer_phone.sql",
        ))
        .stdout(predicate::str::contains("migration missing"));
    generate(&spec, &out);
    assert_eq!(std::fs::read_to_string(&first).unwrap(), written);
    let second =
        std::fs::read_to_string(out.join("migrations/0002_add_customer_phone.sql")).unwrap();
    assert!(
        second.contains("ALTER TABLE \"customer\" ADD COLUMN \"phone\" TEXT;"),
        "{second}"
    );
    assert!(
        std::fs::read_to_string(out.join("api/src/lib.rs"))
            .unwrap()
            .contains("include_str!(\"../../migrations/0002_add_customer_phone.sql\")")
    );
    check(&spec, &out).code(0);
    // An edit of an applied migration is reported, and generate leaves it.
    std::fs::write(&first, format!("{written}-- mine\n")).unwrap();
    check(&spec, &out)
        .code(1)
        .stdout(predicate::str::contains(
            "hand-edited: migrations/0001_init.sql",
        ))
        .stdout(predicate::str::contains(
            "a migration was edited after palisade wrote it",
        ));
    generate(&spec, &out);
    assert_eq!(
        std::fs::read_to_string(&first).unwrap(),
        format!("{written}-- mine\n"),
        "a migration is never rewritten"
    );
    // A missing one is reported too.
    std::fs::remove_file(&first).unwrap();
    check(&spec, &out)
        .code(1)
        .stdout(predicate::str::contains(
            "missing: migrations/0001_init.sql",
        ))
        .stdout(predicate::str::contains(
            "a migration palisade wrote is gone",
        ));
}

#[test]
fn postgres_migrations_follow_the_sqlite_ones_from_a_baseline_and_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let spec = spec_copy(dir.path(), "billing");
    let out = dir.path().join("project");
    let original = std::fs::read_to_string(&spec).unwrap();
    let lib = || std::fs::read_to_string(out.join("api/src/lib.rs")).unwrap();
    // SQLite only: no PostgreSQL file, and none for the server.
    let sqlite_only = original.replacen(
        "\nresources:\n",
        "\ndatabase: { engines: [sqlite] }\nresources:\n",
        1,
    );
    let phone = |text: &str| {
        text.replacen(
            "      email: { type: email, pii: true }\n",
            "      email: { type: email, pii: true }\n      phone: { type: string }\n",
            1,
        )
    };
    std::fs::write(&spec, &sqlite_only).unwrap();
    generate(&spec, &out);
    std::fs::write(&spec, phone(&sqlite_only)).unwrap();
    generate(&spec, &out);
    assert!(!out.join("migrations/postgres").exists());
    assert!(lib().contains("postgres: &[]"), "{}", lib());
    check(&spec, &out).code(0);
    // PostgreSQL turned on: its first file is the whole schema, numbered
    // and named as the last migration; `check` asks for it first.
    std::fs::write(&spec, phone(&original)).unwrap();
    let baseline = "migrations/postgres/0002_add_customer_phone.sql";
    check(&spec, &out)
        .code(1)
        .stdout(predicate::str::contains(format!("missing: {baseline}")))
        .stdout(predicate::str::contains("PostgreSQL migration missing"));
    generate(&spec, &out);
    let text = std::fs::read_to_string(out.join(baseline)).unwrap();
    assert!(text.contains("as migration 2 leaves it"), "{text}");
    assert!(text.contains("\"phone\" text"), "{text}");
    assert!(!out.join("migrations/postgres/0001_init.sql").exists());
    assert!(lib().contains(&format!("include_str!(\"../../{baseline}\")")));
    check(&spec, &out).code(0);
    // The next change: a migration for each engine, with one number.
    std::fs::write(
        &spec,
        phone(&original).replacen(
            "      phone: { type: string }\n",
            "      phone: { type: string }\n      fax: { type: string }\n",
            1,
        ),
    )
    .unwrap();
    generate(&spec, &out);
    let third =
        std::fs::read_to_string(out.join("migrations/postgres/0003_add_customer_fax.sql")).unwrap();
    assert!(
        third.contains("ALTER TABLE \"customer\" ADD COLUMN \"fax\" text;"),
        "{third}"
    );
    assert!(out.join("migrations/0003_add_customer_fax.sql").exists());
    let lib = lib();
    let postgres = &lib[lib.find("postgres: &[").unwrap()..];
    assert_eq!(postgres.matches("version:").count(), 2, "{postgres}");
    check(&spec, &out).code(0);
    // An edited or missing PostgreSQL migration is reported, and never
    // rewritten.
    std::fs::write(out.join(baseline), format!("{text}-- mine\n")).unwrap();
    check(&spec, &out)
        .code(1)
        .stdout(predicate::str::contains(format!("hand-edited: {baseline}")));
    generate(&spec, &out);
    assert!(
        std::fs::read_to_string(out.join(baseline))
            .unwrap()
            .ends_with("-- mine\n")
    );
    std::fs::remove_file(out.join(baseline)).unwrap();
    check(&spec, &out)
        .code(1)
        .stdout(predicate::str::contains(format!("missing: {baseline}")))
        .stdout(predicate::str::contains(
            "a migration palisade wrote is gone",
        ));
}

#[test]
fn a_postgres_only_project_is_served_from_postgres_only() {
    let dir = tempfile::tempdir().unwrap();
    let spec = spec_copy(dir.path(), "shop");
    let text = std::fs::read_to_string(&spec).unwrap();
    std::fs::write(
        &spec,
        text.replacen(
            "\nresources:\n",
            "\ndatabase: { engines: [postgres] }\nresources:\n",
            1,
        ),
    )
    .unwrap();
    let out = dir.path().join("project");
    generate(&spec, &out);
    let lib = std::fs::read_to_string(out.join("api/src/lib.rs")).unwrap();
    assert!(lib.contains("engines: &[Engine::Postgres]"), "{lib}");
    assert!(lib.contains("include_str!(\"../../migrations/postgres/0001_init.sql\")"));
    // The SQLite file is still written and listed: the numbered history
    // every engine's migrations follow, and the schema of the project's
    // own tests, which run on an in-memory SQLite database.
    assert!(out.join("migrations/0001_init.sql").exists());
    assert!(lib.contains("include_str!(\"../../migrations/0001_init.sql\")"));
    check(&spec, &out).code(0);
}
