//! SUPERBIAS reference (spec §7 second-group check, §8 superbias).

use std::path::Path;

use ndarray::Array2;

use super::common::{self, Window};
use crate::{ExposureMeta, Result};

/// A superbias cut to the science subarray, as stored (NaN kept).
#[derive(Debug, Clone)]
pub struct SuperbiasRef {
    /// Bias in DN, (ny, nx), NaN kept: this is what the saturation step's second-group check
    /// uses (it does not clean NaN).
    pub bias: Array2<f32>,
    /// Decoded DQ (zeros when absent): OR-ed into PIXELDQ by the superbias step.
    pub dq: Array2<u32>,
    pub window: Window,
}

impl SuperbiasRef {
    /// Load `path` (REFTYPE SUPERBIAS: SCI, ERR, DQ) cut to `meta`'s subarray.
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
        let mut cf = common::open_ref(path, "SUPERBIAS")?;
        let info = common::required_ext(&mut cf, path, "SCI")?;
        common::require_ndim(path, "SCI", &info, 2)?;
        let window = common::science_window(&mut cf, common::yx(&info.shape), meta)?;
        let window = window.band(path, rows)?;
        let bias = common::read_f32_2d(&mut cf, "SCI", window)?;
        let dq = common::dq_or_zeros(&mut cf, "DQ", window)?;
        Ok(SuperbiasRef { bias, dq, window })
    }

    /// superbias step (spec §8): the bias to subtract, with NaN replaced by 0.
    pub fn subtraction_bias(&self) -> Array2<f32> {
        self.bias.mapv(|b| if b.is_nan() { 0.0 } else { b })
    }
}
