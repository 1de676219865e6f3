//! `palisade audit` and `palisade diff`.
//!
//! Snapshots of every format on every example live here (so insta keeps
//! them in `tests/snapshots/review__*`); the tests of each finding code,
//! each kind of diff, SARIF against the official schema, the CLI and the
//! HTML report in a browser are the modules under `tests/review/`.

#[path = "review/cli.rs"]
mod cli;
#[path = "review/diff.rs"]
mod diff;
#[path = "review/findings.rs"]
mod findings;
#[path = "review/html.rs"]
mod html;
#[path = "review/sarif.rs"]
mod sarif;

use std::path::{Path, PathBuf};

use palisade::diagnostic::RenderOptions;
use palisade::review::{self, AuditFormat, DiffFormat, Loaded};
use palisade::source::SourceFile;

/// Compiles `text` as the spec file `name`; panics with the rendered
/// diagnostics when it is invalid.
pub fn load(name: &str, text: &str) -> Loaded {
    review::load(SourceFile::new(name, text)).unwrap_or_else(|report| {
        panic!(
            "{name} is invalid:\n{}",
            report.render(RenderOptions {
                color: false,
                width: 100
            })
        )
    })
}

pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A file of the repository, named by its path relative to the root (as
/// the CLI would show it when run there).
pub fn load_file(relative: &str) -> Loaded {
    let text = std::fs::read_to_string(root().join(relative))
        .unwrap_or_else(|e| panic!("cannot read {relative}: {e}"));
    load(relative, &text)
}

pub fn audit(loaded: &Loaded) -> review::audit::AuditReport {
    review::audit::audit(&loaded.compiled, &loaded.root)
}

pub fn examples() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root().join("examples"))
        .expect("examples/ exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .map(|p: PathBuf| format!("examples/{}", p.file_name().unwrap().to_string_lossy()))
        .collect();
    names.sort();
    assert!(names.len() >= 3, "at least three examples");
    names
}

fn stem(relative: &str) -> String {
    Path::new(relative)
        .file_stem()
        .unwrap()
        .to_string_lossy()
        .replace('-', "_")
}

const AUDIT_FORMATS: [(AuditFormat, &str); 5] = [
    (AuditFormat::Text, "text"),
    (AuditFormat::Markdown, "markdown"),
    (AuditFormat::Json, "json"),
    (AuditFormat::Html, "html"),
    (AuditFormat::Sarif, "sarif"),
];

fn snapshot(name: String, text: String) {
    insta::with_settings!({ omit_expression => true, prepend_module_to_snapshot => true }, {
        insta::assert_snapshot!(name, text);
    });
}

#[test]
fn audit_of_every_example_in_every_format() {
    let mut files = examples();
    files.push("tests/review/fixtures/silenced.yaml".into());
    for file in files {
        let report = audit(&load_file(&file));
        for (format, name) in AUDIT_FORMATS {
            let text = review::render_audit(&report, format, false);
            snapshot(format!("audit_{}_{name}", stem(&file)), text);
        }
    }
}

#[test]
fn the_html_report_is_self_contained() {
    for file in examples() {
        let html = review::render_audit(&audit(&load_file(&file)), AuditFormat::Html, false);
        for outside in ["<script", "src=", "href=", "<link", "@import", "url("] {
            assert!(!html.contains(outside), "{file}: `{outside}` in the page");
        }
    }
}

/// The HTML report lists open and silenced findings by severity (high
/// first), then by their place in the spec, and its footer names the
/// palisade version and the SHA-256 of the spec's bytes.
#[test]
fn the_html_report_orders_findings_by_severity_then_location_and_names_the_spec() {
    let rank = |severity: &str| {
        ["high", "medium", "low", "info"]
            .iter()
            .position(|s| *s == severity)
    };
    let mut files = examples();
    files.push("tests/review/fixtures/silenced.yaml".into());
    for file in files {
        let loaded = load_file(&file);
        let html = review::render_audit(&audit(&loaded), AuditFormat::Html, false);
        let mut sections = 0;
        for section in html
            .split("<h2>")
            .filter(|s| s.starts_with("Findings") || s.starts_with("Silenced"))
        {
            sections += 1;
            let mut keys = Vec::new();
            for block in section.split("<div class=\"finding ").skip(1) {
                let severity = block
                    .split(['"', ' '])
                    .find(|w| rank(w).is_some())
                    .unwrap_or_else(|| panic!("{file}: no severity in {block}"));
                let place = block
                    .split("<code class=\"where\">")
                    .nth(1)
                    .and_then(|rest| rest.split("</code>").next())
                    .unwrap_or_else(|| panic!("{file}: no location in {block}"));
                let mut numbers = place.rsplit(':').map(|n| n.parse::<usize>().unwrap());
                let column = numbers.next().unwrap();
                let line = numbers.next().unwrap();
                keys.push((rank(severity).unwrap(), line, column));
            }
            let mut sorted = keys.clone();
            sorted.sort();
            assert_eq!(keys, sorted, "{file}: findings out of order");
        }
        assert!(sections >= 1, "{file}: no findings section");
        let bytes = std::fs::read(root().join(&file)).unwrap();
        let footer = html.split("<footer>").nth(1).expect("a footer");
        assert!(
            footer.contains(&palisade::write::sha256(&bytes)),
            "{file}: the footer does not carry the spec's hash: {footer}"
        );
        assert!(footer.contains(&format!("palisade {}", env!("CARGO_PKG_VERSION"))));
    }
}

/// Whether the tests run in a git work tree (not, say, an unpacked crate).
pub fn in_git() -> bool {
    let inside = std::process::Command::new("git")
        .args(["rev-parse", "--verify", "HEAD"])
        .current_dir(root())
        .output()
        .is_ok_and(|o| o.status.success());
    if !inside {
        println!("skipped: not in a git work tree with a commit");
    }
    inside
}

#[test]
fn audit_output_is_deterministic() {
    for file in examples() {
        let first = review::render_audit(&audit(&load_file(&file)), AuditFormat::Json, false);
        for _ in 0..3 {
            let again = review::render_audit(&audit(&load_file(&file)), AuditFormat::Json, false);
            assert_eq!(first, again, "{file}");
        }
    }
}

#[test]
fn diff_of_a_widened_spec_in_every_format() {
    let old = load_file("examples/billing.yaml");
    let new = load_file("tests/review/fixtures/billing-widened.yaml");
    let report = review::diff::diff(old.side(), new.side());
    for (format, name) in [
        (DiffFormat::Text, "text"),
        (DiffFormat::Markdown, "markdown"),
        (DiffFormat::Json, "json"),
    ] {
        snapshot(
            format!("diff_billing_widened_{name}"),
            review::render_diff(&report, format, false),
        );
    }
    // The same edit read backwards narrows.
    let back = review::diff::diff(new.side(), old.side());
    snapshot(
        "diff_billing_narrowed_text".into(),
        review::render_diff(&back, DiffFormat::Text, false),
    );
}

#[test]
fn diff_of_each_example_with_itself_is_empty() {
    for file in examples() {
        let a = load_file(&file);
        let b = load_file(&file);
        let report = review::diff::diff(a.side(), b.side());
        assert!(report.changes.is_empty(), "{file}: {:?}", report.changes);
        assert_eq!(
            review::render_diff(&report, DiffFormat::Text, false)
                .lines()
                .nth(1),
            Some("no change that affects security")
        );
    }
}
