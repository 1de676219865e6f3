//! A YAML document with the position of every key and value.
//!
//! Stage: parse, first step. Input: spec text. Output: a [`Node`] tree in
//! which every scalar, sequence, mapping and key keeps its [`Span`], plus the
//! problems found on the way (syntax errors, duplicate keys, more than one
//! document). Invariant: a duplicate key is reported and its second value
//! dropped; it never silently replaces the first. Scalars are resolved with
//! the YAML 1.2 core schema, as serde_yaml does.

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use crate::diagnostic::{Code, Diagnostic};
use crate::source::{SourceFile, Span};

/// A YAML value with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub span: Span,
    pub value: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    String(String),
    Seq(Vec<Node>),
    Map(Vec<Entry>),
}

/// One `key: value` of a mapping.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub key: String,
    pub key_span: Span,
    pub value: Node,
}

/// One step of a path from the root to a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

impl Node {
    /// The value at `key`, when this is a mapping that has it.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|e| &e.value)
    }

    pub fn entry(&self, key: &str) -> Option<&Entry> {
        match &self.value {
            Value::Map(entries) => entries.iter().find(|e| e.key == key),
            _ => None,
        }
    }

    pub fn index(&self, i: usize) -> Option<&Node> {
        match &self.value {
            Value::Seq(items) => items.get(i),
            _ => None,
        }
    }

    pub fn step(&self, step: Step<'_>) -> Option<&Node> {
        match step {
            Step::Key(k) => self.get(k),
            Step::Index(i) => self.index(i),
        }
    }

    /// A short description of the kind of value, for messages.
    pub fn kind(&self) -> &'static str {
        match &self.value {
            Value::Null => "nothing",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::String(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }

    /// The value as JSON, for schema validation.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
            Value::String(s) => J::String(s.clone()),
            Value::Seq(items) => J::Array(items.iter().map(Node::to_json).collect()),
            Value::Map(entries) => J::Object(
                entries
                    .iter()
                    .map(|e| (e.key.clone(), e.value.to_json()))
                    .collect(),
            ),
        }
    }
}

/// Parses `source` into a node tree. Returns the root (when the text is
/// YAML at all) and every problem found.
pub fn parse(source: &SourceFile) -> (Option<Node>, Vec<Diagnostic>) {
    let mut builder = Builder {
        source,
        stack: Vec::new(),
        anchors: Vec::new(),
        documents: Vec::new(),
        diagnostics: Vec::new(),
    };
    let mut parser = Parser::new_from_str(source.text());
    if let Err(error) = parser.load(&mut builder, true) {
        let offset = builder.offset(error.marker());
        let (message, help) = describe_scan_error(error.info());
        builder.diagnostics.push(
            Diagnostic::error(Code::YamlSyntax, message)
                .at(Span::new(offset, offset + 1), "here")
                .with_help_opt(help),
        );
        return (None, builder.diagnostics);
    }
    let mut documents = builder.documents.into_iter();
    let root = documents.next();
    if let Some(second) = documents.next() {
        builder.diagnostics.push(
            Diagnostic::error(
                Code::MultipleDocuments,
                "the file holds more than one YAML document",
            )
            .at(second.span, "a second document starts here")
            .with_help("keep one spec per file"),
        );
    }
    (root, builder.diagnostics)
}

fn describe_scan_error(info: &str) -> (String, Option<String>) {
    let help = if info.contains("tab") {
        Some("indent with spaces; YAML does not allow tabs for indentation".to_string())
    } else if info.contains("mapping values are not allowed") {
        Some("a value that contains `: ` must be quoted".to_string())
    } else {
        None
    };
    (format!("invalid YAML: {info}"), help)
}

enum Open {
    Seq {
        start: usize,
        anchor: usize,
        items: Vec<Node>,
    },
    Map {
        start: usize,
        anchor: usize,
        entries: Vec<Entry>,
        pending_key: Option<Node>,
    },
}

struct Builder<'s> {
    source: &'s SourceFile,
    stack: Vec<Open>,
    anchors: Vec<(usize, Node)>,
    documents: Vec<Node>,
    diagnostics: Vec<Diagnostic>,
}

