//! The command-line interface: argument parsing and the commands' output.
//!
//! Stage: none of its own; it reads files, calls the pipeline of the
//! library and renders the result. Exit codes are the contract of SPEC.md
//! section 2: 0 ok, 1 findings or drift, 2 invalid spec or usage error.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::diagnostic::{JsonDiagnostic, RenderOptions, Report};
use crate::source::SourceFile;

/// Compile a declarative API spec into an owner-scoped, deny-by-default axum server.
#[derive(Debug, Parser)]
#[command(name = "palisade", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// When to use colour: auto (a terminal without NO_COLOR), always, never.
    #[arg(long, value_enum, default_value_t = Color::Auto, global = true)]
    pub color: Color,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Color {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Rendered for people: source lines, markers and help.
    Human,
    /// One JSON document for editors and CI.
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check specs: every structural and semantic problem, located.
    Validate {
        /// Spec files to check.
        #[arg(required = true)]
        specs: Vec<PathBuf>,
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
    /// Generate the axum project of a spec (or update a generated one).
    Generate {
        /// The spec file.
        spec: PathBuf,
        /// The project directory (created; or updated when palisade generated it).
        #[arg(long)]
        out: PathBuf,
        /// Write into a non-empty directory that palisade did not generate.
        #[arg(long)]
        force: bool,
        /// Write a migration that drops data (a removed field or resource)
        /// or that depends on the rows that exist (a new `unique` or
        /// `required`, a narrowed type; the migration checks them first).
        #[arg(long)]
        allow_destructive: bool,
    },
    /// Print the resolved model of a spec as JSON: every default applied and
    /// every decision made (who may run each operation, on which rows).
    Model {
        /// The spec file.
        spec: PathBuf,
    },
    /// Check that a generated project matches its spec, without writing (CI).
    Check {
        /// The spec file.
        spec: PathBuf,
        /// The generated project directory.
        #[arg(long)]
        out: PathBuf,
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
    #[command(flatten)]
    Review(crate::review::Review),
    /// Print the JSON Schema of the spec format (for editors).
    Schema {
        /// Write the schema to this file instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Write a commented starter spec and its JSON Schema; never overwrites.
    Init {
        /// The service name (default: from the directory name).
        #[arg(long)]
        name: Option<String>,
        /// Directory to write into.
        #[arg(default_value = ".")]
        dir: PathBuf,
    },
}

/// Runs the CLI with the process's arguments.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let color = match cli.color {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => {
            std::io::stdout().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        }
    };
    let code = match cli.command {
        Command::Validate { specs, format } => validate(&specs, format, color),
        Command::Generate {
            spec,
            out,
            force,
            allow_destructive,
        } => generate(&spec, &out, force, allow_destructive, color),
        Command::Schema { out } => schema(out.as_deref()),
        Command::Check { spec, out, format } => check(&spec, &out, format, color),
        Command::Model { spec } => match compile_for_command(&spec, color) {
            Ok(compiled) => {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&compiled.model).unwrap_or_default()
                );
                0
            }
            Err(code) => code,
        },
        Command::Review(review) => crate::review::run(review, color),
        Command::Init { name, dir } => init(&dir, name.as_deref()),
    };
    ExitCode::from(code)
}

/// Terminal width for rendering, within sensible bounds.
fn width() -> usize {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(100)
        .clamp(60, 200)
}

/// Reads a spec file; an unreadable file is reported like an invalid spec.
pub fn read_source(path: &Path) -> Result<SourceFile, String> {
    let what = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read {what}: {e}"))?;
    read_bounded(file, &what).map(|text| SourceFile::new(what, text))
}

