//! The reference files in their CRDS layouts (the same HDUs, types and keywords that
//! stdatamodels writes): for Detector1 MASK, SATURATION, SUPERBIAS, LINEARITY, DARK, GAIN,
//! READNOISE, IPC; for Stage 2 (image2's flat_field and photom) FLAT, PHOTOM (the NIRCam imaging
//! table) and AREA.
//!
//! Every reference except DARK, IPC, PHOTOM and AREA covers a "reference region": the science
//! subarray, or with `--full-frame-refs` the whole 2048x2048 detector, from which the pipeline
//! cuts the subarray itself. AREA starts at detector pixel (1, 1), as the photom step expects.
//! The DARK always matches the science subarray (the dark step never cuts), like the
//! subarray darks CRDS delivers. DQ images are uint32 (BITPIX 32, BZERO 2**31) and each DQ
//! reference carries its own, correct DQ_DEF table (the oracle's historical shared-table bug is
//! not reproduced).

use std::path::{Path, PathBuf};

use fitsio::images::ImageType;
use frames::dq;

use super::config::Plan;
use super::detector::{is_refpix, Pixel, NCOEFF};
use super::fitsout::{key, title, Card, FitsOut};
use super::rng::{domain, Stream};
use super::uncal::{instrument_cards, now_isot, subarray_cards, WCS_SCALE_LW};

/// Where a reference set lives on the detector.
#[derive(Debug, Clone)]
pub struct RefRegion<'a> {
    pub name: String,
    /// 1-based corner and size.
    pub xstart: usize,
    pub ystart: usize,
    pub nx: usize,
    pub ny: usize,
    pub noutputs: usize,
    pub pixels: &'a [Pixel],
}

/// One written file.
#[derive(Debug, Clone)]
pub struct Written {
    pub path: PathBuf,
    pub bytes: u64,
}

fn header(file: &str, datamodl: &str, reftype: &str, model_title: Option<&str>) -> Vec<Card> {
    header_for(file, datamodl, reftype, model_title, "Detector1")
}

/// The common reference header; `stage` names the pipeline the file is made for.
fn header_for(
    file: &str,
    datamodl: &str,
    reftype: &str,
    model_title: Option<&str>,
    stage: &str,
) -> Vec<Card> {
    let mut v = Vec::new();
    if let Some(t) = model_title {
        v.push(title(t));
    }
    v.extend([
        key("DATE", now_isot(), "Date this file was created (UTC)"),
        key("FILENAME", file, "Name of the file"),
        key("DATAMODL", datamodl, "Type of data model"),
        key("TELESCOP", "JWST", "Telescope used to acquire the data"),
        key("REFTYPE", reftype, "Reference file type"),
        key("PEDIGREE", "DUMMY", "The pedigree of the reference file"),
        key(
            "DESCRIP",
            format!("Synthetic {reftype} reference file for offline {stage} tests"),
            "Description of the reference file",
        ),
        key("AUTHOR", "sloper simulate", "Author of the reference file"),
        key(
            "USEAFTER",
            "2022-01-01T00:00:00",
            "Use after date of the reference file",
        ),
    ]);
    v
}

fn region_cards(r: &RefRegion) -> Vec<Card> {
    subarray_cards(&r.name, r.xstart, r.ystart, r.nx, r.ny)
}

/// The DQ_DEF table: one row per flag bit, VALUE as uint32.
fn dq_def(out: &mut FitsOut) -> frames::Result<()> {
    let cols = [
        ("BIT", "1J"),
        ("VALUE", "1V"),
        ("NAME", "40A"),
        ("DESCRIPTION", "80A"),
    ];
    out.table("DQ_DEF", &cols, dq::ALL.len(), &[])?;
    let bits: Vec<i32> = (0..dq::ALL.len() as i32).collect();
    let values: Vec<u32> = dq::ALL.iter().map(|f| f.0).collect();
    let names: Vec<String> = dq::ALL.iter().map(|f| f.1.to_string()).collect();
    let descr: Vec<String> = dq::ALL.iter().map(|f| format!("{} flag", f.1)).collect();
    out.col_i32(1, 1, &bits)?;
    out.col_u32(2, 1, &values)?;
    out.col_str(3, 1, &names)?;
    out.col_str(4, 1, &descr)
}

