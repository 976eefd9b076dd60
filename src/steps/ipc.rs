//! ipc: interpixel capacitance correction (`jwst/ipc/ipc_corr.py`, jwst 3.0.0).
//!
//! Every group of every integration is convolved in place with the IPC deconvolution kernel
//! of the reference file, either one small 2-D kernel `(KY, KX)` for the whole frame or a 4-D
//! kernel `(KY, KX, NY, NX)`, one kernel per pixel. What the official step does, exactly:
//!
//! * Only science pixels change. The reference-pixel border is taken from the subarray
//!   keywords, not from DQ: `bottom = max(0, 4 − (SUBSTRT2−1))`, `top = max(0, SUBSTRT2−1 +
//!   SUBSIZE2 − 2044)`, likewise `left`/`right` with SUBSTRT1/SUBSIZE1 (MIRI: no top or
//!   bottom rows, `left = max(0, 4 − (SUBSTRT1−1))`, `right = max(0, SUBSTRT1−1 + SUBSIZE1 −
//!   1028)`). Reference pixels keep their values, and wherever the kernel reaches a reference
//!   pixel or leaves the frame it sees 0.0 (a NaN reference pixel does not spread).
//! * The output at science pixel (y, x) is a float32 sum started at 0.0 and built in the
//!   official order: the kernel's cells in row-major order (`j` outer, `i` inner) except the
//!   middle cell `(KY/2, KX/2)`, then the middle cell last. Cell (j, i) multiplies the science
//!   value at `(y + KY−1−j − KY/2, x + KX−1−i − KX/2)` (a true convolution: the kernel is
//!   flipped); the middle cell multiplies (y, x) itself (for even kernel sizes this is not the
//!   flipped position — the official quirk is kept). Each product is rounded to float32, then
//!   added and rounded again (numpy `part = k * temp; out += part`, no fused multiply-add).
//! * The 4-D kernel's weights are taken at the output pixel: `kernel[j, i, y, x]` in the
//!   science frame's own coordinates (the loader cuts the subarray out of the reference).
//! * ERR, PIXELDQ and GROUPDQ are untouched; the step runs after saturation (whose thresholds
//!   see the values before IPC) and before superbias. ZEROFRAME is not corrected.
//!
//! The kernel reaches at most [`Ipc::halo`] pixels in every direction, so a driver that
//! corrects a tile needs that many more rows and columns of input around it.

use std::ops::Range;

use frames::refs::IpcKernel;
use frames::ExposureMeta;

/// Reference-pixel rows/columns at each edge of the frame, as the official step counts them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefBorder {
    pub bottom: usize,
    pub top: usize,
    pub left: usize,
    pub right: usize,
}

impl RefBorder {
    /// `get_num_ref_pixels` of the official step (from SUBSTRT1/2 and SUBSIZE1/2).
    pub fn of(meta: &ExposureMeta) -> RefBorder {
        let x0 = meta.substrt1 as i64 - 1;
        let y0 = meta.substrt2 as i64 - 1;
        let (xs, ys) = (meta.subsize1 as i64, meta.subsize2 as i64);
        let pos = |v: i64| v.max(0) as usize;
        if meta.instrument == "MIRI" {
            RefBorder {
                bottom: 0,
                top: 0,
                left: pos(4 - x0),
                right: pos(x0 + xs - 1028),
            }
        } else {
            RefBorder {
                bottom: pos(4 - y0),
                top: pos(y0 + ys - 2044),
                left: pos(4 - x0),
                right: pos(x0 + xs - 2044),
            }
        }
    }
}

/// A rectangle of frame pixels: rows `y0..y1`, columns `x0..x1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rect {
    pub y0: usize,
    pub y1: usize,
    pub x0: usize,
    pub x1: usize,
}