/// The text of a spec from `reader`, of which at most one byte more than
/// the largest spec accepted ([`crate::yaml::MAX_BYTES`]) is read: a larger
/// file is reported by the parser (`spec-too-large`) without being read
/// whole, so a huge file (or `/dev/zero`) costs nothing.
pub fn read_bounded(reader: impl std::io::Read, what: &str) -> Result<String, String> {
    use std::io::Read as _;
    let mut bytes = Vec::new();
    reader
        .take(crate::yaml::MAX_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read {what}: {e}"))?;
    if bytes.len() > crate::yaml::MAX_BYTES {
        // The cut may split a character; what is past the limit is never
        // parsed anyway.
        return Ok(String::from_utf8_lossy(&bytes).into_owned());
    }
    String::from_utf8(bytes).map_err(|_| format!("{what} is not UTF-8 text"))
}

fn validate(specs: &[PathBuf], format: Format, color: bool) -> u8 {
    let options = RenderOptions {
        color,
        width: width(),
    };
    let mut all_valid = true;
    let mut json: Vec<JsonDiagnostic> = Vec::new();
    let mut out = std::io::stdout().lock();
    for path in specs {
        let source = match read_source(path) {
            Ok(s) => s,
            Err(message) => {
                all_valid = false;
                match format {
                    Format::Human => eprintln!("error: {message}"),
                    Format::Json => json.push(JsonDiagnostic {
                        file: path.display().to_string(),
                        line: 0,
                        column: 0,
                        end_line: 0,
                        end_column: 0,
                        severity: crate::diagnostic::Severity::Error,
                        code: "unreadable-file",
                        message,
                        help: None,
                    }),
                }
                continue;
            }
        };
        let report = match crate::compile(source.clone()) {
            Ok(compiled) => {
                if format == Format::Human {
                    let resources = compiled.model.resources.len();
                    let operations: usize = compiled
                        .model
                        .resources
                        .iter()
                        .map(|r| r.operations.len())
                        .sum();
                    let _ = writeln!(
                        out,
                        "{}: valid ({resources} resource{}, {operations} operation{})",
                        source.name(),
                        if resources == 1 { "" } else { "s" },
                        if operations == 1 { "" } else { "s" },
                    );
                }
                Report::new(source, compiled.warnings)
            }
            Err(report) => {
                all_valid = false;
                report
            }
        };
        match format {
            Format::Human => {
                let _ = write!(out, "{}", report.render(options));
                if report.has_errors() {
                    let n = report.error_count();
                    let _ = writeln!(
                        out,
                        "{}: invalid, {n} error{}",
                        report.source.name(),
                        if n == 1 { "" } else { "s" }
                    );
                }
            }
            Format::Json => json.extend(report.json()),
        }
    }
    if format == Format::Json {
        let document = serde_json::json!({ "valid": all_valid, "diagnostics": json });
        let _ = writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&document).unwrap_or_default()
        );
    }
    if all_valid { 0 } else { 2 }
}

/// Compiles one spec for a command that needs a valid one; renders the
/// report on failure.
pub fn compile_for_command(path: &Path, color: bool) -> Result<crate::Compiled, u8> {
    let source = read_source(path).map_err(|message| {
        eprintln!("error: {message}");
        2
    })?;
    let options = RenderOptions {
        color,
        width: width(),
    };
    match crate::compile(source) {
        Ok(compiled) => {
            if !compiled.warnings.is_empty() {
                let report = Report::new(compiled.source.clone(), compiled.warnings.clone());
                eprint!("{}", report.render(options));
            }
            Ok(compiled)
        }
        Err(report) => {
            eprint!("{}", report.render(options));
            eprintln!("{}: invalid, nothing written", report.source.name());
            Err(2)
        }
    }
}

fn spec_file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// The project of `compiled` for the directory `out`: its migrations
/// continue the history recorded there. Refused changes are reported as
/// located diagnostics (exit 2), as is a history that cannot be read.
fn project_for(
    compiled: &crate::Compiled,
    name: &str,
    out: &Path,
    allow_destructive: bool,
    color: bool,
) -> Result<crate::generate::Project, u8> {
    let previous = if out.is_dir() {
        crate::write::Manifest::read(out).map_err(|e| {
            eprintln!("error: {e:#}");
            2
        })?
    } else {
        None
    };
    let history = crate::write::history(out, previous.as_ref(), &compiled.model).map_err(|e| {
        eprintln!("error: {e:#}");
        2
    })?;
    match crate::migrate::next(history, &compiled.model, allow_destructive) {
        Ok(migrations) => Ok(crate::generate::generate_migrated(
            &compiled.model,
            name,
            &migrations,
        )),
        Err(refusals) => {
            let report = refusal_report(compiled, &refusals);
            eprint!(
                "{}",
                report.render(RenderOptions {
                    color,
                    width: width(),
                })
            );
            eprintln!(
                "{}: the next migration is refused, nothing written",
                compiled.source.name()
            );
            Err(2)
        }
    }
}

