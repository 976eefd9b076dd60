//! LINEARITY reference (spec §9): polynomial coefficients per pixel, optional inverse
//! coefficients, and the DQ.

use std::path::Path;

use ndarray::{Array2, Array3};

use super::common::{self, Window};
use crate::{dq, ExposureMeta, FramesError, Result};

/// A linearity reference cut to the science subarray, as stored.
#[derive(Debug, Clone)]
pub struct LinearityRef {
    /// COEFFS, (ncoeff, ny, nx): corrected = Σ c_k raw^k.
    pub coeffs: Array3<f32>,
    /// INV_COEFFS, same shape, when present.
    pub inv_coeffs: Option<Array3<f32>>,
    /// Decoded DQ (zeros when absent).
    pub dq: Array2<u32>,
    pub window: Window,
}

/// Coefficients ready for the per-pixel kernel (stcal `prepare_coefficients`).
#[derive(Debug, Clone)]
pub struct LinearityPrep {
    pub ncoeff: usize,
    pub ny: usize,
    pub nx: usize,
    /// Pixel-major coefficients: pixel `(y, x)` owns
    /// `coeffs[(y * nx + x) * ncoeff .. + ncoeff]`, lowest order first. Bad pixels hold the
    /// benign identity `[0, 1, 0, ...]`.
    pub coeffs: Vec<f32>,
    /// Same layout for INV_COEFFS; `Some` only when the read-level path applies (INV_COEFFS
    /// present and NFRAMES > 1, spec §9).
    pub inv_coeffs: Option<Vec<f32>>,
    /// Flags to OR into PIXELDQ: the reference DQ plus NO_LIN_CORR for NaN / zero-linear-term
    /// pixels (of COEFFS, and of INV_COEFFS when used).
    pub pixeldq: Array2<u32>,
}

impl LinearityPrep {
    /// Coefficients of pixel (y, x).
    pub fn pixel(&self, y: usize, x: usize) -> &[f32] {
        let i = (y * self.nx + x) * self.ncoeff;
        &self.coeffs[i..i + self.ncoeff]
    }
}

impl LinearityRef {
    /// Load `path` (REFTYPE LINEARITY: COEFFS (ncoeff, ny, nx) f32, optional INV_COEFFS, DQ)
    /// cut to `meta`'s subarray (INV_COEFFS is cut the same way).
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
        let mut cf = common::open_ref(path, "LINEARITY")?;
        let info = common::required_ext(&mut cf, path, "COEFFS")?;
        common::require_ndim(path, "COEFFS", &info, 3)?;
        let ncoeff = info.shape[0];
        if ncoeff < 2 {
            return Err(FramesError::invalid(
                path,
                format!("COEFFS has {ncoeff} coefficient planes; at least 2 are needed"),
            ));
        }
        let window = common::science_window(&mut cf, common::yx(&info.shape), meta)?;
        let window = window.band(path, rows)?;
        let coeffs = common::read_f32_3d(&mut cf, "COEFFS", 0..ncoeff, window)?;
        let inv_coeffs = match common::ext_info(&mut cf, "INV_COEFFS")? {
            None => None,
            Some(inv) => {
                common::require_ndim(path, "INV_COEFFS", &inv, 3)?;
                if common::yx(&inv.shape) != common::yx(&info.shape) || inv.shape[0] < 2 {
                    return Err(FramesError::invalid(
                        path,
                        format!(
                            "INV_COEFFS shape {:?} does not match COEFFS {:?}",
                            inv.shape, info.shape
                        ),
                    ));
                }
                Some(common::read_f32_3d(
                    &mut cf,
                    "INV_COEFFS",
                    0..inv.shape[0],
                    window,
                )?)
            }
        };
        let dq = common::dq_or_zeros(&mut cf, "DQ", window)?;
        Ok(LinearityRef {
            coeffs,
            inv_coeffs,
            dq,
            window,
        })
    }

    /// Spec §9 / stcal `prepare_coefficients`, in stcal's order:
    /// 1. PIXELDQ |= reference DQ;
    /// 2. pixels flagged NO_LIN_CORR in the reference DQ get benign coefficients (no new flag:
    ///    they already carry it);
    /// 3. then pixels with any NaN coefficient get benign coefficients **and** NO_LIN_CORR;
    /// 4. then pixels whose linear term `c[1] == 0` get benign coefficients **and** NO_LIN_CORR.
    ///
    /// When the read-level path applies (INV_COEFFS present and `meta.nframes > 1`), the inverse
    /// coefficients go through the same three tests with the same reference DQ, adding their
    /// NO_LIN_CORR flags to the same PIXELDQ.
    pub fn prepare(&self, meta: &ExposureMeta) -> LinearityPrep {
        let (ncoeff, ny, nx) = self.coeffs.dim();
        let mut pixeldq = self.dq.clone();
        let coeffs = prepare_set(&self.coeffs, &self.dq, &mut pixeldq);
        let inv_coeffs = match &self.inv_coeffs {
            Some(inv) if meta.nframes > 1 => Some(prepare_set(inv, &self.dq, &mut pixeldq)),
            _ => None,
        };
        LinearityPrep {
            ncoeff,
            ny,
            nx,
            coeffs,
            inv_coeffs,
            pixeldq,
        }
    }
}

/// One coefficient set, made pixel-major with bad pixels replaced (see `prepare`).
fn prepare_set(c: &Array3<f32>, lin_dq: &Array2<u32>, pixeldq: &mut Array2<u32>) -> Vec<f32> {
    let (n, ny, nx) = c.dim();
    let mut out = vec![0f32; n * ny * nx];
    for y in 0..ny {
        for x in 0..nx {
            let px = &mut out[(y * nx + x) * n..(y * nx + x + 1) * n];
            for (k, v) in px.iter_mut().enumerate() {
                *v = c[[k, y, x]];
            }
            let benign = |px: &mut [f32]| {
                px.fill(0.0);
                px[1] = 1.0;
            };
            if lin_dq[[y, x]] & dq::NO_LIN_CORR != 0 {
                benign(px);
            }
            if px.iter().any(|v| v.is_nan()) {
                benign(px);
                pixeldq[[y, x]] |= dq::NO_LIN_CORR;
            }
            if px[1] == 0.0 {
                benign(px);
                pixeldq[[y, x]] |= dq::NO_LIN_CORR;
            }
        }
    }
    out
}
