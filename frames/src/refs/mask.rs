//! MASK reference (dq_init, spec §6): the bad-pixel mask OR-ed into PIXELDQ, and its DO_NOT_USE
//! bit copied into every group of GROUPDQ.

use std::path::Path;

use ndarray::Array2;

use super::common::{self, Window};
use crate::{dq, ExposureMeta, Result};

/// A mask reference cut to the science subarray.
#[derive(Debug, Clone)]
pub struct MaskRef {
    /// Decoded mask flags (DQ_DEF applied), shape (ny, nx) of the science subarray.
    pub dq: Array2<u32>,
    /// Where the science subarray sits in the reference array.
    pub window: Window,
}

impl MaskRef {
    /// Load `path` (REFTYPE MASK; the primary array is `DQ`) and cut it to `meta`'s subarray.
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
        let mut cf = common::open_ref(path, "MASK")?;
        let info = common::required_ext(&mut cf, path, "DQ")?;
        common::require_ndim(path, "DQ", &info, 2)?;
        let window = common::science_window(&mut cf, common::yx(&info.shape), meta)?;
        let window = window.band(path, rows)?;
        let dq = common::dq_or_zeros(&mut cf, "DQ", window)?;
        Ok(MaskRef { dq, window })
    }

    /// dq_init: the flags to OR into PIXELDQ (the whole mask).
    pub fn pixeldq(&self) -> &Array2<u32> {
        &self.dq
    }

    /// dq_init: the flags to OR into every group of GROUPDQ (`mask & DO_NOT_USE`).
    pub fn groupdq(&self) -> Array2<u8> {
        self.dq.mapv(|v| (v & dq::DO_NOT_USE) as u8)
    }
}
