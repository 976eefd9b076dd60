//! GAIN reference (jump, ramp_fit, gain_scale, tso_photometry; spec §4, §12.1, §13).

use std::path::Path;

use ndarray::Array2;

use super::common::{self, Window};
use crate::{dq, ExposureMeta, Result};

/// A gain reference cut to the science subarray.
#[derive(Debug, Clone)]
pub struct GainRef {
    /// Gain in e-/DN, (ny, nx), as stored (NaN and <= 0 kept).
    pub gain: Array2<f32>,
    /// `GAINFACT` (primary header), used by gain_scale; `None` when absent (step SKIPPED).
    pub gainfact: Option<f64>,
    pub window: Window,
}

impl GainRef {
    /// Load `path` (REFTYPE GAIN: SCI f32) cut to `meta`'s subarray.
    pub fn load(path: &Path, meta: &ExposureMeta) -> Result<Self> {
        Self::load_rows(path, meta, None)
    }

    /// [`load`](Self::load), reading only rows `rows` of the science subarray (`None`: all);
    /// every check of the whole file is made as `load` makes it.
    pub fn load_rows(
        path: &Path,
        meta: &ExposureMeta,
        rows: Option<std::ops::Range<usize>>,
    ) -> Result<Self> {
        let mut cf = common::open_ref(path, "GAIN")?;
        let info = common::required_ext(&mut cf, path, "SCI")?;
        common::require_ndim(path, "SCI", &info, 2)?;
        let window = common::science_window(&mut cf, common::yx(&info.shape), meta)?;
        let window = window.band(path, rows)?;
        let gain = common::read_f32_2d(&mut cf, "SCI", window)?;
        let gainfact = common::primary_f64(&mut cf, "GAINFACT")?;
        Ok(GainRef {
            gain,
            gainfact,
            window,
        })
    }

    /// Whether a gain value is unusable: `<= 0` or NaN.
    pub fn is_bad(g: f32) -> bool {
        g.is_nan() || g <= 0.0
    }

    /// Flags jump and ramp_fit add to PIXELDQ: `NO_GAIN_VALUE | DO_NOT_USE` where the gain is
    /// `<= 0` or NaN, 0 elsewhere.
    pub fn bad_gain_flags(&self) -> Array2<u32> {
        self.gain.mapv(|g| {
            if Self::is_bad(g) {
                dq::NO_GAIN_VALUE | dq::DO_NOT_USE
            } else {
                0
            }
        })
    }
}
