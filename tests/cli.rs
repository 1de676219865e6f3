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

/// The examples point editors at `palisade.schema.json` at the root of
/// the repository: it is there, and it is the schema `palisade schema`
/// prints. `PALISADE_UPDATE_SCHEMA=1` rewrites it (and still fails).
#[test]
fn the_repository_schema_is_current_and_where_the_examples_point() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let printed = palisade().arg("schema").output().unwrap();
    assert!(printed.status.success());
    let file = root.join("palisade.schema.json");
    if std::env::var_os("PALISADE_UPDATE_SCHEMA").is_some() {
        std::fs::write(&file, &printed.stdout).unwrap();
        panic!("palisade.schema.json rewritten; run again without PALISADE_UPDATE_SCHEMA");
    }
    assert!(
        std::fs::read(&file).ok() == Some(printed.stdout),
        "palisade.schema.json is not what `palisade schema` prints: \
         run `PALISADE_UPDATE_SCHEMA=1 cargo test --test cli`"
    );
    for entry in std::fs::read_dir(root.join("examples")).unwrap() {
        let spec = entry.unwrap().path();
        let text = std::fs::read_to_string(&spec).unwrap();
        let first = text.lines().next().unwrap_or_default();
        let target = first
            .strip_prefix("# yaml-language-server: $schema=")
            .unwrap_or_else(|| panic!("{} names no schema on its first line", spec.display()));
        let schema = spec.parent().unwrap().join(target);
        assert!(
            schema.canonicalize().ok() == file.canonicalize().ok(),
            "{} points at {}, not at the repository's palisade.schema.json",
            spec.display(),
            schema.display()
        );
    }
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

fn tree(
    dir: &std::path::Path,
) -> std::collections::BTreeMap<String, (Vec<u8>, std::time::SystemTime)> {
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let meta = std::fs::metadata(&p).unwrap();
                out.insert(
                    p.strip_prefix(dir).unwrap().display().to_string(),
                    (std::fs::read(&p).unwrap(), meta.modified().unwrap()),
                );
            }
        }
    }
    out
}

#[test]
fn generate_writes_a_project_and_regeneration_keeps_user_files() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("billing");
    palisade()
        .args(["generate", "examples/billing.yaml", "--out"])
        .arg(&out)
        .assert()
        .code(0)
        .stdout(predicate::str::contains("created"))
        .stdout(predicate::str::contains("next: cd"));
    for file in [
        "Cargo.toml",
        "src/main.rs",
        "api/src/invoice.rs",
        "src/hooks/invoice.rs",
        "openapi.json",
        ".palisade/manifest.json",
        ".env.example",
    ] {
        assert!(out.join(file).exists(), "{file}");
    }
    // The user's hook and manifest survive; a hand-edited generated file
    // is restored.
    let hook = out.join("src/hooks/invoice.rs");
    std::fs::write(&hook, "// my business logic\n").unwrap();
    let manifest = out.join("Cargo.toml");
    let mut team = std::fs::read_to_string(&manifest).unwrap();
    team.push_str("itoa = \"1\"\n");
    std::fs::write(&manifest, &team).unwrap();
    std::fs::write(out.join("api/src/invoice.rs"), "// tampered\n").unwrap();
    std::fs::write(out.join("notes.txt"), "mine\n").unwrap();
    palisade()
        .args(["generate", "examples/billing.yaml", "--out"])
        .arg(&out)
        .assert()
        .code(0)
        .stdout(predicate::str::contains("1 updated"))
        .stdout(predicate::str::contains("user files kept"));
    assert_eq!(
        std::fs::read_to_string(&hook).unwrap(),
        "// my business logic\n"
    );
    assert_eq!(std::fs::read_to_string(&manifest).unwrap(), team);
    assert_eq!(
        std::fs::read_to_string(out.join("notes.txt")).unwrap(),
        "mine\n"
    );
    assert!(
        std::fs::read_to_string(out.join("api/src/invoice.rs"))
            .unwrap()
            .contains("@generated")
    );
}

#[test]
fn generate_refuses_a_foreign_directory_and_invalid_specs_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("README.md"), "not a palisade project\n").unwrap();
    palisade()
        .args(["generate", "examples/shop.yaml", "--out"])
        .arg(dir.path())
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not generated by palisade"));
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);

    let spec = dir.path().join("broken.yaml");
    std::fs::write(&spec, BROKEN).unwrap();
    let out = dir.path().join("never");
    palisade()
        .arg("generate")
        .arg(&spec)
        .arg("--out")
        .arg(&out)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("nothing written"));
    assert!(!out.exists());
}

