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
    /// `None` for ASCII text, where characters are bytes; otherwise the
    /// character index of each line's start and the byte offset of every
    /// [`STRIDE`]-th character, so that converting between lines, columns
    /// and offsets never walks a whole line (a spec on one long line would
    /// otherwise cost time quadratic in its length).
    chars: Option<Arc<CharIndex>>,
}

/// Characters between two checkpoints of a [`CharIndex`].
const STRIDE: usize = 64;

#[derive(Debug)]
struct CharIndex {
    line_chars: Vec<usize>,
    checkpoints: Vec<usize>,
}

impl SourceFile {
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> SourceFile {
        let text: String = text.into();
        let line_starts: Arc<[usize]> = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        let chars = (!text.is_ascii()).then(|| {
            let mut line_chars = Vec::with_capacity(line_starts.len());
            let mut checkpoints = Vec::with_capacity(text.len() / STRIDE + 1);
            line_chars.push(0);
            for (n, (i, c)) in text.char_indices().enumerate() {
                if n % STRIDE == 0 {
                    checkpoints.push(i);
                }
                if c == '\n' {
                    line_chars.push(n + 1);
                }
            }
            Arc::new(CharIndex {
                line_chars,
                checkpoints,
            })
        });
        SourceFile {
            name: name.into().into(),
            text: text.into(),
            line_starts,
            chars,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// The byte offset where line `line` (0-based) ends, before its `\n`.
    fn line_end(&self, line: usize) -> usize {
        self.line_starts
            .get(line + 1)
            .map_or(self.text.len(), |next| next - 1)
    }

    /// The byte offset of the character with index `n` (or the end).
    fn char_to_byte(&self, index: &CharIndex, n: usize) -> usize {
        let Some(&checkpoint) = index.checkpoints.get(n / STRIDE) else {
            return self.text.len();
        };
        self.text[checkpoint..]
            .char_indices()
            .nth(n % STRIDE)
            .map_or(self.text.len(), |(i, _)| checkpoint + i)
    }

    /// The index of the character that starts at or holds byte `offset`.
    fn byte_to_char(&self, index: &CharIndex, offset: usize) -> usize {
        let k = index.checkpoints.partition_point(|&c| c <= offset) - 1;
        let from = index.checkpoints[k];
        k * STRIDE
            + self.text[from..]
                .char_indices()
                .take_while(|(i, _)| from + i < offset)
                .count()
    }

    /// The byte offset of a 1-based line and a 0-based character column.
    pub fn offset(&self, line: usize, char_column: usize) -> usize {
        let line = line.saturating_sub(1);
        let Some(&start) = self.line_starts.get(line) else {
            return self.text.len();
        };
        let end = self.line_end(line);
        match &self.chars {
            None => start.saturating_add(char_column).min(end),
            Some(index) => self
                .char_to_byte(index, index.line_chars[line].saturating_add(char_column))
                .min(end),
        }
    }

    /// The 1-based line and column of a byte offset.
    pub fn position(&self, offset: usize) -> Position {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.line_starts.partition_point(|&s| s <= offset);
        let start = self.line_starts[line - 1];
        let column = match &self.chars {
            None => offset - start + 1,
            Some(index) => self.byte_to_char(index, offset) - index.line_chars[line - 1] + 1,
        };
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
        // Past the end of a line: its end.
        assert_eq!(f.offset(1, 99), 4);
        assert_eq!(f.offset(9, 0), f.text().len());
    }

    /// Lines, columns and offsets agree with a plain walk over the
    /// characters, across checkpoints and in ASCII and non-ASCII text.
    #[test]
    fn positions_agree_with_a_walk_over_the_characters() {
        let long: String = (0..300)
            .map(|i| if i % 7 == 0 { 'é' } else { 'a' })
            .collect();
        for text in [
            format!("a: {long}\nb: {long}\n\nc: x"),
            "a: 1\nbb: 22\n".repeat(50),
            format!("ü\n{long}"),
        ] {
            let f = SourceFile::new("x.yaml", text.as_str());
            let (mut line, mut column) = (1, 1);
            for (i, c) in text.char_indices() {
                assert_eq!(f.position(i), Position { line, column }, "{i}");
                assert_eq!(f.offset(line, column - 1), i, "{line}:{column}");
                if c == '\n' {
                    line += 1;
                    column = 1;
                } else {
                    column += 1;
                }
            }
        }
    }
}
