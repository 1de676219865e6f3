//! The corpus of broken specs in `tests/invalid/`: every fixture is refused,
//! with exactly the diagnostics its header announces, each located, and its
//! rendering is recorded in `tests/snapshots/diagnostics__{stem}.snap`.
//!
//! A fixture starts with a block of comment lines:
//!
//! ```text
//! # expect: unknown-key 14:7        one line per error or warning, in source order
//! # known-bug: what the compiler does wrong today     (optional)
//! # Free text saying what the fixture is about.
//! ```
//!
//! `# expect:` lines say what the compiler *should* report: the kebab-case
//! code and the 1-based line:column of the primary label. A fixture with a
//! `# known-bug:` line documents a compiler bug: it must still be refused,
//! but is expected not to match yet; once the bug is fixed, the test fails
//! and asks for the `known-bug` line to be removed.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use palisade::diagnostic::{Code, RenderOptions, Report};
use palisade::source::SourceFile;

const RENDER: RenderOptions = RenderOptions {
    color: false,
    width: 100,
};

/// One expected or actual diagnostic: its code and where its marker starts.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    code: Code,
    line: usize,
    column: usize,
}

impl std::fmt::Display for Seen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}:{}", self.code, self.line, self.column)
    }
}

struct Fixture {
    /// The name relative to the repository, as diagnostics show it.
    name: String,
    stem: String,
    text: String,
    expected: Vec<Seen>,
    known_bugs: Vec<String>,
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn code_named(name: &str) -> Option<Code> {
    Code::ALL.iter().copied().find(|c| c.as_str() == name)
}

fn parse_expectation(file: &str, line: &str) -> Seen {
    let bad = || panic!("{file}: malformed `{line}`; expected `# expect: CODE LINE:COLUMN`");
    let mut words = line.split_whitespace();
    let (Some(code), Some(position), None) = (words.next(), words.next(), words.next()) else {
        bad()
    };
    let code =
        code_named(code).unwrap_or_else(|| panic!("{file}: `{code}` is not a diagnostic code"));
    let Some((l, c)) = position.split_once(':') else {
        bad()
    };
    let (Ok(line), Ok(column)) = (l.parse(), c.parse()) else {
        bad()
    };
    Seen { code, line, column }
}

fn load(path: &Path) -> Fixture {
    let file_name = path
        .file_name()
        .expect("a file")
        .to_string_lossy()
        .into_owned();
    let name = format!("tests/invalid/{file_name}");
    let stem = path
        .file_stem()
        .expect("a stem")
        .to_string_lossy()
        .into_owned();
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut expected = Vec::new();
    let mut known_bugs = Vec::new();
    let mut in_header = true;
    for line in text.lines() {
        in_header &= line.starts_with('#');
        let directive = line
            .strip_prefix("# expect:")
            .map(|rest| (true, rest))
            .or_else(|| line.strip_prefix("# known-bug:").map(|rest| (false, rest)));
        match directive {
            Some(_) if !in_header => {
                panic!("{name}: `{line}` must be in the leading comment block")
            }
            Some((true, rest)) => expected.push(parse_expectation(&name, rest.trim())),
            Some((false, rest)) => known_bugs.push(rest.trim().to_string()),
            None => {}
        }
    }
    assert!(!expected.is_empty(), "{name}: no `# expect:` line");
    Fixture {
        name,
        stem,
        text,
        expected,
        known_bugs,
    }
}

fn fixtures() -> Vec<Fixture> {
    let dir = root().join("tests/invalid");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/invalid exists")
        .map(|entry| entry.expect("a readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    paths.sort();
    assert!(
        paths.len() >= 40,
        "the corpus has only {} fixtures",
        paths.len()
    );
    paths.iter().map(|p| load(p)).collect()
}

fn compile(name: &str, text: &str) -> Result<Vec<palisade::diagnostic::Diagnostic>, Report> {
    palisade::compile(SourceFile::new(name, text)).map(|compiled| compiled.warnings)
}

/// The code and position of every diagnostic of a report, in its order.
fn seen(report: &Report) -> Vec<Seen> {
    report
        .diagnostics
        .iter()
        .map(|d| {
            let position = report.source.position(d.span().start);
            Seen {
                code: d.code,
                line: position.line,
                column: position.column,
            }
        })
        .collect()
}

/// Everything wrong with how the compiler handles a fixture; empty when it
/// behaves as the header says.
fn problems(fixture: &Fixture, report: &Report) -> Vec<String> {
    let mut out = Vec::new();
    let actual = seen(report);
    if actual != fixture.expected {
        let list = |items: &[Seen]| {
            items
                .iter()
                .map(|s| format!("\n    {s}"))
                .collect::<String>()
        };
        out.push(format!(
            "diagnostics differ\n  expected:{}\n  actual:{}",
            list(&fixture.expected),
            list(&actual)
        ));
    }
    let len = fixture.text.len();
    for d in &report.diagnostics {
        match &d.primary {
            None => out.push(format!("[{}] `{}` is not located", d.code, d.message)),
            Some(label) if label.span.end > len || (label.span.start >= len && len > 0) => out
                .push(format!(
                    "[{}] `{}` points past the end of the file ({:?}, file of {len} bytes)",
                    d.code, d.message, label.span
                )),
            Some(_) => {}
        }
        if d.message.trim().is_empty() {
            out.push(format!("[{}] has no message", d.code));
        }
    }
    out
}

#[test]
fn every_fixture_is_refused_with_the_expected_diagnostics() {
    let mut failures = Vec::new();
    for fixture in fixtures() {
        let report = match compile(&fixture.name, &fixture.text) {
            Ok(warnings) => {
                failures.push(format!(
                    "{}: compiled, with warnings {warnings:?}",
                    fixture.name
                ));
                continue;
            }
            Err(report) => report,
        };
        assert!(
            report.has_errors(),
            "{}: refused without an error",
            fixture.name
        );
        let problems = problems(&fixture, &report);
        match (fixture.known_bugs.is_empty(), problems.is_empty()) {
            (true, false) => failures.push(format!(
                "{}:\n  {}\n{}",
                fixture.name,
                problems.join("\n  "),
                report.render(RENDER)
            )),
            (false, true) => failures.push(format!(
                "{}: now behaves as expected; remove its `# known-bug:` line ({})",
                fixture.name,
                fixture.known_bugs.join("; ")
            )),
            _ => {}
        }
    }
    assert!(
        failures.is_empty(),
        "{} fixture(s) failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn every_fixture_renders_as_recorded() {
    for fixture in fixtures() {
        let report = compile(&fixture.name, &fixture.text)
            .err()
            .unwrap_or_else(|| panic!("{} compiled", fixture.name));
        let rendered = report.render(RENDER);
        insta::with_settings!({ omit_expression => true, description => fixture.name.clone() }, {
            insta::assert_snapshot!(fixture.stem.clone(), rendered);
        });
    }
}

#[test]
fn every_snapshot_belongs_to_a_fixture() {
    let stems: BTreeSet<String> = fixtures().into_iter().map(|f| f.stem).collect();
    let dir = root().join("tests/snapshots");
    let orphans: Vec<String> = std::fs::read_dir(&dir)
        .expect("tests/snapshots exists")
        .map(|entry| {
            entry
                .expect("a readable entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter_map(|name| {
            let stem = name
                .strip_prefix("diagnostics__")?
                .strip_suffix(".snap")?
                .to_string();
            (!stems.contains(&stem)).then_some(name)
        })
        .collect();
    assert!(
        orphans.is_empty(),
        "snapshots without a fixture in tests/invalid: {orphans:?}"
    );
}

/// Every code, error or warning, is announced by a fixture and really
/// produced for it (at any position, so that a known position bug does not
/// hide the code).
#[test]
fn every_code_is_exercised_by_a_fixture() {
    let mut exercised = BTreeSet::new();
    for fixture in fixtures() {
        let Err(report) = compile(&fixture.name, &fixture.text) else {
            continue;
        };
        let produced: BTreeSet<Code> = report.diagnostics.iter().map(|d| d.code).collect();
        exercised.extend(
            fixture
                .expected
                .iter()
                .map(|s| s.code)
                .filter(|c| produced.contains(c)),
        );
    }
    // About a project's history and a spec, not one spec: `palisade
    // generate` reports it (tests/check.rs, tests/migrations.rs).
    let elsewhere = [Code::UnsafeMigration];
    let missing: Vec<&str> = Code::ALL
        .iter()
        .filter(|c| !exercised.contains(c) && !elsewhere.contains(c))
        .map(|c| c.as_str())
        .collect();
    assert!(
        missing.is_empty(),
        "codes no fixture exercises: {missing:?}"
    );
}

/// README.md's table of diagnostic codes has a row for every code.
#[test]
fn every_code_has_a_row_in_the_readme() {
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README.md");
    let table = readme
        .split_once("### Diagnostic codes")
        .expect("README.md has a `### Diagnostic codes` section")
        .1;
    let missing: Vec<&str> = Code::ALL
        .iter()
        .map(|c| c.as_str())
        .filter(|c| !table.contains(&format!("\n| `{c}` |")))
        .collect();
    assert!(
        missing.is_empty(),
        "codes without a row in README.md's table: {missing:?}"
    );
}

#[test]
fn an_empty_file_is_refused_at_its_start() {
    for text in ["", "\n", "   \n\n", "~\n", "null\n"] {
        let report =
            compile("tests/invalid/empty.yaml", text).expect_err("an empty spec is refused");
        assert_eq!(
            seen(&report),
            [Seen {
                code: Code::EmptySpec,
                line: 1,
                column: 1
            }],
            "{text:?}:\n{}",
            report.render(RENDER)
        );
        assert!(
            report
                .render(RENDER)
                .starts_with("tests/invalid/empty.yaml:1:1: error[empty-spec]")
        );
    }
}

#[test]
fn diagnostics_are_deterministic() {
    for fixture in fixtures() {
        let first = compile(&fixture.name, &fixture.text)
            .err()
            .map(|r| r.render(RENDER));
        let second = compile(&fixture.name, &fixture.text)
            .err()
            .map(|r| r.render(RENDER));
        assert_eq!(first, second, "{}", fixture.name);
    }
}

/// fr-reviewer demonstration (fails on main): a `required` field must be
/// in every create body (its `default` only fills rows that exist), so a
/// required field with a default that the only creator may not write
/// makes every create fail (the owner must send `code`, and is refused
/// with 422 for sending it); validate must refuse it like the same field
/// without a default.
#[test]
fn a_required_field_with_a_default_nobody_who_creates_may_write_is_refused() {
    let spec = "palisade: 1
service: { name: s }
auth:
  jwt: { algorithm: HS256, secret_env: JWT_SECRET }
  roles_claim: roles
roles: [admin]
resources:
  doc:
    owner: owner_id
    fields:
      code: { type: string, required: true, default: x, write: [admin] }
    access:
      owner: [list, get, create]
      roles: { admin: [list, get, update] }
";
    let codes: Vec<Code> = match palisade::compile(SourceFile::new("t.yaml", spec)) {
        Ok(compiled) => compiled.warnings.iter().map(|d| d.code).collect(),
        Err(report) => report.diagnostics.iter().map(|d| d.code).collect(),
    };
    assert!(
        codes.contains(&Code::UnwritableField),
        "every create of `doc` fails, yet: {codes:?}"
    );
}
