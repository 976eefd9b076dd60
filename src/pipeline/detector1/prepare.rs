//! Reference preparation for a Detector1 run: every reference is read once, a band of rows at a
//! time, cut to the science subarray and turned into the per-pixel arrays the kernels consume,
//! and the PIXELDQ contributions are kept apart because steps see PIXELDQ at different stages
//! (refpix sees mask | saturation | superbias flags; ramp fitting sees everything).
//!
//! The prepared arrays ([`RefArray`]) stay in memory for small frames; for large ones they go to
//! anonymous scratch files (native-endian, unlinked at creation, so nothing is left behind even
//! when the process dies) and the drivers read back only the rows or rectangles of the band or
//! tile they process (`pread`: the data sit in the page cache, not in the resident set).

use super::settings::{Detector1Settings, SavedStep};
use crate::steps::ipc::Ipc;
use crate::steps::saturation::{ReadPattern, Thresholds};
use anyhow::{bail, Context, Result};
use frames::refs::{
    DarkRef, DarkStatus, GainRef, IpcRef, LinearityRef, MaskRef, ReadnoiseRef, SaturationRef,
    SuperbiasRef,
};
use frames::ExposureMeta;
use ndarray::Array2;
use std::borrow::Cow;
use std::fs::File;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// Prepared arrays of a frame whose estimate exceeds this many bytes go to scratch files
/// (`SLOPER_REFS_IN_MEMORY_MAX` overrides it, in bytes; 0 puts every array in a file).
const IN_MEMORY_MAX: u64 = 64 << 20;

/// Bytes per pixel the estimate assumes (every array, a 5-coefficient linearity).
const ESTIMATE_PER_PIXEL: u64 = 80;

/// Rows of a reference read at once while preparing from files: about 1 MiB per float image.
const BAND_BYTES: usize = 1 << 20;

/// Plain values a [`RefArray`] may hold: stored as their native bytes in scratch files.
///
/// # Safety
/// Implementors must be plain data without padding or pointers; the only byte patterns read
/// back are those written from valid values.
pub unsafe trait RefValue: Copy + Default + Send + Sync + 'static {}
// SAFETY: plain numbers / bool (only 0 and 1 are ever written).
unsafe impl RefValue for f32 {}
unsafe impl RefValue for u32 {}
unsafe impl RefValue for bool {}

enum Store<T> {
    Mem(Vec<T>),
    File(File),
}

/// One prepared per-pixel reference array of the science frame, row-major with `per` values per
/// pixel: in memory, or in an anonymous scratch file read back a band or rectangle at a time.
pub struct RefArray<T: RefValue> {
    ny: usize,
    nx: usize,
    per: usize,
    store: Store<T>,
}

fn as_bytes<T: RefValue>(v: &[T]) -> &[u8] {
    // SAFETY: `RefValue` types are plain data without padding.
    unsafe { std::slice::from_raw_parts(v.as_ptr() as *const u8, std::mem::size_of_val(v)) }
}

/// Result of reading a prepared array back (errors name the scratch file's directory).
pub type RefResult<T> = std::result::Result<T, frames::FramesError>;

fn scratch_io(e: std::io::Error) -> frames::FramesError {
    frames::FramesError::io(
        std::env::temp_dir().join("(prepared-reference scratch file)"),
        e,
    )
}

impl<T: RefValue> RefArray<T> {
    /// An array held in memory (`values.len() == ny * nx * per`).
    pub fn from_vec(ny: usize, nx: usize, per: usize, values: Vec<T>) -> Self {
        assert_eq!(values.len(), ny * nx * per, "prepared array size");
        RefArray {
            ny,
            nx,
            per,
            store: Store::Mem(values),
        }
    }

    /// An array in a new anonymous scratch file holding `values`.
    pub fn file_backed(ny: usize, nx: usize, per: usize, values: &[T]) -> Result<Self> {
        assert_eq!(values.len(), ny * nx * per, "prepared array size");
        let mut a = Self::create(ny, nx, per, false)?;
        a.put_rows(0, values)?;
        Ok(a)
    }

