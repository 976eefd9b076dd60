//! FLAT reference for imaging (flat_field, spec §14.1).

use std::path::Path;

use ndarray::{Array2, Zip};

use super::common::{self, Window};
use crate::{dq, ExposureMeta, FramesError, Result};

/// A flat cut to the science subarray, as stored.
#[derive(Debug, Clone)]
pub struct FlatRef {
    pub data: Array2<f32>,
    /// Decoded DQ (zeros when absent).
    pub dq: Array2<u32>,
    /// ERR (zeros when absent: the model default).
    pub err: Array2<f32>,
    pub window: Window,
}

/// What flat_field applies (spec §14.1 step 2).
#[derive(Debug, Clone)]
pub struct FlatPrep {
    /// The divisor: the flat with 1.0 wherever the prepared DQ has DO_NOT_USE.
    pub flat: Array2<f32>,
    /// Flags OR-ed into the science DQ.
    pub dq: Array2<u32>,
    pub err: Array2<f32>,
}

/// Result of loading a flat: flat_field is SKIPPED when the reference is smaller than the
/// science data.
#[derive(Debug, Clone)]
pub enum FlatLoad {
    Ready(FlatRef),
    Skipped { reason: String },
}

impl FlatRef {
    /// Load `path` (REFTYPE FLAT: SCI, ERR, DQ) cut to `meta`'s subarray.
    pub fn load(path: &Path, meta: &ExposureMeta) -> Result<FlatLoad> {
        let mut cf = common::open_ref(path, "FLAT")?;
        let info = common::required_ext(&mut cf, path, "SCI")?;
        common::require_ndim(path, "SCI", &info, 2)?;
        let (ry, rx) = common::yx(&info.shape);
        if meta.subsize1 > rx || meta.subsize2 > ry {
            return Ok(FlatLoad::Skipped {
                reason: format!(
                    "flat {ry}x{rx} is smaller than the science {}x{}",
                    meta.subsize2, meta.subsize1
                ),
            });
        }
        let window = common::science_window(&mut cf, (ry, rx), meta)?;
        let data = common::read_f32_2d(&mut cf, "SCI", window)?;
        let dq = common::dq_or_zeros(&mut cf, "DQ", window)?;
        let err = match common::ext_info(&mut cf, "ERR")? {
            Some(e) => {
                common::require_ndim(path, "ERR", &e, 2)?;
                if common::yx(&e.shape) != (ry, rx) {
                    return Err(FramesError::invalid(
                        path,
                        format!("ERR shape {:?} differs from SCI {:?}", e.shape, info.shape),
                    ));
                }
                common::read_f32_2d(&mut cf, "ERR", window)?
            }
            None => Array2::zeros((window.ny, window.nx)),
        };
        Ok(FlatLoad::Ready(FlatRef {
            data,
            dq,
            err,
            window,
        }))
    }

    /// Spec §14.1 step 2: `DQ |= DO_NOT_USE|NO_FLAT_FIELD` where the flat is NaN or 0;
    /// `DQ |= DO_NOT_USE` where DQ has NO_FLAT_FIELD; flat = 1 wherever DQ has DO_NOT_USE.
    pub fn prepare(&self) -> FlatPrep {
        let mut flat = self.data.clone();
        let mut fdq = self.dq.clone();
        Zip::from(&mut flat).and(&mut fdq).for_each(|f, d| {
            if f.is_nan() || *f == 0.0 {
                *d |= dq::DO_NOT_USE | dq::NO_FLAT_FIELD;
            }
            if *d & dq::NO_FLAT_FIELD != 0 {
                *d |= dq::DO_NOT_USE;
            }
            if *d & dq::DO_NOT_USE != 0 {
                *f = 1.0;
            }
        });
        FlatPrep {
            flat,
            dq: fdq,
            err: self.err.clone(),
        }
    }
}
