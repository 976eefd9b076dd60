//! AREA reference (photom, spec §14.2 step 1): relative pixel-area map and PIXAR_SR/PIXAR_A2.

use std::path::Path;

use ndarray::Array2;

use super::common::{self, Window};
use crate::{ExposureMeta, FramesError, Result};

/// A pixel-area map cut to the science subarray.
#[derive(Debug, Clone)]
pub struct AreaRef {
    /// Relative pixel area, (ny, nx): copied to the product's AREA extension.
    pub area: Array2<f32>,
    /// PIXAR_SR / PIXAR_A2 of the primary header, when present.
    pub pixar_sr: Option<f64>,
    pub pixar_a2: Option<f64>,
    pub window: Window,
}

impl AreaRef {
    /// Load `path` (REFTYPE AREA: SCI f32). As the official `save_area_info`, the map is cut at
    /// `[SUBSTRT2−1 : +SUBSIZE2, SUBSTRT1−1 : +SUBSIZE1]` of the array whatever its own subarray
    /// keywords say (the map is taken to start at detector pixel (1, 1)); a cut outside the
    /// array is an error.
    pub fn load(path: &Path, meta: &ExposureMeta) -> Result<Self> {
        let mut cf = common::open_ref(path, "AREA")?;
        let pixar_sr = common::primary_f64(&mut cf, "PIXAR_SR")?;
        let pixar_a2 = common::primary_f64(&mut cf, "PIXAR_A2")?;
        let info = common::required_ext(&mut cf, path, "SCI")?;
        common::require_ndim(path, "SCI", &info, 2)?;
        let (ry, rx) = common::yx(&info.shape);
        if meta.substrt1 < 1 || meta.substrt2 < 1 {
            return Err(FramesError::invalid(
                path,
                "science SUBSTRT1/SUBSTRT2 must be >= 1",
            ));
        }
        let window = Window {
            y0: meta.substrt2 - 1,
            x0: meta.substrt1 - 1,
            ny: meta.subsize2,
            nx: meta.subsize1,
        };
        if window.y0 + window.ny > ry || window.x0 + window.nx > rx {
            return Err(FramesError::invalid(
                path,
                format!(
                    "area map is {ry}x{rx}; the science subarray (SUBSTRT1={}, SUBSTRT2={}, \
                     {}x{}) does not fit in it",
                    meta.substrt1, meta.substrt2, meta.subsize1, meta.subsize2
                ),
            ));
        }
        let area = common::read_f32_2d(&mut cf, "SCI", window)?;
        Ok(AreaRef {
            area,
            pixar_sr,
            pixar_a2,
            window,
        })
    }
}
