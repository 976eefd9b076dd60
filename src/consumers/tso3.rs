//! The tso3 subset as plane stages: outlier_detection (sliding window) -> `_crfints.fits` and
//! tso_photometry -> `_phot.ecsv` for imaging TSOs; outlier_detection -> sloper's quick-look
//! white light (`_whtlt.ecsv`) for spectroscopic TSOs. Several members (segments of one
//! exposure, or an association) are processed one after the other exactly as calwebb_tso3
//! does — outlier detection and photometry per member — and their catalogues are stacked into
//! one time series with `number_of_integrations` in its meta.

use super::ecsv::Table;
use super::image2::{output_dir, reference};
use super::offload::Offload;
use super::outlier::{
    parse_good_bits, parse_snr, OutlierDetector, OutlierParams, OutlierSink, RefetchSlot,
};
use super::source::{ProductInfo, RateProduct};
use super::tso_photometry::{PhotometryParams, PhotometrySetup, PhotometrySink, Reread};
use super::white_light::{WhiteLightParams, WhiteLightSink};
use crate::config::RunConfig;
use frames::refs::gain::GainRef;
use frames::write::{CalintsWriter, ProductHeader};
use ndarray::ArrayView2;
use std::path::{Path, PathBuf};
use stream::plane::{PlaneError, PlaneSink, RatePlane};

/// Typed tso3 options.
#[derive(Debug, Clone)]
pub struct Tso3Settings {
    pub outlier: Option<OutlierParams>,
    pub photometry: Option<PhotometryParams>,
    /// GAIN reference for tso_photometry (used for DN/s data).
    pub gain: Option<PathBuf>,
    pub white_light: Option<WhiteLightParams>,
    pub output_dir: PathBuf,
    pub plot: bool,
    pub quiet: bool,
}

impl Tso3Settings {
    pub fn from_config(cfg: &RunConfig) -> Result<Tso3Settings, String> {
        for s in [
            "adaptive_trace_model",
            "pixel_replace",
            "extract_1d",
            "photom",
        ] {
            if cfg
                .steps
                .get(s)
                .and_then(|m| m.get("skip"))
                .is_some_and(|v| v.as_bool() == Some(false))
            {
                return Err(format!(
                    "step {s} is not implemented by sloper (spectroscopic TSOs get a box-extraction white light instead)"
                ));
            }
        }
        let f = |s: &str, k: &str| cfg.step_param(s, k).as_f64().unwrap_or(f64::NAN);
        let i = |s: &str, k: &str| cfg.step_param(s, k).as_i64();
        let b = |s: &str, k: &str| cfg.step_param(s, k).as_bool().unwrap_or(false);
        let outlier = if cfg.skip("outlier_detection") {
            None
        } else {
            if b("outlier_detection", "save_intermediate_results") {
                return Err(
                    "--steps.outlier_detection.save_intermediate_results is not supported".into(),
                );
            }
            let snr = parse_snr(
                cfg.step_param("outlier_detection", "snr")
                    .as_str()
                    .unwrap_or(""),
            )?;
            let good = parse_good_bits(
                cfg.step_param("outlier_detection", "good_bits")
                    .as_str()
                    .unwrap_or("None"),
            )?;
            Some(OutlierParams {
                rolling_window_width: i("outlier_detection", "rolling_window_width").unwrap_or(25),
                snr,
                maskpt: f("outlier_detection", "maskpt"),
                good_bits_ignored: good,
            })
        };
        let (photometry, gain) = if cfg.skip("tso_photometry") {
            (None, None)
        } else {
            let box_w = |k: &str| -> Result<usize, String> {
                let v = i("tso_photometry", k)
                    .ok_or(format!("--steps.tso_photometry.{k} must be an integer"))?;
                usize::try_from(v)
                    .ok()
                    .filter(|&v| v >= 1)
                    .ok_or(format!("--steps.tso_photometry.{k} must be >= 1"))
            };
            let p = PhotometryParams {
                radius: f("tso_photometry", "radius"),
                radius_inner: f("tso_photometry", "radius_inner"),
                radius_outer: f("tso_photometry", "radius_outer"),
                centroid_source: b("tso_photometry", "centroid_source"),
                search_box_width: box_w("search_box_width")?,
                fit_box_width: box_w("fit_box_width")?,
                moving_centroid: b("tso_photometry", "moving_centroid"),
            };
            if !(p.radius > 0.0 && p.radius_outer > p.radius_inner && p.radius_inner >= 0.0) {
                return Err(
                    "tso_photometry: need radius > 0 and radius_outer > radius_inner >= 0".into(),
                );
            }
            (
                Some(p),
                reference(cfg, "tso_photometry", "gain").ok().flatten(),
            )
        };
        let white_light = if cfg.skip("white_light") {
            None
        } else {
            let h = i("white_light", "box_half_height").unwrap_or(4);
            let g = i("white_light", "bkg_gap").unwrap_or(4);
            let bh = i("white_light", "bkg_height").unwrap_or(4);
            if h < 0 || g < 0 || bh < 0 {
                return Err("white_light box sizes must be >= 0".into());
            }
            Some(WhiteLightParams {
                ycenter: cfg.step_param("white_light", "box_ycenter").as_f64(),
                half_height: h as usize,
                bkg_gap: g as usize,
                bkg_height: bh as usize,
            })
        };
        Ok(Tso3Settings {
            outlier,
            photometry,
            gain,
            white_light,
            output_dir: output_dir(cfg),
            plot: cfg.extra("no-plot").is_none(),
            quiet: cfg.extra("quiet").is_some(),
        })
    }
}

