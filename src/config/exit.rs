//! Exit statuses as the official `strun` gives them: 0 success, 1 any error, 2 a command-line
//! usage error (argparse: unknown option), 64 "no science data" (stpipe's
//! `StpipeExitException(64)`, raised by jwst's `NoDataOnDetectorError`).
//!
//! A pipeline signals a status other than 1 by returning an [`ExitStatus`] error (it converts
//! into `anyhow::Error` with `?`); `main` maps any error to its status with [`exit_code_of`].
//!
//! Note on detector1: when every pixel is saturated in group 0 of every integration, stcal's
//! ramp fit returns `None`; the official pipeline then logs "NoneType returned from ramp_fit.
//! Gain Scale step skipped.", writes no `_rate`/`_rateints` (only `_ramp` if asked) and strun
//! exits **0** (checked with jwst 3.0.0). [`ExitStatus::no_science_data`] is the mechanism for
//! the 64 convention where sloper chooses to report that case.

use std::fmt;

/// strun's generic failure.
pub const ERROR: i32 = 1;
/// argparse's status for an unknown option or a missing required argument.
pub const USAGE: i32 = 2;
/// stpipe's "no science data" status (`NoDataOnDetectorError`).
pub const NO_SCIENCE_DATA: i32 = 64;

/// An error carrying the process exit status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExitStatus {
    pub code: i32,
    pub message: String,
}

impl ExitStatus {
    pub fn new(code: i32, message: impl Into<String>) -> ExitStatus {
        ExitStatus {
            code,
            message: message.into(),
        }
    }
    /// A command-line usage error (exit 2, as argparse).
    pub fn usage(message: impl Into<String>) -> ExitStatus {
        ExitStatus::new(USAGE, message)
    }
    /// No science data: nothing could be calibrated (exit 64).
    pub fn no_science_data(message: impl Into<String>) -> ExitStatus {
        ExitStatus::new(NO_SCIENCE_DATA, message)
    }
}

impl fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ExitStatus {}

/// The exit status for an error: the [`ExitStatus`] anywhere in its chain, else 1.
pub fn exit_code_of(err: &anyhow::Error) -> i32 {
    err.chain()
        .find_map(|e| e.downcast_ref::<ExitStatus>())
        .map_or(ERROR, |s| s.code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn codes_survive_context() {
        let e: anyhow::Error = ExitStatus::no_science_data("all saturated").into();
        assert_eq!(exit_code_of(&e), 64);
        let wrapped = Err::<(), _>(e).context("detector1").unwrap_err();
        assert_eq!(exit_code_of(&wrapped), 64);
        assert_eq!(exit_code_of(&anyhow::anyhow!("plain")), 1);
        assert_eq!(exit_code_of(&ExitStatus::usage("bad").into()), 2);
    }
}
