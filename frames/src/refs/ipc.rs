//! IPC reference (ipc step, `jwst/ipc/ipc_corr.py`): a deconvolution kernel, either one small
//! 2-D kernel for the whole detector or a 4-D per-pixel kernel (kny, knx, ny, nx).

use std::path::Path;

use ndarray::{Array2, Array4};

use super::common;
use crate::{ExposureMeta, FramesError, Result};

/// The kernel, ready for the science subarray.
#[derive(Debug, Clone)]
pub enum IpcKernel {
    /// One (kny, knx) kernel (usually 3x3) for every pixel.
    Uniform(Array2<f32>),
    /// A (kny, knx, ny, nx) kernel per pixel, cut to the science subarray.
    PerPixel(Array4<f32>),
}

/// An IPC reference.
#[derive(Debug, Clone)]
pub struct IpcRef {
    pub kernel: IpcKernel,
}

impl IpcRef {
    /// Load `path` (REFTYPE IPC: SCI 2-D or 4-D f32). A 4-D kernel is cut as the official
    /// `get_ipc_slice` does: only when the science is a subarray (smaller than 2048x2048, MIRI
    /// 1032x1024), at `[.., .., SUBSTRT2−1 : +SUBSIZE2, SUBSTRT1−1 : +SUBSIZE1]` of the kernel
    /// array (its own subarray keywords are not used).
    pub fn load(path: &Path, meta: &ExposureMeta) -> Result<Self> {
        let mut cf = common::open_ref(path, "IPC")?;
        let info = common::required_ext(&mut cf, path, "SCI")?;
        match info.shape.len() {
            2 => {
                let (ky, kx) = (info.shape[0], info.shape[1]);
                let w = common::Window {
                    y0: 0,
                    x0: 0,
                    ny: ky,
                    nx: kx,
                };
                Ok(IpcRef {
                    kernel: IpcKernel::Uniform(common::read_f32_2d(&mut cf, "SCI", w)?),
                })
            }
            4 => {
                let (ky, kx, ny, nx) = (info.shape[0], info.shape[1], info.shape[2], info.shape[3]);
                let (sy, sx) = (meta.subsize2, meta.subsize1);
                let miri = meta.instrument.eq_ignore_ascii_case("MIRI");
                let is_sub = if miri {
                    sx < 1032 || sy < 1024
                } else {
                    sx < 2048 || sy < 2048
                };
                let (y0, x0) = if is_sub {
                    (meta.substrt2 - 1, meta.substrt1 - 1)
                } else {
                    (0, 0)
                };
                if y0 + sy > ny || x0 + sx > nx {
                    return Err(FramesError::invalid(
                        path,
                        format!(
                            "4-D kernel covers {ny}x{nx} pixels; the science subarray \
                             (SUBSTRT1={}, SUBSTRT2={}, {sx}x{sy}) lies outside it",
                            meta.substrt1, meta.substrt2
                        ),
                    ));
                }
                cf.require("SCI")?;
                let v = cf.read_window::<f32>(&[0, 0, y0, x0], &[ky, kx, sy, sx])?;
                let k = Array4::from_shape_vec((ky, kx, sy, sx), v)
                    .map_err(|e| FramesError::invalid(path, format!("SCI: {e}")))?;
                Ok(IpcRef {
                    kernel: IpcKernel::PerPixel(k),
                })
            }
            _ => Err(FramesError::invalid(
                path,
                format!(
                    "SCI has shape {:?}; expected a 2-D or 4-D kernel",
                    info.shape
                ),
            )),
        }
    }
}
