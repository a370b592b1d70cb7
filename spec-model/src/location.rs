//! Where something is in the spec, and a problem found there.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Where something is in the spec: `spec/<file>:<line>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Location {
    pub file: String,
    pub line: usize,
}

impl Location {
    pub fn new(file: &str, line: usize) -> Location {
        Location {
            file: file.to_string(),
            line,
        }
    }
}

impl fmt::Display for Location {
    /// `file:line`, or just `file` for a problem with a file or directory as a whole (line 0).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            0 => f.write_str(&self.file),
            line => write!(f, "{}:{line}", self.file),
        }
    }
}

/// A problem in the spec, with its location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecError {
    pub at: Location,
    pub message: String,
}

impl SpecError {
    pub fn new(at: &Location, message: impl Into<String>) -> SpecError {
        SpecError {
            at: at.clone(),
            message: message.into(),
        }
    }
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.at, self.message)
    }
}

impl std::error::Error for SpecError {}

/// The line of each byte offset of a text, without rescanning it per lookup.
pub struct Lines {
    starts: Vec<usize>,
}

impl Lines {
    pub fn new(text: &str) -> Lines {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Lines { starts }
    }

    /// The 1-based line holding byte `offset`.
    pub fn line_of(&self, offset: usize) -> usize {
        self.starts.partition_point(|&s| s <= offset)
    }
}

#[cfg(test)]
mod tests {
    use super::Lines;

    #[test]
    fn lines_are_one_based() {
        let lines = Lines::new("a\nbc\n\nd");
        assert_eq!(
            [0, 1, 2, 4, 5, 6].map(|o| lines.line_of(o)),
            [1, 1, 2, 2, 3, 4]
        );
    }
}