/// Whether an exposure type is a spectroscopic TSO (white light instead of photometry).
pub fn is_spectroscopic(exp_type: &str) -> bool {
    matches!(
        exp_type,
        "NRC_TSGRISM" | "NIS_SOSS" | "NRS_BRIGHTOBJ" | "MIR_LRS-SLITLESS"
    )
}

/// Writes the planes of a stream to a `_crfints.fits` (calints layout, S_OUTLIR).
pub struct CrfintsSink {
    writer: Option<CalintsWriter>,
    zeros: Vec<f32>,
    path: PathBuf,
    pub written: Option<PathBuf>,
}

impl CrfintsSink {
    /// `header`: headers to copy (the calints, or in a chain the rateints plus image2's
    /// keywords); `area`: the AREA map to carry over.
    pub fn create(
        path: &Path,
        header: &ProductHeader,
        nints: usize,
        ny: usize,
        nx: usize,
        bunit: &str,
        area: Option<&[f32]>,
    ) -> anyhow::Result<CrfintsSink> {
        let mut h = header.clone();
        h.cal_steps.retain(|(k, _)| k != "S_OUTLIR");
        h.cal_steps.push(("S_OUTLIR".into(), "COMPLETE".into()));
        let mut w = CalintsWriter::create(path, &h, nints, ny, nx, bunit, area.is_some())?;
        if let Some(a) = area {
            w.write_area_band(0, ArrayView2::from_shape((ny, nx), a)?)?;
        }
        Ok(CrfintsSink {
            writer: Some(w),
            zeros: vec![0.0; ny * nx],
            path: path.to_path_buf(),
            written: None,
        })
    }
}

impl PlaneSink for CrfintsSink {
    fn accept(&mut self, plane: RatePlane) -> Result<(), PlaneError> {
        let w = self
            .writer
            .as_mut()
            .ok_or_else(|| PlaneError::Sink("crfints: plane after finish".into()))?;
        super::image2::with_band(&plane, &self.zeros, |b| w.write_band(plane.index, 0, b))
            .map_err(|e| PlaneError::Sink(e.to_string()))?;
        super::pool::recycle(plane);
        Ok(())
    }
    fn finish(&mut self) -> Result<(), PlaneError> {
        if let Some(w) = self.writer.take() {
            self.written = Some(
                w.finish()
                    .map_err(|e| PlaneError::Sink(format!("{}: {e}", self.path.display())))?,
            );
        }
        Ok(())
    }
}

