//! Diagnostics: every problem a user can be told about, located in a file.
//!
//! Stage: parse and validate produce them; the CLI renders them. A
//! [`Diagnostic`] has a stable kebab-case [`Code`] (documented in README.md,
//! unique by construction and by test), a lowercase message saying what was
//! found and what was expected, a primary label on the offending key or
//! value, optional secondary labels and a help line. Rendering uses miette:
//! source line, marker and colour on a terminal; plain text in tests.

use std::fmt;

use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, SourceCode};
use serde::Serialize;

use crate::source::{SourceFile, Span};

/// How bad a problem is. Errors make a spec invalid; warnings do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

macro_rules! codes {
    ($($variant:ident => $code:literal, $what:literal;)*) => {
        /// A stable identifier of a kind of problem.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Code { $($variant),* }

        impl Code {
            pub const ALL: &'static [Code] = &[$(Code::$variant),*];

            /// The kebab-case code shown to users and tools.
            pub fn as_str(self) -> &'static str {
                match self { $(Code::$variant => $code),* }
            }

            /// One line on what the code means, for the reference in README.md.
            pub fn summary(self) -> &'static str {
                match self { $(Code::$variant => $what),* }
            }
        }
    };
}

codes! {
    YamlSyntax => "yaml-syntax", "the file is not valid YAML";
    DuplicateKey => "duplicate-key", "a mapping has the same key twice (the second would silently replace the first)";
    MultipleDocuments => "multiple-documents", "the file holds more than one YAML document";
    EmptySpec => "empty-spec", "the file holds no spec";
    SpecTooLarge => "spec-too-large", "the file is larger than 4 MiB, or holds more than 500,000 values once its aliases are expanded";
    NestingTooDeep => "nesting-too-deep", "lists and mappings nested more than 64 levels deep";
    UnknownKey => "unknown-key", "a key that the format does not have (often a typo)";
    MissingKey => "missing-key", "a required key is absent";
    WrongType => "wrong-type", "a value of the wrong type (a list where a mapping belongs, a string for a number, ...)";
    InvalidValue => "invalid-value", "a value outside the allowed set or range";
    InvalidRate => "invalid-rate", "a rate that is not `N/second|minute|hour|day`";
    InvalidSize => "invalid-size", "a size that is not bytes with an optional `KiB`/`MiB` suffix";
    InvalidOrigin => "invalid-origin", "a CORS origin that is not an exact `scheme://host[:port]`";
    UnsupportedVersion => "unsupported-version", "the `palisade:` format version is not 1";
    InvalidName => "invalid-name", "a name that is not `[a-z][a-z0-9_]*` (`[a-z][a-z0-9_-]*` for the service)";
    ReservedName => "reserved-name", "a name that the generated server uses itself";
    DuplicatePlural => "duplicate-plural", "two resources share one path";
    DuplicateEntry => "duplicate-entry", "a list names the same item twice";
    NoResources => "no-resources", "the spec declares no resource";
    OwnerFieldDeclared => "owner-field-declared", "the owner field is also declared as an input field";
    OwnerGrantWithoutOwner => "owner-grant-without-owner", "`access.owner`, or `owner` in a field rule (`read`, `write`, `hide`), on a resource with `owner: none`";
    UnreachableResource => "unreachable-resource", "no owner, role or public grant reaches the resource";
    UnknownResource => "unknown-resource", "a ref names a resource that does not exist";
    MissingRefTarget => "missing-ref-target", "a `ref` field without `resource`";
    InapplicableKey => "inapplicable-key", "a constraint that does not apply to the field's type";
    UndeclaredRole => "undeclared-role", "a grant, a field rule (`read`, `write`, `hide`) or `owner.read` names a role missing from `roles`";
    UnusedRole => "unused-role", "a declared role that no grant uses";
    PublicWrite => "public-write", "a public grant on an operation that changes data, or `public` in a field's `write`";
    WildcardWithCredentials => "wildcard-with-credentials", "CORS `*` together with credentials";
    InvalidDefault => "invalid-default", "a default that does not fit its field's type or constraints";
    MinGreaterThanMax => "min-greater-than-max", "a lower bound above its upper bound";
    InvalidPattern => "invalid-pattern", "a `pattern` that is not a valid regular expression";
    AuthKeyMismatch => "auth-key-mismatch", "a key setting that does not fit the JWT algorithm";
    InvalidLimit => "invalid-limit", "a limit that is zero, inconsistent or out of range";
    UnknownField => "unknown-field", "a filter, sort key, owner rule or `hide` names a field that does not exist (or `hide` names the owner field)";
    ConflictingFlags => "conflicting-flags", "field flags that contradict each other (also `write` on a `read_only` field, `hide` on a field with its own `read`)";
    UniqueWithoutOwner => "unique-without-owner", "`unique: per_owner` on a resource without an owner";
    UnusedThrottle => "unused-throttle", "a per-operation rate for an operation nobody may run";
    InvalidClaim => "invalid-claim", "an empty or malformed claim name";
    ReservedFilter => "reserved-filter", "a filter named like a parameter of every list (`limit`, `sort`, `cursor`)";
    RequiredRefCycle => "required-ref-cycle", "required refs that form a cycle, so no row of them can ever be created";
    ReservedClaim => "reserved-claim", "an owner or user claim that tokens use for something else (`exp`, `nbf`, `iat`, the roles claim; a checked `iss` or `aud` as owner claim; `iss`, `aud`, `azp` or `jti` as user claim)";
    UniqueAcrossOwners => "unique-across-owners", "`unique: global` on an owned resource: a duplicate answers 409 for a value another owner holds (an existence oracle), and one owner can take values others need (warning; accept it with `audit.allow`)";
    UnsafeMigration => "unsafe-migration", "a spec change whose migration would drop data or may not hold for the rows that exist (needs `palisade generate --allow-destructive`), or needs a hint (`renamed_from`, a `default` or `backfill` for rows that exist)";
    UnwritableField => "unwritable-field", "a required field that nobody who may create a row may write (`write`), so every create would fail (a warning when only some creators are left out)";
    WriteWithoutRead => "write-without-read", "a field rule (`read`, `write`, `hide`) that lets someone write a field they can never read (a warning)";
    UnsatisfiableField => "unsatisfiable-field", "a field whose constraints no value meets (a pattern longer than `max_length`, an email or URL `max_length` below the shortest address), so it can only be null";
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A message attached to a span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    pub span: Span,
    pub text: String,
}

