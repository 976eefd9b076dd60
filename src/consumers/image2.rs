//! The image2 subset (flat_field -> photom) as a plane stage: each integration is calibrated
//! as it arrives, written to `_calints.fits` (or `_cal.fits` for a 2-D `_rate`), and handed on
//! to the next stage. Memory: the flat, the area map and one plane.

use super::flat_field::FlatField;
use super::offload::Offload;
use super::photom::Photom;
use super::source::ProductInfo;
use crate::config::{RunConfig, Value};
use frames::refs::area::AreaRef;
use frames::refs::flat::{FlatLoad, FlatRef};
use frames::refs::photom::PhotomRef;
use frames::write::{CalBand, CalWriter, CalintsWriter, ProductHeader};
use ndarray::ArrayView2;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use stream::plane::{PlaneError, PlaneSink, RatePlane};

/// Typed image2 options from a parsed command line.
#[derive(Debug, Clone, Default)]
pub struct Image2Settings {
    /// FLAT reference; `None` when the step is skipped or the reference is N/A.
    pub flat: Option<PathBuf>,
    pub flat_inverse: bool,
    /// PHOTOM reference; `None` when skipped or N/A.
    pub photom: Option<PathBuf>,
    /// AREA reference; `None` for N/A.
    pub area: Option<PathBuf>,
    pub photom_inverse: bool,
    pub apply_time_correction: bool,
    pub output_dir: PathBuf,
    pub quiet: bool,
}

/// Where a reference comes from: `--steps.S.override_T`, else `--refs DIR/ref_T.fits`.
/// `Ok(None)`: "N/A". Missing: an error naming the option to give.
pub(crate) fn reference(
    cfg: &RunConfig,
    step: &str,
    reftype: &str,
) -> Result<Option<PathBuf>, String> {
    match cfg.override_ref(step, reftype) {
        Some(v) if v.eq_ignore_ascii_case("N/A") => Ok(None),
        Some(v) => Ok(Some(PathBuf::from(v))),
        None => {
            if let Some(dir) = cfg.extra("refs") {
                let p = Path::new(dir).join(format!("ref_{reftype}.fits"));
                if p.is_file() {
                    return Ok(Some(p));
                }
            }
            Err(format!(
                "step {step} needs a {reftype} reference: give --steps.{step}.override_{reftype}=PATH \
                 (or --refs DIR holding ref_{reftype}.fits, or N/A); sloper has no CRDS access"
            ))
        }
    }
}

pub(crate) fn output_dir(cfg: &RunConfig) -> PathBuf {
    match cfg.pipeline_param("output_dir") {
        Value::Str(s) => PathBuf::from(s),
        _ => PathBuf::from("."),
    }
}

impl Image2Settings {
    pub fn from_config(cfg: &RunConfig) -> Result<Image2Settings, String> {
        for s in ["bkg_subtract", "resample"] {
            // Official image2 runs them only for imaging with backgrounds / 2-D imaging types;
            // sloper never does, and says so when asked for them explicitly.
            if cfg
                .steps
                .get(s)
                .and_then(|m| m.get("skip"))
                .is_some_and(|v| v.as_bool() == Some(false))
            {
                return Err(format!(
                    "step {s} is not implemented by sloper (remove --steps.{s}.skip=false)"
                ));
            }
        }
        let flat = if cfg.skip("flat_field") {
            None
        } else {
            match cfg.step_param("flat_field", "user_supplied_flat") {
                Value::Str(s) => Some(PathBuf::from(s)),
                _ => reference(cfg, "flat_field", "flat")?,
            }
        };
        let (photom, area) = if cfg.skip("photom") {
            (None, None)
        } else {
            if !cfg.step_param("photom", "source_type").is_none() {
                return Err("--steps.photom.source_type only matters for spectroscopy; sloper's photom is imaging-only".into());
            }
            let p = reference(cfg, "photom", "photom")?;
            let a = match cfg.override_ref("photom", "area") {
                Some(v) if v.eq_ignore_ascii_case("N/A") => None,
                Some(v) => Some(PathBuf::from(v)),
                None => cfg
                    .extra("refs")
                    .map(|d| Path::new(d).join("ref_area.fits"))
                    .filter(|p| p.is_file()),
            };
            (p, a)
        };
        let b = |s: &str, k: &str| cfg.step_param(s, k).as_bool().unwrap_or(false);
        Ok(Image2Settings {
            flat,
            flat_inverse: b("flat_field", "inverse"),
            photom,
            area,
            photom_inverse: b("photom", "inverse"),
            apply_time_correction: b("photom", "apply_time_correction"),
            output_dir: output_dir(cfg),
            quiet: cfg.extra("quiet").is_some(),
        })
    }
}