/// Refused migration changes as located diagnostics.
fn refusal_report(compiled: &crate::Compiled, refusals: &[crate::migrate::Refusal]) -> Report {
    use crate::diagnostic::{Code, Diagnostic};
    let parsed = crate::parse::parse(&compiled.source).ok();
    let diagnostics = refusals
        .iter()
        .map(|r| {
            let span = parsed.as_ref().map_or(crate::source::Span::new(0, 0), |p| {
                let locator = crate::review::locate::Locator::new(&compiled.source, &p.root);
                let mut path = vec!["resources", r.resource.as_str()];
                if let Some(field) = &r.field {
                    path.extend(["fields", field.as_str()]);
                }
                path.extend(r.key);
                locator.key_span(&path)
            });
            Diagnostic::error(Code::UnsafeMigration, r.message.clone())
                .at(span, "here")
                .with_help(r.help.clone())
        })
        .collect();
    Report::new(compiled.source.clone(), diagnostics)
}

fn generate(spec: &Path, out: &Path, force: bool, allow_destructive: bool, color: bool) -> u8 {
    let compiled = match compile_for_command(spec, color) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let name = spec_file_name(spec);
    let project = match project_for(&compiled, &name, out, allow_destructive, color) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let manifest = crate::write::Manifest::of(&project, &name, compiled.source.text().as_bytes());
    // What the project held before, for the upgrade notes below.
    let earlier = crate::write::Manifest::read(out).ok().flatten();
    let earlier_runtime = crate::write::plain_path(out, RUNTIME_MANIFEST)
        .ok()
        .and_then(|p| std::fs::read_to_string(p).ok());
    let earlier_api = crate::write::plain_path(out, "api/Cargo.toml")
        .ok()
        .and_then(|p| std::fs::read_to_string(p).ok());
    match crate::write::write(
        &project,
        &manifest,
        out,
        crate::write::WriteOptions { force },
    ) {
        Ok(report) => {
            let count = |v: &Vec<String>| v.len();
            for path in &report.removed {
                println!("removed {path}");
            }
            for path in &report.handed_over {
                println!("yours from now on: {path}");
            }
            for path in &report.edited_left {
                eprintln!(
                    "warning: {}: palisade generated this file and no longer needs it, but it was edited by hand; palisade kept it (moved aside as `.orig` where it could, so that it is no longer compiled) and forgets it: delete it once your changes are elsewhere",
                    out.join(path).display()
                );
            }
            let old_layout = earlier
                .as_ref()
                .is_some_and(|m| m.files.contains_key("src/runtime/mod.rs"));
            if old_layout {
                let lock = if report.kept.iter().any(|p| p == "Cargo.lock") {
                    "; your hooks and Cargo.lock were kept (run `cargo update -w` once to add the new workspace crates to Cargo.lock, or `--locked` builds will refuse it)"
                } else {
                    "; your hooks were kept"
                };
                println!(
                    "moved to the workspace layout of palisade {}: the generated API is the crate api/, the runtime the crate runtime/ (palisade-runtime {}); the files above are yours from now on{lock}",
                    crate::generate::VERSION,
                    crate::generate::runtime_version()
                );
            }
            let api_package = format!(
                "{}-api",
                crate::generate::ident::package(&compiled.model.name)
            );
            let earlier_api = earlier_api.as_deref().and_then(|m| {
                m.lines()
                    .find_map(|l| l.strip_prefix("name = \""))
                    .and_then(|n| n.strip_suffix('"'))
                    .map(str::to_string)
            });
            if let Some(earlier_api) = earlier_api.filter(|name| *name != api_package) {
                eprintln!(
                    "warning: the generated API crate is now `{api_package}` (it was `{earlier_api}`: the spec's service name changed); in your Cargo.toml, depend on `{api_package} = {{ path = \"api\" }}` instead, and in src/lib.rs re-export `{}` as `api`",
                    api_package.replace('-', "_")
                );
            }
            if let Some(note) = runtime_upgrade(
                earlier_runtime.as_deref(),
                &project.files[RUNTIME_MANIFEST].contents,
            ) {
                println!("{note}");
            }
            for path in &report.orphaned {
                eprintln!(
                    "warning: {}: this user file belongs to something the spec no longer has; it is no longer compiled, and palisade left it in place",
                    out.join(path).display()
                );
            }
            println!(
                "{}: {} created, {} updated, {} unchanged, {} user files kept, {} removed{}",
                out.display(),
                count(&report.created),
                count(&report.updated),
                count(&report.unchanged),
                count(&report.kept),
                count(&report.removed),
                if report.handed_over.is_empty() {
                    String::new()
                } else {
                    format!(", {} handed over to you", report.handed_over.len())
                }
            );
            if !report.created.is_empty()
                && report.updated.is_empty()
                && report.unchanged.is_empty()
            {
                println!("next: cd {} && cargo run", out.display());
            }
            0
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            eprintln!("nothing was changed in {}", out.display());
            2
        }
    }
}

