//! Where a finding or a change points: the span of the key that causes it.
//!
//! Stage: review. Input: the positioned YAML tree of a spec (from
//! [`crate::parse::parse`]) and a path of keys. Output: a [`Location`]
//! (file, line and column, 1-based, in characters). The model carries no
//! spans, so this is the one place where review looks at the tree, and only
//! for positions: what a spec means always comes from the model.
//! Invariant: locating never fails; a key that is absent (a default applies)
//! is located at the deepest key of its path that the file does have.

use serde::Serialize;

use crate::source::{SourceFile, Span};
use crate::yaml::{Node, Value};

/// A position in a spec file, ready to show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Location {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub end_line: usize,
    pub end_column: usize,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// Finds the spans of keys and list items in one spec file.
#[derive(Debug, Clone, Copy)]
pub struct Locator<'a> {
    pub source: &'a SourceFile,
    pub root: &'a Node,
}

impl<'a> Locator<'a> {
    pub fn new(source: &'a SourceFile, root: &'a Node) -> Locator<'a> {
        Locator { source, root }
    }

    /// The span of the last key of `path`, or of the deepest key of it
    /// that is present; the start of the file when none is.
    pub fn key_span(&self, path: &[&str]) -> Span {
        let mut node = self.root;
        let mut span = Span::new(0, 0);
        for key in path {
            match node.entry(key) {
                Some(entry) => {
                    span = entry.key_span;
                    node = &entry.value;
                }
                None => break,
            }
        }
        span
    }

    /// The span of the last key of `path` when every key of it is present.
    pub fn find(&self, path: &[&str]) -> Option<Span> {
        let mut node = self.root;
        let mut span = None;
        for key in path {
            let entry = node.entry(key)?;
            span = Some(entry.key_span);
            node = &entry.value;
        }
        span
    }

    /// The span of the item `item` of the list at `path`, when it is there.
    pub fn find_item(&self, path: &[&str], item: &str) -> Option<Span> {
        let mut node = self.root;
        for key in path {
            node = node.get(key)?;
        }
        match &node.value {
            Value::Seq(items) => items
                .iter()
                .find(|n| matches!(&n.value, Value::String(s) if s == item))
                .map(|n| n.span),
            _ => None,
        }
    }

    /// The span of the item `item` of the list at `path` (`public: [list]`),
    /// or of the key of the list when it does not hold that item.
    pub fn item_span(&self, path: &[&str], item: &str) -> Span {
        self.find_item(path, item)
            .unwrap_or_else(|| self.key_span(path))
    }

    /// The location of the last key of `path` (see [`Locator::key_span`]).
    pub fn key(&self, path: &[&str]) -> Location {
        self.location(self.key_span(path))
    }

    /// The location of an item of a list (see [`Locator::item_span`]).
    pub fn item(&self, path: &[&str], item: &str) -> Location {
        self.location(self.item_span(path, item))
    }

    pub fn location(&self, span: Span) -> Location {
        let start = self.source.position(span.start);
        let end = self.source.position(span.end);
        Location {
            file: self.source.name().to_string(),
            line: start.line,
            column: start.column,
            end_line: end.line,
            end_column: end.column,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_items_and_absent_keys() {
        let source = SourceFile::new("t.yaml", "a:\n  b: { c: 1 }\n  list: [x, y]\n");
        let (root, _) = crate::yaml::parse(&source);
        let root = root.unwrap();
        let l = Locator::new(&source, &root);
        assert_eq!(l.key(&["a", "b", "c"]).to_string(), "t.yaml:2:8");
        assert_eq!(l.key(&["a", "b", "missing"]).to_string(), "t.yaml:2:3");
        assert_eq!(l.item(&["a", "list"], "y").to_string(), "t.yaml:3:13");
        assert_eq!(l.item(&["a", "list"], "z").to_string(), "t.yaml:3:3");
        assert_eq!(l.key(&["nothing"]).to_string(), "t.yaml:1:1");
    }
}