impl Rect {
    pub fn rows(&self) -> usize {
        self.y1.saturating_sub(self.y0)
    }
    pub fn cols(&self) -> usize {
        self.x1.saturating_sub(self.x0)
    }
    fn intersect(&self, rows: &Range<usize>, cols: &Range<usize>) -> Rect {
        Rect {
            y0: self.y0.max(rows.start),
            y1: self.y1.min(rows.end),
            x0: self.x0.max(cols.start),
            x1: self.x1.min(cols.end),
        }
    }
}

/// One kernel cell in summation order: its index `j * KX + i` and the offset of the science
/// value it multiplies.
#[derive(Debug, Clone, Copy)]
struct Term {
    cell: usize,
    dy: isize,
    dx: isize,
}

#[derive(Debug, Clone)]
enum Weights {
    /// `KY * KX` weights.
    Uniform(Vec<f32>),
    /// `[cell][y][x]` weights of the science frame (`KY * KX * NY * NX`).
    PerPixel(Vec<f32>),
}

/// Reusable buffers of [`Ipc::correct`].
#[derive(Debug, Default)]
pub struct IpcScratch {
    padded: Vec<f32>,
    acc: Vec<f32>,
}

/// The IPC correction of one exposure: kernel, summation order and science region.
#[derive(Debug, Clone)]
pub struct Ipc {
    ny: usize,
    nx: usize,
    /// Science rows and columns (empty when the reference border covers the frame).
    rows: Range<usize>,
    cols: Range<usize>,
    /// Rows/columns the kernel reaches below/above (`hy`) and left/right (`hx`).
    hy: usize,
    hx: usize,
    terms: Vec<Term>,
    weights: Weights,
}

impl Ipc {
    /// The correction of an `ny × nx` frame described by `meta` with `kernel` (as loaded by
    /// `frames::refs::IpcRef`, cut to the subarray). Errors: an empty kernel, a 4-D kernel
    /// that does not cover the frame, and IRS2 frames (more than 2048 rows or columns), whose
    /// official path this port does not implement.
    pub fn new(
        kernel: &IpcKernel,
        meta: &ExposureMeta,
        ny: usize,
        nx: usize,
    ) -> Result<Ipc, String> {
        if ny > 2048 || nx > 2048 {
            return Err(format!(
                "{ny}x{nx} frames are IRS2 data; the IPC correction of IRS2 data is not implemented"
            ));
        }
        let (ky, kx, weights) = match kernel {
            IpcKernel::Uniform(k) => {
                let (ky, kx) = k.dim();
                (ky, kx, Weights::Uniform(k.iter().copied().collect()))
            }
            IpcKernel::PerPixel(k) => {
                let (ky, kx, ry, rx) = k.dim();
                if (ry, rx) != (ny, nx) {
                    return Err(format!(
                        "the 4-D kernel covers {ry}x{rx} pixels, the science frame is {ny}x{nx}"
                    ));
                }
                (ky, kx, Weights::PerPixel(k.iter().copied().collect()))
            }
        };
        if ky == 0 || kx == 0 {
            return Err(format!("the kernel has shape {ky}x{kx}"));
        }
        let border = RefBorder::of(meta);
        let rows = if border.bottom + border.top < ny {
            border.bottom..ny - border.top
        } else {
            0..0
        };
        let cols = if border.left + border.right < nx {
            border.left..nx - border.right
        } else {
            0..0
        };
        let (hy, hx) = (ky / 2, kx / 2);
        let (mj, mi) = (ky / 2, kx / 2);
        let mut terms = Vec::with_capacity(ky * kx);
        for j in 0..ky {
            for i in 0..kx {
                if (j, i) != (mj, mi) {
                    terms.push(Term {
                        cell: j * kx + i,
                        dy: (ky - 1 - j) as isize - hy as isize,
                        dx: (kx - 1 - i) as isize - hx as isize,
                    });
                }
            }
        }
        terms.push(Term {
            cell: mj * kx + mi,
            dy: 0,
            dx: 0,
        });
        Ok(Ipc {
            ny,
            nx,
            rows,
            cols,
            hy,
            hx,
            terms,
            weights,
        })
    }

