//! An implementation under test that runs as a child process speaking protocol v1 on its
//! stdin and stdout, in any language. A crash, a hang past the timeout or an unreadable answer
//! is reported for the case concerned, and the next case gets a fresh process.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use super::Implementation;
use crate::conformance::protocol::{Reply, Request};

/// How many lines of the child's stderr a report quotes.
const STDERR_LINES: usize = 12;

/// A command started with `sh -c`, restarted whenever it dies or hangs.
pub struct Subprocess {
    command: String,
    timeout: Duration,
    running: Option<Running>,
}

struct Running {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<std::io::Result<String>>,
    stderr: Arc<Mutex<VecDeque<String>>>,
}

impl Subprocess {
    pub fn new(command: &str, timeout: Duration) -> Subprocess {
        Subprocess {
            command: command.to_string(),
            timeout,
            running: None,
        }
    }

    fn start(&mut self) -> Result<&mut Running, String> {
        if self.running.is_none() {
            let mut child = Command::new("sh")
                .arg("-c")
                .arg(&self.command)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .map_err(|e| format!("cannot start `{}`: {e}", self.command))?;
            let (stdin, stdout, stderr) =
                match (child.stdin.take(), child.stdout.take(), child.stderr.take()) {
                    (Some(i), Some(o), Some(e)) => (i, o, e),
                    _ => return Err("the child's pipes could not be opened".into()),
                };
            let (tx, lines) = channel();
            thread::spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
            let tail = Arc::new(Mutex::new(VecDeque::new()));
            let sink = Arc::clone(&tail);
            thread::spawn(move || {
                let mut reader = BufReader::new(stderr);
                let mut buf = Vec::new();
                while reader
                    .read_until(b'\n', &mut buf)
                    .map(|n| n > 0)
                    .unwrap_or(false)
                {
                    if let Ok(mut t) = sink.lock() {
                        t.push_back(String::from_utf8_lossy(&buf).trim_end().to_string());
                        if t.len() > STDERR_LINES {
                            t.pop_front();
                        }
                    }
                    buf.clear();
                }
                let _ = reader.read_to_end(&mut buf);
            });
            self.running = Some(Running {
                child,
                stdin,
                lines,
                stderr: tail,
            });
        }
        self.running
            .as_mut()
            .ok_or_else(|| "unreachable: just started".into())
    }

    /// Ends the child (it broke, or the run is over) and describes how it ended.
    fn stop(&mut self) -> String {
        let Some(mut running) = self.running.take() else {
            return String::new();
        };
        let _ = running.child.kill();
        let status = running
            .child
            .wait()
            .map(|s| s.to_string())
            .unwrap_or_else(|e| e.to_string());
        // Give the stderr reader a moment to collect the last words.
        thread::sleep(Duration::from_millis(50));
        let tail: Vec<String> = running
            .stderr
            .lock()
            .map(|t| t.iter().cloned().collect())
            .unwrap_or_default();
        if tail.is_empty() {
            format!("({status})")
        } else {
            format!("({status}); its stderr ended:\n    {}", tail.join("\n    "))
        }
    }

    fn exchange(&mut self, request: &Request) -> Result<String, String> {
        let timeout = self.timeout;
        let running = self.start()?;
        let line = request.to_json();
        if let Err(e) = writeln!(running.stdin, "{line}").and_then(|()| running.stdin.flush()) {
            return Err(format!("the implementation stopped reading its input: {e}"));
        }
        match running.lines.recv_timeout(timeout) {
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(e)) => Err(format!("reading the implementation's output failed: {e}")),
            Err(RecvTimeoutError::Timeout) => {
                Err(format!("no answer within {} s", timeout.as_secs_f64()))
            }
            Err(RecvTimeoutError::Disconnected) => Err("the implementation exited".into()),
        }
    }
}

impl Implementation for Subprocess {
    fn name(&self) -> String {
        format!("`{}`", self.command)
    }

    fn evaluate(&mut self, request: &Request) -> Reply {
        match self.exchange(request) {
            Ok(line) => {
                let reply = Reply::from_json(&line, &request.id);
                if matches!(reply, Reply::Broken(_)) {
                    // After garbage the stream may be out of step: start afresh.
                    self.stop();
                }
                reply
            }
            Err(why) => {
                let ended = self.stop();
                Reply::Broken(format!("{why} {ended}"))
            }
        }
    }
}

impl Drop for Subprocess {
    fn drop(&mut self) {
        if let Some(mut running) = self.running.take() {
            // Closing stdin is the protocol's end of input; then make sure it is gone.
            drop(running.stdin);
            let deadline = std::time::Instant::now() + Duration::from_secs(2);
            while std::time::Instant::now() < deadline {
                if let Ok(Some(_)) = running.child.try_wait() {
                    return;
                }
                thread::sleep(Duration::from_millis(20));
            }
            let _ = running.child.kill();
            let _ = running.child.wait();
        }
    }
}
