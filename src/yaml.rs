//! A YAML document with the position of every key and value.
//!
//! Stage: parse, first step. Input: spec text. Output: a [`Node`] tree in
//! which every scalar, sequence, mapping and key keeps its [`Span`], plus the
//! problems found on the way (syntax errors, duplicate keys, more than one
//! document). Invariants: a duplicate key is reported and its second value
//! dropped; it never silently replaces the first. What a file may make the
//! compiler hold is bounded before it is built: at most [`MAX_BYTES`] of
//! text, [`MAX_VALUES`] values once aliases are expanded (an alias counts
//! as everything it repeats, so a "billion laughs" stops at the alias that
//! passes the limit, in milliseconds) and [`MAX_DEPTH`] levels of nesting;
//! past a limit there is no tree, so no later pass (nor serde_yaml, which
//! reads only a text this pass accepted) sees an unbounded document.
//! Scalars are resolved with the YAML 1.2 core schema, as serde_yaml does.

use std::collections::HashMap;
use std::sync::Arc;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use crate::diagnostic::{Code, Diagnostic};
use crate::source::{SourceFile, Span};

/// The largest spec file read, in bytes (a spec takes about half a
/// kilobyte per resource: 1,000 resources are about 550 KiB).
pub const MAX_BYTES: usize = 4 << 20;

/// The most values (keys, list items and values, an alias counting as
/// every value it repeats) a document may hold: six times the 79,000 of a
/// spec of 1,000 resources of seven fields (`benches/compile.rs`).
pub const MAX_VALUES: usize = 500_000;

/// The deepest nesting of lists and mappings (a spec nests about six).
pub const MAX_DEPTH: usize = 64;

/// A YAML value with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub span: Span,
    pub value: Value,
    /// For a mapping of more than [`INDEXED`] keys: where each key is in
    /// it, so that looking a key up does not walk the mapping (a spec of
    /// thousands of resources would otherwise be read in quadratic time).
    keys: Option<Arc<HashMap<String, usize>>>,
}

/// Mappings with more keys than this are indexed by key.
const INDEXED: usize = 16;

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
        match (&self.value, &self.keys) {
            (Value::Map(entries), Some(keys)) => keys.get(key).map(|&i| &entries[i]),
            (Value::Map(entries), None) => entries.iter().find(|e| e.key == key),
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
            Value::Float(f) if f.is_nan() => "`.nan`, which is not a finite number",
            Value::Float(f) if f.is_infinite() => "an infinite number",
            Value::Float(_) => "a number",
            Value::String(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }

    /// The value as JSON, for schema validation. JSON has no infinite or
    /// NaN numbers: those become their YAML text (`.inf`, `-.inf`, `.nan`),
    /// so that the schema refuses them where a number belongs, as serde does.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f)
                .map_or_else(|| J::String(non_finite_text(*f).to_string()), J::Number),
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

/// How YAML writes a number that is not finite.
pub fn non_finite_text(f: f64) -> &'static str {
    if f.is_nan() {
        ".nan"
    } else if f > 0.0 {
        ".inf"
    } else {
        "-.inf"
    }
}