/// The vendored runtime's manifest in a generated project.
const RUNTIME_MANIFEST: &str = "runtime/Cargo.toml";

/// A manifest's package version and the names in its `[dependencies]`.
fn manifest_summary(text: &str) -> (String, Vec<String>) {
    let version = text
        .lines()
        .find_map(|l| l.strip_prefix("version = \""))
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or_default()
        .to_string();
    let mut in_dependencies = false;
    let mut names = Vec::new();
    for line in text.lines() {
        if line.starts_with('[') {
            in_dependencies = line == "[dependencies]";
        } else if in_dependencies {
            if let Some((name, _)) = line.split_once(" = ") {
                if !name.starts_with('#') {
                    names.push(name.to_string());
                }
            }
        }
    }
    (version, names)
}

/// What a new runtime version changes for the team, if it changed: the
/// versions and the crates it now needs (which `cargo update -w` adds to a
/// lock file that `--locked` builds would otherwise refuse).
fn runtime_upgrade(before: Option<&str>, after: &str) -> Option<String> {
    let (old_version, old_names) = manifest_summary(before?);
    let (new_version, new_names) = manifest_summary(after);
    if old_version == new_version {
        return None;
    }
    let added: Vec<&str> = new_names
        .iter()
        .filter(|n| !old_names.contains(n))
        .map(String::as_str)
        .collect();
    let mut note = format!("runtime/: palisade-runtime {old_version} -> {new_version}");
    if !added.is_empty() {
        note.push_str(&format!("; it needs new crates ({})", added.join(", ")));
    }
    note.push_str("; run `cargo update -w` once to record it in Cargo.lock");
    Some(note)
}

