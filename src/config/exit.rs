//! Exit statuses as the official `strun` gives them: 0 success, 1 any error, 2 a command-line
//! usage error (argparse: unknown option), 64 "no science data" (stpipe's
//! `StpipeExitException(64)`, raised by jwst's `NoDataOnDetectorError`).
//!
//! A pipeline signals a status other than 1 by returning an [`ExitStatus`] error (it converts
//! into `anyhow::Error` with `?`); `main` maps any error to its status with [`exit_code_of`].
//!
//! **Status 64 never applies to what sloper implements.** In jwst 3.0.0 the only source of 64 is
//! `jwst.assign_wcs.util.NoDataOnDetectorError` (an `StpipeExitException(64)`; stpipe's
//! `_cli/strun.py` exits with its status), raised only by NIRSpec code: `assign_wcs/nirspec.py`
//! (IFU slices not on NRS2 for the M gratings or G140H/F070LP; no open MOS/fixed slit on the
//! detector) and `extract_2d/nirspec.py` (no valid slit selected), re-raised by
//! `calwebb_spec2` (picture_frame and clean_flicker_noise catch it and go on). sloper implements
//! no NIRSpec path (calwebb_spec2 is refused with status 1). For the pipelines it does implement
//! the official tool exits 0 even when there is no science data, and so does sloper; checked
//! with jwst 3.0.0 (`fixtures/stpipe/no_science_data.sh`, recorded in `no_science_data.txt`;
//! `tests/stpipe_cli.rs` runs the same cases through sloper):
//! * calwebb_detector1 with every pixel saturated in group 0 of every integration: stcal's ramp
//!   fit returns `None`, the pipeline logs "NoneType returned from ramp_fit. Gain Scale step
//!   skipped." and writes no `_rate`/`_rateints` (only `_ramp` if asked): exit 0;
//! * calwebb_detector1 with every pixel DO_NOT_USE (`_rate`/`_rateints` all NaN), then
//!   calwebb_image2 on both and calwebb_tso3 on the `_calints`: exit 0 each, every product
//!   written.
//!
//! [`ExitStatus::no_science_data`] therefore has no caller; it exists so that a future NIRSpec
//! path can raise the official status.

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