/// Feeds every plane to each sink in turn (the first one by reference, then the others);
/// finishes them in order.
pub struct Tee<'a> {
    pub sinks: Vec<&'a mut dyn PlaneSink>,
}

impl PlaneSink for Tee<'_> {
    fn accept(&mut self, plane: RatePlane) -> Result<(), PlaneError> {
        let n = self.sinks.len();
        for (i, s) in self.sinks.iter_mut().enumerate() {
            if i + 1 == n {
                return s.accept(plane);
            }
            s.accept(super::pool::copy_of(&plane))?;
        }
        Ok(())
    }
    fn finish(&mut self) -> Result<(), PlaneError> {
        for s in self.sinks.iter_mut() {
            s.finish()?;
        }
        Ok(())
    }
}

/// What one member produced.
#[derive(Debug, Clone, Default)]
pub struct MemberReport {
    pub crfints: Option<PathBuf>,
    pub flagged: usize,
    pub table: Option<Table>,
    /// "phot" or "whtlt".
    pub kind: &'static str,
    pub centre: Option<(f64, f64)>,
    pub rereads: usize,
}

/// Everything needed to run the tso3 stages on one member's plane stream.
pub struct MemberPlan<'p> {
    pub settings: &'p Tso3Settings,
    pub info: &'p ProductInfo,
    /// Headers for the crfints product.
    pub crf_header: ProductHeader,
    pub crf_path: PathBuf,
    /// The member's file, when it is one (re-read if the photometry needs it).
    pub input_file: Option<PathBuf>,
    pub bunit: String,
    pub area: Option<Vec<f32>>,
    pub nints: usize,
    pub ny: usize,
    pub nx: usize,
    /// Where the outlier window reads the planes waiting for their median back (filled by the
    /// feed once the file holding them exists); empty: it holds them.
    pub refetch: RefetchSlot,
}

/// Build the tso3 sink chain for one member, run `feed` (which must push every plane into the
/// given sink and finish it), and collect the results.
pub fn run_member(
    plan: &MemberPlan,
    feed: impl FnOnce(&mut dyn PlaneSink) -> Result<(), PlaneError>,
) -> anyhow::Result<MemberReport> {
    let s = plan.settings;
    let spectro = is_spectroscopic(&plan.info.meta.exp_type);
    // Photometry or white light.
    let gain = match (&s.photometry, &s.gain, spectro) {
        (Some(_), Some(g), false) if plan.bunit == "DN/s" => Some(
            GainRef::load(g, &plan.info.meta)?
                .gain
                .iter()
                .copied()
                .collect::<Vec<f32>>(),
        ),
        _ => None,
    };
    // Fallback source for the photometry's second pass: the crfints just written, or the
    // member's own file when outlier detection is skipped.
    let reread_path = if s.outlier.is_some() {
        Some(plan.crf_path.clone())
    } else {
        plan.input_file.clone()
    };
    let reread: Option<Reread> = reread_path.map(|path| {
        let mut opened: Option<RateProduct> = None;
        Box::new(move |k: usize| -> anyhow::Result<RatePlane> {
            if opened.is_none() {
                opened = Some(RateProduct::open(&path)?);
            }
            let p = opened.as_ref().expect("opened above");
            Ok(p.plane(k)?)
        }) as Reread
    });
    let mut phot = match (&s.photometry, spectro) {
        (Some(p), false) => Some(PhotometrySink::new(
            PhotometrySetup::new(*p, plan.info, gain.as_deref()).map_err(anyhow::Error::msg)?,
            reread,
        )),
        _ => None,
    };
    let mut white = match (&s.white_light, spectro) {
        (Some(w), true) => Some(WhiteLightSink::new(*w, plan.info)),
        _ => None,
    };
    let mut crf = match &s.outlier {
        Some(_) => Some(CrfintsSink::create(
            &plan.crf_path,
            &plan.crf_header,
            plan.nints,
            plan.ny,
            plan.nx,
            &plan.bunit,
            plan.area.as_deref(),
        )?)
        .map(|c| Offload::spawn(c, 1)),
        None => None,
    };
    let mut flagged = 0;
    {
        let mut sinks: Vec<&mut dyn PlaneSink> = Vec::new();
        if let Some(c) = crf.as_mut() {
            sinks.push(c);
        }
        if let Some(p) = phot.as_mut() {
            sinks.push(p);
        }
        if let Some(w) = white.as_mut() {
            sinks.push(w);
        }
        let mut tee = Tee { sinks };
        match &s.outlier {
            Some(op) => {
                let det = OutlierDetector::new(*op, plan.nints, plan.ny, plan.nx)
                    .with_refetch(plan.refetch.clone());
                let mut od = OutlierSink::new(det, &mut tee);
                feed(&mut od).map_err(|e| anyhow::anyhow!("tso3: {e}"))?;
                flagged = od.detector.flagged;
            }
            None => feed(&mut tee).map_err(|e| anyhow::anyhow!("tso3: {e}"))?,
        }
    }
    let mut rep = MemberReport {
        crfints: crf.and_then(|c| c.into_inner()).and_then(|c| c.written),
        flagged,
        ..Default::default()
    };
    if let Some(p) = phot {
        rep.centre = p.centre;
        rep.rereads = p.reread_count;
        rep.table = p.into_table();
        rep.kind = "phot";
    }
    if let Some(w) = white {
        rep.table = w.into_table();
        rep.kind = "whtlt";
    }
    Ok(rep)
}