/// flat_field + photom, prepared for one exposure.
#[derive(Debug, Clone)]
pub struct Image2 {
    pub flat: Option<FlatField>,
    /// Why flat_field did not run, when it did not.
    pub flat_skipped: Option<String>,
    pub photom: Option<Photom>,
    /// Why photom did not calibrate the data, when it did not (spectroscopic exposure, or no
    /// PHOTOM row for the filter/pupil).
    pub photom_note: Option<String>,
    pub header: ProductHeader,
}

impl Image2 {
    /// Load the references for the exposure `info` describes. `header_input`: the file whose
    /// primary/SCI headers and INT_TIMES the products copy (the rate product, or the raw file
    /// when planes arrive from an in-process Detector1).
    pub fn prepare(
        s: &Image2Settings,
        info: &ProductInfo,
        header_input: &Path,
    ) -> anyhow::Result<Image2> {
        let meta = &info.meta;
        let mut cal_steps = Vec::new();
        let mut ref_files = Vec::new();
        let mut flat_skipped = None;
        let flat = match &s.flat {
            Some(p) => match FlatRef::load(p, meta)? {
                FlatLoad::Ready(f) => {
                    ref_files.push(("R_FLAT".to_string(), abs(p)));
                    cal_steps.push(("S_FLAT".to_string(), "COMPLETE".to_string()));
                    Some(FlatField::new(&f.prepare(), s.flat_inverse))
                }
                FlatLoad::Skipped { reason } => {
                    cal_steps.push(("S_FLAT".to_string(), "SKIPPED".to_string()));
                    flat_skipped = Some(reason);
                    None
                }
            },
            None => {
                cal_steps.push(("S_FLAT".to_string(), "SKIPPED".to_string()));
                flat_skipped = Some("flat_field skipped or its reference is N/A".into());
                None
            }
        };
        for k in ["R_DFLAT", "R_FFLAT", "R_SFLAT"] {
            ref_files.push((k.to_string(), "N/A".to_string()));
        }
        let mut photom_note = None;
        let spectroscopic = super::tso3::is_spectroscopic(&meta.exp_type);
        let photom = match &s.photom {
            Some(_) if spectroscopic => {
                // The official photom calibrates a grism/spectroscopic TSO after extract_1d,
                // with a wavelength-dependent table; the imaging conversion does not apply.
                cal_steps.push(("S_PHOTOM".to_string(), "SKIPPED".to_string()));
                photom_note = Some(format!(
                    "photom skipped: {} is spectroscopic (the official photom calibrates its \
                     extracted spectra); the 2-D data stay in DN/s",
                    meta.exp_type
                ));
                None
            }
            Some(p) => {
                let pref = PhotomRef::load(p)?;
                let area = match &s.area {
                    Some(a) => Some(AreaRef::load(a, meta)?),
                    None => None,
                };
                let ph = Photom::new(
                    p,
                    &pref,
                    area.as_ref(),
                    meta,
                    info.expmid,
                    s.photom_inverse,
                    s.apply_time_correction,
                )?;
                if ph.row.is_none() {
                    photom_note = Some(format!(
                        "photom: no row of {} matches FILTER {} PUPIL {}; the data stay in DN/s \
                         (as the official step, which only warns)",
                        p.display(),
                        meta.filter.as_deref().unwrap_or("?"),
                        meta.pupil.as_deref().unwrap_or("?")
                    ));
                }
                ref_files.push(("R_PHOTOM".to_string(), abs(p)));
                ref_files.push((
                    "R_AREA".to_string(),
                    s.area.as_deref().map_or("N/A".to_string(), abs),
                ));
                cal_steps.push(("S_PHOTOM".to_string(), "COMPLETE".to_string()));
                Some(ph)
            }
            None => {
                cal_steps.push(("S_PHOTOM".to_string(), "SKIPPED".to_string()));
                None
            }
        };
        let header = ProductHeader {
            input: header_input.to_path_buf(),
            cal_steps,
            ref_files,
            sci_extra: photom.as_ref().map(|p| p.sci_cards()).unwrap_or_default(),
            ..Default::default()
        };
        Ok(Image2 {
            flat,
            flat_skipped,
            photom,
            photom_note,
            header,
        })
    }

    /// Say on stderr which step did not calibrate the data, and why.
    pub fn report_skips(&self) {
        if let Some(why) = &self.flat_skipped {
            eprintln!("image2: flat_field skipped: {why}");
        }
        if let Some(why) = &self.photom_note {
            eprintln!("image2: {why}");
        }
    }

