//! READNOISE reference (jump, ramp_fit): CDS read noise in DN (spec §4, §12.1).

use std::path::Path;

use ndarray::Array2;

use super::common::{self, Window};
use crate::{ExposureMeta, Result};

/// A read-noise reference cut to the science subarray.
#[derive(Debug, Clone)]
pub struct ReadnoiseRef {
    /// CDS read noise in DN, (ny, nx), as stored (NaN kept: it makes sigma NaN downstream).
    pub readnoise: Array2<f32>,
    pub window: Window,
}

impl ReadnoiseRef {
    /// Load `path` (REFTYPE READNOISE: SCI f32) cut to `meta`'s subarray.
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
        let mut cf = common::open_ref(path, "READNOISE")?;
        let info = common::required_ext(&mut cf, path, "SCI")?;
        common::require_ndim(path, "SCI", &info, 2)?;
        let window = common::science_window(&mut cf, common::yx(&info.shape), meta)?;
        let window = window.band(path, rows)?;
        let readnoise = common::read_f32_2d(&mut cf, "SCI", window)?;
        Ok(ReadnoiseRef { readnoise, window })
    }
}
