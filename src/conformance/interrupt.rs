//! Ctrl-C (SIGINT), SIGTERM or SIGHUP during a run: the handler only records the signal; the
//! runner stops between runs, the child's wait ends at once, the children are ended, and the
//! runs completed so far are reported and written.

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

/// Set by SIGINT, SIGTERM or SIGHUP once [`install`] has run.
pub static INTERRUPTED: AtomicBool = AtomicBool::new(false);
/// The signal that set [`INTERRUPTED`] (the first one).
static SIGNAL: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_signal(signal: libc::c_int) {
    let _ = SIGNAL.compare_exchange(0, signal, Ordering::SeqCst, Ordering::SeqCst);
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Routes SIGINT, SIGTERM and SIGHUP to [`INTERRUPTED`] (on unix; elsewhere they keep their
/// defaults).
pub fn install() {
    #[cfg(unix)]
    for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: the handler only stores to atomics, which is async-signal-safe.
        unsafe {
            libc::signal(signal, on_signal as *const () as libc::sighandler_t);
        }
    }
}

pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// The shell's exit status for a run ended by a signal: 128 + its number (130 for Ctrl-C).
pub fn exit_status() -> u8 {
    match SIGNAL.load(Ordering::SeqCst) {
        s @ 1..=127 => 128 + s as u8,
        _ => 130,
    }
}