/// Parses `source` into a node tree. Returns the root (when the text is
/// YAML at all) and every problem found.
pub fn parse(source: &SourceFile) -> (Option<Node>, Vec<Diagnostic>) {
    let text = source.text();
    if text.len() > MAX_BYTES {
        let diagnostic = Diagnostic::error(
            Code::SpecTooLarge,
            format!(
                "the file is larger than {} MiB, the largest spec palisade reads",
                MAX_BYTES >> 20
            ),
        )
        .at(char_span(text, MAX_BYTES), "the limit is passed here")
        .with_help("a spec takes about half a kilobyte per resource; is this the right file?");
        return (None, vec![diagnostic]);
    }
    let mut builder = Builder {
        source,
        stack: Vec::new(),
        anchors: HashMap::new(),
        documents: Vec::new(),
        document_starts: Vec::new(),
        diagnostics: Vec::new(),
        values: 0,
        stopped: false,
    };
    // The events are pulled one by one (yaml-rust2's `load` recurses once
    // per level of nesting, so a deep enough file would overflow the stack
    // before any limit could be checked), and reading stops at a limit.
    let mut parser = Parser::new_from_str(text);
    let loaded = loop {
        match parser.next_token() {
            Err(error) => break Err(error),
            Ok((event, mark)) => {
                let end = event == Event::StreamEnd;
                builder.on_event(event, mark);
                if end || builder.stopped {
                    break Ok(());
                }
            }
        }
    };
    if builder.stopped {
        // Past a limit the tree is incomplete, and the rest is not read.
        return (None, builder.diagnostics);
    }
    if let Err(error) = loaded {
        let offset = builder.offset(error.marker());
        let diagnostic = builder.scan_error(offset, error.info());
        builder.diagnostics.push(diagnostic);
        return (None, builder.diagnostics);
    }
    let mut documents = builder.documents.into_iter();
    let root = documents.next();
    if let Some(second) = documents.next() {
        // A second document starts at its `---`; without one (after a
        // `...`), at its first node.
        let text = source.text();
        let span = builder
            .document_starts
            .get(1)
            .filter(|&&start| text[start..].starts_with("---"))
            .map_or(second.span, |&start| Span::new(start, start + 3));
        builder.diagnostics.push(
            Diagnostic::error(
                Code::MultipleDocuments,
                "the file holds more than one YAML document",
            )
            .at(span, "a second document starts here")
            .with_help("keep one spec per file"),
        );
    }
    (root, builder.diagnostics)
}

/// The span of the character at `offset`: always inside `text` and on
/// character boundaries. An offset at the end of the text (or in its
/// trailing blank space) gives the last visible character instead.
pub fn char_span(text: &str, offset: usize) -> Span {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let visible = text.trim_end();
    if offset >= visible.len() {
        return match visible.char_indices().next_back() {
            Some((i, c)) => Span::new(i, i + c.len_utf8()),
            None => Span::new(0, 0),
        };
    }
    let len = text[offset..].chars().next().map_or(0, char::len_utf8);
    Span::new(offset, offset + len)
}

enum Open {
    Seq {
        start: usize,
        anchor: usize,
        /// A flow list (`[...]`) rather than a block list.
        flow: bool,
        items: Vec<Node>,
    },
    Map {
        start: usize,
        anchor: usize,
        /// A flow mapping (`{...}`) rather than a block mapping.
        flow: bool,
        entries: Vec<Entry>,
        /// Where each key is in `entries` (a duplicate is found at once,
        /// however many keys the mapping has).
        keys: HashMap<String, usize>,
        pending_key: Option<Node>,
    },
}

/// An anchored node, with what repeating it costs: its values and height.
struct Anchor {
    node: Node,
    values: usize,
    height: usize,
}

struct Builder<'s> {
    source: &'s SourceFile,
    stack: Vec<Open>,
    /// By the parser's id (a redefined name gets a new id).
    anchors: HashMap<usize, Anchor>,
    documents: Vec<Node>,
    /// Where each document starts (its `---`, when it has one).
    document_starts: Vec<usize>,
    diagnostics: Vec<Diagnostic>,
    /// The values built so far, aliases counted with all they repeat.
    values: usize,
    /// A limit was passed: every further event is ignored.
    stopped: bool,
}

/// The values of a node (itself and everything in it) and its height (0
/// for a scalar, 1 + its deepest child for a collection).
fn measure(node: &Node) -> (usize, usize) {
    match &node.value {
        Value::Seq(items) => items
            .iter()
            .map(measure)
            .fold((1, 1), |(v, h), (cv, ch)| (v + cv, h.max(ch + 1))),
        Value::Map(entries) => entries
            .iter()
            .map(|e| measure(&e.value))
            .fold((1, 1), |(v, h), (cv, ch)| (v + 1 + cv, h.max(ch + 1))),
        _ => (1, 0),
    }
}

