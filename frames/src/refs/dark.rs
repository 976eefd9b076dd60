//! DARK reference for the near-IR detectors (spec §10), memory-mapped.
//!
//! A full-frame dark holds one plane per frame for many frames (GBs), so its SCI cube stays in
//! the page cache: [`DarkRef::fill_group_band`] produces the dark of one *science* group for a
//! band of rows, already selected / frame-averaged / extrapolated exactly as stcal's
//! `dark_sub.do_correction_data` builds it. Darks are never cut to a subarray: the dark must
//! have the science frame shape exactly.
//!
//! Numerics reproduced (numpy 2 semantics):
//! * Extrapolation (science needs more frames than the dark has) happens first. It adds
//!   `k = ceil((frames_s − frames_d + Gd) / (Nd + Gd))` planes `D[-1] + j·(D[-1] − D[-2])`; the
//!   difference is float32, the product and sum are **float64** (int64 × float32 → float64), and
//!   numpy's concatenate then turns the whole cube into float64.
//! * NaN → 0 next.
//! * Averaging (science NFRAMES/GROUPGAP differ from the dark's): science group `g` averages dark
//!   planes `g·(Ns+Gs) .. g·(Ns+Gs)+Ns` by a sequential sum then one division, in the cube's
//!   dtype (float32, or float64 after extrapolation), stored as float32. With Ns = 1 the plane
//!   is copied.
//! * Subtraction `x -= dark` runs in float64 when the dark is float64 (direct path after
//!   extrapolation), else in float32. Both are exactly `((x as f64) − d) as f32` with the values
//!   returned here, since rounding a float64 difference of float32 values to float32 equals the
//!   float32 difference.

use std::fs::File;
use std::path::{Path, PathBuf};

use memmap2::Mmap;
use ndarray::{Array2, ArrayViewMut2};

use super::common::{self, Window};
use crate::{ExposureMeta, FramesError, Result};

/// Whether the dark_current step runs (spec §10 step 2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DarkStatus {
    /// The dark is subtracted.
    Apply,
    /// Dark NFRAMES > science NFRAMES or dark GROUPGAP > science GROUPGAP: the step is
    /// `SKIPPED` and the data are untouched (the DQ is not OR-ed either).
    Skipped { reason: String },
}

/// How science group `g` is made from dark planes.
#[derive(Debug, Clone, PartialEq)]
enum GroupSource {
    /// One plane, used as is.
    Plane(usize),
    /// Mean over planes `start..end` (end clipped to the available planes, as numpy slicing
    /// does; an empty range gives NaN, numpy's mean of an empty slice).
    Mean { start: usize, end: usize },
}

/// A memory-mapped near-IR dark reference, planned for one science exposure.
pub struct DarkRef {
    path: PathBuf,
    // The map keeps the file's pages; `data_offset` is where SCI's big-endian f32 data begin.
    map: Mmap,
    data_offset: usize,
    /// Planes (dark groups) stored in SCI.
    pub stored_planes: usize,
    /// Frame shape (ny, nx) — equal to the science subarray's.
    pub ny: usize,
    pub nx: usize,
    /// Dark NFRAMES and GROUPGAP (primary header).
    pub nframes: usize,
    pub groupgap: usize,
    /// Planes added by extrapolation (0 when the dark is long enough).
    pub extrapolated_planes: usize,
    /// Decoded DQ (zeros when absent), OR-ed into PIXELDQ when the step applies.
    pub dq: Array2<u32>,
    /// The AVDRKCUR 2-D extension, when present.
    pub avdrkcur_map: Option<Array2<f32>>,
    /// The AVDRKCUR primary-header scalar (e-/s), when present.
    pub avdrkcur_scalar: Option<f64>,
    status: DarkStatus,
    groups: Vec<GroupSource>,
    avdrkcur_use: AvdrkcurUse,
}