    /// How far (in rows or columns) the kernel reaches from the pixel it corrects.
    pub fn halo(&self) -> usize {
        self.hy.max(self.hx)
    }

    /// Whether the step changes pixel (y, x).
    pub fn is_science(&self, y: usize, x: usize) -> bool {
        self.rows.contains(&y) && self.cols.contains(&x)
    }

    /// Bytes the kernel keeps resident.
    pub fn resident_bytes(&self) -> u64 {
        4 * match &self.weights {
            Weights::Uniform(w) | Weights::PerPixel(w) => w.len() as u64,
        }
    }

    /// Correct the pixels of `target` in `plane`, which holds the frame pixels of `area`
    /// (row-major, `area.cols()` per row). Only science pixels of `target` change; they must
    /// have every science pixel within [`Self::halo`] of them inside `area` (the driver reads
    /// that margin). Pixels of `area` outside `target` keep their values.
    pub fn correct(&self, plane: &mut [f32], area: Rect, target: Rect, scratch: &mut IpcScratch) {
        let aw = area.cols();
        assert_eq!(
            plane.len(),
            area.rows() * aw,
            "ipc: plane does not match its area"
        );
        let t = target.intersect(&self.rows, &self.cols);
        let (th, tw) = (t.rows(), t.cols());
        if th == 0 || tw == 0 {
            return;
        }
        let (hy, hx) = (self.hy, self.hx);
        // The science values the kernel reaches, with 0.0 where it meets a reference pixel or
        // leaves the frame: rows t.y0−hy .. t.y1+hy, columns t.x0−hx .. t.x1+hx.
        let (ph, pw) = (th + 2 * hy, tw + 2 * hx);
        let padded = &mut scratch.padded;
        padded.clear();
        padded.resize(ph * pw, 0.0);
        let src_rows =
            (t.y0.saturating_sub(hy)).max(self.rows.start)..(t.y1 + hy).min(self.rows.end);
        let src_cols =
            (t.x0.saturating_sub(hx)).max(self.cols.start)..(t.x1 + hx).min(self.cols.end);
        assert!(
            area.y0 <= src_rows.start
                && src_rows.end <= area.y1
                && area.x0 <= src_cols.start
                && src_cols.end <= area.x1,
            "ipc: the input area {area:?} lacks the kernel's margin around {target:?}"
        );
        for y in src_rows {
            let pr = y + hy - t.y0;
            let pc = src_cols.start + hx - t.x0;
            let a = (y - area.y0) * aw + src_cols.start - area.x0;
            padded[pr * pw + pc..pr * pw + pc + src_cols.len()]
                .copy_from_slice(&plane[a..a + src_cols.len()]);
        }
        let acc = &mut scratch.acc;
        for r in 0..th {
            acc.clear();
            acc.resize(tw, 0.0);
            let y = t.y0 + r;
            for term in &self.terms {
                let start =
                    ((r + hy) as isize + term.dy) as usize * pw + (hx as isize + term.dx) as usize;
                let src = &padded[start..start + tw];
                match &self.weights {
                    Weights::Uniform(w) => {
                        let k = w[term.cell];
                        for (a, &s) in acc.iter_mut().zip(src) {
                            *a += k * s;
                        }
                    }
                    Weights::PerPixel(w) => {
                        let base = (term.cell * self.ny + y) * self.nx + t.x0;
                        for ((a, &s), &k) in acc.iter_mut().zip(src).zip(&w[base..base + tw]) {
                            *a += k * s;
                        }
                    }
                }
            }
            let o = (y - area.y0) * aw + t.x0 - area.x0;
            plane[o..o + tw].copy_from_slice(acc);
        }
    }

    /// Correct a whole frame (`ny × nx`, row-major) in place.
    pub fn correct_frame(&self, plane: &mut [f32], scratch: &mut IpcScratch) {
        let all = Rect {
            y0: 0,
            y1: self.ny,
            x0: 0,
            x1: self.nx,
        };
        self.correct(plane, all, all, scratch);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array2, Array4};

