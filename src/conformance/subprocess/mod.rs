//! An implementation under test that runs as a child process speaking protocol v1 on its stdin
//! and stdout, in any language. What it can do to the runner is bounded: each request has a
//! deadline that covers writing it as well as reading the reply; a reply line and the kept end of
//! stderr have a size limit; a child that hangs or breaks is killed with everything it started
//! (its process group) and the next request gets a fresh one; a child that dies at start three
//! times in a row is not started again; and an interrupt (Ctrl-C) ends the wait at once.

mod process;
mod stderr;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::RecvTimeoutError;
use std::time::{Duration, Instant};

use process::Process;

use super::Implementation;
use super::lines::Line;
use crate::conformance::protocol::{Reply, Request};

/// The longest reply line read (an output of the suite's largest size is about 420 MB).
pub const MAX_REPLY_LINE: usize = 1 << 30;

/// The reply to a request whose wait the interrupt ended: the run is left out of the report.
pub const INTERRUPTED_REPLY: &str = "interrupted";

/// Deaths at start (before any readable reply) after which the command is not started again.
const MAX_START_DEATHS: u32 = 3;

/// A command started with `sh -c`, restarted whenever it dies or hangs.
pub struct Subprocess {
    command: String,
    timeout: Duration,
    max_line: usize,
    interrupted: Option<&'static AtomicBool>,
    running: Option<Process>,
    answered_since_start: bool,
    start_deaths: u32,
    given_up: Option<String>,
}

impl Subprocess {
    pub fn new(command: &str, timeout: Duration) -> Subprocess {
        Subprocess {
            command: command.to_string(),
            timeout,
            max_line: MAX_REPLY_LINE,
            interrupted: None,
            running: None,
            answered_since_start: false,
            start_deaths: 0,
            given_up: None,
        }
    }

    /// A smaller limit on a reply line (the default is `MAX_REPLY_LINE`).
    pub fn with_max_line(mut self, max_line: usize) -> Subprocess {
        self.max_line = max_line;
        self
    }

    /// Stop waiting for the child as soon as `flag` is set (by a signal handler).
    pub fn interrupted_by(mut self, flag: &'static AtomicBool) -> Subprocess {
        self.interrupted = Some(flag);
        self
    }

    /// Ends the child (it broke, or the run is over) and describes how it ended. A child that
    /// `died` (exited, or closed its input) before any readable reply counts towards giving up;
    /// one that hung or answered garbage does not, since it may do better on the next request.
    fn stop(&mut self, died: bool) -> String {
        let Some(mut process) = self.running.take() else {
            return String::new();
        };
        let status = process.kill();
        // Give the stderr reader a moment to collect the last words.
        std::thread::sleep(Duration::from_millis(50));
        let tail = process.stderr.lock().map(|t| t.lines()).unwrap_or_default();
        let ended = match tail.as_slice() {
            [] => format!("({status})"),
            lines => format!(
                "({status}); its stderr ended:\n    {}",
                lines.join("\n    ")
            ),
        };
        if self.answered_since_start {
            self.start_deaths = 0;
        } else if died {
            self.start_deaths += 1;
            if self.start_deaths >= MAX_START_DEATHS {
                self.given_up = Some(format!(
                    "the implementation broke {} times in a row before answering anything, so it is not started again; the last time {ended}",
                    self.start_deaths
                ));
            }
        }
        ended
    }

    /// Sends a request and waits for its reply line, within the timeout.
    fn exchange(&mut self, request: &Request) -> Result<Line, String> {
        if self.running.is_none() {
            self.running = Some(Process::start(&self.command, self.max_line)?);
            self.answered_since_start = false;
        }
        let deadline = Instant::now() + self.timeout;
        let (timeout, interrupted) = (self.timeout, self.interrupted);
        let process = self.running.as_mut().ok_or("unreachable: just started")?;
        process.send(request.to_json())?;
        loop {
            let slice = deadline
                .saturating_duration_since(Instant::now())
                .min(Duration::from_millis(100));
            match process.replies.recv_timeout(slice) {
                Ok(Ok(line)) => return Ok(line),
                Ok(Err(e)) => {
                    return Err(format!("reading the implementation's output failed: {e}"));
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err("the implementation exited".into());
                }
                Err(RecvTimeoutError::Timeout) if Instant::now() >= deadline => {
                    return Err(format!("no answer within {} s", timeout.as_secs_f64()));
                }
                Err(RecvTimeoutError::Timeout)
                    if interrupted.is_some_and(|f| f.load(Ordering::SeqCst)) =>
                {
                    return Err(INTERRUPTED_REPLY.into());
                }
                Err(RecvTimeoutError::Timeout) => {}
            }
        }
    }
}

impl Implementation for Subprocess {
    fn name(&self) -> String {
        format!("`{}`", self.command)
    }

    fn evaluate(&mut self, request: &Request) -> Reply {
        if let Some(why) = &self.given_up {
            return Reply::Broken(why.clone());
        }
        let reply = match self.exchange(request) {
            Ok(Line::Text(line)) => Reply::from_json(&line, &request.id),
            Ok(Line::TooLong(_)) => Reply::Broken(format!(
                "a reply line longer than the {} bytes read",
                self.max_line
            )),
            Ok(Line::NotUtf8) => Reply::Broken("a reply line that is not UTF-8".into()),
            Err(why) if why == INTERRUPTED_REPLY => {
                self.stop(false);
                return Reply::Broken(why);
            }
            Err(why) => {
                let died = why.contains("exited") || why.contains("stopped reading");
                let ended = self.stop(died);
                return Reply::Broken(format!("{why} {ended}"));
            }
        };
        if matches!(reply, Reply::Broken(_)) {
            // After garbage the stream may be out of step: start afresh.
            self.stop(false);
        } else {
            self.answered_since_start = true;
        }
        reply
    }
}

impl Drop for Subprocess {
    fn drop(&mut self) {
        if let Some(mut process) = self.running.take() {
            // Closing stdin is the protocol's end of input; then make sure it is all gone.
            process.close_input();
            let deadline = Instant::now() + Duration::from_secs(2);
            while Instant::now() < deadline && process.try_wait().is_none() {
                std::thread::sleep(Duration::from_millis(20));
            }
            process.kill();
        }
    }
}