impl Builder<'_> {
    fn offset(&self, mark: &Marker) -> usize {
        self.source.offset(mark.line(), mark.col())
    }

    /// The innermost flow collection still open: where its bracket is, and
    /// which bracket.
    fn open_flow(&self) -> Option<(usize, char)> {
        self.stack.iter().rev().find_map(|open| match open {
            Open::Seq {
                start, flow: true, ..
            } => Some((*start, '[')),
            Open::Map {
                start, flow: true, ..
            } => Some((*start, '{')),
            _ => None,
        })
    }

    /// The diagnostic of a syntax error that the scanner reports at `offset`.
    fn scan_error(&self, offset: usize, info: &str) -> Diagnostic {
        let text = self.source.text();
        let open = self.open_flow();
        if let Some((start, bracket)) = open.filter(|_| offset >= text.trim_end().len()) {
            // The end of the file came before the closing bracket: the
            // bracket is what the user has to fix.
            let (close, what) = if bracket == '[' {
                (']', "list")
            } else {
                ('}', "mapping")
            };
            return Diagnostic::error(
                Code::YamlSyntax,
                format!("invalid YAML: this `{bracket}` is never closed"),
            )
            .at(char_span(text, start), "opened here")
            .with_help(format!("close the {what} with `{close}`"));
        }
        let mut span = char_span(text, offset);
        let mut help = None;
        if info.contains("tab") {
            // The scanner stops after the tab; the marker belongs on it.
            let line_start = text[..span.start].rfind('\n').map_or(0, |i| i + 1);
            let line_end = text[span.start..]
                .find('\n')
                .map_or(text.len(), |i| span.start + i);
            if let Some(tab) = text[line_start..line_end].find('\t') {
                span = Span::new(line_start + tab, line_start + tab + 1);
            }
            help = Some("indent with spaces; YAML does not allow tabs for indentation".to_string());
        } else if info.contains("mapping values are not allowed") {
            help = Some("a value that contains `: ` must be quoted".to_string());
        } else if (info.contains("alias") || info.contains("anchor"))
            && text[span.start..].starts_with(['*', '&'])
        {
            let word: String = text[span.start..]
                .chars()
                .take_while(|c| !c.is_whitespace() && !matches!(c, ',' | ']' | '}' | '#'))
                .collect();
            let what = if word.starts_with('*') {
                "an alias"
            } else {
                "an anchor"
            };
            help = Some(format!(
                "an unquoted `{}` starts {what} in YAML; for the text, quote it: `\"{}\"`",
                &word[..1],
                word.replace('\\', "\\\\").replace('"', "\\\"")
            ));
        }
        let mut diagnostic = Diagnostic::error(Code::YamlSyntax, format!("invalid YAML: {info}"))
            .at(span, "here")
            .with_help_opt(help);
        if let Some((start, bracket)) = open {
            // An error on a later line than an open bracket is most often
            // caused by the missing closing bracket.
            if start < span.start && text[start..span.start].contains('\n') {
                diagnostic = diagnostic.with_label(
                    char_span(text, start),
                    format!("this `{bracket}` is still open"),
                );
            }
        }
        diagnostic
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
            _ => text.find('\n').unwrap_or(text.len()),
        };
        if len == 0 {
            return char_span(self.source.text(), start);
        }
        Span::new(start, start + len)
    }

    /// The extent of an alias (`*name`) that starts at `start`.
    fn alias_span(&self, start: usize) -> Span {
        let text = self.source.text();
        let len = text[start.min(text.len())..]
            .find(|c: char| c.is_whitespace() || matches!(c, ',' | ']' | '}'))
            .unwrap_or(text.len() - start.min(text.len()));
        if len == 0 {
            return char_span(text, start);
        }
        Span::new(start, start + len)
    }

    /// Counts `added` values at `offset`; past [`MAX_VALUES`], reports
    /// it and stops building. `alias` says whether an alias added them.
    fn count(&mut self, added: usize, offset: usize, alias: bool) -> bool {
        self.values = self.values.saturating_add(added);
        if self.values <= MAX_VALUES {
            return true;
        }
        let text = self.source.text();
        let (span, label) = if alias {
            (
                self.alias_span(offset),
                format!("this alias repeats {added} values"),
            )
        } else {
            (
                char_span(text, offset),
                "the limit is passed here".to_string(),
            )
        };
        self.stop(
            Diagnostic::error(
                Code::SpecTooLarge,
                format!(
                    "the document holds more than {MAX_VALUES} values once its aliases are expanded"
                ),
            )
            .at(span, label)
            .with_help(
                "each use of an alias (`*name`) repeats every value of its anchor; write the values out once, or use fewer aliases",
            ),
        );
        false
    }

    /// Checks that a value of `height` fits at the current depth.
    fn fits(&mut self, height: usize, offset: usize, alias: bool) -> bool {
        let depth = self.stack.len() + height;
        if depth <= MAX_DEPTH {
            return true;
        }
        let text = self.source.text();
        let span = if alias {
            self.alias_span(offset)
        } else {
            char_span(text, offset)
        };
        self.stop(
            Diagnostic::error(
                Code::NestingTooDeep,
                format!("lists and mappings are nested more than {MAX_DEPTH} levels deep"),
            )
            .at(span, format!("level {depth} starts here"))
            .with_help("a spec nests about six levels; check the indentation and the brackets"),
        );
        false
    }

    fn stop(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
        self.stopped = true;
        self.stack.clear();
        self.anchors.clear();
        self.documents.clear();
    }

    fn push(&mut self, mut node: Node, anchor: usize, implicit_null: bool) {
        if anchor != 0 {
            let (values, height) = measure(&node);
            self.anchors.insert(
                anchor,
                Anchor {
                    node: node.clone(),
                    values,
                    height,
                },
            );
        }
        match self.stack.last_mut() {
            None => self.documents.push(node),
            Some(Open::Seq { items, .. }) => items.push(node),
            Some(Open::Map {
                start,
                entries,
                keys,
                pending_key,
                ..
            }) => match pending_key.take() {
                None => {
                    // A block mapping is announced at the `:` after its
                    // first key; it starts at that key.
                    if entries.is_empty() {
                        *start = (*start).min(node.span.start);
                    }
                    *pending_key = Some(node);
                }
                Some(key) => {
                    if implicit_null {
                        // `key:` with nothing after it: the scanner places
                        // the empty value on the next line; the key is
                        // where it belongs.
                        node.span = key.span;
                    }
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
                    if let Some(&first) = keys.get(&name) {
                        let first_span = entries[first].key_span;
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
                    keys.insert(name.clone(), entries.len());
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
        if self.stopped {
            return;
        }
        let start = self.offset(&mark);
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                if !self.count(1, start, false) {
                    return;
                }
                let implicit_null = text.is_empty() && style == TScalarStyle::Plain;
                let span = self.scalar_span(start, &text, style);
                let value = resolve_scalar(text, style, tag.as_ref());
                self.push(
                    Node {
                        span,
                        value,
                        keys: None,
                    },
                    anchor,
                    implicit_null,
                );
            }
            Event::SequenceStart(anchor, _) => {
                if !self.count(1, start, false) || !self.fits(1, start, false) {
                    return;
                }
                let flow = self.source.text()[start..].starts_with('[');
                self.stack.push(Open::Seq {
                    start,
                    anchor,
                    flow,
                    items: Vec::new(),
                });
            }
            Event::MappingStart(anchor, _) => {
                if !self.count(1, start, false) || !self.fits(1, start, false) {
                    return;
                }
                let flow = self.source.text()[start..].starts_with('{');
                self.stack.push(Open::Map {
                    start,
                    anchor,
                    flow,
                    entries: Vec::new(),
                    keys: HashMap::new(),
                    pending_key: None,
                });
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (start, anchor, value, keys) = match self.stack.pop() {
                    Some(Open::Seq {
                        start,
                        anchor,
                        items,
                        ..
                    }) => (start, anchor, Value::Seq(items), None),
                    Some(Open::Map {
                        start,
                        anchor,
                        entries,
                        keys,
                        ..
                    }) => {
                        let keys = (entries.len() > INDEXED).then(|| Arc::new(keys));
                        (start, anchor, Value::Map(entries), keys)
                    }
                    None => return,
                };
                let text = self.source.text();
                let end = text[start..].find('\n').map_or(text.len(), |i| start + i);
                let span = if end > start {
                    Span::new(start, end)
                } else {
                    char_span(text, start)
                };
                self.push(Node { span, value, keys }, anchor, false);
            }
            Event::Alias(id) => {
                let span = self.alias_span(start);
                let cost = self.anchors.get(&id).map(|a| (a.values, a.height));
                // Before the copy: what it would cost decides whether it
                // is made at all.
                if let Some((values, height)) = cost {
                    if !self.count(values, start, true) || !self.fits(height, start, true) {
                        return;
                    }
                }
                let node = self.anchors.get(&id).map(|a| Node {
                    span,
                    value: a.node.value.clone(),
                    keys: a.node.keys.clone(),
                });
                // The parser refuses unknown anchors, so an alias always
                // has its node; a placeholder keeps keys and values paired.
                let node = node.unwrap_or(Node {
                    span,
                    value: Value::Null,
                    keys: None,
                });
                self.push(node, 0, false);
            }
            Event::DocumentStart => self.document_starts.push(start),
            Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentEnd => {}
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

    /// A file past the size limit is refused where the limit is passed,
    /// without being parsed.
    #[test]
    fn a_file_larger_than_the_limit_is_refused_at_the_limit() {
        let mut text = String::from("a: 1\n");
        while text.len() <= MAX_BYTES {
            text.push_str("# a comment that makes the file larger than a spec needs\n");
        }
        let source = SourceFile::new("t.yaml", text.as_str());
        let (root, diagnostics) = parse(&source);
        assert!(root.is_none());
        assert_eq!(diagnostics.len(), 1);
        assert_eq!(diagnostics[0].code, Code::SpecTooLarge);
        assert_eq!(diagnostics[0].span().start, MAX_BYTES);
        // At the limit, it is read.
        text.truncate(MAX_BYTES);
        let source = SourceFile::new("t.yaml", text.as_str());
        assert!(parse(&source).1.is_empty());
    }

    /// Aliases count with everything they repeat: a billion laughs stops
    /// at the alias that passes the limit, at once, and one that fits is
    /// expanded as before.
    #[test]
    fn alias_expansion_is_bounded() {
        let mut text = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for (name, prev) in ["b", "c", "d", "e", "f", "g", "h", "i", "j"]
            .iter()
            .zip(["a", "b", "c", "d", "e", "f", "g", "h", "i"])
        {
            let items = vec![format!("*{prev}"); 10].join(", ");
            text.push_str(&format!("{name}: &{name} [{items}]\n"));
        }
        let started = std::time::Instant::now();
        let source = SourceFile::new("t.yaml", text.as_str());
        let (root, diagnostics) = parse(&source);
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        assert!(root.is_none());
        assert_eq!(diagnostics.len(), 1, "{diagnostics:?}");
        assert_eq!(diagnostics[0].code, Code::SpecTooLarge);
        assert_eq!(text_at(&source, diagnostics[0].span()), "*e");
        assert_eq!(source.position(diagnostics[0].span().start).line, 6);
        // Three levels (1,111 values) are fine.
        let small: String = text.lines().take(3).map(|l| format!("{l}\n")).collect();
        let (_, root) = parse_ok(&small);
        let c = root.get("c").unwrap();
        assert_eq!(measure(c).0, 1 + 10 * (1 + 10 * 11));
    }

    /// Nesting is bounded, in block and flow style and through an alias;
    /// a deep file cannot overflow the stack of any later pass.
    #[test]
    fn nesting_is_bounded() {
        for (text, at) in [
            (format!("a:\n  {}x\n", "- ".repeat(100_000)), "-"),
            (format!("a: {}x{}\n", "[".repeat(200), "]".repeat(200)), "["),
            (
                format!(
                    "a: &a {}x{}\nb: {}*a{}\n",
                    "[".repeat(40),
                    "]".repeat(40),
                    "[".repeat(40),
                    "]".repeat(40)
                ),
                "*a",
            ),
        ] {
            let source = SourceFile::new("t.yaml", text.as_str());
            let (root, diagnostics) = parse(&source);
            assert!(root.is_none());
            assert_eq!(diagnostics.len(), 1, "{diagnostics:?}");
            assert_eq!(diagnostics[0].code, Code::NestingTooDeep);
            assert_eq!(text_at(&source, diagnostics[0].span()), at);
        }
        let fits = format!(
            "a: {}x{}\n",
            "[".repeat(MAX_DEPTH - 1),
            "]".repeat(MAX_DEPTH - 1)
        );
        parse_ok(&fits);
    }

    /// A mapping of many keys is looked up by key, also in an alias's copy.
    #[test]
    fn large_mappings_are_indexed() {
        let keys: String = (0..100).map(|i| format!("  k{i}: {i}\n")).collect();
        let (_, root) = parse_ok(&format!("a: &a\n{keys}b: *a\n"));
        for name in ["a", "b"] {
            let map = root.get(name).unwrap();
            assert!(map.keys.is_some());
            assert_eq!(map.get("k57").unwrap().value, Value::Int(57));
            assert!(map.get("k100").is_none());
        }
    }

    fn text_at(source: &SourceFile, span: Span) -> &str {
        &source.text()[span.start..span.end]
    }

    #[test]
    fn block_mappings_start_at_their_first_key() {
        let (source, root) = parse_ok("# c\nroles:\n  admin: true\nl:\n  - a: 1\n    b: 2\n");
        assert_eq!(source.position(root.span.start).line, 2);
        assert!(text_at(&source, root.span).starts_with("roles"));
        let roles = root.get("roles").unwrap();
        assert!(text_at(&source, roles.span).starts_with("admin: true"));
        let item = root.get("l").unwrap().index(0).unwrap();
        assert!(text_at(&source, item.span).starts_with("a: 1"));
        let (source, root) = parse_ok("x: {a: 1}\n");
        assert!(text_at(&source, root.get("x").unwrap().span).starts_with("{a: 1}"));
    }

    #[test]
    fn an_empty_value_is_located_at_its_key() {
        let (source, root) = parse_ok("a:\nb: 1\n");
        let a = root.get("a").unwrap();
        assert_eq!(a.value, Value::Null);
        assert_eq!(text_at(&source, a.span), "a");
    }

    #[test]
    fn a_second_document_is_reported_at_its_marker() {
        let source = SourceFile::new("t.yaml", "a: 1\n---\n# c\nb: 2\n");
        let (root, diagnostics) = parse(&source);
        assert!(root.is_some());
        assert_eq!(diagnostics.len(), 1);
        assert_eq!(diagnostics[0].code, Code::MultipleDocuments);
        assert_eq!(text_at(&source, diagnostics[0].span()), "---");
    }

    #[test]
    fn an_unclosed_bracket_is_reported_at_the_bracket() {
        for (text, bracket) in [("a: [1, 2\n", "["), ("a:\n  b: {x: 1\n\n", "{")] {
            let source = SourceFile::new("t.yaml", text);
            let (root, diagnostics) = parse(&source);
            assert!(root.is_none());
            assert_eq!(diagnostics.len(), 1, "{text:?}");
            assert_eq!(text_at(&source, diagnostics[0].span()), bracket, "{text:?}");
            assert!(diagnostics[0].message.contains("never closed"));
        }
        // Before the end of the file, the open bracket is a second label.
        let source = SourceFile::new("t.yaml", "a: [x\nb: 3\n");
        let (_, diagnostics) = parse(&source);
        let label = &diagnostics[0].secondary[0];
        assert_eq!(text_at(&source, label.span), "[");
    }

    #[test]
    fn syntax_error_spans_stay_inside_the_text_on_char_boundaries() {
        for text in [
            "a: \"\"\u{dd6}",
            "a: [",
            "a: b: c",
            "é: [*]",
            "- \"x",
            "{",
            "a:\n\tb: 1",
        ] {
            let source = SourceFile::new("t.yaml", text);
            let (_, diagnostics) = parse(&source);
            assert!(!diagnostics.is_empty(), "{text:?}");
            for d in &diagnostics {
                let span = d.span();
                assert!(span.end <= text.len(), "{text:?}: {span:?}");
                assert!(span.start < text.len(), "{text:?}: {span:?}");
                assert!(text.is_char_boundary(span.start) && text.is_char_boundary(span.end));
            }
        }
    }

    #[test]
    fn syntax_errors_explain_tabs_and_unquoted_stars() {
        let source = SourceFile::new("t.yaml", "a:\n\tb: 1\n");
        let (_, diagnostics) = parse(&source);
        assert_eq!(text_at(&source, diagnostics[0].span()), "\t");
        let source = SourceFile::new("t.yaml", "origins: [*]\n");
        let (_, diagnostics) = parse(&source);
        assert_eq!(text_at(&source, diagnostics[0].span()), "*");
        assert!(
            diagnostics[0]
                .help
                .as_deref()
                .unwrap()
                .contains("quote it: `\"*\"`")
        );
    }
}