/// Which source the average dark current comes from (without the step parameter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AvdrkcurUse {
    /// The AVDRKCUR image (present, non-zero sum, the science frame's shape).
    Map,
    /// Zeros (AVDRKCUR present with a non-zero sum but another shape).
    Zeros,
    /// The AVDRKCUR header scalar, else 0.
    Scalar,
}

impl std::fmt::Debug for DarkRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DarkRef")
            .field("path", &self.path)
            .field("stored_planes", &self.stored_planes)
            .field("shape", &(self.ny, self.nx))
            .field("nframes", &self.nframes)
            .field("groupgap", &self.groupgap)
            .field("extrapolated_planes", &self.extrapolated_planes)
            .field("status", &self.status)
            .field("groups", &self.groups)
            .finish()
    }
}

impl DarkRef {
    /// Open and map `path` (REFTYPE DARK: SCI (ngroups_d, ny, nx) f32, DQ (ny, nx), optional
    /// AVDRKCUR (ny, nx); NFRAMES and GROUPGAP in the primary header) and plan it for `meta`.
    pub fn load(path: &Path, meta: &ExposureMeta) -> Result<Self> {
        Self::load_with(path, meta, true)
    }

    /// [`load`](Self::load) without keeping the DQ and AVDRKCUR images in memory: they are read
    /// back from the file a band of rows at a time ([`dq_rows`](Self::dq_rows),
    /// [`average_dark_current_rows`](Self::average_dark_current_rows)). `dq` is then empty and
    /// `avdrkcur_map` `None`; the AVDRKCUR image is read whole once here (its sum decides
    /// whether it is used) and dropped.
    pub fn load_banded(path: &Path, meta: &ExposureMeta) -> Result<Self> {
        Self::load_with(path, meta, false)
    }