#[test]
fn a_failure_in_the_middle_of_writing_leaves_the_old_tree_intact() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("shop");
    palisade()
        .args(["generate", "examples/shop.yaml", "--out"])
        .arg(&out)
        .assert()
        .code(0);
    // Make every generated file stale, then fail halfway through the update.
    let api = out.join("api/src/lib.rs");
    std::fs::write(&api, "// stale\n").unwrap();
    std::fs::write(out.join("api/Cargo.toml"), "# stale\n").unwrap();
    let before = tree(&out);
    palisade()
        .args(["generate", "examples/shop.yaml", "--out"])
        .arg(&out)
        .env("PALISADE_FAIL_AFTER", "1")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("injected failure"));
    let after = tree(&out);
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>(),
        "no file added or left behind"
    );
    for (path, (bytes, _)) in &before {
        assert_eq!(&after[path].0, bytes, "{path} changed");
    }
    // A fresh generation that fails leaves no directory at all.
    let fresh = dir.path().join("fresh");
    palisade()
        .args(["generate", "examples/shop.yaml", "--out"])
        .arg(&fresh)
        .env("PALISADE_FAIL_AFTER", "3")
        .assert()
        .code(2);
    assert!(!fresh.exists());
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "no staging directory left behind"
    );
}

/// What a spec may make the compiler hold is bounded, and a file past a
/// bound is refused at once with a located error: a file far larger than
/// a spec (read no further than the limit), a billion laughs of aliases,
/// and nesting deep enough to overflow a stack.
#[test]
fn oversized_specs_are_refused_in_moments() {
    let dir = tempfile::tempdir().unwrap();
    let huge = dir.path().join("huge.yaml");
    let line = "# a comment line that makes the file much larger than any spec\n";
    std::fs::write(&huge, line.repeat((64 << 20) / line.len())).unwrap();
    let deep = dir.path().join("deep.yaml");
    std::fs::write(
        &deep,
        format!("palisade: 1\nx:\n  {}x\n", "- ".repeat(1_000_000)),
    )
    .unwrap();
    for (spec, code, at) in [
        (huge.clone(), "spec-too-large", "huge.yaml:66577:16"),
        (
            "tests/invalid/alias_expansion.yaml".into(),
            "spec-too-large",
            "alias_expansion.yaml:16:20",
        ),
        (deep, "nesting-too-deep", "deep.yaml:3:129"),
    ] {
        let started = std::time::Instant::now();
        palisade()
            .arg("validate")
            .arg(&spec)
            .assert()
            .code(2)
            .stdout(predicate::str::contains(format!("{at}: error[{code}]")));
        let took = started.elapsed();
        assert!(
            took < std::time::Duration::from_secs(10),
            "{}: {took:?}",
            spec.display()
        );
    }
}

/// Copies `from` into `to` (directories and regular files).
fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        let target = to.join(p.file_name().unwrap());
        if p.is_dir() {
            copy_tree(&p, &target);
        } else {
            std::fs::copy(&p, &target).unwrap();
        }
    }
}

/// A project of palisade 0.1's layout (tests/fixtures/layout-0.1) is moved
/// to the workspace layout: the old generated sources go, the files that
/// are the team's now are written once, hooks and the lock file stay
/// byte for byte, and the project is then up to date for `check`. (The
/// e2e suite builds, attacks and self-tests the moved projects.)
#[test]
fn generate_moves_a_project_of_the_previous_layout_and_keeps_the_teams_files() {
    for example in ["billing", "projects", "shop"] {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join(example);
        copy_tree(
            &std::path::Path::new("tests/fixtures/layout-0.1").join(example),
            &out,
        );
        let before = tree(&out);
        let spec = format!("examples/{example}.yaml");
        palisade()
            .args(["generate", &spec, "--out"])
            .arg(&out)
            .assert()
            .code(0)
            .stdout(predicate::str::contains(
                "moved to the workspace layout of palisade",
            ))
            .stdout(predicate::str::contains("yours from now on: Cargo.toml"))
            .stdout(predicate::str::contains("yours from now on: src/main.rs"))
            .stdout(predicate::str::contains("removed src/api/mod.rs"))
            // Only billing's fixture has a lock file to keep.
            .stdout(
                predicate::str::contains("Cargo.lock were kept (run `cargo update -w`")
                    .count(usize::from(example == "billing")),
            );
        let after = tree(&out);
        for (path, (bytes, _)) in &before {
            if path.starts_with("src/hooks/") && path != "src/hooks/mod.rs" || path == "Cargo.lock"
            {
                assert_eq!(&after[path].0, bytes, "{example}: {path} changed");
            }
        }
        for gone in ["src/api", "src/runtime", "tests"] {
            assert!(!out.join(gone).exists(), "{example}: {gone} is left");
        }
        let manifest = std::fs::read_to_string(out.join("Cargo.toml")).unwrap();
        assert!(manifest.contains("[workspace]"), "{example}: {manifest}");
        assert!(!manifest.contains("@generated"), "{example}: {manifest}");
        palisade()
            .args(["check", &spec, "--out"])
            .arg(&out)
            .assert()
            .code(0);
        // Once moved, a second run changes nothing and says nothing of it.
        palisade()
            .args(["generate", &spec, "--out"])
            .arg(&out)
            .assert()
            .code(0)
            .stdout(predicate::str::contains("moved to").not())
            .stdout(predicate::str::contains("0 created, 0 updated"));
    }
}

