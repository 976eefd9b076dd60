//! Ramp fitting: up-the-ramp slopes, bit for bit as stcal 1.20.0's `OLS_C` (the C extension
//! `slope_fitter.c`) computes them when the jwst 3.0.0 `RampFitStep` drives it (spec §12).
//!
//! The kernel is pure and per pixel. One integration of one pixel is fitted by
//! [`PixelAccumulator::push_integration`]: that gives the rateints SCI, DQ and VAR_RNOISE at once,
//! because none of them depends on other integrations. VAR_POISSON and ERR (rateints and rate)
//! need the pixel's mean median rate over **all** integrations, so each integration also leaves a
//! compact record (its segment lengths, [`record`]) and [`PixelAccumulator::finish`] replays those
//! records in the original order to finish the variances, exactly as the C code sums them.
//!
//! Two drivers use the same code path, so they cannot disagree:
//! - exact (band-major, whole exposure per pixel in memory): [`fit_pixel`];
//! - online (integration by integration): one [`PixelAccumulator`] per pixel plus its record
//!   stream, [`PixelAccumulator::push_integration`] when an integration completes, and
//!   [`PixelAccumulator::finish`] after the last one.
//!
//! Not handled here (driver level): the "every pixel saturated in group 0 of every integration →
//! no product" rule, MIRI leading/trailing all-DNU group removal, the optional fitopt product.

mod clean;
mod combine;
mod fit;
mod median_rate;
pub mod record;
mod segments;

pub use combine::{
    fit_pixel, IntegEarly, IntegLate, IntegrationRamp, PixelAccumulator, RampScratch,
};

/// Why a ramp-fit configuration or a pixel's record stream was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RampFitConfigError {
    #[error("ramp_fit: NINTS must be at least 1")]
    NoIntegrations,
    #[error("ramp_fit: NGROUPS must be at least 1")]
    NoGroups,
    #[error("ramp_fit: NGROUPS = {0} is more than the {max} groups a segment record can hold", max = record::MAX_GROUPS)]
    TooManyGroups(usize),
    #[error("ramp_fit: NFRAMES must be at least 1")]
    NoFrames,
    #[error("ramp_fit: TGROUP = {0} and TFRAME = {1} must be finite and positive")]
    BadTiming(f64, f64),
    #[error("ramp_fit: pixel finished after {0} of {1} integrations")]
    IncompletePixel(usize, usize),
    #[error("ramp_fit: record stream ends or is corrupt at integration {0}")]
    BadRecords(usize),
}

/// Exposure-level inputs, as read from the science header and the step parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct ExposureParams {
    pub nints: usize,
    pub ngroups: usize,
    /// NFRAMES (frames averaged per group).
    pub nframes: u32,
    /// TGROUP header value, seconds.
    pub group_time: f64,
    /// TFRAME header value, seconds.
    pub frame_time: f64,
    /// RampFitStep `suppress_one_group` (official default `true`).
    pub suppress_one_group: bool,
    /// RampFitStep `firstgroup` (0-based; `None` = not set).
    pub firstgroup: Option<i64>,
    /// RampFitStep `lastgroup` (0-based, inclusive; `None` = not set).
    pub lastgroup: Option<i64>,
}

/// Everything the kernel needs per exposure, with the official roundings already applied.
#[derive(Debug, Clone, PartialEq)]
pub struct FitConfig {
    pub(crate) nints: usize,
    pub(crate) ngroups: usize,
    /// TGROUP rounded to float32 then widened (the C extension reads it as a C `float`).
    pub(crate) group_time: f64,
    /// TFRAME, same rounding.
    pub(crate) frame_time: f64,
    /// `(NFRAMES + 1)·TFRAME/2` with NFRAMES and TFRAME as floats: the "only group 0 good" time.
    pub(crate) one_group_time: f64,
    /// `sqrt(2·NFRAMES)`: read noise per group from the CDS read noise.
    pub(crate) sqrt_2nframes: f64,
    /// Effective suppress_one_group (forced off when NGROUPS == 1).
    pub(crate) suppress_one_group: bool,
    /// Groups outside `keep` get DO_NOT_USE (firstgroup/lastgroup).
    pub(crate) keep: std::ops::Range<usize>,
    /// Optimal-weighting factors `powf(|(j − mid)/mid|, P)` for every segment length and power,
    /// computed once (they depend on nothing else), so the fit calls no `powf` per pixel.
    pub(crate) weights: fit::WeightTable,
    /// Clean integrations take the fast path of [`clean`] (tests turn it off to compare).
    pub(crate) clean_path: bool,
}