    fn load_with(path: &Path, meta: &ExposureMeta, whole: bool) -> Result<Self> {
        let mut cf = common::open_ref(path, "DARK")?;
        let nframes = positive_key(&mut cf, "NFRAMES")?;
        let groupgap = cf
            .key_i64("GROUPGAP")?
            .ok_or_else(|| FramesError::invalid(path, "missing GROUPGAP keyword"))?;
        if groupgap < 0 {
            return Err(FramesError::invalid(
                path,
                format!("GROUPGAP = {groupgap} is negative"),
            ));
        }
        let groupgap = groupgap as usize;
        let avdrkcur_scalar = cf.key_f64("AVDRKCUR")?;

        let info = common::required_ext(&mut cf, path, "SCI")?;
        if info.shape.len() == 4 {
            return Err(FramesError::invalid(
                path,
                "4-D SCI (MIRI dark): only near-IR 3-D darks are supported",
            ));
        }
        common::require_ndim(path, "SCI", &info, 3)?;
        let (stored_planes, ny, nx) = (info.shape[0], info.shape[1], info.shape[2]);
        if (ny, nx) != meta.frame_shape() {
            return Err(FramesError::invalid(
                path,
                format!(
                    "dark frames are {ny}x{nx} but the science frames are {}x{}; darks are not \
                     cut to a subarray and must match exactly",
                    meta.subsize2, meta.subsize1
                ),
            ));
        }
        if info.bitpix != -32 || info.bzero != 0.0 || info.bscale != 1.0 {
            return Err(FramesError::invalid(
                path,
                format!(
                    "SCI must be unscaled float32 (BITPIX=-32) to be memory-mapped; found \
                     BITPIX={} BZERO={} BSCALE={}",
                    info.bitpix, info.bzero, info.bscale
                ),
            ));
        }
        if stored_planes == 0 {
            return Err(FramesError::invalid(path, "SCI has no planes"));
        }
        let (_, data_start, data_end) = cf.hdu_offsets()?;
        // Checked: a hostile NAXIS3 must give an error, not an arithmetic overflow.
        let nbytes = stored_planes
            .checked_mul(ny)
            .and_then(|v| v.checked_mul(nx))
            .and_then(|v| v.checked_mul(4))
            .filter(|&v| (v as u64).checked_add(data_start).is_some())
            .ok_or_else(|| {
                FramesError::invalid(path, "SCI NAXISn are too large (the data size overflows)")
            })?;
        if data_end < data_start + nbytes as u64 {
            return Err(FramesError::invalid(
                path,
                "SCI data unit is shorter than its NAXISn",
            ));
        }
        let whole_window = Window {
            y0: 0,
            x0: 0,
            ny,
            nx,
        };
        let dq = if whole {
            common::dq_or_zeros(&mut cf, "DQ", whole_window)?
        } else {
            // Checked now (layout, DQ_DEF), read band by band later.
            let mut one = whole_window;
            one.ny = ny.min(1);
            common::read_dq_2d(&mut cf, "DQ", one)?;
            Array2::zeros((0, 0))
        };
        let avdrkcur_map = match common::ext_info(&mut cf, "AVDRKCUR")? {
            None => None,
            Some(a) => {
                common::require_ndim(path, "AVDRKCUR", &a, 2)?;
                let (ay, ax) = common::yx(&a.shape);
                let w = Window {
                    y0: 0,
                    x0: 0,
                    ny: ay,
                    nx: ax,
                };
                Some(common::read_f32_2d(&mut cf, "AVDRKCUR", w)?)
            }
        };
        let avdrkcur_use = match &avdrkcur_map {
            Some(m) if numpy_sum_f32(m.iter().copied()) != 0.0 => {
                if m.dim() == (ny, nx) {
                    AvdrkcurUse::Map
                } else {
                    AvdrkcurUse::Zeros
                }
            }
            _ => AvdrkcurUse::Scalar,
        };
        let avdrkcur_map = if whole { avdrkcur_map } else { None };
        drop(cf);

        let file = File::open(path).map_err(|e| FramesError::io(path, e))?;
        let len = file.metadata().map_err(|e| FramesError::io(path, e))?.len();
        if len < data_start + nbytes as u64 {
            return Err(FramesError::invalid(
                path,
                "file is shorter than its SCI data unit",
            ));
        }
        // SAFETY: the map is read-only and private to this struct. References are inputs that
        // nothing modifies while sloper runs; every read below is bounds-checked against the
        // data-unit size verified above (file length >= data_start + nbytes).
        let map = unsafe { Mmap::map(&file) }.map_err(|e| FramesError::io(path, e))?;

        let mut dark = DarkRef {
            path: path.to_path_buf(),
            map,
            data_offset: data_start as usize,
            stored_planes,
            ny,
            nx,
            nframes,
            groupgap,
            extrapolated_planes: 0,
            dq,
            avdrkcur_map,
            avdrkcur_scalar,
            avdrkcur_use,
            status: DarkStatus::Apply,
            groups: Vec::new(),
        };
        dark.plan(meta)?;
        Ok(dark)
    }