/// One problem, located in a source file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub code: Code,
    pub message: String,
    /// The offending key or value; `None` only for problems of a whole file.
    pub primary: Option<Label>,
    pub secondary: Vec<Label>,
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn error(code: Code, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            code,
            message: message.into(),
            primary: None,
            secondary: Vec::new(),
            help: None,
        }
    }

    pub fn warning(code: Code, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, message)
        }
    }

    /// Points the diagnostic at `span`, with `text` under the marker.
    pub fn at(mut self, span: Span, text: impl Into<String>) -> Diagnostic {
        self.primary = Some(Label {
            span,
            text: text.into(),
        });
        self
    }

    pub fn with_label(mut self, span: Span, text: impl Into<String>) -> Diagnostic {
        self.secondary.push(Label {
            span,
            text: text.into(),
        });
        self
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    pub fn with_help_opt(mut self, help: Option<String>) -> Diagnostic {
        self.help = help;
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// Where the diagnostic points: its primary span, or the file's start.
    pub fn span(&self) -> Span {
        self.primary.as_ref().map(|l| l.span).unwrap_or_default()
    }
}

/// Diagnostics of one file, in source order, ready to render.
#[derive(Debug, Clone)]
pub struct Report {
    pub source: SourceFile,
    pub diagnostics: Vec<Diagnostic>,
}

/// How to render a report.
#[derive(Debug, Clone, Copy)]
pub struct RenderOptions {
    pub color: bool,
    pub width: usize,
}

impl Report {
    pub fn new(source: SourceFile, mut diagnostics: Vec<Diagnostic>) -> Report {
        diagnostics.sort_by_key(|d| (d.span().start, d.code));
        diagnostics.dedup();
        Report {
            source,
            diagnostics,
        }
    }

    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }

    pub fn error_count(&self) -> usize {
        self.diagnostics.iter().filter(|d| d.is_error()).count()
    }

    /// Human-readable rendering: header, source line, marker, labels, help.
    pub fn render(&self, options: RenderOptions) -> String {
        let theme = if options.color {
            GraphicalTheme::unicode()
        } else {
            GraphicalTheme::unicode_nocolor()
        };
        let handler = GraphicalReportHandler::new_themed(theme)
            .with_width(options.width)
            .with_context_lines(1)
            .with_links(false);
        let mut out = String::new();
        for diagnostic in &self.diagnostics {
            let shown = Shown {
                diagnostic,
                source: &self.source,
            };
            let position = self.source.position(diagnostic.span().start);
            // The file:line:column first, on a line of its own, so that
            // terminals and editors can jump to it.
            out.push_str(&format!(
                "{}:{}:{}: {}[{}]\n",
                self.source.name(),
                position.line,
                position.column,
                match diagnostic.severity {
                    Severity::Error => "error",
                    Severity::Warning => "warning",
                },
                diagnostic.code,
            ));
            let _ = handler.render_report(&mut out, &shown);
        }
        out
    }

    /// Machine-readable diagnostics for editors and CI.
    pub fn json(&self) -> Vec<JsonDiagnostic> {
        self.diagnostics
            .iter()
            .map(|d| {
                let span = d.span();
                let start = self.source.position(span.start);
                let end = self.source.position(span.end);
                JsonDiagnostic {
                    file: self.source.name().to_string(),
                    line: start.line,
                    column: start.column,
                    end_line: end.line,
                    end_column: end.column,
                    severity: d.severity,
                    code: d.code.as_str(),
                    message: d.message.clone(),
                    help: d.help.clone(),
                }
            })
            .collect()
    }
}

