//! Parsing: spec text to [`Spec`], with every structural problem located.
//!
//! Stage: parse. Input: a [`SourceFile`]. Output: the typed [`Spec`] and the
//! positioned YAML tree (which later stages use to point at keys and values),
//! or every structural diagnostic of the file. Three passes, each of which
//! only runs when the one before it succeeded:
//! 1. YAML to a positioned tree ([`crate::yaml`]): syntax, duplicate keys;
//! 2. the tree against the JSON Schema derived from the spec types: unknown
//!    and missing keys, wrong types, bad enum values, rates and sizes; all of
//!    them in one run, each mapped back to its span;
//! 3. serde_yaml into the spec types, which parses the typed scalars. An
//!    error here is located by serde_yaml itself.

use std::sync::OnceLock;

use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::paths::LocationSegment;
use jsonschema::{ValidationError, Validator};

use crate::diagnostic::{Code, Diagnostic};
use crate::schema;
use crate::source::{SourceFile, Span};
use crate::spec::{Origin, Rate, Size, Spec};
use crate::suggest::did_you_mean;
use crate::yaml::{self, Node, Step, Value};

/// A structurally valid spec with the tree it was read from.
#[derive(Debug, Clone)]
pub struct Parsed {
    pub spec: Spec,
    pub root: Node,
}

/// Parses and structurally checks `source`.
pub fn parse(source: &SourceFile) -> Result<Parsed, Vec<Diagnostic>> {
    let (root, mut diagnostics) = yaml::parse(source);
    let Some(root) = root.filter(|r| r.value != Value::Null) else {
        if diagnostics.is_empty() {
            diagnostics.push(
                Diagnostic::error(Code::EmptySpec, "the file holds no spec")
                    .at(Span::new(0, 0), "empty")
                    .with_help("run `palisade init` for a commented starter spec"),
            );
        }
        return Err(diagnostics);
    };
    diagnostics.extend(check_structure(&root));
    if !diagnostics.is_empty() {
        return Err(diagnostics);
    }
    match serde_yaml::from_str::<Spec>(source.text()) {
        Ok(spec) => Ok(Parsed { spec, root }),
        Err(error) => {
            let offset = error
                .location()
                .map_or(0, |l| source.offset(l.line(), l.column().saturating_sub(1)));
            let message = error.to_string();
            let message = message
                .split(" at line ")
                .next()
                .unwrap_or(&message)
                .to_string();
            Err(vec![
                Diagnostic::error(Code::InvalidValue, message)
                    .at(Span::new(offset, offset + 1), "here"),
            ])
        }
    }
}

fn validator() -> &'static Validator {
    static VALIDATOR: OnceLock<Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        jsonschema::draft202012::new(schema::json_schema()).expect("the derived schema is valid")
    })
}

/// Validates the tree against the spec schema; one diagnostic per problem.
pub fn check_structure(root: &Node) -> Vec<Diagnostic> {
    let instance = root.to_json();
    let mut out = Vec::new();
    for error in validator().iter_errors(&instance) {
        convert(root, &error, &mut out);
    }
    out
}

/// The path of an error as owned steps.
fn steps(error: &ValidationError<'_>) -> Vec<OwnedStep> {
    error
        .instance_path()
        .iter()
        .map(|segment| match segment {
            LocationSegment::Property(p) => OwnedStep::Key(p.to_string()),
            LocationSegment::Index(i) => OwnedStep::Index(i),
        })
        .collect()
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum OwnedStep {
    Key(String),
    Index(usize),
}

impl OwnedStep {
    fn borrow(&self) -> Step<'_> {
        match self {
            OwnedStep::Key(k) => Step::Key(k),
            OwnedStep::Index(i) => Step::Index(*i),
        }
    }
}

/// Where an error points: the node, and the span of the key that holds it.
struct Located<'a> {
    node: &'a Node,
    key_span: Option<Span>,
}

fn locate<'a>(root: &'a Node, path: &[OwnedStep]) -> Located<'a> {
    let mut node = root;
    let mut key_span = None;
    for step in path {
        if let OwnedStep::Key(k) = step {
            if let Some(entry) = node.entry(k) {
                key_span = Some(entry.key_span);
            }
        }
        match node.step(step.borrow()) {
            Some(next) => node = next,
            None => break,
        }
    }
    Located { node, key_span }
}

/// A human name for the place a path leads to, for messages.
pub fn describe(path: &[String]) -> String {
    match path {
        [] => "the spec".to_string(),
        [r, name] if r == "resources" => format!("resource `{name}`"),
        [r, res, f, name] if r == "resources" && f == "fields" => {
            format!("field `{name}` of `{res}`")
        }
        [r, res, f, name, rest @ ..] if r == "resources" && f == "fields" => {
            format!("`{}` of field `{name}` in `{res}`", rest.join("."))
        }
        [r, res, rest @ ..] if r == "resources" => format!("`{}` of `{res}`", rest.join(".")),
        _ => format!("`{}`", path.join(".")),
    }
}

