//! Interruption (SIGINT/SIGTERM) as a flag the drivers poll between units of work.
//!
//! Why a flag and not an immediate exit: the product writers write to temporary names and only
//! rename a product into place when it is complete. Stopping at a tile boundary lets the driver
//! return an error, which drops the writers, whose `Drop` removes their temporary files — so an
//! interrupted run leaves nothing behind and never a partial product.
//!
//! Deferring a signal is only right while someone polls the flag: a command that never looks at
//! it (`sloper simulate`, `sloper info`) must still stop on Ctrl-C. So the handlers defer a
//! signal only in *cooperative* mode, which starts with the first call to [`interrupted`] (the
//! driver's first poll) or while a [`Cooperation`] guard from [`cooperate`] is alive; otherwise
//! the signal's default action runs (the process dies of it, as without handlers). A second
//! signal after a deferred one means the user does not want to wait: it also runs the default
//! action at once (no clean-up; the shell reports status 128 + signal number).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, OnceLock};

/// Set by the first deferred signal; what [`interrupted`] reports. An `Arc` because the handlers
/// registered by `signal-hook` hold a reference; it lives as long as the process.
static INTERRUPTED: LazyLock<Arc<AtomicBool>> = LazyLock::new(|| Arc::new(AtomicBool::new(false)));

/// True while nobody polls: a signal then takes its default action at once.
static IMMEDIATE: LazyLock<Arc<AtomicBool>> = LazyLock::new(|| Arc::new(AtomicBool::new(true)));

/// Live [`Cooperation`] guards (when the last one goes, immediate mode returns unless a poll has
/// made the process cooperative for good).
static GUARDS: AtomicUsize = AtomicUsize::new(0);

/// Whether a poll made the process cooperative for the rest of its life.
static POLLED: AtomicBool = AtomicBool::new(false);

/// Outcome of the one-time installation, kept so a second call returns the same answer.
static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();

/// The signals that request an interrupt: Ctrl-C and the polite termination request sent by
/// batch schedulers (`kill`, a job's time limit, `docker stop`).
const SIGNALS: [i32; 2] = [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM];

/// Whether an interrupt was requested. Drivers check this between units of work and return an
/// error, so writers are dropped and their temporary files removed.
///
/// The first call makes the process cooperative: from then on a signal sets this flag instead of
/// ending the process (see the module documentation).
pub fn interrupted() -> bool {
    if !POLLED.load(Ordering::Relaxed) {
        POLLED.store(true, Ordering::SeqCst);
        IMMEDIATE.store(false, Ordering::SeqCst);
    }
    INTERRUPTED.load(Ordering::SeqCst)
}

/// Request an interrupt (what the signal handler does; also usable by tests and embedders).
pub fn request() {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// While the returned guard lives, signals are deferred to the flag even before the first poll
/// (a driver takes one before it creates its writers, so a signal during set-up is also handled
/// cleanly).
#[must_use = "signals are deferred only while the guard lives"]
pub fn cooperate() -> Cooperation {
    GUARDS.fetch_add(1, Ordering::SeqCst);
    IMMEDIATE.store(false, Ordering::SeqCst);
    Cooperation { _private: () }
}

/// Guard returned by [`cooperate`].
#[derive(Debug)]
pub struct Cooperation {
    _private: (),
}

impl Drop for Cooperation {
    fn drop(&mut self) {
        if GUARDS.fetch_sub(1, Ordering::SeqCst) == 1 && !POLLED.load(Ordering::SeqCst) {
            IMMEDIATE.store(true, Ordering::SeqCst);
        }
    }
}

/// Install the SIGINT/SIGTERM handlers (once per process; later calls return the first result).
///
/// Per signal, in this order (signal-hook runs a signal's actions in registration order):
/// 1. if a signal was already deferred, take the default action (second signal: die now);
/// 2. if nobody polls, take the default action (plain commands keep their Ctrl-C);
/// 3. otherwise set the flag [`interrupted`] reports.
///
/// Every action only loads or stores atomics or emulates the default action, which is what makes
/// them safe inside a signal handler; no `unsafe` is needed here (signal-hook's `flag` API).
pub fn install() -> Result<(), String> {
    INSTALLED
        .get_or_init(|| {
            for sig in SIGNALS {
                signal_hook::flag::register_conditional_default(sig, Arc::clone(&INTERRUPTED))
                    .and_then(|_| {
                        signal_hook::flag::register_conditional_default(sig, Arc::clone(&IMMEDIATE))
                    })
                    .and_then(|_| signal_hook::flag::register(sig, Arc::clone(&INTERRUPTED)))
                    .map_err(|e| format!("cannot install the handler for signal {sig}: {e}"))?;
            }
            Ok(())
        })
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    // The handlers themselves are tested on the built binary (tests/reliability_signals.rs):
    // raising a signal here would end the test process.

    #[test]
    fn install_is_idempotent() {
        assert_eq!(install(), Ok(()));
        assert_eq!(install(), Ok(()));
    }
}
