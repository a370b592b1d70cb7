//! Ctrl-C during a run: the handler only sets a flag; the runner stops between runs, the child's
//! wait ends at once, and the runs completed so far are reported and written.

use std::sync::atomic::{AtomicBool, Ordering};

/// Set by SIGINT once [`install`] has run.
pub static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_sigint(_signal: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Routes SIGINT to [`INTERRUPTED`] (on unix; elsewhere Ctrl-C keeps its default).
pub fn install() {
    #[cfg(unix)]
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGINT, on_sigint as *const () as libc::sighandler_t);
    }
}

pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}
