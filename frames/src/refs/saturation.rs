//! SATURATION reference (spec §7): thresholds in raw DN (bias included) and their DQ.

use std::path::Path;

use ndarray::{Array2, Zip};

use super::common::{self, Window};
use crate::{dq, ExposureMeta, Result};

/// `ATOD_LIMIT + 1`: the threshold given to pixels that must never saturate.
pub const NO_SAT_THRESHOLD: f32 = 65536.0;

/// A saturation reference cut to the science subarray, as stored (NaN thresholds kept).
#[derive(Debug, Clone)]
pub struct SaturationRef {
    /// Threshold in raw DN, (ny, nx).
    pub threshold: Array2<f32>,
    /// Decoded DQ, (ny, nx); zeros when the file has none.
    pub dq: Array2<u32>,
    pub window: Window,
}

/// What the saturation kernel consumes (stcal `flag_saturated_pixels` preparation).
#[derive(Debug, Clone)]
pub struct SaturationPrep {
    /// Thresholds with every no-check pixel set to [`NO_SAT_THRESHOLD`].
    pub threshold: Array2<f32>,
    /// Pixels never tested: DQ has NO_SAT_CHECK, or the threshold is NaN. (In the backward
    /// "diluted" pass their dilution factor is forced to 1.)
    pub no_sat_check: Array2<bool>,
    /// Flags to OR into PIXELDQ: the whole reference DQ plus NO_SAT_CHECK where T is NaN.
    pub pixeldq: Array2<u32>,
}

impl SaturationRef {
    /// Load `path` (REFTYPE SATURATION: SCI f32 + DQ) cut to `meta`'s subarray.
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
        let mut cf = common::open_ref(path, "SATURATION")?;
        let info = common::required_ext(&mut cf, path, "SCI")?;
        common::require_ndim(path, "SCI", &info, 2)?;
        let window = common::science_window(&mut cf, common::yx(&info.shape), meta)?;
        let window = window.band(path, rows)?;
        let threshold = common::read_f32_2d(&mut cf, "SCI", window)?;
        let dq = common::dq_or_zeros(&mut cf, "DQ", window)?;
        Ok(SaturationRef {
            threshold,
            dq,
            window,
        })
    }

    /// Spec §7 "Preparation" 2 and 4: `nosat = (DQ & NO_SAT_CHECK) == NO_SAT_CHECK or isnan(T)`;
    /// NO_SAT_CHECK added to the DQ where T is NaN; `T[nosat] = 65536`.
    pub fn prepare(&self) -> SaturationPrep {
        let mut threshold = self.threshold.clone();
        let mut pixeldq = self.dq.clone();
        let mut no_sat_check = Array2::from_elem(self.threshold.raw_dim(), false);
        Zip::from(&mut threshold)
            .and(&mut pixeldq)
            .and(&mut no_sat_check)
            .for_each(|t, d, nosat| {
                let nan = t.is_nan();
                if nan {
                    *d |= dq::NO_SAT_CHECK;
                }
                *nosat = nan || (*d & dq::NO_SAT_CHECK) == dq::NO_SAT_CHECK;
                if *nosat {
                    *t = NO_SAT_THRESHOLD;
                }
            });
        SaturationPrep {
            threshold,
            no_sat_check,
            pixeldq,
        }
    }
}