    /// An all-default array, in memory or in a new anonymous scratch file.
    fn create(ny: usize, nx: usize, per: usize, in_memory: bool) -> Result<Self> {
        let n = ny * nx * per;
        let store = if in_memory {
            Store::Mem(vec![T::default(); n])
        } else {
            // Unlinked at creation (the temporary directory of the system, TMPDIR): gone when
            // the array is dropped or the process ends, however it ends.
            let f = tempfile::tempfile()
                .context("cannot create a scratch file for the prepared references")?;
            f.set_len((n * std::mem::size_of::<T>()) as u64)
                .map_err(scratch_io)?;
            Store::File(f)
        };
        Ok(RefArray { ny, nx, per, store })
    }

    /// Values per pixel.
    pub fn per(&self) -> usize {
        self.per
    }

    /// Whether the values are held in memory (else in a scratch file).
    pub fn in_memory(&self) -> bool {
        matches!(self.store, Store::Mem(_))
    }

    /// Drop the values (memory or scratch file) of an array no step reads any more.
    pub fn clear(&mut self) {
        *self = RefArray::from_vec(0, 0, self.per, Vec::new());
    }

    /// Bytes held in memory.
    pub fn resident_bytes(&self) -> u64 {
        match &self.store {
            Store::Mem(v) => std::mem::size_of_val(v.as_slice()) as u64,
            Store::File(_) => 0,
        }
    }

    fn read_at(f: &File, first: usize, out: &mut [T]) -> RefResult<()> {
        // SAFETY: `RefValue` types are plain data; the bytes read are those written from valid
        // values of the same type (the file is private to this array).
        let bytes = unsafe {
            std::slice::from_raw_parts_mut(out.as_mut_ptr() as *mut u8, std::mem::size_of_val(out))
        };
        f.read_exact_at(bytes, (first * std::mem::size_of::<T>()) as u64)
            .map_err(scratch_io)
    }

    /// The element range of rows `rows` (every column).
    fn row_span(&self, rows: Range<usize>) -> Range<usize> {
        assert!(
            rows.start <= rows.end && rows.end <= self.ny,
            "rows of a prepared array"
        );
        let w = self.nx * self.per;
        rows.start * w..rows.end * w
    }

    /// Rows `rows`, every column (borrowed when in memory).
    pub fn rows(&self, rows: Range<usize>) -> RefResult<Cow<'_, [T]>> {
        let span = self.row_span(rows);
        match &self.store {
            Store::Mem(v) => Ok(Cow::Borrowed(&v[span])),
            Store::File(f) => {
                let mut out = vec![T::default(); span.len()];
                Self::read_at(f, span.start, &mut out)?;
                Ok(Cow::Owned(out))
            }
        }
    }

    /// Rows `rows`, every column: borrowed when in memory, else read into `buf` (kept by the
    /// caller from band to band, so a band read allocates nothing).
    pub fn rows_in<'a>(&'a self, rows: Range<usize>, buf: &'a mut Vec<T>) -> RefResult<&'a [T]> {
        let span = self.row_span(rows);
        match &self.store {
            Store::Mem(v) => Ok(&v[span]),
            Store::File(f) => {
                buf.resize(span.len(), T::default());
                Self::read_at(f, span.start, buf)?;
                Ok(&buf[..])
            }
        }
    }

    /// The rectangle `rows × cols`, row-major (`per` values per pixel).
    pub fn rect(&self, rows: Range<usize>, cols: Range<usize>) -> RefResult<Vec<T>> {
        assert!(
            cols.start <= cols.end && cols.end <= self.nx,
            "columns of a prepared array"
        );
        if cols.start == 0 && cols.end == self.nx {
            return Ok(self.rows(rows)?.into_owned());
        }
        assert!(
            rows.start <= rows.end && rows.end <= self.ny,
            "rows of a prepared array"
        );
        let (w, per) = (cols.len() * self.per, self.per);
        let mut out = vec![T::default(); rows.len() * w];
        for (y, o) in rows.zip(out.chunks_exact_mut(w.max(1))) {
            let first = (y * self.nx + cols.start) * per;
            match &self.store {
                Store::Mem(v) => o.copy_from_slice(&v[first..first + w]),
                Store::File(f) => Self::read_at(f, first, o)?,
            }
        }
        Ok(out)
    }

    /// The whole array (a copy when it lives in a file).
    pub fn whole(&self) -> RefResult<Cow<'_, [T]>> {
        self.rows(0..self.ny)
    }

    /// Store rows from `y0` on (`values` holds whole rows).
    fn put_rows(&mut self, y0: usize, values: &[T]) -> RefResult<()> {
        let first = y0 * self.nx * self.per;
        assert!(first + values.len() <= self.ny * self.nx * self.per);
        match &mut self.store {
            Store::Mem(v) => v[first..first + values.len()].copy_from_slice(values),
            Store::File(f) => f
                .write_all_at(as_bytes(values), (first * std::mem::size_of::<T>()) as u64)
                .map_err(scratch_io)?,
        }
        Ok(())
    }
}

