//! Reviewing specs: `palisade audit` (what a spec exposes) and `palisade
//! diff` (what a change widens).
//!
//! Stage: review, beside generation. Input: compiled specs (the resolved
//! model) and their positioned YAML trees, for locations only. Output:
//! reports in text, Markdown, JSON, HTML and SARIF, and an exit code (0 ok,
//! 1 findings or widening when asked to fail, 2 invalid spec or usage
//! error). Invariant: every finding and every diff decision is read from
//! the model; the tree only says where a key is.

pub mod audit;
pub mod diff;
pub mod findings;
pub mod locate;
pub mod matrix;
pub mod sarif;

use std::path::{Path, PathBuf};

use clap::{Subcommand, ValueEnum};

use crate::diagnostic::{RenderOptions, Report};
use crate::source::SourceFile;
use crate::yaml::Node;

pub use findings::Level;

/// The review commands.
#[derive(Debug, Subcommand)]
pub enum Review {
    /// Review a spec: who may do what to which rows, and security findings.
    Audit {
        /// The spec file.
        spec: PathBuf,
        /// How to write the report.
        #[arg(long, value_enum, default_value_t = AuditFormat::Text)]
        format: AuditFormat,
        /// Exit 1 when a finding at or above this level is not silenced
        /// (default: findings never change the exit status).
        #[arg(long, value_enum, value_name = "LEVEL")]
        deny: Option<Level>,
        /// Write the report to this file instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Compare two specs: what a change widens, narrows or leaves neutral.
    Diff {
        /// The old spec: a file, or `git:REV:PATH` for a committed version
        /// (PATH as `git show` reads it: from the repository root, or
        /// `./PATH` from the current directory).
        old: String,
        /// The new spec: a file, or `git:REV:PATH`.
        new: String,
        /// How to write the report.
        #[arg(long, value_enum, default_value_t = DiffFormat::Text)]
        format: DiffFormat,
        /// Exit 1 when a change of this class is found.
        #[arg(long, value_enum, value_name = "CLASS")]
        fail_on: Option<FailOn>,
        /// Write the report to this file instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AuditFormat {
    /// For a terminal: settings, the access matrix and findings.
    Text,
    /// For a design review or a pull request.
    Markdown,
    /// One JSON document.
    Json,
    /// A self-contained HTML page.
    Html,
    /// SARIF 2.1.0, for GitHub code scanning.
    Sarif,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DiffFormat {
    /// For a terminal.
    Text,
    /// For a pull-request comment.
    Markdown,
    /// One JSON document.
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    /// Any change that lets somebody do or see more.
    Widening,
    /// Any change that the diff lists.
    Change,
}

/// Runs a review command; returns the exit code.
pub fn run(review: Review, color: bool) -> u8 {
    match review {
        Review::Audit {
            spec,
            format,
            deny,
            out,
        } => run_audit(&spec, format, deny, out.as_deref(), color),
        Review::Diff {
            old,
            new,
            format,
            fail_on,
            out,
        } => run_diff(&old, &new, format, fail_on, out.as_deref(), color),
    }
}

/// A spec that compiled, with its positioned tree.
pub struct Loaded {
    pub compiled: crate::Compiled,
    pub root: Node,
}

impl Loaded {
    pub fn locator(&self) -> locate::Locator<'_> {
        locate::Locator::new(&self.compiled.source, &self.root)
    }

    pub fn side(&self) -> diff::Side<'_> {
        diff::Side {
            model: &self.compiled.model,
            spec: &self.compiled.spec,
            at: self.locator(),
        }
    }
}

/// Compiles a source; the report of an invalid one is the `Err`.
pub fn load(source: SourceFile) -> Result<Loaded, Report> {
    let compiled = crate::compile(source)?;
    // Compilation parsed the same text successfully, so this cannot fail.
    let root = crate::parse::parse(&compiled.source)
        .map_err(|d| Report::new(compiled.source.clone(), d))?
        .root;
    Ok(Loaded { compiled, root })
}

/// Reads a spec argument: a file, or `git:REV:PATH` (through `git show`).
pub fn read_spec(arg: &str) -> Result<SourceFile, String> {
    let Some(rest) = arg.strip_prefix("git:") else {
        return crate::cli::read_source(Path::new(arg));
    };
    let Some((rev, path)) = rest
        .split_once(':')
        .filter(|(r, p)| !r.is_empty() && !p.is_empty())
    else {
        return Err(format!(
            "`{arg}` is not `git:REV:PATH` (for example `git:HEAD:palisade.yaml`)"
        ));
    };
    let object = format!("{rev}:{path}");
    let mut child = std::process::Command::new("git")
        .args(["show", &object])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run git to read {object}: {e}"))?;
    // Read no more than a spec may hold (as for a file); git is stopped
    // if the object is larger.
    let stdout = child.stdout.take().expect("stdout is piped");
    let text = crate::cli::read_bounded(stdout, &object);
    if !text
        .as_ref()
        .is_ok_and(|t| t.len() <= crate::yaml::MAX_BYTES)
    {
        let _ = child.kill();
    }
    let output = child
        .wait_with_output()
        .map_err(|e| format!("cannot run git to read {object}: {e}"))?;
    let text = text?;
    if text.len() <= crate::yaml::MAX_BYTES && !output.status.success() {
        return Err(format!(
            "cannot read {object} from git: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    Ok(SourceFile::new(object, text))
}

fn render_options(color: bool) -> RenderOptions {
    let width = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(100usize)
        .clamp(60, 200);
    RenderOptions { color, width }
}

/// Reads and compiles a spec argument, rendering problems to standard
/// error; `Err` is the exit code.
fn load_arg(arg: &str, color: bool) -> Result<Loaded, u8> {
    let source = read_spec(arg).map_err(|message| {
        eprintln!("error: {message}");
        2
    })?;
    match load(source) {
        Ok(loaded) => {
            if !loaded.compiled.warnings.is_empty() {
                let report = Report::new(
                    loaded.compiled.source.clone(),
                    loaded.compiled.warnings.clone(),
                );
                eprint!("{}", report.render(render_options(color)));
            }
            Ok(loaded)
        }
        Err(report) => {
            eprint!("{}", report.render(render_options(color)));
            eprintln!("{}: invalid spec", report.source.name());
            Err(2)
        }
    }
}

/// Prints `text`, or writes it to `out`; `Err` is the exit code.
fn emit(text: &str, out: Option<&Path>) -> Result<(), u8> {
    match out {
        None => {
            print!("{text}");
            Ok(())
        }
        Some(path) => crate::cli::write_atomic(path, text.as_bytes()).map_err(|e| {
            eprintln!("error: cannot write {}: {e}", path.display());
            2
        }),
    }
}

/// Renders an audit in one format; `color` applies to text only.
pub fn render_audit(report: &audit::AuditReport, format: AuditFormat, color: bool) -> String {
    match format {
        AuditFormat::Text => audit::render_text(report, color),
        AuditFormat::Markdown => audit::render_markdown(report),
        AuditFormat::Json => audit::render_json(report),
        AuditFormat::Html => audit::render_html(report),
        AuditFormat::Sarif => sarif::render_sarif(report),
    }
}

/// Renders a diff in one format; `color` applies to text only.
pub fn render_diff(report: &diff::DiffReport, format: DiffFormat, color: bool) -> String {
    match format {
        DiffFormat::Text => diff::render_text(report, color),
        DiffFormat::Markdown => diff::render_markdown(report),
        DiffFormat::Json => diff::render_json(report),
    }
}

fn run_audit(
    spec: &Path,
    format: AuditFormat,
    deny: Option<Level>,
    out: Option<&Path>,
    color: bool,
) -> u8 {
    let loaded = match load_arg(&spec.display().to_string(), color) {
        Ok(l) => l,
        Err(code) => return code,
    };
    let report = audit::audit(&loaded.compiled, &loaded.root);
    let text = render_audit(&report, format, color && out.is_none());
    if let Err(code) = emit(&text, out) {
        return code;
    }
    match deny {
        Some(level) if report.fails(level) => {
            eprintln!(
                "{}: findings at or above `{}` are not silenced",
                report.file,
                level.name()
            );
            1
        }
        _ => 0,
    }
}

fn run_diff(
    old: &str,
    new: &str,
    format: DiffFormat,
    fail_on: Option<FailOn>,
    out: Option<&Path>,
    color: bool,
) -> u8 {
    let (old, new) = match (load_arg(old, color), load_arg(new, color)) {
        (Ok(o), Ok(n)) => (o, n),
        _ => return 2,
    };
    let report = diff::diff(old.side(), new.side());
    let text = render_diff(&report, format, color && out.is_none());
    if let Err(code) = emit(&text, out) {
        return code;
    }
    let fails = match fail_on {
        None => false,
        Some(FailOn::Widening) => report.widens(),
        Some(FailOn::Change) => !report.changes.is_empty(),
    };
    if fails {
        let (n, what) = match fail_on {
            Some(FailOn::Widening) => (report.summary.widening, "widening change"),
            _ => (report.changes.len(), "change"),
        };
        eprintln!(
            "{} -> {}: {n} {what}{}",
            report.old,
            report.new,
            if n == 1 { "" } else { "s" }
        );
        1
    } else {
        0
    }
}