    fn meta(x0: usize, y0: usize, nx: usize, ny: usize, instrument: &str) -> ExposureMeta {
        ExposureMeta {
            instrument: instrument.into(),
            substrt1: x0,
            substrt2: y0,
            subsize1: nx,
            subsize2: ny,
            ..Default::default()
        }
    }

    /// The official algorithm written out literally: zero-padded science copy, per-cell
    /// products of the whole padded array, accumulated slice by slice in float32.
    fn official(data: &mut Array2<f32>, kernel: &IpcKernel, b: RefBorder) {
        let (sy, sx) = data.dim();
        let ny = sy as isize - (b.bottom + b.top) as isize;
        let nx = sx as isize - (b.left + b.right) as isize;
        if ny <= 0 || nx <= 0 {
            return;
        }
        let (ny, nx) = (ny as usize, nx as usize);
        let (ky, kx) = match kernel {
            IpcKernel::Uniform(k) => k.dim(),
            IpcKernel::PerPixel(k) => (k.dim().0, k.dim().1),
        };
        let (bb, tb) = (ky / 2, ky - ky / 2 - 1);
        let (lb, rb) = (kx / 2, kx - kx / 2 - 1);
        let (tny, tnx) = (ny + bb + tb, nx + lb + rb);
        let (yoff, xoff) = (b.bottom, b.left);
        let mut temp = Array2::<f32>::zeros((tny, tnx));
        for y in 0..ny {
            for x in 0..nx {
                temp[[bb + y, lb + x]] = data[[yoff + y, xoff + x]];
                data[[yoff + y, xoff + x]] = 0.0;
            }
        }
        let (mj, mi) = (ky / 2, kx / 2);
        let mut cells: Vec<(usize, usize, usize, usize)> = Vec::new();
        for j in 0..ky {
            for i in 0..kx {
                if (j, i) != (mj, mi) {
                    cells.push((j, i, ky - j - 1, kx - i - 1));
                }
            }
        }
        cells.push((mj, mi, mj, mi));
        for (j, i, js, is) in cells {
            for y in 0..ny {
                for x in 0..nx {
                    let w = match kernel {
                        IpcKernel::Uniform(k) => k[[j, i]],
                        IpcKernel::PerPixel(k) => k[[j, i, yoff + y, xoff + x]],
                    };
                    let part = w * temp[[js + y, is + x]];
                    data[[yoff + y, xoff + x]] += part;
                }
            }
        }
    }