impl Builder<'_> {
    fn offset(&self, mark: &Marker) -> usize {
        self.source.offset(mark.line(), mark.col())
    }

    /// The extent of a scalar that starts at `start`, found in the text.
    fn scalar_span(&self, start: usize, value: &str, style: TScalarStyle) -> Span {
        let text = &self.source.text()[start.min(self.source.text().len())..];
        let len = match style {
            TScalarStyle::SingleQuoted | TScalarStyle::DoubleQuoted => {
                let quote = if style == TScalarStyle::SingleQuoted {
                    b'\''
                } else {
                    b'"'
                };
                let bytes = text.as_bytes();
                let mut i = 1;
                let mut end = None;
                while i < bytes.len() {
                    match bytes[i] {
                        b'\\' if quote == b'"' => i += 2,
                        b'\'' if quote == b'\'' && bytes.get(i + 1) == Some(&b'\'') => i += 2,
                        b if b == quote => {
                            end = Some(i + 1);
                            break;
                        }
                        _ => i += 1,
                    }
                }
                end.unwrap_or_else(|| text.find('\n').unwrap_or(text.len()))
            }
            TScalarStyle::Plain if text.starts_with(value) && !value.is_empty() => value.len(),
            _ => text.find('\n').unwrap_or(text.len()).max(1),
        };
        Span::new(start, start + len)
    }

    fn push(&mut self, node: Node, anchor: usize) {
        if anchor != 0 {
            self.anchors.push((anchor, node.clone()));
        }
        match self.stack.last_mut() {
            None => self.documents.push(node),
            Some(Open::Seq { items, .. }) => items.push(node),
            Some(Open::Map {
                entries,
                pending_key,
                ..
            }) => match pending_key.take() {
                None => *pending_key = Some(node),
                Some(key) => {
                    let name = match &key.value {
                        Value::String(s) => s.clone(),
                        Value::Int(i) => i.to_string(),
                        Value::Float(f) => f.to_string(),
                        Value::Bool(b) => b.to_string(),
                        Value::Null => "null".to_string(),
                        Value::Seq(_) | Value::Map(_) => {
                            self.diagnostics.push(
                                Diagnostic::error(
                                    Code::WrongType,
                                    "a mapping key must be a plain name",
                                )
                                .at(key.span, "complex key"),
                            );
                            return;
                        }
                    };
                    if let Some(first) = entries.iter().find(|e| e.key == name) {
                        let first_span = first.key_span;
                        self.diagnostics.push(
                            Diagnostic::error(Code::DuplicateKey, format!("duplicate key `{name}`"))
                                .at(key.span, "defined again here")
                                .with_label(first_span, "first defined here")
                                .with_help(format!(
                                    "merge the two `{name}` entries; YAML would otherwise keep only one of them"
                                )),
                        );
                        return;
                    }
                    entries.push(Entry {
                        key: name,
                        key_span: key.span,
                        value: node,
                    });
                }
            },
        }
    }
}

impl MarkedEventReceiver for Builder<'_> {
    fn on_event(&mut self, event: Event, mark: Marker) {
        let start = self.offset(&mark);
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                let span = self.scalar_span(start, &text, style);
                let value = resolve_scalar(text, style, tag.as_ref());
                self.push(Node { span, value }, anchor);
            }
            Event::SequenceStart(anchor, _) => {
                self.stack.push(Open::Seq {
                    start,
                    anchor,
                    items: Vec::new(),
                });
            }
            Event::MappingStart(anchor, _) => {
                self.stack.push(Open::Map {
                    start,
                    anchor,
                    entries: Vec::new(),
                    pending_key: None,
                });
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (start, anchor, value) = match self.stack.pop() {
                    Some(Open::Seq {
                        start,
                        anchor,
                        items,
                    }) => (start, anchor, Value::Seq(items)),
                    Some(Open::Map {
                        start,
                        anchor,
                        entries,
                        ..
                    }) => (start, anchor, Value::Map(entries)),
                    None => return,
                };
                let end = self.source.text()[start..]
                    .find('\n')
                    .map_or(self.source.text().len(), |i| start + i);
                self.push(
                    Node {
                        span: Span::new(start, end.max(start + 1)),
                        value,
                    },
                    anchor,
                );
            }
            Event::Alias(id) => {
                let node = self
                    .anchors
                    .iter()
                    .rev()
                    .find(|(a, _)| *a == id)
                    .map(|(_, n)| Node {
                        span: Span::new(start, start + 1),
                        value: n.value.clone(),
                    });
                if let Some(node) = node {
                    self.push(node, 0);
                }
            }
            Event::Nothing
            | Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart
            | Event::DocumentEnd => {}
        }
    }
}

