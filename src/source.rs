//! Source text and positions.
//!
//! Every key and value of a spec keeps a [`Span`] (byte offsets into its
//! file) from parsing on, so any stage can point a diagnostic at it.
//! Line and column numbers are computed only when a diagnostic is shown.

use std::sync::Arc;

/// A byte range of a source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Span {
        Span {
            start,
            end: end.max(start),
        }
    }

    pub fn len(self) -> usize {
        self.end - self.start
    }

    pub fn is_empty(self) -> bool {
        self.start == self.end
    }
}

/// A 1-based line and column (in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

/// One spec file: its display name and its text.
#[derive(Debug, Clone)]
pub struct SourceFile {
    name: Arc<str>,
    text: Arc<str>,
    line_starts: Arc<[usize]>,
}

impl SourceFile {
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> SourceFile {
        let text: String = text.into();
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        SourceFile {
            name: name.into().into(),
            text: text.into(),
            line_starts,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// The byte offset of a 1-based line and a 0-based character column.
    pub fn offset(&self, line: usize, char_column: usize) -> usize {
        let Some(&start) = self.line_starts.get(line.saturating_sub(1)) else {
            return self.text.len();
        };
        let rest = &self.text[start..];
        let line_text = rest.split('\n').next().unwrap_or("");
        start
            + line_text
                .char_indices()
                .nth(char_column)
                .map_or(line_text.len(), |(i, _)| i)
    }

    /// The 1-based line and column of a byte offset.
    pub fn position(&self, offset: usize) -> Position {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.line_starts.partition_point(|&s| s <= offset);
        let start = self.line_starts[line - 1];
        let column = self.text[start..offset].chars().count() + 1;
        Position { line, column }
    }

    /// The text of the line that holds `offset`, without its line break.
    pub fn line_text(&self, offset: usize) -> &str {
        let line = self.position(offset).line;
        let start = self.line_starts[line - 1];
        self.text[start..]
            .split('\n')
            .next()
            .unwrap_or("")
            .trim_end_matches('\r')
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_characters() {
        let f = SourceFile::new("x.yaml", "a: 1\nnamé: 2\n");
        assert_eq!(f.position(0), Position { line: 1, column: 1 });
        assert_eq!(f.position(5), Position { line: 2, column: 1 });
        let after = f.text().find(": 2").unwrap();
        assert_eq!(f.position(after), Position { line: 2, column: 5 });
        assert_eq!(f.offset(2, 4), after);
        assert_eq!(f.line_text(after), "namé: 2");
        // An offset inside a character counts from the character's start.
        let inside = f.text().find('é').unwrap() + 1;
        assert_eq!(f.position(inside).column, 4);
    }
}