/// Saturation inputs, per pixel of the science frame.
pub struct SaturationInputs {
    pub threshold: RefArray<f32>,
    pub nosat: RefArray<bool>,
    /// The superbias as the saturation step receives it (NaN kept), for the second-group test.
    pub bias: Option<RefArray<f32>>,
    pub read_pattern: Option<ReadPattern>,
}

/// The saturation inputs of a band or rectangle of the frame (borrowed from memory or read
/// back from scratch), in the form the saturation kernel takes.
pub struct SaturationCut<'a> {
    threshold: Cow<'a, [f32]>,
    nosat: Cow<'a, [bool]>,
    bias: Option<Cow<'a, [f32]>>,
}

impl SaturationCut<'_> {
    pub fn thresholds(&self) -> Thresholds<'_> {
        Thresholds {
            threshold: &self.threshold,
            nosat: &self.nosat,
            bias: self.bias.as_deref(),
        }
    }
}

impl SaturationInputs {
    /// Rows `rows` (whole width).
    pub fn rows(&self, rows: Range<usize>) -> RefResult<SaturationCut<'_>> {
        Ok(SaturationCut {
            threshold: self.threshold.rows(rows.clone())?,
            nosat: self.nosat.rows(rows.clone())?,
            bias: self.bias.as_ref().map(|b| b.rows(rows)).transpose()?,
        })
    }

    /// Rows `rows` (whole width), read into `bufs` when the inputs live in scratch files.
    pub fn rows_in<'a>(
        &'a self,
        rows: Range<usize>,
        bufs: &'a mut SaturationBufs,
    ) -> RefResult<SaturationCut<'a>> {
        let SaturationBufs {
            threshold,
            nosat,
            bias,
        } = bufs;
        Ok(SaturationCut {
            threshold: Cow::Borrowed(self.threshold.rows_in(rows.clone(), threshold)?),
            nosat: Cow::Borrowed(self.nosat.rows_in(rows.clone(), nosat)?),
            bias: match &self.bias {
                Some(b) => Some(Cow::Borrowed(b.rows_in(rows, bias)?)),
                None => None,
            },
        })
    }

    /// The rectangle `rows × cols`.
    pub fn rect(&self, rows: Range<usize>, cols: Range<usize>) -> RefResult<SaturationCut<'_>> {
        let cut = |a: &RefArray<f32>| a.rect(rows.clone(), cols.clone()).map(Cow::Owned);
        Ok(SaturationCut {
            threshold: cut(&self.threshold)?,
            nosat: Cow::Owned(self.nosat.rect(rows.clone(), cols.clone())?),
            bias: self.bias.as_ref().map(cut).transpose()?,
        })
    }
}

