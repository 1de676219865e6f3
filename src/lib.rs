//! Palisade compiles a declarative YAML API spec into an axum server project
//! in which every handler is owner-scoped and every route is denied unless
//! the spec grants it.
//!
//! The pipeline, one module per room (see ARCHITECTURE.md):
//!
//! ```text
//! text --parse--> spec::Spec --validate--> model::Service --generate--> files --write/check--> disk
//! ```
//!
//! [`compile`] runs the front half: parse, validate and lower into the
//! resolved model. Every user-facing error is born there, all of them in one
//! run; later stages cannot fail on a model.

pub mod check;
pub mod cli;
pub mod diagnostic;
pub mod formats;
pub mod generate;
pub mod init;
pub mod migrate;
pub mod model;
pub mod parse;
pub mod review;
pub mod schema;
pub mod source;
pub mod spec;
pub mod suggest;
pub mod validate;
pub mod write;
pub mod yaml;

use diagnostic::{Diagnostic, Report};
use source::SourceFile;

/// A spec that passed every check, with its resolved model.
#[derive(Debug, Clone)]
pub struct Compiled {
    pub source: SourceFile,
    pub spec: spec::Spec,
    pub model: model::Service,
    /// Warnings found on the way (errors would have stopped compilation).
    pub warnings: Vec<Diagnostic>,
}

/// Parses, validates and lowers one spec file. On failure, the report holds
/// every diagnostic of the file, errors and warnings.
pub fn compile(source: SourceFile) -> Result<Compiled, Report> {
    let parsed = match parse::parse(&source) {
        Ok(parsed) => parsed,
        Err(diagnostics) => return Err(Report::new(source, diagnostics)),
    };
    let diagnostics = validate::validate(&parsed);
    if diagnostics.iter().any(Diagnostic::is_error) {
        return Err(Report::new(source, diagnostics));
    }
    let model = model::lower(&parsed.spec);
    let mut warnings = diagnostics;
    warnings.sort_by_key(|d| (d.span().start, d.code));
    Ok(Compiled {
        source,
        spec: parsed.spec,
        model,
        warnings,
    })
}