/// Resolves a scalar as the YAML 1.2 core schema does.
fn resolve_scalar(text: String, style: TScalarStyle, tag: Option<&Tag>) -> Value {
    if let Some(tag) = tag {
        if tag.suffix == "str" || tag.suffix.ends_with(":str") {
            return Value::String(text);
        }
    }
    if style != TScalarStyle::Plain {
        return Value::String(text);
    }
    match text.as_str() {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Value::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Value::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Value::Float(f64::NAN),
        _ => {}
    }
    let body = text.strip_prefix(['-', '+']).unwrap_or(&text);
    if !body.is_empty() && body.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(i) = text.parse::<i64>() {
            return Value::Int(i);
        }
        if let Ok(f) = text.parse::<f64>() {
            return Value::Float(f);
        }
    }
    if let Some(hex) = text.strip_prefix("0x") {
        if let Ok(i) = i64::from_str_radix(hex, 16) {
            return Value::Int(i);
        }
    }
    if let Some(oct) = text.strip_prefix("0o") {
        if let Ok(i) = i64::from_str_radix(oct, 8) {
            return Value::Int(i);
        }
    }
    let looks_float = body.starts_with(|c: char| c.is_ascii_digit() || c == '.')
        && body
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+'))
        && body.bytes().any(|b| b.is_ascii_digit());
    if looks_float {
        if let Ok(f) = text.parse::<f64>() {
            return Value::Float(f);
        }
    }
    Value::String(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(text: &str) -> (SourceFile, Node) {
        let source = SourceFile::new("t.yaml", text);
        let (root, diagnostics) = parse(&source);
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        (source.clone(), root.unwrap())
    }

    #[test]
    fn keys_and_values_keep_their_positions() {
        let (source, root) = parse_ok("a:\n  b: \"hi\"\n  c: [1, 2.5, x]\n");
        let a = root.get("a").unwrap();
        let b = a.entry("b").unwrap();
        assert_eq!(&source.text()[b.key_span.start..b.key_span.end], "b");
        assert_eq!(
            &source.text()[b.value.span.start..b.value.span.end],
            "\"hi\""
        );
        let c = a.get("c").unwrap();
        let x = c.index(2).unwrap();
        assert_eq!(&source.text()[x.span.start..x.span.end], "x");
        assert_eq!(source.position(x.span.start).line, 3);
        assert_eq!(c.index(1).unwrap().value, Value::Float(2.5));
    }

    #[test]
    fn scalars_follow_the_core_schema() {
        let cases = [
            ("1", Value::Int(1)),
            ("-7", Value::Int(-7)),
            ("0x1f", Value::Int(31)),
            ("1.5", Value::Float(1.5)),
            ("1e3", Value::Float(1000.0)),
            ("true", Value::Bool(true)),
            ("yes", Value::String("yes".into())),
            ("~", Value::Null),
            ("'1'", Value::String("1".into())),
            ("30/minute", Value::String("30/minute".into())),
            ("1.2.3", Value::String("1.2.3".into())),
        ];
        for (text, expected) in cases {
            let (_, root) = parse_ok(&format!("k: {text}\n"));
            assert_eq!(root.get("k").unwrap().value, expected, "{text}");
        }
    }

    #[test]
    fn duplicate_keys_are_errors() {
        let source = SourceFile::new("t.yaml", "a: 1\nb: 2\na: 3\n");
        let (root, diagnostics) = parse(&source);
        assert_eq!(diagnostics.len(), 1);
        assert_eq!(diagnostics[0].code, Code::DuplicateKey);
        assert_eq!(source.position(diagnostics[0].span().start).line, 3);
        assert_eq!(root.unwrap().get("a").unwrap().value, Value::Int(1));
    }

    #[test]
    fn syntax_errors_are_located() {
        let source = SourceFile::new("t.yaml", "a: [1, 2\nb: 3\n");
        let (root, diagnostics) = parse(&source);
        assert!(root.is_none());
        assert_eq!(diagnostics[0].code, Code::YamlSyntax);
    }

    #[test]
    fn aliases_copy_the_anchored_value() {
        let (_, root) = parse_ok("a: &x [1]\nb: *x\n");
        assert_eq!(root.get("b").unwrap().value, root.get("a").unwrap().value);
    }
}