/// Buffers for [`SaturationInputs::rows_in`], kept from band to band.
#[derive(Default)]
pub struct SaturationBufs {
    threshold: Vec<f32>,
    nosat: Vec<bool>,
    bias: Vec<f32>,
}

/// Linearity coefficients ready for the kernels (stcal `prepare_coefficients`), pixel-major.
pub struct LinearityInputs {
    /// COEFFS: `ncoeff` values per pixel, lowest order first; bad pixels hold `[0, 1, 0, ...]`.
    pub coeffs: RefArray<f32>,
    pub ncoeff: usize,
    /// INV_COEFFS in the same layout, when the read-level path applies (NFRAMES > 1).
    pub inv_coeffs: Option<RefArray<f32>>,
}

/// Everything prepared from the reference files.
pub struct Prepared {
    pub ny: usize,
    pub nx: usize,
    pub group_scale: Option<f32>,
    /// dq_init mask (0 where dq_init is skipped).
    pub mask: RefArray<u32>,
    pub saturation: Option<SaturationInputs>,
    /// The IPC correction (None: the step is skipped).
    pub ipc: Option<Ipc>,
    /// Bias to subtract (NaN → 0).
    pub superbias: Option<RefArray<f32>>,
    pub linearity: Option<LinearityInputs>,
    /// The dark (memory-mapped; its DQ and AVDRKCUR are merged below, not kept).
    pub dark: Option<DarkRef>,
    /// Per-pixel read noise and gain for jump when they come from other files than
    /// ramp_fit's (`None`: the same arrays; see [`Prepared::jump_gain`]).
    pub jump_gain_own: Option<RefArray<f32>>,
    pub jump_readnoise_own: Option<RefArray<f32>>,
    /// The NaN-ignoring median of jump's gain (computed when jump runs).
    pub jump_gain_median: Option<f32>,
    pub gain: RefArray<f32>,
    pub readnoise: RefArray<f32>,
    pub gain_factor: Option<f64>,
    pub average_dark_current: RefArray<f32>,
    /// PIXELDQ as refpix sees it: mask | saturation | superbias.
    pub pixeldq_refpix: RefArray<u32>,
    /// PIXELDQ after linearity and dark (before jump's bad-gain flags).
    pub pixeldq_pre_jump: RefArray<u32>,
    /// PIXELDQ after each step up to dark_current whose own result is saved
    /// (`Detector1Settings::step_saves`), whole frames in memory.
    pub pixeldq_after: Vec<(SavedStep, Vec<u32>)>,
    /// Step status keywords and reference keywords for the products.
    pub cal_steps: Vec<(String, String)>,
    pub ref_files: Vec<(String, String)>,
}

fn flat<T: Clone>(a: &Array2<T>) -> Vec<T> {
    a.iter().cloned().collect()
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| p.display().to_string())
}

fn or_into(dst: &mut [u32], src: &Array2<u32>) {
    for (d, s) in dst.iter_mut().zip(src.iter()) {
        *d |= *s;
    }
}