/// Members of a tso3 run: files given on the command line, or the members of an association.
#[derive(Debug, Clone)]
pub struct Members {
    pub files: Vec<PathBuf>,
    /// Product name for the catalogue (association product, else the first member's base).
    pub product: String,
    pub asn_id: Option<String>,
}

/// Read a level-3 association (`*_asn.json`): its product name, asn_id and member files
/// (relative to the association's folder).
pub fn read_association(path: &Path) -> anyhow::Result<Members> {
    let text =
        std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let v: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| anyhow::anyhow!("{}: not JSON: {e}", path.display()))?;
    let bad = |what: &str| anyhow::anyhow!("{}: association has no {what}", path.display());
    let prod = v["products"].get(0).ok_or_else(|| bad("products[0]"))?;
    let name = prod["name"]
        .as_str()
        .ok_or_else(|| bad("products[0].name"))?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut files = Vec::new();
    for m in prod["members"].as_array().ok_or_else(|| bad("members"))? {
        let kind = m["exptype"].as_str().unwrap_or("science");
        if !kind.eq_ignore_ascii_case("science") {
            continue;
        }
        let f = m["expname"].as_str().ok_or_else(|| bad("member expname"))?;
        files.push(dir.join(f));
    }
    if files.is_empty() {
        return Err(bad("science members"));
    }
    Ok(Members {
        files,
        product: name.to_string(),
        asn_id: v["asn_id"].as_str().map(str::to_string),
    })
}

/// The crfints name calwebb_tso3 uses: `<base>[_<asn_id>]_crfints.fits`.
pub fn crfints_path(dir: &Path, input: &Path, asn_id: Option<&str>) -> PathBuf {
    let base = crate::pipeline::naming::base_name(input);
    match asn_id {
        Some(id) if !base.ends_with(&format!("_{id}")) => {
            dir.join(format!("{base}_{id}_crfints.fits"))
        }
        _ => dir.join(format!("{base}_crfints.fits")),
    }
}

/// Overall result of a tso3 run.
#[derive(Debug, Clone, Default)]
pub struct Tso3Report {
    pub members: Vec<MemberReport>,
    pub catalog: Option<PathBuf>,
    pub plot: Option<PathBuf>,
}