fn dq_image(out: &mut FitsOut, dims: &[usize], data: &[u32]) -> frames::Result<()> {
    out.image_with("DQ", ImageType::UnsignedLong, dims, &[], data)
}

fn map<T>(r: &RefRegion, f: impl Fn(&Pixel) -> T) -> Vec<T> {
    r.pixels.iter().map(f).collect()
}

fn done(mut out: FitsOut, model_type: &str) -> frames::Result<Written> {
    out.asdf_stub(model_type)?;
    let path = out.path.clone();
    let bytes = out.finish()?;
    Ok(Written { path, bytes })
}

fn mask(plan: &Plan, dir: &Path, r: &RefRegion) -> frames::Result<Written> {
    let f = "ref_mask.fits";
    let mut out = FitsOut::create(&dir.join(f))?;
    let mut h = header(f, "MaskModel", "MASK", None);
    h.extend(instrument_cards(plan, true));
    h.extend(region_cards(r));
    h.push(key(
        "EXP_TYPE",
        plan.exp_type.keyword(),
        "Type of data in the exposure",
    ));
    out.cards(&h)?;
    dq_image(&mut out, &[r.ny, r.nx], &map(r, |p| p.mask))?;
    dq_def(&mut out)?;
    done(out, "MaskModel")
}

fn saturation(plan: &Plan, dir: &Path, r: &RefRegion) -> frames::Result<Written> {
    let f = "ref_saturation.fits";
    let mut out = FitsOut::create(&dir.join(f))?;
    let mut h = header(
        f,
        "SaturationModel",
        "SATURATION",
        Some("Saturation checking data"),
    );
    h.extend(instrument_cards(plan, false));
    h.extend(region_cards(r));
    out.cards(&h)?;
    let sci = map(r, |p| if p.sat_nan { f32::NAN } else { p.sat_thresh });
    out.image_with("SCI", ImageType::Float, &[r.ny, r.nx], &[], &sci)?;
    dq_image(
        &mut out,
        &[r.ny, r.nx],
        &map(r, |p| if p.sat_nan { dq::NO_SAT_CHECK } else { 0 }),
    )?;
    dq_def(&mut out)?;
    done(out, "SaturationModel")
}

fn superbias(plan: &Plan, dir: &Path, r: &RefRegion) -> frames::Result<Written> {
    let f = "ref_superbias.fits";
    let mut out = FitsOut::create(&dir.join(f))?;
    let mut h = header(f, "SuperBiasModel", "SUPERBIAS", None);
    h.extend(instrument_cards(plan, false));
    h.extend(region_cards(r));
    h.push(key("READPATT", "ANY", "Readout pattern"));
    out.cards(&h)?;
    let dims = [r.ny, r.nx];
    let sci = map(r, |p| if p.bias_nan { f32::NAN } else { p.bias });
    let bunit = [key("BUNIT", "DN", "physical units of the array values")];
    out.image_with("SCI", ImageType::Float, &dims, &bunit, &sci)?;
    dq_image(
        &mut out,
        &dims,
        &map(r, |p| if p.bias_nan { dq::UNRELIABLE_BIAS } else { 0 }),
    )?;
    out.image_with(
        "ERR",
        ImageType::Float,
        &dims,
        &[],
        &vec![2.0f32; r.ny * r.nx],
    )?;
    dq_def(&mut out)?;
    done(out, "SuperBiasModel")
}

fn linearity(plan: &Plan, dir: &Path, r: &RefRegion) -> frames::Result<Written> {
    let f = "ref_linearity.fits";
    let mut out = FitsOut::create(&dir.join(f))?;
    let mut h = header(
        f,
        "LinearityModel",
        "LINEARITY",
        Some("Linearity correction data model"),
    );
    h.extend(instrument_cards(plan, true));
    h.extend(region_cards(r));
    out.cards(&h)?;
    let npix = r.ny * r.nx;
    let hdu = out.image("COEFFS", ImageType::Float, &[NCOEFF, r.ny, r.nx], &[])?;
    for k in 0..NCOEFF {
        let plane = map(r, |p| if p.lin_nan { f32::NAN } else { p.coeffs[k] });
        out.write_pixels(&hdu, k * npix, &plane)?;
    }
    dq_image(
        &mut out,
        &[r.ny, r.nx],
        &map(r, |p| if p.lin_nan { dq::NO_LIN_CORR } else { 0 }),
    )?;
    dq_def(&mut out)?;
    done(out, "LinearityModel")
}