/// Rows per band when the prepared arrays live in scratch files: about 1 MiB of each float
/// image (`SLOPER_REFS_BAND_ROWS` overrides it, for tests of the band-wise paths).
pub fn band_rows(ny: usize, nx: usize) -> usize {
    std::env::var("SLOPER_REFS_BAND_ROWS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(BAND_BYTES / (4 * nx.max(1)))
        .clamp(1, ny.max(1))
}

/// Whether the prepared arrays of an `npix`-pixel frame stay in memory.
fn keep_in_memory(npix: usize) -> bool {
    let max = std::env::var("SLOPER_REFS_IN_MEMORY_MAX")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(IN_MEMORY_MAX);
    (npix as u64).saturating_mul(ESTIMATE_PER_PIXEL) <= max
}

impl Prepared {
    /// Jump's gain (ramp_fit's when the same file).
    pub fn jump_gain(&self) -> &RefArray<f32> {
        self.jump_gain_own.as_ref().unwrap_or(&self.gain)
    }

    /// Jump's read noise (ramp_fit's when the same file).
    pub fn jump_readnoise(&self) -> &RefArray<f32> {
        self.jump_readnoise_own.as_ref().unwrap_or(&self.readnoise)
    }

    /// Bytes the prepared references keep resident for the whole run: the arrays held in
    /// memory, the IPC weights and the saved steps' PIXELDQ copies. (Arrays in scratch files
    /// and the memory-mapped dark are read a band at a time by the drivers, which count those
    /// bands in their own working memory.)
    pub fn resident_bytes(&self) -> u64 {
        let mut b = self.mask.resident_bytes()
            + self.gain.resident_bytes()
            + self.readnoise.resident_bytes()
            + self.average_dark_current.resident_bytes()
            + self.pixeldq_refpix.resident_bytes()
            + self.pixeldq_pre_jump.resident_bytes();
        for a in [
            &self.jump_gain_own,
            &self.jump_readnoise_own,
            &self.superbias,
        ]
        .into_iter()
        .flatten()
        {
            b += a.resident_bytes();
        }
        if let Some(s) = &self.saturation {
            b += s.threshold.resident_bytes()
                + s.nosat.resident_bytes()
                + s.bias.as_ref().map_or(0, RefArray::resident_bytes);
        }
        if let Some(l) = &self.linearity {
            b += l.coeffs.resident_bytes()
                + l.inv_coeffs.as_ref().map_or(0, RefArray::resident_bytes);
        }
        b += self
            .pixeldq_after
            .iter()
            .map(|(_, v)| 4 * v.len() as u64)
            .sum::<u64>();
        b + self.ipc.as_ref().map_or(0, Ipc::resident_bytes)
    }

    /// Bytes per pixel of a tile that the exact driver's copies of the references take while
    /// it processes the tile (each array's rectangle, the linearity coefficients twice: pixel-
    /// and plane-major, and the float64 dark of every group, cached for the tile's rows and
    /// cut to its columns).
    pub fn tile_bytes_per_pixel(&self, ngroups: usize) -> u64 {
        let mut b = 4 * 8; // mask, PIXELDQ, jump gain / read noise, gain, read noise, dark current
        if let Some(s) = &self.saturation {
            b += 4 + 1 + if s.bias.is_some() { 4 } else { 0 };
        }
        if self.superbias.is_some() {
            b += 4;
        }
        if let Some(l) = &self.linearity {
            b += 8 * l.ncoeff + l.inv_coeffs.as_ref().map_or(0, |i| 4 * i.per());
        }
        if self.dark.is_some() {
            b += 2 * 8 * ngroups;
        }
        b as u64
    }

    /// Prepare for a driver without the read-level linearity correction (the online driver):
    /// a LINEARITY reference with INV_COEFFS on an exposure with NFRAMES > 1 is refused.
    pub fn load(s: &Detector1Settings, meta: &ExposureMeta) -> Result<Prepared> {
        Self::load_with(s, meta, false)
    }

    /// Prepare for the exact driver, which applies the read-level linearity correction
    /// (INV_COEFFS with NFRAMES > 1) to each integration's whole ramp.
    pub fn load_exact(s: &Detector1Settings, meta: &ExposureMeta) -> Result<Prepared> {
        Self::load_with(s, meta, true)
    }

    fn load_with(
        s: &Detector1Settings,
        meta: &ExposureMeta,
        read_level_linearity: bool,
    ) -> Result<Prepared> {
        let (ny, nx) = (meta.subsize2, meta.subsize1);
        let npix = ny * nx;
        let mem = keep_in_memory(npix);
        let mut cal_steps: Vec<(String, String)> = Vec::new();
        let mut ref_files: Vec<(String, String)> = Vec::new();
        let status = |on: bool| if on { "COMPLETE" } else { "SKIPPED" }.to_string();
        let refname =
            |p: &Option<PathBuf>| p.as_deref().map(file_name).unwrap_or_else(|| "N/A".into());

        let group_scale = if s.group_scale {
            crate::steps::group_scale::factor(meta.nframes, meta.frame_divisor)
        } else {
            None
        };
        cal_steps.push(("S_GRPSCL".into(), status(group_scale.is_some())));
        cal_steps.push(("S_DQINIT".into(), status(s.mask.is_some())));
        ref_files.push(("R_MASK".into(), refname(&s.mask)));
        cal_steps.push(("S_SATURA".into(), status(s.saturation.is_some())));
        ref_files.push((
            "R_SATURA".into(),
            refname(&s.saturation.as_ref().map(|x| x.0.clone())),
        ));
        cal_steps.push(("S_IPC".into(), status(s.ipc.is_some())));
        ref_files.push(("R_IPC".into(), refname(&s.ipc)));
        cal_steps.push(("S_SUPERB".into(), status(s.superbias.is_some())));
        ref_files.push(("R_SUPERB".into(), refname(&s.superbias)));
        cal_steps.push(("S_LINEAR".into(), status(s.linearity.is_some())));
        ref_files.push(("R_LINEAR".into(), refname(&s.linearity)));
        // (S_DARK once the dark is opened: a skipped dark step says so.)

        let jump_gain_path = s.jump_gain.as_ref().filter(|p| *p != &s.gain);
        let jump_rn_path = s.jump_readnoise.as_ref().filter(|p| *p != &s.readnoise);
        let create_f32 = |per: usize| RefArray::<f32>::create(ny, nx, per, mem);
        let mut mask = RefArray::<u32>::create(ny, nx, 1, mem)?;
        let mut saturation = match &s.saturation {
            Some((_, params)) => Some(SaturationInputs {
                threshold: create_f32(1)?,
                nosat: RefArray::create(ny, nx, 1, mem)?,
                bias: match &s.saturation_bias {
                    Some(_) => Some(create_f32(1)?),
                    None => None,
                },
                read_pattern: params
                    .use_readpatt
                    .then(|| ReadPattern::new(meta.nframes, meta.ngroups)),
            }),
            None => None,
        };
        let mut superbias = match &s.superbias {
            Some(_) => Some(create_f32(1)?),
            None => None,
        };
        let mut linearity: Option<LinearityInputs> = None;
        let mut ipc: Option<Ipc> = None;
        let mut dark: Option<DarkRef> = None;
        let mut gain = create_f32(1)?;
        let mut readnoise = create_f32(1)?;
        let mut jump_gain_own = match jump_gain_path {
            Some(_) => Some(create_f32(1)?),
            None => None,
        };
        let mut jump_readnoise_own = match jump_rn_path {
            Some(_) => Some(create_f32(1)?),
            None => None,
        };
        let mut average_dark_current = create_f32(1)?;
        let mut pixeldq_refpix = RefArray::<u32>::create(ny, nx, 1, mem)?;
        let mut pixeldq_pre_jump = RefArray::<u32>::create(ny, nx, 1, mem)?;
        let mut gain_factor = None;
        let mut pixeldq_after: Vec<(SavedStep, Vec<u32>)> = [
            SavedStep::DqInit,
            SavedStep::Saturation,
            SavedStep::Ipc,
            SavedStep::Superbias,
            SavedStep::Refpix,
            SavedStep::Linearity,
            SavedStep::DarkCurrent,
        ]
        .into_iter()
        .filter(|st| s.step_saves.iter().any(|x| x.step == *st))
        .map(|st| (st, Vec::with_capacity(npix)))
        .collect();
        let keep_after = |steps: &[SavedStep], dq: &[u32], out: &mut Vec<(SavedStep, Vec<u32>)>| {
            for (st, v) in out.iter_mut() {
                if steps.contains(st) {
                    v.extend_from_slice(dq);
                }
            }
        };

        // Band by band (the whole frame at once when the arrays stay in memory); the files are
        // opened in the order of the steps, so the first bad reference is the one reported.
        let band = if mem { ny.max(1) } else { band_rows(ny, nx) };
        for y0 in (0..ny.max(1)).step_by(band) {
            let y1 = (y0 + band).min(ny);
            let first = y0 == 0;
            let rows = Some(y0..y1);
            let n = (y1 - y0) * nx;
            let mut pixeldq = match &s.mask {
                Some(p) => flat(MaskRef::load_rows(p, meta, rows.clone())?.pixeldq()),
                None => vec![0u32; n],
            };
            mask.put_rows(y0, &pixeldq)?;
            keep_after(&[SavedStep::DqInit], &pixeldq, &mut pixeldq_after);

            if let (Some((p, _)), Some(sat)) = (&s.saturation, saturation.as_mut()) {
                let prep = SaturationRef::load_rows(p, meta, rows.clone())?.prepare();
                or_into(&mut pixeldq, &prep.pixeldq);
                if let (Some(bp), Some(b)) = (&s.saturation_bias, sat.bias.as_mut()) {
                    b.put_rows(
                        y0,
                        &flat(&SuperbiasRef::load_rows(bp, meta, rows.clone())?.bias),
                    )?;
                }
                sat.threshold.put_rows(y0, &flat(&prep.threshold))?;
                sat.nosat.put_rows(y0, &flat(&prep.no_sat_check))?;
            }
            keep_after(
                &[SavedStep::Saturation, SavedStep::Ipc],
                &pixeldq,
                &mut pixeldq_after,
            );
            if first {
                if let Some(p) = &s.ipc {
                    let r = IpcRef::load(p, meta)?;
                    ipc = Some(
                        Ipc::new(&r.kernel, meta, ny, nx)
                            .map_err(|e| anyhow::anyhow!("{}: ipc: {e}", p.display()))?,
                    );
                }
            }

            if let (Some(p), Some(b)) = (&s.superbias, superbias.as_mut()) {
                let r = SuperbiasRef::load_rows(p, meta, rows.clone())?;
                or_into(&mut pixeldq, &r.dq);
                b.put_rows(y0, &flat(&r.subtraction_bias()))?;
            }
            pixeldq_refpix.put_rows(y0, &pixeldq)?;
            keep_after(
                &[SavedStep::Superbias, SavedStep::Refpix],
                &pixeldq,
                &mut pixeldq_after,
            );

            if let Some(p) = &s.linearity {
                let r = LinearityRef::load_rows(p, meta, rows.clone())?;
                let prep = r.prepare(meta);
                drop(r);
                if first {
                    if prep.inv_coeffs.is_some() && !read_level_linearity {
                        bail!(
                            "{}: INV_COEFFS with NFRAMES > 1 selects the read-level linearity correction, which needs each integration's whole ramp: it is implemented by --mode=exact only",
                            p.display()
                        );
                    }
                    if prep.inv_coeffs.is_some() && meta.ngroups < 2 {
                        // stcal indexes the second group of every ramp (IndexError on one group).
                        bail!(
                            "{}: INV_COEFFS with NFRAMES > 1 selects the read-level linearity correction, which needs at least 2 groups per integration (NGROUPS = {}); the official step fails on this input too",
                            p.display(),
                            meta.ngroups
                        );
                    }
                    let ninv = prep
                        .inv_coeffs
                        .as_ref()
                        .map(|v| v.len() / (prep.ny * prep.nx).max(1));
                    linearity = Some(LinearityInputs {
                        coeffs: create_f32(prep.ncoeff)?,
                        ncoeff: prep.ncoeff,
                        inv_coeffs: ninv.map(create_f32).transpose()?,
                    });
                }
                let l = linearity.as_mut().expect("made with the first band");
                if l.inv_coeffs.is_some() != prep.inv_coeffs.is_some() {
                    bail!("{}: INV_COEFFS differs between row bands", p.display());
                }
                or_into(&mut pixeldq, &prep.pixeldq);
                l.coeffs.put_rows(y0, &prep.coeffs)?;
                if let (Some(dst), Some(src)) = (l.inv_coeffs.as_mut(), &prep.inv_coeffs) {
                    if src.len() != dst.per() * n {
                        bail!("{}: INV_COEFFS has another shape than COEFFS", p.display());
                    }
                    dst.put_rows(y0, src)?;
                }
            }
            keep_after(&[SavedStep::Linearity], &pixeldq, &mut pixeldq_after);

            if first {
                if let Some((p, _)) = &s.dark {
                    let d = DarkRef::load_banded(p, meta)?;
                    if !matches!(d.status(), DarkStatus::Skipped { .. }) {
                        dark = Some(d);
                    }
                }
            }
            match (&dark, &s.dark) {
                (Some(d), Some((_, avg))) => {
                    or_into(&mut pixeldq, &d.dq_rows(y0..y1)?);
                    average_dark_current
                        .put_rows(y0, &flat(&d.average_dark_current_rows(*avg, y0..y1)?))?;
                }
                _ => average_dark_current.put_rows(y0, &vec![0f32; n])?,
            }
            keep_after(&[SavedStep::DarkCurrent], &pixeldq, &mut pixeldq_after);

            let g = GainRef::load_rows(&s.gain, meta, rows.clone())?;
            if first {
                gain_factor = g.gainfact;
            }
            gain.put_rows(y0, &flat(&g.gain))?;
            drop(g);
            readnoise.put_rows(
                y0,
                &flat(&ReadnoiseRef::load_rows(&s.readnoise, meta, rows.clone())?.readnoise),
            )?;
            if let (Some(p), Some(a)) = (jump_gain_path, jump_gain_own.as_mut()) {
                a.put_rows(y0, &flat(&GainRef::load_rows(p, meta, rows.clone())?.gain))?;
            }
            if let (Some(p), Some(a)) = (jump_rn_path, jump_readnoise_own.as_mut()) {
                let r = ReadnoiseRef::load_rows(p, meta, rows.clone())?;
                a.put_rows(y0, &flat(&r.readnoise))?;
            }
            pixeldq_pre_jump.put_rows(y0, &pixeldq)?;
        }
        cal_steps.push(("S_DARK".into(), status(dark.is_some())));
        ref_files.push((
            "R_DARK".into(),
            refname(&s.dark.as_ref().map(|x| x.0.clone())),
        ));
        ref_files.push(("R_GAIN".into(), file_name(&s.gain)));
        ref_files.push(("R_READNO".into(), file_name(&s.readnoise)));

        let gain_factor = match &s.gain_scale {
            Some(p) if p == &s.gain => gain_factor,
            Some(p) => GainRef::load_rows(p, meta, Some(0..ny.min(1)))?.gainfact,
            None => None,
        };

        let jump_gain_median = match &s.jump {
            Some(_) => {
                let jg = jump_gain_own.as_ref().unwrap_or(&gain);
                let mut scratch = Vec::new();
                Some(crate::steps::jump::stats::nanmedian_f32(
                    &jg.whole()?,
                    &mut scratch,
                ))
            }
            None => None,
        };
        Ok(Prepared {
            ny,
            nx,
            group_scale,
            mask,
            saturation,
            ipc,
            superbias,
            linearity,
            dark,
            jump_gain_own,
            jump_readnoise_own,
            jump_gain_median,
            gain,
            readnoise,
            gain_factor,
            average_dark_current,
            pixeldq_refpix,
            pixeldq_pre_jump,
            pixeldq_after,
            cal_steps,
            ref_files,
        })
    }
}