    fn rnd(seed: &mut u64) -> f32 {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((*seed >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 0.5
    }

    fn bits(a: &[f32]) -> Vec<u32> {
        a.iter().map(|v| v.to_bits()).collect()
    }

    #[test]
    fn reference_border_as_the_official_step() {
        let b = RefBorder::of(&meta(1, 1, 2048, 16, "NIRCAM"));
        assert_eq!((b.bottom, b.top, b.left, b.right), (4, 0, 4, 4));
        let b = RefBorder::of(&meta(1, 1, 2048, 2048, "NIRCAM"));
        assert_eq!((b.bottom, b.top, b.left, b.right), (4, 4, 4, 4));
        let b = RefBorder::of(&meta(100, 2030, 64, 19, "NIRCAM"));
        assert_eq!((b.bottom, b.top, b.left, b.right), (0, 4, 0, 0));
        let b = RefBorder::of(&meta(3, 1, 1030, 1024, "MIRI"));
        assert_eq!((b.bottom, b.top, b.left, b.right), (0, 0, 2, 4));
    }

    /// Whole frames, tiles and every kernel shape (odd, even, 1-wide, 4-D) against the literal
    /// official algorithm, bit for bit, with NaN reference pixels that must not spread.
    #[test]
    fn equals_the_official_algorithm_on_frames_and_tiles() {
        let mut seed = 7u64;
        for &(ky, kx, four_d) in &[
            (3, 3, false),
            (5, 3, false),
            (2, 4, false),
            (1, 3, false),
            (1, 1, false),
            (3, 3, true),
            (4, 5, true),
        ] {
            for &(x0, y0, nx, ny) in &[(1, 1, 23, 17), (2040, 2035, 9, 14), (300, 300, 12, 11)] {
                let m = meta(x0, y0, nx, ny, "NIRCAM");
                let kernel = if four_d {
                    IpcKernel::PerPixel(Array4::from_shape_fn((ky, kx, ny, nx), |_| {
                        rnd(&mut seed) * 0.1
                    }))
                } else {
                    IpcKernel::Uniform(Array2::from_shape_fn((ky, kx), |_| rnd(&mut seed) * 0.1))
                };
                let data = Array2::from_shape_fn((ny, nx), |_| rnd(&mut seed) * 1000.0);
                let mut data = data;
                let b = RefBorder::of(&m);
                // NaN in a reference pixel (when there is one) must not reach science pixels.
                if b.left > 0 {
                    data[[ny / 2, 0]] = f32::NAN;
                }
                let mut want = data.clone();
                official(&mut want, &kernel, b);
                let ipc = Ipc::new(&kernel, &m, ny, nx).unwrap();
                let mut scratch = IpcScratch::default();

                let mut got: Vec<f32> = data.iter().copied().collect();
                ipc.correct_frame(&mut got, &mut scratch);
                let want_v: Vec<f32> = want.iter().copied().collect();
                assert_eq!(bits(&got), bits(&want_v), "{ky}x{kx} 4d={four_d} frame");

                // Tiles: read area = target ± halo, clipped to the frame.
                let h = ipc.halo();
                for (ty, tx) in [(3, 4), (1, 1), (5, 7)] {
                    for y0t in (0..ny).step_by(ty) {
                        for x0t in (0..nx).step_by(tx) {
                            let target = Rect {
                                y0: y0t,
                                y1: (y0t + ty).min(ny),
                                x0: x0t,
                                x1: (x0t + tx).min(nx),
                            };
                            let area = Rect {
                                y0: target.y0.saturating_sub(h),
                                y1: (target.y1 + h).min(ny),
                                x0: target.x0.saturating_sub(h),
                                x1: (target.x1 + h).min(nx),
                            };
                            let mut plane: Vec<f32> = Vec::new();
                            for y in area.y0..area.y1 {
                                for x in area.x0..area.x1 {
                                    plane.push(data[[y, x]]);
                                }
                            }
                            ipc.correct(&mut plane, area, target, &mut scratch);
                            for y in target.y0..target.y1 {
                                for x in target.x0..target.x1 {
                                    let v = plane[(y - area.y0) * area.cols() + x - area.x0];
                                    assert_eq!(
                                        v.to_bits(),
                                        want[[y, x]].to_bits(),
                                        "{ky}x{kx} 4d={four_d} tile {target:?} at ({y},{x})"
                                    );
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn reference_border_covering_the_frame_changes_nothing() {
        let m = meta(1, 1, 10, 3, "NIRCAM");
        let k = IpcKernel::Uniform(Array2::from_elem((3, 3), 0.5));
        let ipc = Ipc::new(&k, &m, 3, 10).unwrap();
        let mut v: Vec<f32> = (0..30).map(|i| i as f32).collect();
        let before = v.clone();
        ipc.correct_frame(&mut v, &mut IpcScratch::default());
        assert_eq!(v, before);
    }

    #[test]
    fn irs2_and_mismatched_kernels_are_refused() {
        let m = meta(1, 1, 3200, 2048, "NIRSPEC");
        let k = IpcKernel::Uniform(Array2::from_elem((3, 3), 0.1));
        assert!(Ipc::new(&k, &m, 2048, 3200).unwrap_err().contains("IRS2"));
        let m = meta(1, 1, 8, 8, "NIRCAM");
        let k = IpcKernel::PerPixel(Array4::zeros((3, 3, 8, 7)));
        assert!(Ipc::new(&k, &m, 8, 8).is_err());
    }
}