/// Dark: plane k is the dark signal accumulated by frame k+1 after the reset (linear DN),
/// NFRAMES = 1, GROUPGAP = 0, one plane per frame the science integration spans (+ extras).
fn dark(plan: &Plan, dir: &Path, r: &RefRegion) -> frames::Result<Written> {
    let f = "ref_dark.fits";
    let mut out = FitsOut::create(&dir.join(f))?;
    let nd = plan.nframes_total + plan.dark_extra_groups;
    let mut sci_darks: Vec<f32> = r
        .pixels
        .iter()
        .filter(|p| !p.refpix)
        .map(|p| p.dark_e)
        .collect();
    let avg = median(&mut sci_darks);
    let mut h = header(f, "DarkModel", "DARK", Some("Dark current data model"));
    h.extend(instrument_cards(plan, false));
    h.extend([
        key(
            "EXP_TYPE",
            plan.exp_type.keyword(),
            "Type of data in the exposure",
        ),
        key("READPATT", "RAPID", "Readout pattern"),
        key("NOUTPUTS", r.noutputs, "Number of detector outputs used"),
        key("NFRAMES", 1i64, "Number of frames per group"),
        key("NGROUPS", nd, "Number of groups in integration"),
        key("GROUPGAP", 0i64, "Number of frames dropped between groups"),
        key("AVDRKCUR", avg, "Average dark current"),
    ]);
    h.extend(region_cards(r));
    out.cards(&h)?;
    let npix = r.ny * r.nx;
    let rate_dn: Vec<f64> = map(r, |p| p.dark_e as f64 / p.gain as f64);
    let plane = |k: usize| -> Vec<f32> {
        rate_dn
            .iter()
            .map(|d| (d * (k + 1) as f64 * plan.tframe) as f32)
            .collect()
    };
    let hdu = out.image("SCI", ImageType::Float, &[nd, r.ny, r.nx], &[])?;
    for k in 0..nd {
        out.write_pixels(&hdu, k * npix, &plane(k))?;
    }
    dq_image(
        &mut out,
        &[r.ny, r.nx],
        &map(r, |p| {
            if p.dark_unreliable {
                dq::UNRELIABLE_DARK
            } else {
                0
            }
        }),
    )?;
    let hdu = out.image("ERR", ImageType::Float, &[nd, r.ny, r.nx], &[])?;
    for k in 0..nd {
        let err: Vec<f32> = plane(k)
            .iter()
            .map(|d| (d.abs() / 20.0 + 0.25).sqrt())
            .collect();
        out.write_pixels(&hdu, k * npix, &err)?;
    }
    dq_def(&mut out)?;
    done(out, "DarkModel")
}

fn median(v: &mut [f32]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2] as f64
    } else {
        0.5 * (v[n / 2 - 1] as f64 + v[n / 2] as f64)
    }
}

fn gain(plan: &Plan, dir: &Path, r: &RefRegion) -> frames::Result<Written> {
    let f = "ref_gain.fits";
    let mut out = FitsOut::create(&dir.join(f))?;
    let mut h = header(f, "GainModel", "GAIN", None);
    h.extend(instrument_cards(plan, true));
    h.extend(region_cards(r));
    if let Some(g) = plan.gainfact {
        h.push(key("GAINFACT", g, "Gain scale factor"));
    }
    out.cards(&h)?;
    let bunit = [key(
        "BUNIT",
        "electron/DN",
        "physical units of the array values",
    )];
    out.image_with(
        "SCI",
        ImageType::Float,
        &[r.ny, r.nx],
        &bunit,
        &map(r, |p| p.gain),
    )?;
    done(out, "GainModel")
}

fn readnoise(plan: &Plan, dir: &Path, r: &RefRegion) -> frames::Result<Written> {
    let f = "ref_readnoise.fits";
    let mut out = FitsOut::create(&dir.join(f))?;
    let mut h = header(f, "ReadnoiseModel", "READNOISE", None);
    h.extend(instrument_cards(plan, false));
    h.extend(region_cards(r));
    h.push(key("READPATT", "ANY", "Readout pattern"));
    h.push(key(
        "NOUTPUTS",
        r.noutputs,
        "Number of detector outputs used",
    ));
    out.cards(&h)?;
    let bunit = [key("BUNIT", "DN", "physical units of the array values")];
    out.image_with(
        "SCI",
        ImageType::Float,
        &[r.ny, r.nx],
        &bunit,
        &map(r, |p| p.readnoise),
    )?;
    done(out, "ReadnoiseModel")
}