/// A file an earlier palisade generated and a team edited anyway (a
/// dependency added to the old generated Cargo.toml) is never replaced:
/// the move is refused, nothing is written, and the message says what to do.
#[test]
fn a_hand_edited_file_that_becomes_the_teams_stops_the_move_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("shop");
    copy_tree(std::path::Path::new("tests/fixtures/layout-0.1/shop"), &out);
    let manifest = out.join("Cargo.toml");
    let mut edited = std::fs::read_to_string(&manifest).unwrap();
    edited.push_str("itoa = \"1\"\n");
    std::fs::write(&manifest, &edited).unwrap();
    let before = tree(&out);
    palisade()
        .args(["generate", "examples/shop.yaml", "--out"])
        .arg(&out)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "Cargo.toml was generated by palisade 0.1.0 and has been edited since",
        ))
        .stderr(predicate::str::contains("git stash"))
        .stderr(predicate::str::contains("nothing was changed"));
    assert_eq!(tree(&out), before);
}

/// A project whose vendored runtime is older is told so, with the crates
/// the new one needs and the one command that adds them to the lock file.
#[test]
fn a_new_runtime_version_is_announced_with_its_new_crates() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("shop");
    palisade()
        .args(["generate", "examples/shop.yaml", "--out"])
        .arg(&out)
        .assert()
        .code(0);
    let runtime = out.join("runtime/Cargo.toml");
    let current = std::fs::read_to_string(&runtime).unwrap();
    let older = current
        .replacen("\nversion = \"", "\nversion = \"0.0.", 1)
        .replacen("\nrlimit = ", "\n# rlimit = ", 1);
    std::fs::write(&runtime, older).unwrap();
    palisade()
        .args(["generate", "examples/shop.yaml", "--out"])
        .arg(&out)
        .assert()
        .code(0)
        .stdout(predicate::str::contains("runtime/: palisade-runtime 0.0."))
        .stdout(predicate::str::contains("it needs new crates (rlimit)"))
        .stdout(predicate::str::contains("cargo update -w"));
    assert_eq!(std::fs::read_to_string(&runtime).unwrap(), current);
}

/// A team file that the team moved or deleted is its choice: `generate`
/// does not bring it back and `check` does not miss it. A hook file is the
/// exception (the generated `src/hooks/mod.rs` declares it).
#[test]
fn team_files_the_team_moved_or_deleted_stay_that_way() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("shop");
    let generate = || {
        palisade()
            .args(["generate", "examples/shop.yaml", "--out"])
            .arg(&out)
            .assert()
            .code(0);
    };
    generate();
    std::fs::create_dir_all(out.join("src/bin")).unwrap();
    std::fs::rename(out.join("src/main.rs"), out.join("src/bin/server.rs")).unwrap();
    std::fs::remove_file(out.join(".gitignore")).unwrap();
    std::fs::remove_file(out.join("src/hooks/order.rs")).unwrap();
    palisade()
        .args(["check", "examples/shop.yaml", "--out"])
        .arg(&out)
        .assert()
        .code(1)
        .stdout(predicate::str::contains("missing: src/hooks/order.rs"))
        .stdout(predicate::str::contains("src/main.rs").not())
        .stdout(predicate::str::contains(".gitignore").not());
    generate();
    assert!(!out.join("src/main.rs").exists());
    assert!(!out.join(".gitignore").exists());
    assert!(out.join("src/hooks/order.rs").exists());
    palisade()
        .args(["check", "examples/shop.yaml", "--out"])
        .arg(&out)
        .assert()
        .code(0);
}

/// A generated file the spec no longer needs is removed only as palisade
/// wrote it: edited by hand since, it is kept, moved aside as `.orig` so
/// that Cargo no longer compiles it (a file under `tests/` is a target of
/// its own), with a warning; from then on it is the team's.
#[test]
fn an_edited_generated_file_that_is_no_longer_needed_is_left_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("billing");
    copy_tree(
        std::path::Path::new("tests/fixtures/layout-0.1/billing"),
        &out,
    );
    let patched = out.join("src/api/customer.rs");
    let mut text = std::fs::read_to_string(&patched).unwrap();
    text.push_str("// a team's patch\n");
    std::fs::write(&patched, &text).unwrap();
    let test = out.join("tests/security.rs");
    let mut test_text = std::fs::read_to_string(&test).unwrap();
    test_text.push_str("// a team's test\n");
    std::fs::write(&test, &test_text).unwrap();
    palisade()
        .args(["generate", "examples/billing.yaml", "--out"])
        .arg(&out)
        .assert()
        .code(0)
        .stdout(predicate::str::contains("removed src/api/invoice.rs"))
        .stderr(predicate::str::contains("src/api/customer.rs.orig: palisade generated this file and no longer needs it, but it was edited by hand"))
        .stderr(predicate::str::contains("tests/security.rs.orig: palisade generated"));
    assert!(!patched.exists() && !test.exists());
    assert_eq!(
        std::fs::read_to_string(out.join("src/api/customer.rs.orig")).unwrap(),
        text
    );
    assert_eq!(
        std::fs::read_to_string(out.join("tests/security.rs.orig")).unwrap(),
        test_text
    );
    assert!(!out.join("src/api/invoice.rs").exists());
    palisade()
        .args(["check", "examples/billing.yaml", "--out"])
        .arg(&out)
        .assert()
        .code(0);
}