    /// Spec §10 steps 1, 2 and 4 for this science exposure.
    fn plan(&mut self, meta: &ExposureMeta) -> Result<()> {
        let (ns, gs, ng_s) = (meta.nframes, meta.groupgap, meta.ngroups);
        let (nd, gd, ng_d) = (self.nframes, self.groupgap, self.stored_planes);
        if ns == 0 || ng_s == 0 {
            return Err(FramesError::invalid(
                &self.path,
                format!("science NFRAMES={ns} NGROUPS={ng_s}: nothing to subtract a dark from"),
            ));
        }
        let frames_s = ng_s * ns + (ng_s - 1) * gs;
        let frames_d = ng_d * nd + (ng_d - 1) * gd;
        if frames_s > frames_d {
            let extra = (frames_s - frames_d + gd).div_ceil(nd + gd);
            if ng_d < 2 {
                return Err(FramesError::invalid(
                    &self.path,
                    format!(
                        "the dark has {ng_d} plane(s) but must be extrapolated by {extra}: \
                         extrapolation needs at least 2 planes"
                    ),
                ));
            }
            self.extrapolated_planes = extra;
        }
        if nd > ns || gd > gs {
            self.status = DarkStatus::Skipped {
                reason: format!(
                    "dark NFRAMES={nd} GROUPGAP={gd} exceed science NFRAMES={ns} GROUPGAP={gs}"
                ),
            };
            return Ok(());
        }
        let total = self.total_planes();
        let mut groups = Vec::with_capacity(ng_s);
        if ns == nd && gs == gd {
            for g in 0..ng_s {
                groups.push(GroupSource::Plane(g));
            }
        } else {
            let mut start = 0;
            for _ in 0..ng_s {
                let end = start + ns;
                groups.push(if ns == 1 {
                    GroupSource::Plane(start)
                } else {
                    GroupSource::Mean {
                        start: start.min(total),
                        end: end.min(total),
                    }
                });
                start = end + gs;
            }
        }
        for (g, src) in groups.iter().enumerate() {
            if let GroupSource::Plane(p) = src {
                if *p >= total {
                    return Err(FramesError::invalid(
                        &self.path,
                        format!(
                            "science group {g} needs dark plane {p}, but the dark has only \
                             {total} (after extrapolation)"
                        ),
                    ));
                }
            }
        }
        self.groups = groups;
        Ok(())
    }

    /// Whether the dark_current step applies or is SKIPPED.
    pub fn status(&self) -> &DarkStatus {
        &self.status
    }

    /// Stored plus extrapolated planes.
    pub fn total_planes(&self) -> usize {
        self.stored_planes + self.extrapolated_planes
    }

    /// True when every value [`fill_group_band`](Self::fill_group_band) returns is exactly a
    /// float32 (no extrapolation, or extrapolated planes that are only averaged): the kernel may
    /// then subtract in float32 directly.
    pub fn values_are_f32(&self) -> bool {
        self.extrapolated_planes == 0
            || self
                .groups
                .iter()
                .all(|g| matches!(g, GroupSource::Mean { .. }))
    }