    /// BUNIT of the products.
    pub fn bunit(&self) -> &'static str {
        self.photom.as_ref().map_or("DN/s", |p| p.bunit())
    }

    /// Calibrate one plane in place.
    pub fn apply(&self, p: &mut RatePlane) {
        if let Some(f) = &self.flat {
            f.apply(p);
        }
        if let Some(ph) = &self.photom {
            // After flat_field's match_nans_and_flags, photom's own is a no-op (scaling by a
            // finite non-zero factor creates no NaN and leaves DQ alone), so it is skipped.
            ph.apply_scaled(p, self.flat.is_none());
        }
    }

    fn area(&self) -> Option<&[f32]> {
        self.photom.as_ref().and_then(|p| p.area.as_deref())
    }
}

fn abs(p: &Path) -> String {
    std::fs::canonicalize(p)
        .unwrap_or_else(|_| p.to_path_buf())
        .display()
        .to_string()
}

/// Views of one plane as a cal band (VAR_FLAT zeros when flat_field did not run).
pub(crate) fn with_band<R>(p: &RatePlane, zeros: &[f32], f: impl FnOnce(&CalBand) -> R) -> R {
    let sh = (p.ny, p.nx);
    fn v(sh: (usize, usize), a: &[f32]) -> ArrayView2<'_, f32> {
        ArrayView2::from_shape(sh, a).expect("plane shape checked")
    }
    let vf = p.var_flat.as_deref().unwrap_or(zeros);
    let band = CalBand {
        sci: v(sh, &p.sci),
        err: v(sh, &p.err),
        dq: ArrayView2::from_shape(sh, p.dq.as_slice()).expect("plane shape checked"),
        var_poisson: v(sh, &p.var_poisson),
        var_rnoise: v(sh, &p.var_rnoise),
        var_flat: v(sh, vf),
    };
    f(&band)
}

enum Writer {
    Cube(CalintsWriter),
    Image(CalWriter),
}

/// How many planes a writer thread has put in its file (they come in order), so a reader of
/// the file being written can wait for the one it wants.
#[derive(Debug, Default)]
pub struct WriteProgress {
    /// (planes written, writer stopped)
    state: Mutex<(usize, bool)>,
    cv: Condvar,
}

impl WriteProgress {
    fn lock(&self) -> std::sync::MutexGuard<'_, (usize, bool)> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
    fn advance(&self, written: usize) {
        let mut s = self.lock();
        s.0 = s.0.max(written);
        self.cv.notify_all();
    }
    fn stop(&self) {
        self.lock().1 = true;
        self.cv.notify_all();
    }
    /// Wait until plane `k` is in the file; false if the writer stopped before writing it.
    pub fn wait_for(&self, k: usize) -> bool {
        let mut s = self.lock();
        while s.0 <= k && !s.1 {
            s = self.cv.wait(s).unwrap_or_else(|e| e.into_inner());
        }
        s.0 > k
    }
}

/// Writes calibrated planes to `_calints` (cube) or `_cal` (image); runs on a writer thread.
pub struct CalPlaneWriter {
    writer: Option<Writer>,
    zeros: Vec<f32>,
    path: PathBuf,
    progress: Arc<WriteProgress>,
    /// The product, once finished.
    pub written: Option<PathBuf>,
}

impl Drop for CalPlaneWriter {
    fn drop(&mut self) {
        self.progress.stop();
    }
}

impl PlaneSink for CalPlaneWriter {
    fn accept(&mut self, plane: RatePlane) -> Result<(), PlaneError> {
        let w = self
            .writer
            .as_mut()
            .ok_or_else(|| PlaneError::Sink("image2: plane after finish".into()))?;
        with_band(&plane, &self.zeros, |b| match w {
            Writer::Cube(w) => w.write_band(plane.index, 0, b),
            Writer::Image(w) => w.write_band(0, b),
        })
        .map_err(|e| {
            self.progress.stop();
            PlaneError::Sink(e.to_string())
        })?;
        self.progress.advance(plane.index + 1);
        super::pool::recycle(plane);
        Ok(())
    }

    fn finish(&mut self) -> Result<(), PlaneError> {
        self.progress.stop();
        if let Some(w) = self.writer.take() {
            let p = match w {
                Writer::Cube(w) => w.finish(),
                Writer::Image(w) => w.finish(),
            }
            .map_err(|e| PlaneError::Sink(format!("{}: {e}", self.path.display())))?;
            self.written = Some(p);
        }
        Ok(())
    }
}

/// image2 as a [`PlaneSink`]: calibrates each plane, hands a copy to the product writer (on its
/// own thread) and forwards the plane to `next`.
pub struct Image2Sink<'a> {
    image2: Image2,
    writer: Offload<CalPlaneWriter>,
    next: Option<&'a mut dyn PlaneSink>,
    written: Option<PathBuf>,
    /// The `_calints` being written (its temporary name) and the writer's progress.
    being_written: Option<(PathBuf, Arc<WriteProgress>)>,
}

