//! One run of the implementation's command: started with `sh -c` in a process group of its own,
//! so that killing it kills everything it started; its stdin written by a thread (a child that
//! does not read cannot block the runner); its replies read, line by bounded line, by another.

use std::io::{BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread;

use super::stderr::{self, Tail};
use crate::conformance::lines::{Line, read_line};

/// A started command and the threads that talk to it.
pub struct Process {
    child: Child,
    requests: Option<SyncSender<String>>,
    pub replies: Receiver<std::io::Result<Line>>,
    pub stderr: Arc<Mutex<Tail>>,
}

impl Process {
    pub fn start(command: &str, max_line: usize) -> Result<Process, String> {
        let mut cmd = Command::new("sh");
        cmd.arg("-c").arg(command);
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
        self.child
            .wait()
            .map(|s| s.to_string())
            .unwrap_or_else(|e| e.to_string())
    }
}
