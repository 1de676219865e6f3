//! The `audit` and `diff` commands: formats, files and exit codes (0 ok,
//! 1 findings or widening when asked to fail, 2 invalid spec or usage).

use assert_cmd::Command;
use predicates::prelude::*;

fn palisade() -> Command {
    let mut cmd = Command::cargo_bin("palisade").expect("binary built");
    cmd.current_dir(super::root())
        .env_remove("NO_COLOR")
        .env("COLUMNS", "100");
    cmd
}

#[test]
fn audit_exits_0_with_findings_unless_denied() {
    palisade()
        .args(["audit", "examples/shop.yaml"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("access matrix"))
        .stdout(predicate::str::contains(
            "examples/shop.yaml:10:3: medium[missing-issuer]",
        ))
        .stdout(predicate::str::contains("\u{1b}[").not());
    palisade()
        .args(["audit", "examples/shop.yaml", "--deny", "high"])
        .assert()
        .code(0);
    palisade()
        .args(["audit", "examples/shop.yaml", "--deny", "medium"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("at or above `medium`"));
}

#[test]
fn audit_colours_only_when_asked() {
    palisade()
        .args(["--color", "always", "audit", "examples/shop.yaml"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("\u{1b}["));
}

#[test]
fn audit_writes_every_format_to_a_file() {
    let dir = tempfile::tempdir().unwrap();
    for (format, marker) in [
        ("text", "access matrix"),
        ("markdown", "### Access matrix"),
        ("json", "\"matrix\""),
        ("html", "<!doctype html>"),
        ("sarif", "\"version\": \"2.1.0\""),
    ] {
        let out = dir.path().join(format!("report.{format}"));
        palisade()
            .args([
                "audit",
                "examples/billing.yaml",
                "--format",
                format,
                "--out",
            ])
            .arg(&out)
            .assert()
            .code(0)
            .stdout("");
        let text = std::fs::read_to_string(&out).unwrap();
        assert!(text.contains(marker), "{format}: {text}");
    }
}

#[test]
fn invalid_specs_and_bad_arguments_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.yaml");
    std::fs::write(
        &broken,
        "palisade: 1\nservice: { name: x }\nauth:\n  jwt: { algorithm: HS256, secret_env: S }\nresources:\n  a:\n    owner: owner_id\n    fields:\n      n: { type: string, max_lenght: 3 }\n",
    )
    .unwrap();
    palisade()
        .arg("audit")
        .arg(&broken)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("error[unknown-key]"));
    palisade()
        .args(["audit", "no/such/spec.yaml"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("cannot read"));
    palisade()
        .args(["audit", "examples/shop.yaml", "--deny", "severe"])
        .assert()
        .code(2);
    palisade()
        .arg("diff")
        .arg("examples/billing.yaml")
        .arg(&broken)
        .assert()
        .code(2);
    palisade()
        .args(["diff", "git:HEAD", "examples/billing.yaml"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("is not `git:REV:PATH`"));
}

#[test]
fn diff_fails_on_widening_only_when_asked() {
    let widened = "tests/review/fixtures/billing-widened.yaml";
    palisade()
        .args(["diff", "examples/billing.yaml", widened])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("widening (17)"))
        .stdout(predicate::str::contains("[public-granted]"));
    palisade()
        .args([
            "diff",
            "examples/billing.yaml",
            widened,
            "--fail-on",
            "widening",
        ])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("17 widening changes"));
    // Backwards the same edit narrows, except what is a change either way.
    palisade()
        .args(["diff", widened, "examples/billing.yaml", "--format", "json"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("\"widening\": 4,"))
        .stdout(predicate::str::contains("\"narrowing\": 16,"));
    palisade()
        .args([
            "diff",
            "examples/shop.yaml",
            "examples/shop.yaml",
            "--fail-on",
            "change",
        ])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("no change that affects security"));
}

#[test]
fn diff_reads_committed_versions_from_git() {
    if !super::in_git() {
        return;
    }
    palisade()
        .args([
            "diff",
            "git:HEAD:examples/shop.yaml",
            "examples/shop.yaml",
            "--format",
            "markdown",
        ])
        .assert()
        .code(0)
        .stdout(predicate::str::contains(
            "`HEAD:examples/shop.yaml` → `examples/shop.yaml`",
        ));
}