fn check(spec: &Path, out: &Path, format: Format, color: bool) -> u8 {
    let compiled = match compile_for_command(spec, color) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let name = spec_file_name(spec);
    if !out.is_dir() {
        eprintln!(
            "error: {} is not a directory; run `palisade generate {} --out {}` first",
            out.display(),
            spec.display(),
            out.display()
        );
        return 2;
    }
    // A due migration is a missing file, whatever `generate` will need to
    // write it (a flag, a hint): that is `generate`'s to say.
    let project = match project_for(&compiled, &name, out, true, color) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let manifest = crate::write::Manifest::of(&project, &name, compiled.source.text().as_bytes());
    let drift = match crate::check::check(&project, &manifest, out) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: {e:#}");
            return 2;
        }
    };
    use crate::check::Kind;
    let summary = format!(
        "{} stale, {} hand-edited, {} missing, {} unexpected",
        drift.count(Kind::Stale),
        drift.count(Kind::HandEdited),
        drift.count(Kind::Missing),
        drift.count(Kind::Unexpected)
    );
    match format {
        Format::Json => {
            let document = serde_json::json!({
                "clean": drift.is_clean(),
                "spec_changed": drift.spec_changed,
                "summary": {
                    "stale": drift.count(Kind::Stale),
                    "hand_edited": drift.count(Kind::HandEdited),
                    "missing": drift.count(Kind::Missing),
                    "unexpected": drift.count(Kind::Unexpected),
                },
                "files": drift.findings,
                "warnings": drift.warnings,
            });
            println!(
                "{}",
                serde_json::to_string_pretty(&document).unwrap_or_default()
            );
        }
        Format::Human => {
            let mut out_text = String::new();
            for f in &drift.findings {
                out_text.push_str(&format!("{}: {}\n", f.kind.describe(), f.path));
                for line in f.diff.lines() {
                    let painted = match line.as_bytes().first() {
                        Some(b'+') if color && !line.starts_with("+++") => {
                            format!("\x1b[32m{line}\x1b[0m")
                        }
                        Some(b'-') if color && !line.starts_with("---") => {
                            format!("\x1b[31m{line}\x1b[0m")
                        }
                        Some(b'@') if color => format!("\x1b[36m{line}\x1b[0m"),
                        _ => line.to_string(),
                    };
                    out_text.push_str(&painted);
                    out_text.push('\n');
                }
            }
            for w in &drift.warnings {
                out_text.push_str(&format!("warning: {}: {}\n", w.path, w.message));
            }
            for f in &drift.findings {
                if f.path.starts_with("migrations/") {
                    let what = match f.kind {
                        Kind::Missing
                            if !project.frozen.contains_key(&f.path)
                                && f.path.starts_with("migrations/postgres/") =>
                        {
                            "PostgreSQL migration missing: the project serves PostgreSQL and its PostgreSQL migrations do not reach the spec's schema; run `palisade generate`"
                        }
                        Kind::Missing if !project.frozen.contains_key(&f.path) => {
                            "migration missing: the spec's schema differs from the one the migrations leave; run `palisade generate`"
                        }
                        Kind::Missing => {
                            "a migration palisade wrote is gone: restore it (a database that applied it refuses to start without it)"
                        }
                        _ => {
                            "a migration was edited after palisade wrote it: a database that applied it refuses to start; restore it and put the change in the spec"
                        }
                    };
                    out_text.push_str(&format!("{}: {what}\n", f.path));
                }
            }
            if drift.is_clean() {
                out_text.push_str(&format!(
                    "{}: up to date with {}\n",
                    out.display(),
                    spec.display()
                ));
            } else {
                let why = if drift.spec_changed {
                    " (the spec changed since the last generation)"
                } else {
                    ""
                };
                out_text.push_str(&format!(
                    "{}: drift: {summary}{why}; run `palisade generate {} --out {}`\n",
                    out.display(),
                    spec.display(),
                    out.display()
                ));
            }
            print!("{out_text}");
        }
    }
    if std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true") {
        for f in &drift.findings {
            println!(
                "::error file={},line={}::{} generated file: run palisade generate to update it",
                out.join(&f.path).display(),
                f.line,
                f.kind.describe()
            );
        }
        for w in &drift.warnings {
            println!(
                "::warning file={}::{}",
                out.join(&w.path).display(),
                w.message
            );
        }
    }
    if drift.is_clean() { 0 } else { 1 }
}

fn schema(out: Option<&Path>) -> u8 {
    let text = crate::schema::to_string_pretty();
    match out {
        None => {
            print!("{text}");
            0
        }
        Some(path) => match write_atomic(path, text.as_bytes()) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("error: cannot write {}: {e}", path.display());
                2
            }
        },
    }
}

/// Writes `bytes` to `path` through a temporary file in the same directory
/// and a rename, so readers never see a half-written file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{file_name}.palisade-tmp-{}", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

fn init(dir: &Path, name: Option<&str>) -> u8 {
    match crate::init::init(dir, name) {
        Ok(written) => {
            for path in written {
                println!("created {}", path.display());
            }
            println!(
                "next: palisade validate {}",
                dir.join(crate::init::SPEC_FILE).display()
            );
            0
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            2
        }
    }
}