    /// Stored plane `p`, row `y`, as f32 values (NaN kept).
    fn stored_row(&self, p: usize, y: usize) -> impl Iterator<Item = f32> + '_ {
        let start = self.data_offset + ((p * self.ny + y) * self.nx) * 4;
        self.map[start..start + self.nx * 4]
            .chunks_exact(4)
            .map(|b| f32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// Plane `p` (stored or extrapolated), row `y`, into `out` (len nx), as the cube's values
    /// before NaN cleaning: stored planes exactly, extrapolated ones in float64.
    fn plane_row(&self, p: usize, y: usize, out: &mut [f64]) {
        let n = self.stored_planes;
        if p < n {
            for (o, v) in out.iter_mut().zip(self.stored_row(p, y)) {
                *o = v as f64;
            }
        } else {
            let j = (p + 1 - n) as f64;
            for ((o, last), prev) in out
                .iter_mut()
                .zip(self.stored_row(n - 1, y))
                .zip(self.stored_row(n - 2, y))
            {
                let rate = last - prev; // float32, as numpy computes arr[-1] - arr[-2]
                *o = j * rate as f64 + last as f64;
            }
        }
    }

    /// Fill `out` (rows `y0 .. y0 + out.nrows()`, all `nx` columns) with the dark to subtract
    /// from science group `group`: subtract as `((x as f64) - d) as f32`. NaN are already 0.
    /// Errors if the step is SKIPPED, or the group/band is out of range.
    pub fn fill_group_band(
        &self,
        group: usize,
        y0: usize,
        mut out: ArrayViewMut2<f64>,
    ) -> Result<()> {
        if let DarkStatus::Skipped { reason } = &self.status {
            return Err(FramesError::invalid(
                &self.path,
                format!("dark step skipped: {reason}"),
            ));
        }
        let rows = out.nrows();
        let src = self.groups.get(group).ok_or_else(|| {
            FramesError::invalid(&self.path, format!("science group {group} out of range"))
        })?;
        if out.ncols() != self.nx || y0 + rows > self.ny {
            return Err(FramesError::invalid(
                &self.path,
                format!(
                    "row band {y0}..{} x {} columns does not fit the {}x{} dark",
                    y0 + rows,
                    out.ncols(),
                    self.ny,
                    self.nx
                ),
            ));
        }
        let extrapolated = self.extrapolated_planes > 0;
        let mut buf = vec![0f64; self.nx];
        let mut acc64 = vec![0f64; self.nx];
        let mut acc32 = vec![0f32; self.nx];
        let clean = |v: f64| if v.is_nan() { 0.0 } else { v };
        for r in 0..rows {
            let y = y0 + r;
            let mut row = out.row_mut(r);
            match *src {
                GroupSource::Plane(p) => {
                    self.plane_row(p, y, &mut buf);
                    for (o, v) in row.iter_mut().zip(&buf) {
                        *o = clean(*v);
                    }
                }
                GroupSource::Mean { start, end } => {
                    let count = end - start;
                    if extrapolated {
                        acc64.fill(0.0);
                        for p in start..end {
                            self.plane_row(p, y, &mut buf);
                            for (a, v) in acc64.iter_mut().zip(&buf) {
                                *a += clean(*v);
                            }
                        }
                        for (o, a) in row.iter_mut().zip(&acc64) {
                            *o = ((*a / count as f64) as f32) as f64;
                        }
                    } else {
                        acc32.fill(0.0);
                        for p in start..end {
                            for (a, v) in acc32.iter_mut().zip(self.stored_row(p, y)) {
                                *a += if v.is_nan() { 0.0 } else { v };
                            }
                        }
                        for (o, a) in row.iter_mut().zip(&acc32) {
                            *o = (*a / count as f32) as f64;
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Drop the mapped pages read so far from the process's resident set (they stay in the page
    /// cache and are read again on the next access): a streaming caller keeps memory flat.
    pub fn release_pages(&self) {
        // SAFETY: MADV_DONTNEED on a read-only file mapping only unmaps clean pages.
        let _ = unsafe {
            self.map
                .unchecked_advise(memmap2::UncheckedAdvice::DontNeed)
        };
    }

    /// Convenience: the dark for `group`, rows `y0..y0+rows`, as a new array.
    pub fn group_band(&self, group: usize, y0: usize, rows: usize) -> Result<Array2<f64>> {
        let mut out = Array2::zeros((rows, self.nx));
        self.fill_group_band(group, y0, out.view_mut())?;
        Ok(out)
    }

    /// Spec §10 step 7: the average dark current (e-/s) ramp fitting uses for its Poisson
    /// term. In priority order: the step parameter `average_dark_current` when given (broadcast);
    /// else the AVDRKCUR 2-D extension if present and its (float32, pairwise, as numpy) sum is
    /// not 0 — ignored with zeros when its shape differs from the science frame, as the official
    /// step does after its warning; else the AVDRKCUR header scalar; else 0. Values are float32.
    pub fn average_dark_current(&self, step_param: Option<f64>) -> Array2<f32> {
        let shape = (self.ny, self.nx);
        if let Some(v) = step_param {
            return Array2::from_elem(shape, v as f32);
        }
        match &self.avdrkcur_map {
            Some(m) if numpy_sum_f32(m.iter().copied()) != 0.0 => {
                if m.dim() == shape {
                    m.clone()
                } else {
                    Array2::zeros(shape)
                }
            }
            _ => Array2::from_elem(shape, self.avdrkcur_scalar.unwrap_or(0.0) as f32),
        }
    }

    /// Rows `rows` of [`average_dark_current`](Self::average_dark_current), read from the
    /// file when the dark was loaded with [`load_banded`](Self::load_banded).
    pub fn average_dark_current_rows(
        &self,
        step_param: Option<f64>,
        rows: std::ops::Range<usize>,
    ) -> Result<Array2<f32>> {
        let shape = (rows.len(), self.nx);
        if let Some(v) = step_param {
            return Ok(Array2::from_elem(shape, v as f32));
        }
        Ok(match self.avdrkcur_use {
            AvdrkcurUse::Map => match &self.avdrkcur_map {
                Some(m) => m.slice(ndarray::s![rows, ..]).to_owned(),
                None => {
                    let mut cf = super::cfits::CFits::open(&self.path)?;
                    let w = self.rows_window(rows)?;
                    common::read_f32_2d(&mut cf, "AVDRKCUR", w)?
                }
            },
            AvdrkcurUse::Zeros => Array2::zeros(shape),
            AvdrkcurUse::Scalar => {
                Array2::from_elem(shape, self.avdrkcur_scalar.unwrap_or(0.0) as f32)
            }
        })
    }

    /// Rows `rows` of the decoded DQ (zeros when absent), read from the file when the dark was
    /// loaded with [`load_banded`](Self::load_banded).
    pub fn dq_rows(&self, rows: std::ops::Range<usize>) -> Result<Array2<u32>> {
        if self.dq.dim() == (self.ny, self.nx) {
            let w = self.rows_window(rows.clone())?;
            return Ok(self.dq.slice(ndarray::s![w.y0..w.y0 + w.ny, ..]).to_owned());
        }
        let mut cf = super::cfits::CFits::open(&self.path)?;
        common::dq_or_zeros(&mut cf, "DQ", self.rows_window(rows)?)
    }

    fn rows_window(&self, rows: std::ops::Range<usize>) -> Result<Window> {
        Window {
            y0: 0,
            x0: 0,
            ny: self.ny,
            nx: self.nx,
        }
        .band(&self.path, Some(rows))
    }

    /// The file this dark was mapped from.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn positive_key(cf: &mut super::cfits::CFits, key: &str) -> Result<usize> {
    match cf.key_i64(key)? {
        Some(v) if v >= 1 => Ok(v as usize),
        Some(v) => Err(FramesError::invalid(
            cf.path(),
            format!("{key} = {v} must be >= 1"),
        )),
        None => Err(FramesError::invalid(
            cf.path(),
            format!("missing {key} keyword"),
        )),
    }
}

/// numpy's float32 `np.sum` of a contiguous array: pairwise summation with 8-way unrolled
/// blocks of at most 128 elements (`pairwise_sum` in numpy's loops).
pub(crate) fn numpy_sum_f32(values: impl Iterator<Item = f32>) -> f32 {
    let v: Vec<f32> = values.collect();
    pairwise(&v)
}

fn pairwise(a: &[f32]) -> f32 {
    let n = a.len();
    if n < 8 {
        let mut res = 0f32;
        for &x in a {
            res += x;
        }
        res
    } else if n <= 128 {
        let mut r = [0f32; 8];
        r.copy_from_slice(&a[..8]);
        let mut i = 8;
        while i < n - (n % 8) {
            for k in 0..8 {
                r[k] += a[i + k];
            }
            i += 8;
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for &x in &a[i..] {
            res += x;
        }
        res
    } else {
        let mut n2 = n / 2;
        n2 -= n2 % 8;
        pairwise(&a[..n2]) + pairwise(&a[n2..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairwise_small_and_large() {
        assert_eq!(pairwise(&[1.0, 2.0, 3.0]), 6.0);
        let v: Vec<f32> = (0..1000).map(|i| i as f32 * 0.5).collect();
        assert_eq!(pairwise(&v), 249750.0);
        assert_eq!(pairwise(&[]), 0.0);
    }
}
