//! The command-line interface: exit codes, formats and file handling.

use assert_cmd::Command;
use predicates::prelude::*;

fn palisade() -> Command {
    let mut cmd = Command::cargo_bin("palisade").expect("binary built");
    cmd.env_remove("NO_COLOR").env("COLUMNS", "100");
    cmd
}

const BROKEN: &str = "palisade: 1\nservice: { name: x }\nauth:\n  jwt: { algorithm: HS256, secret_env: S }\nresources:\n  a:\n    owner: owner_id\n    fields:\n      n: { type: string, max_lenght: 3 }\n";

#[test]
fn validate_accepts_the_examples_with_exit_0() {
    palisade()
        .args([
            "validate",
            "examples/billing.yaml",
            "examples/projects.yaml",
            "examples/shop.yaml",
        ])
        .assert()
        .code(0)
        .stdout(predicate::str::contains(
            "examples/billing.yaml: valid (2 resources, 10 operations)",
        ));
}

#[test]
fn validate_refuses_a_broken_spec_with_exit_2_and_a_located_message() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("broken.yaml");
    std::fs::write(&spec, BROKEN).unwrap();
    palisade()
        .arg("validate")
        .arg(&spec)
        .assert()
        .code(2)
        .stdout(predicate::str::contains(
            "broken.yaml:9:26: error[unknown-key]",
        ))
        .stdout(predicate::str::contains("did you mean `max_length`?"))
        .stdout(predicate::str::contains("\u{1b}[").not());
}

#[test]
fn validate_reports_every_file_and_fails_if_any_is_invalid() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("broken.yaml");
    std::fs::write(&spec, BROKEN).unwrap();
    palisade()
        .args(["validate", "examples/shop.yaml"])
        .arg(&spec)
        .assert()
        .code(2)
        .stdout(predicate::str::contains("examples/shop.yaml: valid"))
        .stdout(predicate::str::contains("invalid, 1 error"));
}

#[test]
fn validate_json_is_machine_readable() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("broken.yaml");
    std::fs::write(&spec, BROKEN).unwrap();
    let output = palisade()
        .arg("validate")
        .arg(&spec)
        .args(["--format", "json"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let document: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("JSON on stdout");
    assert_eq!(document["valid"], false);
    let d = &document["diagnostics"][0];
    assert_eq!(d["code"], "unknown-key");
    assert_eq!(d["line"], 9);
    assert_eq!(d["column"], 26);
    assert_eq!(d["severity"], "error");
    assert!(d["file"].as_str().unwrap().ends_with("broken.yaml"));
    assert!(d["message"].as_str().unwrap().contains("max_lenght"));

    let output = palisade()
        .args(["validate", "examples/billing.yaml", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let document: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(document["valid"], true);
    assert_eq!(document["diagnostics"], serde_json::json!([]));
}

#[test]
fn a_missing_file_is_exit_2() {
    palisade()
        .args(["validate", "no/such/spec.yaml"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("cannot read no/such/spec.yaml"));
}

#[test]
fn usage_errors_are_exit_2() {
    palisade().arg("validate").assert().code(2);
    palisade().arg("frobnicate").assert().code(2);
}

#[test]
fn colour_only_when_asked_or_on_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("broken.yaml");
    std::fs::write(&spec, BROKEN).unwrap();
    palisade()
        .args(["validate", "--color", "always"])
        .arg(&spec)
        .assert()
        .code(2)
        .stdout(predicate::str::contains("\u{1b}["));
}

#[test]
fn schema_prints_and_writes_the_same_schema() {
    let printed = palisade().arg("schema").output().unwrap();
    assert!(printed.status.success());
    let schema: serde_json::Value = serde_json::from_slice(&printed.stdout).unwrap();
    assert_eq!(schema["title"], "Palisade spec");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("palisade.schema.json");
    palisade()
        .arg("schema")
        .arg("--out")
        .arg(&out)
        .assert()
        .code(0);
    assert_eq!(std::fs::read(&out).unwrap(), printed.stdout);
}

#[test]
fn init_writes_a_valid_starter_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("svc");
    palisade()
        .arg("init")
        .args(["--name", "notes"])
        .arg(&target)
        .assert()
        .code(0);
    let spec = target.join("palisade.yaml");
    assert!(target.join("palisade.schema.json").exists());
    palisade().arg("validate").arg(&spec).assert().code(0);

    std::fs::write(&spec, "# my own work\n").unwrap();
    palisade()
        .arg("init")
        .arg(&target)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("never overwrites"));
    assert_eq!(std::fs::read_to_string(&spec).unwrap(), "# my own work\n");
}

#[test]
fn init_refuses_a_bad_name() {
    let dir = tempfile::tempdir().unwrap();
    palisade()
        .arg("init")
        .args(["--name", "Bad Name"])
        .arg(dir.path())
        .assert()
        .code(2);
    assert!(!dir.path().join("palisade.yaml").exists());
}