fn path_names(path: &[OwnedStep]) -> Vec<String> {
    path.iter()
        .map(|s| match s {
            OwnedStep::Key(k) => k.clone(),
            OwnedStep::Index(i) => i.to_string(),
        })
        .collect()
}

fn type_name(kind: &TypeKind) -> String {
    use jsonschema::JsonType;
    let name = |t: &JsonType| match t {
        JsonType::Array => "a list",
        JsonType::Boolean => "a boolean (`true` or `false`)",
        JsonType::Integer => "a whole number",
        JsonType::Null => "nothing",
        JsonType::Number => "a number",
        JsonType::Object => "a mapping",
        JsonType::String => "a string",
    };
    match kind {
        TypeKind::Single(t) => name(t).to_string(),
        TypeKind::Multiple(types) => {
            let names: Vec<&str> = types
                .iter()
                .filter(|t| *t != JsonType::Null)
                .map(|t| name(&t))
                .collect();
            names.join(" or ")
        }
    }
}

/// The property names a schema location allows, for suggestions.
fn allowed_keys(schema_path: &str) -> Vec<&'static str> {
    let parent = schema_path.rsplit_once('/').map_or("", |(p, _)| p);
    schema::resolve(parent)
        .and_then(|s| s.get("properties"))
        .and_then(|p| p.as_object())
        .map(|p| p.keys().map(String::as_str).collect())
        .unwrap_or_default()
}

fn convert(root: &Node, error: &ValidationError<'_>, out: &mut Vec<Diagnostic>) {
    let path = steps(error);
    let names = path_names(&path);
    let here = locate(root, &path);
    let value_span = here.node.span;
    let schema_path = error.schema_path().as_str().to_string();
    match error.kind() {
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            let allowed = allowed_keys(&schema_path);
            for key in unexpected {
                let span = here.node.entry(key).map_or(value_span, |e| e.key_span);
                let suggestion = did_you_mean(key, allowed.iter().copied());
                let help = match suggestion {
                    Some(s) => format!("did you mean `{s}`?"),
                    None if allowed.is_empty() => "remove it".to_string(),
                    None => format!("the keys allowed here are: {}", quoted_list(&allowed)),
                };
                out.push(
                    Diagnostic::error(
                        Code::UnknownKey,
                        format!("unknown key `{key}` in {}", describe(&names)),
                    )
                    .at(span, "unknown key")
                    .with_help(help),
                );
            }
        }
        ValidationErrorKind::Required { property } => {
            let property = property.as_str().unwrap_or_default();
            let span = here.key_span.unwrap_or(Span::new(0, 0));
            let description = schema::resolve(&format!(
                "{}/properties/{property}",
                schema_path.trim_end_matches("/required")
            ))
            .and_then(|s| s.get("description"))
            .and_then(|d| d.as_str())
            .map(|d| d.lines().next().unwrap_or(d).to_string());
            let mut diagnostic = Diagnostic::error(
                Code::MissingKey,
                format!("missing key `{property}` in {}", describe(&names)),
            )
            .at(span, format!("`{property}` is required here"));
            if let Some(d) = description {
                diagnostic = diagnostic.with_help(format!("`{property}`: {d}"));
            }
            out.push(diagnostic);
        }
        ValidationErrorKind::Type { kind } => {
            out.push(
                Diagnostic::error(
                    Code::WrongType,
                    format!(
                        "expected {} for {}, found {}",
                        type_name(kind),
                        describe(&names),
                        here.node.kind()
                    ),
                )
                .at(value_span, format!("expected {}", type_name(kind))),
            );
        }
        ValidationErrorKind::Enum { options } => {
            let allowed: Vec<String> = options
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            out.push(not_one_of(here.node, &names, &allowed));
        }
        ValidationErrorKind::Constant { expected_value } => {
            let allowed = vec![
                expected_value
                    .as_str()
                    .map_or_else(|| expected_value.to_string(), str::to_string),
            ];
            out.push(not_one_of(here.node, &names, &allowed));
        }
        ValidationErrorKind::Pattern { pattern } => {
            let text = match &here.node.value {
                Value::String(s) => s.clone(),
                _ => String::new(),
            };
            let (code, message) = if pattern == Rate::PATTERN {
                (Code::InvalidRate, text.parse::<Rate>().err())
            } else if pattern == Size::PATTERN {
                (Code::InvalidSize, text.parse::<Size>().err())
            } else if pattern == Origin::PATTERN {
                (Code::InvalidOrigin, text.parse::<Origin>().err())
            } else {
                (Code::InvalidValue, None)
            };
            let message = message.unwrap_or_else(|| {
                format!(
                    "`{text}` is not valid for {}: it must match `{pattern}`",
                    describe(&names)
                )
            });
            out.push(Diagnostic::error(code, message).at(value_span, "here"));
        }
        ValidationErrorKind::Minimum { limit }
        | ValidationErrorKind::ExclusiveMinimum { limit } => {
            out.push(
                Diagnostic::error(
                    Code::InvalidValue,
                    format!(
                        "{} is too small for {}: the least allowed is {limit}",
                        json_text(here.node),
                        describe(&names)
                    ),
                )
                .at(value_span, "too small"),
            );
        }
        ValidationErrorKind::Maximum { limit }
        | ValidationErrorKind::ExclusiveMaximum { limit } => {
            out.push(
                Diagnostic::error(
                    Code::InvalidValue,
                    format!(
                        "{} is too large for {}: the most allowed is {limit}",
                        json_text(here.node),
                        describe(&names)
                    ),
                )
                .at(value_span, "too large"),
            );
        }
        ValidationErrorKind::AnyOf { context } | ValidationErrorKind::OneOfNotValid { context } => {
            convert_alternatives(root, here.node, &names, context, out);
        }
        _ => {
            out.push(
                Diagnostic::error(
                    Code::InvalidValue,
                    format!("invalid {}: {}", describe(&names), error),
                )
                .at(value_span, "here"),
            );
        }
    }
}