/// The 3x3 IPC kernel (not used by the simulated ramps, which contain no IPC).
fn ipc(plan: &Plan, dir: &Path) -> frames::Result<Written> {
    let f = "ref_ipc.fits";
    let mut out = FitsOut::create(&dir.join(f))?;
    let mut h = header(f, "IPCModel", "IPC", Some("IPC kernel model"));
    h.extend(instrument_cards(plan, false));
    out.cards(&h)?;
    let k = [
        0.0007f32, 0.0060, 0.0007, 0.0060, 0.9732, 0.0060, 0.0007, 0.0060, 0.0007,
    ];
    out.image_with("SCI", ImageType::Float, &[3, 3], &[], &k)?;
    done(out, "IPCModel")
}

// ------------------------------------------------------------------------ Stage 2 references

/// PHOTMJSR (MJy/sr per DN/s) rows of the NIRCam imaging PHOTOM table: a few long-wave filters
/// with plausible, made-up values (the oracle's `make_stage2_refs.py` uses the same table).
pub const PHOTOM_ROWS: &[(&str, &str, f32)] = &[
    ("F250M", "CLEAR", 0.9820),
    ("F277W", "CLEAR", 0.2350),
    ("F300M", "CLEAR", 0.6430),
    ("F322W2", "CLEAR", 0.1240),
    ("F356W", "CLEAR", 0.1690),
    ("F410M", "CLEAR", 0.4120),
    ("F444W", "CLEAR", 0.2170),
    ("F444W", "F405N", 5.3100),
    ("F460M", "CLEAR", 0.8920),
    ("F480M", "CLEAR", 0.7310),
];

/// PHOTMJSR given to an imaging exposure's filter/pupil when [`PHOTOM_ROWS`] lacks it.
pub const PHOTOM_DEFAULT: f32 = 0.25;

/// The exposure types the PHOTOM table applies to (P_EXPTYPE).
const PHOTOM_P_EXPTYPE: &str = "NRC_IMAGE|NRC_TSIMAGE|NRC_FLAT|NRC_LED|NRC_TACQ|NRC_TACONFIRM|";

/// Nominal pixel area of the long-wave detector: (PIXAR_SR, PIXAR_A2).
pub fn pixel_area() -> (f64, f64) {
    let a2 = WCS_SCALE_LW * WCS_SCALE_LW;
    let rad = std::f64::consts::PI / (180.0 * 3600.0);
    (a2 * (rad * rad), a2)
}

/// The PHOTOM rows written for `plan`: [`PHOTOM_ROWS`], plus the exposure's own filter/pupil
/// (at [`PHOTOM_DEFAULT`]) for imaging exposures that the table lacks. A grism exposure gets no
/// row of its own: the imaging table does not calibrate 2-D grism data (the official pipeline
/// calibrates the extracted spectra with a different table).
pub fn photom_rows(plan: &Plan) -> Vec<(String, String, f32)> {
    let mut rows: Vec<(String, String, f32)> = PHOTOM_ROWS
        .iter()
        .map(|(f, p, v)| (f.to_string(), p.to_string(), *v))
        .collect();
    let (f, p) = (plan.filter.to_uppercase(), plan.pupil.to_uppercase());
    if plan.exp_type.is_imaging() && !rows.iter().any(|r| r.0 == f && r.1 == p) {
        rows.push((f, p, PHOTOM_DEFAULT));
    }
    rows
}

/// One pixel of the FLAT reference.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FlatPixel {
    pub flat: f32,
    pub err: f32,
    pub dq: u32,
}