/// Stack the member catalogues, write `<product>_<kind>.ecsv` (+ PNG plot).
pub fn write_catalog(
    s: &Tso3Settings,
    product: &str,
    members: &[MemberReport],
) -> anyhow::Result<(Option<PathBuf>, Option<PathBuf>)> {
    let mut all = Table::default();
    let mut kind = "phot";
    for m in members {
        if let Some(t) = &m.table {
            all.vstack(t).map_err(anyhow::Error::msg)?;
            kind = m.kind;
        }
    }
    if all.columns.is_empty() {
        return Ok((None, None));
    }
    let n = all.len();
    all.meta.retain(|(k, _)| k != "number_of_integrations");
    all.meta
        .push(("number_of_integrations".into(), n.to_string()));
    let path = s.output_dir.join(format!("{product}_{kind}.ecsv"));
    all.write(&path)
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let plot = if s.plot {
        let png = s.output_dir.join(format!("{product}_{kind}.png"));
        super::plot::light_curve(&all, kind, product, &png)?;
        Some(png)
    } else {
        None
    };
    Ok((Some(path), plot))
}

/// `sloper tso3`: run on member files (calints of one exposure's segments, or an association's
/// members), one after the other.
pub fn run_members(s: &Tso3Settings, m: &Members) -> anyhow::Result<Tso3Report> {
    std::fs::create_dir_all(&s.output_dir)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", s.output_dir.display()))?;
    let mut rep = Tso3Report::default();
    for f in &m.files {
        let product = std::sync::Arc::new(RateProduct::open(f)?);
        if !product.is_cube() {
            anyhow::bail!(
                "{}: tso3 needs integrations (a _calints cube), not a 2-D image",
                f.display()
            );
        }
        let info = product.info().clone();
        let (ny, nx) = product.shape();
        let area = read_area(f)?;
        let plan = MemberPlan {
            settings: s,
            info: &info,
            crf_header: ProductHeader {
                input: f.clone(),
                ..Default::default()
            },
            crf_path: crfints_path(&s.output_dir, f, m.asn_id.as_deref()),
            input_file: Some(f.clone()),
            bunit: info.bunit_data.clone().unwrap_or_else(|| "DN/s".into()),
            area,
            nints: product.nplanes(),
            ny,
            nx,
            refetch: RefetchSlot::default(),
        };
        plan.refetch.set(refetch_from(product.clone()));
        let mut src = super::source::FilePlaneSource::new(product.clone());
        let r = run_member(&plan, |sink| {
            stream::plane::drain(&mut src, sink).map(|_| ())
        })?;
        rep.members.push(r);
    }
    let (cat, plot) = write_catalog(s, &m.product, &rep.members)?;
    rep.catalog = cat;
    rep.plot = plot;
    Ok(rep)
}

/// Reads the planes of a product file back (for [`RefetchSlot`]).
pub fn refetch_from(product: std::sync::Arc<RateProduct>) -> super::outlier::Refetch {
    Box::new(move |k| {
        product
            .plane(k)
            .map_err(|e| PlaneError::Source(e.to_string()))
    })
}

/// The AREA image of a product, if it has one.
pub fn read_area(path: &Path) -> anyhow::Result<Option<Vec<f32>>> {
    let mut r = frames::fits::FitsReader::open(path)?;
    let Some(h) = r.find_hdu("AREA")? else {
        return Ok(None);
    };
    let layout = r.image_layout(h)?;
    let shape = layout.numpy_shape(path)?;
    let file = std::sync::Arc::new(
        std::fs::File::open(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?,
    );
    let len = file.metadata()?.len();
    let img = frames::raw::MappedImage::open(
        &mut r,
        &file,
        len,
        h,
        frames::raw::SampleType::F32,
        &shape,
        "AREA",
    )?;
    let ny = shape[0];
    let mut v = vec![0f32; shape.iter().product()];
    img.read_rows_f32(0, 0, ny, &mut v)?;
    Ok(Some(v))
}
