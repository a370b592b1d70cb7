//! One run of the implementation's command: started with `sh -c` in a process group of its own,
//! so that killing it kills everything it started, and with a token in its environment, so that
//! a descendant that left the group (`setsid`, a daemon's double fork) is found and killed too;
//! its stdin written by a thread (a child that does not read cannot block the runner); its
//! replies read, line by bounded line, by another.

use std::io::{BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::thread;

use super::stderr::{self, Stderr};
use crate::conformance::lines::{Line, read_line};

/// A started command and the threads that talk to it.
pub struct Process {
    child: Child,
    /// `RUN_TOKEN=<value>` in the environment of the child and of everything it starts.
    token: String,
    requests: Option<SyncSender<String>>,
    pub replies: Receiver<std::io::Result<Line>>,
    pub stderr: Stderr,
}

impl Process {
    pub fn start(command: &str, max_line: usize) -> Result<Process, String> {
        let token = format!(
            "{}-{}",
            std::process::id(),
            STARTS.fetch_add(1, Ordering::SeqCst)
        );
        let mut cmd = Command::new("sh");
        cmd.arg("-c").arg(command).env(RUN_TOKEN, &token);
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot start `{command}`: {e}"))?;
        let (Some(stdin), Some(stdout), Some(err)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err("the child's pipes could not be opened".into());
        };
        let (requests, to_write) = sync_channel::<String>(1);
        thread::spawn(move || {
            let mut stdin = stdin;
            for line in to_write {
                if writeln!(stdin, "{line}")
                    .and_then(|()| stdin.flush())
                    .is_err()
                {
                    break;
                }
            }
        });
        let (tx, replies) = sync_channel(1);
        thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            while let Ok(Some(line)) = read_line(&mut reader, max_line) {
                if tx.send(Ok(line)).is_err() {
                    break;
                }
            }
        });
        Ok(Process {
            child,
            token: format!("{RUN_TOKEN}={token}"),
            requests: Some(requests),
            replies,
            stderr: stderr::collect(err),
        })
    }

    /// Hands a request line to the writer; refused when the child has not taken the last one.
    pub fn send(&mut self, line: String) -> Result<(), String> {
        match self.requests.as_ref().map(|r| r.try_send(line)) {
            Some(Ok(())) => Ok(()),
            Some(Err(TrySendError::Full(_))) => {
                Err("the implementation is not reading its input".into())
            }
            _ => Err("the implementation stopped reading its input".into()),
        }
    }

    /// Closes the child's input: the protocol's end of the run.
    pub fn close_input(&mut self) {
        self.requests = None;
    }

    pub fn try_wait(&mut self) -> Option<String> {
        self.child.try_wait().ok().flatten().map(|s| s.to_string())
    }

    /// Kills the whole process group, and reaps the child.
    pub fn kill(&mut self) -> String {
        self.requests = None;
        #[cfg(unix)]
        if let Ok(pid) = i32::try_from(self.child.id()) {
            // SAFETY: kill(2) with a negative pid signals the process group the child leads
            // (created by `process_group(0)`); it touches no memory of ours.
            unsafe {
                libc::kill(-pid, libc::SIGKILL);
            }
        }
        let _ = self.child.kill();
        kill_carrying(&self.token);
        self.child
            .wait()
            .map(|s| s.to_string())
            .unwrap_or_else(|e| e.to_string())
    }
}

/// The environment variable that marks the processes of one start of the command.
const RUN_TOKEN: &str = "CROSS_ENTROPY_SPEC_RUN";

/// Starts so far in this runner: with its pid, what makes each token unique.
static STARTS: AtomicU64 = AtomicU64::new(0);

/// Kills every process whose environment holds `entry` (`NAME=value`): the descendants of one
/// start, wherever they went. Only processes of our own user can be read, and only those are ours.
fn kill_carrying(entry: &str) {
    #[cfg(target_os = "linux")]
    {
        let Ok(dir) = std::fs::read_dir("/proc") else {
            return;
        };
        let me = std::process::id();
        for pid in dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok()) {
            if pid == me {
                continue;
            }
            let Ok(environ) = std::fs::read(format!("/proc/{pid}/environ")) else {
                continue;
            };
            if environ
                .split(|&b| b == 0)
                .any(|var| var == entry.as_bytes())
            {
                if let Ok(pid) = i32::try_from(pid) {
                    // SAFETY: kill(2) on a process that carries this start's token.
                    unsafe {
                        libc::kill(pid, libc::SIGKILL);
                    }
                }
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = entry;
}