/// One diagnostic as `--format json` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct JsonDiagnostic {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub end_line: usize,
    pub end_column: usize,
    pub severity: Severity,
    pub code: &'static str,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
}

/// Adapter from [`Diagnostic`] to miette's trait, for rendering only.
struct Shown<'a> {
    diagnostic: &'a Diagnostic,
    source: &'a SourceFile,
}

impl fmt::Debug for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.diagnostic, f)
    }
}

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.diagnostic.message)
    }
}

impl std::error::Error for Shown<'_> {}

impl miette::Diagnostic for Shown<'_> {
    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.diagnostic.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }

    fn help<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        self.diagnostic
            .help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.diagnostic.primary.as_ref()?;
        Some(self)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let primary = self.diagnostic.primary.as_ref()?;
        let label = |l: &Label, primary: bool| {
            let text = (!l.text.is_empty()).then(|| l.text.clone());
            let span = (l.span.start, l.span.len().max(1));
            if primary {
                LabeledSpan::new_primary_with_span(text, span)
            } else {
                LabeledSpan::new_with_span(text, span)
            }
        };
        Some(Box::new(
            std::iter::once(label(primary, true)).chain(
                self.diagnostic
                    .secondary
                    .iter()
                    .map(move |l| label(l, false)),
            ),
        ))
    }
}

impl SourceCode for Shown<'_> {
    fn read_span<'b>(
        &'b self,
        span: &miette::SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn miette::SpanContents<'b> + 'b>, miette::MietteError> {
        // Clamp spans that point past the end (an empty file, a missing key
        // at the end) so that rendering never fails.
        let text = self.source.text();
        let offset = span.offset().min(text.len());
        let len = span.len().min(text.len() - offset);
        let clamped = miette::SourceSpan::new(offset.into(), len);
        let contents = text.read_span(&clamped, context_lines_before, context_lines_after)?;
        Ok(Box::new(miette::MietteSpanContents::new_named(
            self.source.name().to_string(),
            contents.data(),
            *contents.span(),
            contents.line(),
            contents.column(),
            contents.line_count(),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn codes_are_unique_kebab_case() {
        let mut seen = HashSet::new();
        for code in Code::ALL {
            let s = code.as_str();
            assert!(seen.insert(s), "duplicate code {s}");
            assert!(
                s.chars().all(|c| c.is_ascii_lowercase() || c == '-'),
                "{s} is not kebab-case"
            );
            assert!(!code.summary().is_empty());
        }
    }
}