/// The flat-field response of full-frame pixel (fy, fx) (0-based), a pure function of the seed
/// and the position (so full-frame and subarray flats agree): about 1 with a 1.5 % ripple, a
/// 1 % gradient along rows and 0.4 % pixel scatter; ERR 0.002-0.008. Defects (science pixels
/// only): 0.05 % NaN, 0.05 % zero, 0.05 % NO_FLAT_FIELD, 0.05 % NO_FLAT_FIELD + DO_NOT_USE,
/// 0.4 % UNRELIABLE_FLAT. Reference pixels: 1, ERR 0, no flag. The simulated ramps do not
/// contain this response (so that adding the reference changed no existing file): flat-fielded
/// data carry the inverse pattern, a constant factor per pixel.
pub fn flat_pixel(seed: u64, fy: usize, fx: usize) -> FlatPixel {
    if is_refpix(fy, fx) {
        return FlatPixel {
            flat: 1.0,
            err: 0.0,
            dq: 0,
        };
    }
    let mut s = Stream::for_key(seed, domain::FLAT, fy as u64, fx as u64, 0);
    let (x, y) = (fx as f64, fy as f64);
    let mut flat = (1.0
        + 0.015 * (x / 37.0).sin() * (y / 23.0).cos()
        + 0.01 * (x - 1024.0) / 2048.0
        + 0.004 * s.normal()) as f32;
    let err = s.uniform_in(0.002, 0.008) as f32;
    let u = s.uniform();
    let mut dq = 0;
    if u < 0.0005 {
        flat = f32::NAN;
    } else if u < 0.001 {
        flat = 0.0;
    } else if u < 0.0015 {
        dq = dq::NO_FLAT_FIELD;
    } else if u < 0.002 {
        dq = dq::NO_FLAT_FIELD | dq::DO_NOT_USE;
    } else if u < 0.006 {
        dq = dq::UNRELIABLE_FLAT;
    }
    FlatPixel { flat, err, dq }
}

/// Relative pixel area of full-frame pixel (fy, fx): a smooth ~0.4 % distortion pattern.
pub fn relative_area(fy: usize, fx: usize) -> f32 {
    let (x, y) = (fx as f64, fy as f64);
    (1.0 + 0.004 * (x - 1024.0) / 1024.0 - 0.003 * ((y - 1024.0) / 1024.0).powi(2)) as f32
}

/// FLAT (FlatModel): SCI, DQ, ERR, DQ_DEF over the reference region, for the exposure's
/// filter and pupil.
fn flat(plan: &Plan, dir: &Path, r: &RefRegion) -> frames::Result<Written> {
    use rayon::prelude::*;
    let f = "ref_flat.fits";
    let mut out = FitsOut::create(&dir.join(f))?;
    let mut h = header_for(f, "FlatModel", "FLAT", None, "Stage 2");
    h.extend(instrument_cards(plan, true));
    h.extend([
        key(
            "PUPIL",
            plan.pupil.as_str(),
            "Name of the pupil element used",
        ),
        key("CHANNEL", "LONG", "NIRCAM or MIRI channel name."),
        key("MODULE", "A", "NIRCam module: A or B"),
    ]);
    h.extend(region_cards(r));
    h.push(key(
        "EXP_TYPE",
        plan.exp_type.keyword(),
        "Type of data in the exposure",
    ));
    out.cards(&h)?;
    let (y0, x0) = (r.ystart - 1, r.xstart - 1);
    let mut px = vec![flat_pixel(plan.seed, y0, x0); r.ny * r.nx];
    px.par_chunks_mut(r.nx).enumerate().for_each(|(y, row)| {
        for (x, p) in row.iter_mut().enumerate() {
            *p = flat_pixel(plan.seed, y0 + y, x0 + x);
        }
    });
    let dims = [r.ny, r.nx];
    let sci: Vec<f32> = px.iter().map(|p| p.flat).collect();
    out.image_with("SCI", ImageType::Float, &dims, &[], &sci)?;
    drop(sci);
    let dqv: Vec<u32> = px.iter().map(|p| p.dq).collect();
    dq_image(&mut out, &dims, &dqv)?;
    drop(dqv);
    let err: Vec<f32> = px.iter().map(|p| p.err).collect();
    out.image_with("ERR", ImageType::Float, &dims, &[], &err)?;
    dq_def(&mut out)?;
    done(out, "FlatModel")
}

fn photometry_cards() -> Vec<Card> {
    let (sr, a2) = pixel_area();
    vec![
        title("Photometry information"),
        key("PIXAR_SR", sr, "Nominal pixel area in steradians"),
        key("PIXAR_A2", a2, "Nominal pixel area in arcsec^2"),
    ]
}