impl FitConfig {
    pub fn new(p: &ExposureParams) -> Result<Self, RampFitConfigError> {
        if p.nints == 0 {
            return Err(RampFitConfigError::NoIntegrations);
        }
        if p.ngroups == 0 {
            return Err(RampFitConfigError::NoGroups);
        }
        if p.ngroups > record::MAX_GROUPS {
            return Err(RampFitConfigError::TooManyGroups(p.ngroups));
        }
        if p.nframes == 0 {
            return Err(RampFitConfigError::NoFrames);
        }
        let (tg, tf) = (p.group_time, p.frame_time);
        if !(tg.is_finite() && tf.is_finite() && tg > 0.0 && tf > 0.0) {
            return Err(RampFitConfigError::BadTiming(tg, tf));
        }
        let group_time = tg as f32 as f64;
        let frame_time = tf as f32 as f64;
        // C: ((float) nframes + 1.) * (float) frame_time / 2.
        let one_group_time = (p.nframes as f32 as f64 + 1.0) * frame_time / 2.0;
        Ok(FitConfig {
            nints: p.nints,
            ngroups: p.ngroups,
            group_time,
            frame_time,
            one_group_time,
            sqrt_2nframes: (2.0 * p.nframes as f64).sqrt(),
            suppress_one_group: p.suppress_one_group && p.ngroups > 1,
            keep: group_window(p.firstgroup, p.lastgroup, p.ngroups),
            weights: fit::WeightTable::new(p.ngroups),
            clean_path: group_window(p.firstgroup, p.lastgroup, p.ngroups) == (0..p.ngroups),
        })
    }

    pub fn nints(&self) -> usize {
        self.nints
    }

    pub fn ngroups(&self) -> usize {
        self.ngroups
    }
}

/// The groups firstgroup/lastgroup leave usable, as jwst `set_groupdq` decides: negative
/// firstgroup → 0, a lastgroup past the end flags nothing, and `firstgroup >= lastgroup` makes
/// the step ignore both.
fn group_window(first: Option<i64>, last: Option<i64>, ngroups: usize) -> std::ops::Range<usize> {
    let n = ngroups as i64;
    let mut f = first.unwrap_or(0).max(0);
    let mut l = last.unwrap_or(n - 1);
    if f >= l {
        f = 0;
        l = n - 1;
    }
    let end = (l + 1).clamp(0, n) as usize;
    (f.min(n) as usize)..end.max(f.min(n) as usize)
}

/// Per-pixel constants.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PixelConsts {
    /// GAIN reference value (e⁻/DN).
    pub gain: f32,
    /// READNOISE reference value: CDS read noise in DN.
    pub readnoise: f32,
    /// Average dark current (AVDRKCUR), used as is in the Poisson variance.
    pub dark_current: f32,
    /// PIXELDQ after every Stage-1 step.
    pub pixel_dq: u32,
}

/// One output pixel of a rate or rateints product.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct FitValues {
    pub sci: f32,
    pub err: f32,
    pub dq: u32,
    pub var_poisson: f32,
    pub var_rnoise: f32,
}

/// gain_scale (spec §13) lives in its own module; re-exported here for callers of the fit.
pub use super::gain_scale::apply as gain_scale;

#[cfg(test)]
mod fast_path_tests;
#[cfg(test)]
mod golden_tests;
#[cfg(test)]
mod unit_tests;
