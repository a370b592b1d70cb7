//! An implementation under test that runs as a child process speaking protocol v1 on its stdin
//! and stdout, in any language. What it can do to the runner is bounded: each request has a
//! deadline that covers writing it as well as reading the reply, and the first request after a
//! start has a start-up allowance besides; a reply line and the kept end of stderr have a size
//! limit; a child that hangs or breaks is killed with everything it started (its process group)
//! and the next request gets a fresh one; a command that has never answered anything and died
//! three times in a row on one kind of request is not started again for that kind; and an
//! interrupt (Ctrl-C, SIGTERM, SIGHUP) ends the wait at once.

mod process;
mod stderr;

use std::collections::BTreeMap;
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

/// Deaths in a row on one kind of request, with nothing ever answered, after which the command
/// is not started again for that kind.
const MAX_START_DEATHS: u32 = 3;

/// How long the reply of a child that exited is waited for (it may be in the pipe still).
const EXIT_GRACE: Duration = Duration::from_millis(300);

/// How long a started command may take to get ready, on top of its first request's timeout: an
/// `import torch` takes a second of CPU, and many of them at once (`--jobs`) share the cores.
pub const DEFAULT_STARTUP: Duration = Duration::from_secs(60);

/// What a give-up is decided for: the op and whether a gradient is asked.
type Kind = (crate::vocab::Op, bool);

fn kind(request: &Request) -> Kind {
    (request.op, request.grad)
}

/// A command started with `sh -c`, restarted whenever it dies or hangs.
pub struct Subprocess {
    command: String,
    timeout: Duration,
    startup: Duration,
    max_line: usize,
    interrupted: Option<&'static AtomicBool>,
    running: Option<Process>,
    /// Whether any start of the command has answered a request.
    ever_answered: bool,
    /// Per kind of request: deaths in a row, and why it was given up.
    deaths: BTreeMap<Kind, u32>,
    given_up: BTreeMap<Kind, String>,
}

impl Subprocess {
    pub fn new(command: &str, timeout: Duration) -> Subprocess {
        Subprocess {
            command: command.to_string(),
            timeout,
            startup: DEFAULT_STARTUP,
            max_line: MAX_REPLY_LINE,
            interrupted: None,
            running: None,
            ever_answered: false,
            deaths: BTreeMap::new(),
            given_up: BTreeMap::new(),
        }
    }

    /// Another start-up allowance (the default is 60 s).
    pub fn with_startup(mut self, startup: Duration) -> Subprocess {
        self.startup = startup;
        self
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

    /// Waits up to `grace` for the child to exit by itself.
    fn await_exit(&mut self, grace: Duration) {
        let Some(process) = self.running.as_mut() else {
            return;
        };
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline && process.try_wait().is_none() {
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Ends the child (it broke, or the run is over) and describes how it ended: its exit
    /// status or signal (SIGKILL when the runner ended it), and the end of its stderr.
    fn stop(&mut self) -> String {
        let Some(mut process) = self.running.take() else {
            return String::new();
        };
        let status = process.kill();
        // The stderr reader collects the last words until the stream ends, which it does as
        // soon as the kill has closed the pipe; a moment at most.
        let tail = process.stderr.last_lines(Duration::from_millis(50));
        match tail.as_slice() {
            [] => format!("({status})"),
            lines => format!(
                "({status}); its stderr ended:\n    {}",
                lines.join("\n    ")
            ),
        }
    }

    /// Counts a death (the child exited, or closed its input) on a request of `kind`. A command
    /// that has never answered anything and died [`MAX_START_DEATHS`] times in a row on this kind
    /// is not started again for it; one that has answered once is always restarted, since its
    /// deaths may be its way of refusing bad input.
    fn died(&mut self, kind: Kind, ended: &str) {
        let deaths = self.deaths.entry(kind).or_default();
        *deaths += 1;
        if !self.ever_answered && *deaths >= MAX_START_DEATHS {
            let why = format!(
                "the implementation died {deaths} times in a row on {} requests{} without ever answering anything, so it is not started again for them; the last time {ended}",
                kind.0.as_str(),
                if kind.1 { " for a gradient" } else { "" },
            );
            self.given_up.insert(kind, why);
        }
    }

    /// Sends a request and waits for its reply line, within the timeout.
    fn exchange(&mut self, request: &Request) -> Result<Line, String> {
        let mut deadline = Instant::now() + self.timeout;
        let mut allowed = format!("{} s", self.timeout.as_secs_f64());
        if self.running.is_none() {
            self.running = Some(Process::start(&self.command, self.max_line)?);
            deadline += self.startup;
            allowed += &format!(
                " and the start-up allowance of {} s",
                self.startup.as_secs_f64()
            );
        }
        let interrupted = self.interrupted;
        let mut exited_at = None;
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
                    return Err(format!("no answer within {allowed}"));
                }
                Err(RecvTimeoutError::Timeout)
                    if interrupted.is_some_and(|f| f.load(Ordering::SeqCst)) =>
                {
                    return Err(INTERRUPTED_REPLY.into());
                }
                Err(RecvTimeoutError::Timeout) => {
                    // A process it started may hold its output open after it exited (one that
                    // left the process group with `setsid`): the exit is what counts.
                    if exited_at.is_none() && process.try_wait().is_some() {
                        exited_at = Some(Instant::now());
                    }
                    if exited_at.is_some_and(|t: Instant| t.elapsed() > EXIT_GRACE) {
                        return Err("the implementation exited".into());
                    }
                }
            }
        }
    }
}

impl Implementation for Subprocess {
    fn name(&self) -> String {
        format!("`{}`", self.command)
    }

    fn evaluate(&mut self, request: &Request) -> Reply {
        if let Some(why) = self.given_up.get(&kind(request)) {
            return Reply::Broken(why.clone());
        }
        // Whether a broken reply may be a dying process's last words: not a whole JSON value.
        let mut partial = true;
        let reply = match self.exchange(request) {
            Ok(Line::Text(line)) => {
                partial = serde_json::from_str::<serde::de::IgnoredAny>(&line).is_err();
                Reply::from_json_wrt(&line, &request.id, request.vjp.wrt)
            }
            Ok(Line::TooLong(_)) => Reply::Broken(format!(
                "a reply line longer than the {} bytes read",
                self.max_line
            )),
            Ok(Line::NotUtf8) => Reply::Broken("a reply line that is not UTF-8".into()),
            Err(why) if why == INTERRUPTED_REPLY => {
                self.stop();
                return Reply::Broken(why);
            }
            Err(why) => {
                let ended = self.stop();
                if why.contains("exited") || why.contains("stopped reading") {
                    self.died(kind(request), &ended);
                }
                return Reply::Broken(format!("{why} {ended}"));
            }
        };
        if let Reply::Broken(why) = reply {
            // After garbage the stream may be out of step: start afresh. Garbage is often a
            // dying process's last words (a crash's partial line): give it a moment to exit, so
            // that its own status and the end of its stderr are quoted, not the runner's kill.
            // A whole JSON value that breaks the protocol (an unknown error kind, another id)
            // is no such thing, and waiting would cost every such run the grace.
            if partial {
                self.await_exit(EXIT_GRACE);
            }
            let ended = self.stop();
            return Reply::Broken(format!("{why} {ended}"));
        } else {
            self.ever_answered = true;
            self.deaths.remove(&kind(request));
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