/// PHOTOM (NrcImgPhotomModel): the PHOTOM table (filter, pupil, photmjsr, uncertainty = 1 %)
/// and PIXAR_SR/PIXAR_A2.
fn photom(plan: &Plan, dir: &Path) -> frames::Result<Written> {
    let f = "ref_photom.fits";
    let mut out = FitsOut::create(&dir.join(f))?;
    let mut h = header_for(
        f,
        "NrcImgPhotomModel",
        "PHOTOM",
        Some("NIRCam imaging photometric flux conversion data model"),
        "Stage 2",
    );
    h.extend(instrument_cards(plan, false));
    h.extend([
        key(
            "EXP_TYPE",
            plan.exp_type.keyword(),
            "Type of data in the exposure",
        ),
        key("P_EXP_TY", PHOTOM_P_EXPTYPE, "Applicable EXP_TYPE."),
    ]);
    h.extend(photometry_cards());
    out.cards(&h)?;
    let rows = photom_rows(plan);
    let cols = [
        ("filter", "12A"),
        ("pupil", "12A"),
        ("photmjsr", "E"),
        ("uncertainty", "E"),
    ];
    out.table("PHOTOM", &cols, rows.len(), &[])?;
    let filters: Vec<String> = rows.iter().map(|r| r.0.clone()).collect();
    let pupils: Vec<String> = rows.iter().map(|r| r.1.clone()).collect();
    let phot: Vec<f32> = rows.iter().map(|r| r.2).collect();
    let unc: Vec<f32> = rows.iter().map(|r| 0.01 * r.2).collect();
    out.col_str(1, 1, &filters)?;
    out.col_str(2, 1, &pupils)?;
    out.col_f32(3, 1, &phot)?;
    out.col_f32(4, 1, &unc)?;
    done(out, "NrcImgPhotomModel")
}

/// AREA (PixelAreaModel): the relative pixel area and PIXAR_SR/PIXAR_A2. The photom step cuts
/// it at the science SUBSTRT/SUBSIZE as if it started at detector pixel (1, 1), so it covers
/// rows and columns from 1 to the far corner of the subarray, or the whole detector (SUBARRAY
/// FULL) with `--full-frame-refs`.
fn area(plan: &Plan, dir: &Path) -> frames::Result<Written> {
    let f = "ref_area.fits";
    let mut out = FitsOut::create(&dir.join(f))?;
    let mut h = header_for(f, "PixelAreaModel", "AREA", None, "Stage 2");
    h.extend(instrument_cards(plan, false));
    h.extend([
        key("FILTER", "N/A", "Name of filter element used"),
        key("PUPIL", "N/A", "Name of the pupil element used"),
    ]);
    let (ny, nx) = if plan.full_frame_refs {
        h.extend(subarray_cards(
            "FULL",
            1,
            1,
            super::config::FULL,
            super::config::FULL,
        ));
        (super::config::FULL, super::config::FULL)
    } else {
        (plan.ystart - 1 + plan.ny, plan.xstart - 1 + plan.nx)
    };
    h.push(key(
        "EXP_TYPE",
        plan.exp_type.keyword(),
        "Type of data in the exposure",
    ));
    h.extend(photometry_cards());
    out.cards(&h)?;
    let mut a = Vec::with_capacity(ny * nx);
    for y in 0..ny {
        a.extend((0..nx).map(|x| relative_area(y, x)));
    }
    out.image_with("SCI", ImageType::Float, &[ny, nx], &[], &a)?;
    done(out, "PixelAreaModel")
}

/// Write every reference into `dir`: the eight Detector1 references, then the Stage 2 FLAT,
/// PHOTOM and AREA. `region` is the subarray or full-frame region the references cover; `sub`
/// is the science subarray (for the dark).
pub fn write_all(
    plan: &Plan,
    dir: &Path,
    region: &RefRegion,
    sub: &RefRegion,
) -> frames::Result<Vec<Written>> {
    Ok(vec![
        mask(plan, dir, region)?,
        saturation(plan, dir, region)?,
        superbias(plan, dir, region)?,
        linearity(plan, dir, region)?,
        dark(plan, dir, sub)?,
        gain(plan, dir, region)?,
        readnoise(plan, dir, region)?,
        ipc(plan, dir)?,
        flat(plan, dir, region)?,
        photom(plan, dir)?,
        area(plan, dir)?,
    ])
}