/// Errors of `anyOf`/`oneOf`: when every branch only lists allowed values,
/// one "expected one of" diagnostic; otherwise the errors of the branch that
/// came closest (the one that did not fail on the type of the value itself).
fn convert_alternatives(
    root: &Node,
    node: &Node,
    names: &[String],
    context: &[Vec<ValidationError<'static>>],
    out: &mut Vec<Diagnostic>,
) {
    let mut constants = Vec::new();
    let only_constants = context.iter().flatten().all(|e| match e.kind() {
        ValidationErrorKind::Constant { expected_value } => {
            constants.extend(expected_value.as_str().map(str::to_string));
            true
        }
        ValidationErrorKind::Enum { options } => {
            constants.extend(
                options
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|v| v.as_str().map(str::to_string)),
            );
            true
        }
        _ => false,
    });
    if only_constants && !constants.is_empty() {
        out.push(not_one_of(node, names, &constants));
        return;
    }
    let own_path = names.len();
    let fails_on_type = |branch: &Vec<ValidationError<'static>>| {
        branch.iter().any(|e| {
            matches!(e.kind(), ValidationErrorKind::Type { .. }) && steps(e).len() == own_path
        })
    };
    let best = context
        .iter()
        .filter(|b| !fails_on_type(b))
        .min_by_key(|b| b.len())
        .or_else(|| context.first());
    match best {
        Some(branch) if !fails_on_type(branch) => {
            for e in branch {
                convert(root, e, out);
            }
        }
        _ => {
            let expected: Vec<String> = context
                .iter()
                .flatten()
                .filter_map(|e| match e.kind() {
                    ValidationErrorKind::Type { kind } => Some(type_name(kind)),
                    _ => None,
                })
                .filter(|t| !t.is_empty() && t != "nothing")
                .collect();
            let mut expected_unique = Vec::new();
            for e in expected {
                if !expected_unique.contains(&e) {
                    expected_unique.push(e);
                }
            }
            let expected = expected_unique.join(" or ");
            out.push(
                Diagnostic::error(
                    Code::WrongType,
                    format!(
                        "expected {expected} for {}, found {}",
                        describe(names),
                        node.kind()
                    ),
                )
                .at(node.span, format!("expected {expected}")),
            );
        }
    }
}

fn not_one_of(node: &Node, names: &[String], allowed: &[String]) -> Diagnostic {
    let found = json_text(node);
    let suggestion = match &node.value {
        Value::String(s) => did_you_mean(s, allowed.iter().map(String::as_str)),
        _ => None,
    };
    let allowed_refs: Vec<&str> = allowed.iter().map(String::as_str).collect();
    let what = names.last().map_or("value", String::as_str);
    let message = if what.parse::<usize>().is_ok() {
        format!(
            "{found} is not allowed in {}",
            describe(&names[..names.len() - 1])
        )
    } else {
        format!(
            "{found} is not a valid `{what}` for {}",
            describe(&names[..names.len().saturating_sub(1)])
        )
    };
    let mut diagnostic = Diagnostic::error(Code::InvalidValue, message).at(
        node.span,
        format!("expected one of {}", quoted_list(&allowed_refs)),
    );
    if let Some(s) = suggestion {
        diagnostic = diagnostic.with_help(format!("did you mean `{s}`?"));
    } else if what == "algorithm" {
        diagnostic = diagnostic.with_help("the algorithm is pinned by the server; `none` and unknown algorithms are never accepted");
    }
    diagnostic
}

fn json_text(node: &Node) -> String {
    match &node.value {
        Value::String(s) => format!("`{s}`"),
        Value::Seq(_) | Value::Map(_) => node.kind().to_string(),
        _ => format!("`{}`", node.to_json()),
    }
}

pub(crate) fn quoted_list(items: &[&str]) -> String {
    items
        .iter()
        .map(|i| format!("`{i}`"))
        .collect::<Vec<_>>()
        .join(", ")
}
