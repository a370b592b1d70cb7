//! Reading lines from a peer that may not be well behaved: a line is at most a given number of
//! bytes (a longer one is reported as soon as it passes the limit, never stored; [`skip_line`]
//! drops the rest), and a line that is not UTF-8 is reported as such. The one way the protocol's
//! two ends (`eval` reading requests, the runner reading replies) read a line.

use std::io::{self, BufRead};

/// One line, or why it could not be taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    Text(String),
    /// The line has more than the limit's bytes; the rest of it is still unread.
    TooLong(usize),
    /// The line's bytes are not UTF-8.
    NotUtf8,
}

/// Reads the next line (without its `\n`), `None` at the end of the input.
pub fn read_line(reader: &mut impl BufRead, max: usize) -> io::Result<Option<Line>> {
    let mut buf = Vec::new();
    let mut started = false;
    loop {
        let available = reader.fill_buf()?;
        if available.is_empty() {
            break;
        }
        started = true;
        let end = available.iter().position(|&b| b == b'\n');
        let taken = end.unwrap_or(available.len());
        if buf.len() + taken > max {
            let len = buf.len() + taken;
            reader.consume(taken);
            return Ok(Some(Line::TooLong(len)));
        }
        buf.extend_from_slice(&available[..taken]);
        reader.consume(taken + usize::from(end.is_some()));
        if end.is_some() {
            break;
        }
    }
    if !started {
        return Ok(None);
    }
    if buf.last() == Some(&b'\r') {
        buf.pop();
    }
    Ok(Some(
        String::from_utf8(buf).map_or(Line::NotUtf8, Line::Text),
    ))
}

/// Reads and drops the rest of the current line.
pub fn skip_line(reader: &mut impl BufRead) -> io::Result<()> {
    loop {
        let available = reader.fill_buf()?;
        if available.is_empty() {
            return Ok(());
        }
        match available.iter().position(|&b| b == b'\n') {
            Some(i) => {
                reader.consume(i + 1);
                return Ok(());
            }
            None => {
                let n = available.len();
                reader.consume(n);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(input: &[u8], max: usize) -> Vec<Line> {
        let mut reader = io::Cursor::new(input);
        std::iter::from_fn(|| {
            let line = read_line(&mut reader, max).unwrap();
            if let Some(Line::TooLong(_)) = line {
                skip_line(&mut reader).unwrap();
            }
            line
        })
        .collect()
    }

    #[test]
    fn lines_are_bounded_checked_and_never_stop_the_reading() {
        let lines = all(b"ab\n\xff\xfe\nabcdefgh\ncd\r\nlast", 4);
        assert_eq!(
            lines,
            [
                Line::Text("ab".into()),
                Line::NotUtf8,
                Line::TooLong(8),
                Line::Text("cd".into()),
                Line::Text("last".into()),
            ]
        );
        assert_eq!(all(b"", 4), []);
        assert_eq!(all(b"\n", 4), [Line::Text(String::new())]);
    }
}
