//! The end of a child's standard error, kept within a fixed size however much it writes.

use std::collections::VecDeque;
use std::io::Read;
use std::sync::mpsc::{Receiver, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How many lines of the child's stderr a report quotes, and how long each may be.
const LINES: usize = 12;
const LINE_CHARS: usize = 300;
/// How many bytes of the end of stderr are kept to find those lines in.
const KEPT: usize = 64 * 1024;

/// The last bytes a child wrote to stderr, and how many it wrote in all.
#[derive(Default)]
pub struct Tail {
    bytes: VecDeque<u8>,
    total: u64,
}

impl Tail {
    fn push(&mut self, chunk: &[u8]) {
        self.total += chunk.len() as u64;
        self.bytes.extend(chunk);
        let excess = self.bytes.len().saturating_sub(KEPT);
        self.bytes.drain(..excess);
    }

    /// The last lines, each cut to a readable length, and a note of what was left out.
    pub fn lines(&self) -> Vec<String> {
        let (a, b) = self.bytes.as_slices();
        let text = String::from_utf8_lossy(&[a, b].concat()).into_owned();
        let all: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        let mut lines: Vec<String> = all[all.len().saturating_sub(LINES)..]
            .iter()
            .map(|l| match l.char_indices().nth(LINE_CHARS) {
                Some((cut, _)) => format!("{}... (line cut)", &l[..cut]),
                None => l.to_string(),
            })
            .collect();
        if all.len() > LINES || self.total > KEPT as u64 {
            lines.insert(
                0,
                format!("[the last {} lines of {} bytes]", lines.len(), self.total),
            );
        }
        lines
    }
}

/// A child's stderr being read to its end in a thread: its [`Tail`] so far, and whether the
/// reader is done.
pub struct Stderr {
    tail: Arc<Mutex<Tail>>,
    /// Disconnected when the reader reaches the end of the stream.
    ended: Receiver<()>,
}

impl Stderr {
    /// The last lines once the stream has ended, or once `wait` has passed: a killed child's
    /// stream ends as soon as the kernel closes its pipe, but a descendant that escaped the
    /// kill may hold it open.
    pub fn last_lines(&self, wait: Duration) -> Vec<String> {
        let _ = self.ended.recv_timeout(wait);
        self.tail.lock().map(|t| t.lines()).unwrap_or_default()
    }
}

/// Reads `stderr` to its end in a thread, keeping only its [`Tail`].
pub fn collect(mut stderr: impl Read + Send + 'static) -> Stderr {
    let tail = Arc::new(Mutex::new(Tail::default()));
    let sink = Arc::clone(&tail);
    let (end, ended) = sync_channel::<()>(0);
    std::thread::spawn(move || {
        let _end = end;
        let mut chunk = [0u8; 8192];
        while let Ok(n) = stderr.read(&mut chunk) {
            if n == 0 {
                break;
            }
            if let Ok(mut t) = sink.lock() {
                t.push(&chunk[..n]);
            }
        }
    });
    Stderr { tail, ended }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tail_is_bounded_and_says_what_it_left_out() {
        let mut t = Tail::default();
        for i in 0..100_000 {
            t.push(format!("line {i}\n").as_bytes());
        }
        t.push(&[b'x'; 1000]);
        assert!(t.bytes.len() <= KEPT);
        let lines = t.lines();
        assert_eq!(lines.len(), LINES + 1);
        assert!(lines[0].contains("of 1089890 bytes"), "{}", lines[0]);
        assert!(lines[LINES].ends_with("(line cut)"));
    }
}