impl<'a> Image2Sink<'a> {
    /// Create the product at `path`: `_calints` (cube of `nints`) when `cube`, else `_cal`.
    pub fn create(
        image2: Image2,
        path: &Path,
        cube: bool,
        nints: usize,
        ny: usize,
        nx: usize,
        next: Option<&'a mut dyn PlaneSink>,
    ) -> anyhow::Result<Image2Sink<'a>> {
        let area = image2.area().is_some();
        let bunit = image2.bunit();
        let mut writer = if cube {
            Writer::Cube(CalintsWriter::create(
                path,
                &image2.header,
                nints,
                ny,
                nx,
                bunit,
                area,
            )?)
        } else {
            Writer::Image(CalWriter::create(
                path,
                &image2.header,
                ny,
                nx,
                bunit,
                area,
            )?)
        };
        if let Some(a) = image2.area() {
            let v = ArrayView2::from_shape((ny, nx), a).map_err(|_| {
                anyhow::anyhow!("area map has {} values, the science {ny}x{nx}", a.len())
            })?;
            match &mut writer {
                Writer::Cube(w) => w.write_area_band(0, v)?,
                Writer::Image(w) => w.write_area_band(0, v)?,
            }
        }
        let progress = Arc::new(WriteProgress::default());
        let being_written = match &writer {
            Writer::Cube(w) => Some((w.temp_path().to_path_buf(), progress.clone())),
            Writer::Image(_) => None,
        };
        let w = CalPlaneWriter {
            writer: Some(writer),
            zeros: vec![0.0; ny * nx],
            path: path.to_path_buf(),
            progress,
            written: None,
        };
        Ok(Image2Sink {
            image2,
            writer: Offload::spawn(w, 1),
            next,
            written: None,
            being_written,
        })
    }

    /// Reads calibrated planes back from the `_calints` being written (waiting for the writer
    /// thread when it is behind): what a later stage can use instead of holding planes.
    /// `None` for a `_cal` image, or if the file cannot be opened.
    pub fn refetch(&self) -> Option<super::outlier::Refetch> {
        let (path, progress) = self.being_written.clone()?;
        let product = super::source::RateProduct::open(&path).ok()?;
        Some(Box::new(move |k| {
            if !progress.wait_for(k) {
                return Err(PlaneError::Sink(format!(
                    "image2: the _calints writer stopped before integration {k}"
                )));
            }
            product
                .plane(k)
                .map_err(|e| PlaneError::Source(e.to_string()))
        }))
    }

    /// The product written (after `finish`).
    pub fn output(&self) -> Option<&Path> {
        self.written.as_deref()
    }
    pub fn image2(&self) -> &Image2 {
        &self.image2
    }
}

impl PlaneSink for Image2Sink<'_> {
    fn accept(&mut self, mut plane: RatePlane) -> Result<(), PlaneError> {
        self.image2.apply(&mut plane);
        match self.next.as_mut() {
            Some(n) => {
                self.writer.accept(super::pool::copy_of(&plane))?;
                n.accept(plane)
            }
            None => self.writer.accept(plane),
        }
    }

    fn finish(&mut self) -> Result<(), PlaneError> {
        // The product's completion (checksums, sync, rename) overlaps the next stages' ends.
        self.writer.close();
        let next = match self.next.as_mut() {
            Some(n) => n.finish(),
            None => Ok(()),
        };
        self.writer.finish()?;
        self.written = self.writer.inner().and_then(|w| w.written.clone());
        next
    }
}

/// Run image2 on one `_rate`/`_rateints` file: `OUT/<base>_cal.fits` or `_calints.fits`.
pub fn run_file(s: &Image2Settings, input: &Path) -> anyhow::Result<PathBuf> {
    use super::source::{FilePlaneSource, RateProduct};
    use anyhow::Context;
    let product = std::sync::Arc::new(RateProduct::open(input)?);
    let image2 = Image2::prepare(s, product.info(), input)?;
    if !s.quiet {
        image2.report_skips();
    }
    let suffix = if product.is_cube() { "calints" } else { "cal" };
    let out = crate::pipeline::naming::product_path(&s.output_dir, input, suffix);
    std::fs::create_dir_all(&s.output_dir)
        .with_context(|| format!("cannot create {}", s.output_dir.display()))?;
    let (ny, nx) = product.shape();
    let mut sink = Image2Sink::create(
        image2,
        &out,
        product.is_cube(),
        product.nplanes(),
        ny,
        nx,
        None,
    )?;
    let mut src = FilePlaneSource::new(product);
    stream::plane::drain(&mut src, &mut sink)
        .map_err(|e| anyhow::anyhow!("image2 on {}: {e}", input.display()))?;
    Ok(sink.output().map(Path::to_path_buf).unwrap_or(out))
}
