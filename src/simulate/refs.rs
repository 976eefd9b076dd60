//! The Detector1 reference files in their CRDS layouts (the same HDUs, types and keywords that
//! stdatamodels writes): MASK, SATURATION, SUPERBIAS, LINEARITY, DARK, GAIN, READNOISE, IPC.
//!
//! Every reference except DARK and IPC covers a "reference region": the science subarray, or with
//! `--full-frame-refs` the whole 2048x2048 detector, from which the pipeline cuts the subarray
//! itself. The DARK always matches the science subarray (the dark step never cuts), like the
//! subarray darks CRDS delivers. DQ images are uint32 (BITPIX 32, BZERO 2**31) and each DQ
//! reference carries its own, correct DQ_DEF table (the oracle's historical shared-table bug is
//! not reproduced).

use std::path::{Path, PathBuf};

use fitsio::images::ImageType;
use frames::dq;

use super::config::Plan;
use super::detector::{Pixel, NCOEFF};
use super::fitsout::{key, title, Card, FitsOut};
use super::uncal::{instrument_cards, now_isot, subarray_cards};

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
            format!("Synthetic {reftype} reference file for offline Detector1 tests"),
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

/// Write all eight references into `dir`. `region` is the subarray or full-frame region the
/// references cover; `sub` is the science subarray (for the dark).
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
    ])
}
