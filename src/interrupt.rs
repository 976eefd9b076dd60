//! Interruption (SIGINT/SIGTERM) as a flag the drivers poll between tiles (in progress).

use std::sync::atomic::{AtomicBool, Ordering};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Whether an interrupt was requested. Drivers check this between units of work and return an
/// error, so writers are dropped and their temporary files removed.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::Relaxed)
}

/// Request an interrupt (what the signal handler does).
pub fn request() {
    INTERRUPTED.store(true, Ordering::Relaxed);
}
