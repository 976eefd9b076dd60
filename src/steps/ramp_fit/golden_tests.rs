//! Golden tests: the official jwst 3.0.0 RampFitStep (stcal 1.20.0 OLS_C) outputs on the
//! synthetic cases of `fixtures/ramp_fit/make_golden.py`, compared bit for bit (NaN matches NaN),
//! through both the exact and the online driver paths.

use std::path::PathBuf;

use fitsio::FitsFile;

use super::{
    fit_pixel, ExposureParams, FitConfig, FitValues, IntegrationRamp, PixelAccumulator,
    PixelConsts, RampScratch,
};

struct Case {
    name: String,
    nints: usize,
    ngroups: usize,
    npix: usize,
    params: ExposureParams,
    sci: Vec<f32>,
    gdq: Vec<u8>,
    pdq: Vec<u32>,
    gain: Vec<f32>,
    rn: Vec<f32>,
    dark: Vec<f32>,
    zf: Option<Vec<f32>>,
    rate: Vec<FitValues>,
    ints: Vec<FitValues>, // (int, pixel)
}

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/ramp_fit")
        .join(name)
}

fn key_i64(f: &mut FitsFile, key: &str) -> i64 {
    let h = f.primary_hdu().expect("primary HDU");
    h.read_key::<i64>(f, key)
        .unwrap_or_else(|e| panic!("key {key}: {e}"))
}

fn key_f64(f: &mut FitsFile, key: &str) -> f64 {
    let h = f.primary_hdu().expect("primary HDU");
    h.read_key::<f64>(f, key)
        .unwrap_or_else(|e| panic!("key {key}: {e}"))
}

fn key_bool(f: &mut FitsFile, key: &str) -> bool {
    let h = f.primary_hdu().expect("primary HDU");
    let s = h
        .read_key::<String>(f, key)
        .unwrap_or_else(|e| panic!("key {key}: {e}"));
    s.trim() == "T" || s.trim() == "1"
}

fn image<T>(f: &mut FitsFile, ext: &str) -> Vec<T>
where
    Vec<T>: fitsio::images::ReadImage,
{
    let h = f.hdu(ext).unwrap_or_else(|e| panic!("HDU {ext}: {e}"));
    h.read_image(f)
        .unwrap_or_else(|e| panic!("read {ext}: {e}"))
}

fn assemble(sci: &[f32], err: &[f32], dq: &[u32], vp: &[f32], vr: &[f32]) -> Vec<FitValues> {
    (0..sci.len())
        .map(|k| FitValues {
            sci: sci[k],
            err: err[k],
            dq: dq[k],
            var_poisson: vp[k],
            var_rnoise: vr[k],
        })
        .collect()
}

fn load(name: &str) -> Case {
    let path = fixture(&format!("{name}.fits.gz"));
    let mut f = FitsFile::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let nints = key_i64(&mut f, "NINTS") as usize;
    let ngroups = key_i64(&mut f, "NGROUPS") as usize;
    let npix = (key_i64(&mut f, "NY") * key_i64(&mut f, "NX")) as usize;
    let opt = |v: i64| if v < 0 { None } else { Some(v) };
    let params = ExposureParams {
        nints,
        ngroups,
        nframes: key_i64(&mut f, "NFRAMES") as u32,
        group_time: key_f64(&mut f, "TGROUP"),
        frame_time: key_f64(&mut f, "TFRAME"),
        suppress_one_group: key_bool(&mut f, "SUPPRESS"),
        firstgroup: opt(key_i64(&mut f, "FIRSTGRP")),
        lastgroup: opt(key_i64(&mut f, "LASTGRP")),
    };
    let zf = if key_bool(&mut f, "HASZF") {
        Some(image::<f32>(&mut f, "ZEROFRAME"))
    } else {
        None
    };
    let rate = assemble(
        &image::<f32>(&mut f, "RATE_SCI"),
        &image::<f32>(&mut f, "RATE_ERR"),
        &image::<u32>(&mut f, "RATE_DQ"),
        &image::<f32>(&mut f, "RATE_VP"),
        &image::<f32>(&mut f, "RATE_VR"),
    );
    let ints = assemble(
        &image::<f32>(&mut f, "INTS_SCI"),
        &image::<f32>(&mut f, "INTS_ERR"),
        &image::<u32>(&mut f, "INTS_DQ"),
        &image::<f32>(&mut f, "INTS_VP"),
        &image::<f32>(&mut f, "INTS_VR"),
    );
    Case {
        name: name.to_string(),
        nints,
        ngroups,
        npix,
        params,
        sci: image(&mut f, "SCI"),
        gdq: image(&mut f, "GROUPDQ"),
        pdq: image(&mut f, "PIXELDQ"),
        gain: image(&mut f, "GAIN"),
        rn: image(&mut f, "READNOISE"),
        dark: image(&mut f, "AVDRKCUR"),
        zf,
        rate,
        ints,
    }
}

impl Case {
    fn consts(&self, p: usize) -> PixelConsts {
        PixelConsts {
            gain: self.gain[p],
            readnoise: self.rn[p],
            dark_current: self.dark[p],
            pixel_dq: self.pdq[p],
        }
    }

    /// Pixel-major ramp and GROUPDQ of pixel `p` (index i·NGROUPS + g).
    fn pixel_ramp(&self, p: usize) -> (Vec<f32>, Vec<u8>) {
        let mut r = Vec::with_capacity(self.nints * self.ngroups);
        let mut q = Vec::with_capacity(self.nints * self.ngroups);
        for i in 0..self.nints {
            for g in 0..self.ngroups {
                let k = (i * self.ngroups + g) * self.npix + p;
                r.push(self.sci[k]);
                q.push(self.gdq[k]);
            }
        }
        (r, q)
    }

    fn pixel_zf(&self, p: usize) -> Option<Vec<f32>> {
        self.zf
            .as_ref()
            .map(|z| (0..self.nints).map(|i| z[i * self.npix + p]).collect())
    }
}

fn same_f32(a: f32, b: f32) -> bool {
    (a.is_nan() && b.is_nan()) || a.to_bits() == b.to_bits()
}

/// Compares two pixels field by field; returns a description of each difference.
fn diff(ours: &FitValues, theirs: &FitValues) -> Vec<String> {
    let mut out = Vec::new();
    let mut cmp = |name: &str, a: f32, b: f32| {
        if !same_f32(a, b) {
            let ulps = (a.to_bits() as i64 - b.to_bits() as i64).abs();
            out.push(format!("{name}: ours {a:e} official {b:e} ({ulps} ulp)"));
        }
    };
    cmp("SCI", ours.sci, theirs.sci);
    cmp("ERR", ours.err, theirs.err);
    cmp("VAR_POISSON", ours.var_poisson, theirs.var_poisson);
    cmp("VAR_RNOISE", ours.var_rnoise, theirs.var_rnoise);
    if ours.dq != theirs.dq {
        out.push(format!("DQ: ours {} official {}", ours.dq, theirs.dq));
    }
    out
}

/// Exact driver: whole exposure per pixel.
fn run_exact(c: &Case) -> (Vec<FitValues>, Vec<FitValues>) {
    let cfg = FitConfig::new(&c.params).expect("config");
    let mut scratch = RampScratch::new(&cfg);
    let mut rate = vec![FitValues::default(); c.npix];
    let mut ints = vec![FitValues::default(); c.nints * c.npix];
    let mut slots = vec![FitValues::default(); c.nints];
    for (p, rate_p) in rate.iter_mut().enumerate() {
        let (r, q) = c.pixel_ramp(p);
        let z = c.pixel_zf(p);
        fit_pixel(
            &cfg,
            &c.consts(p),
            &r,
            &q,
            z.as_deref(),
            &mut scratch,
            &mut slots,
            rate_p,
        );
        for (i, s) in slots.iter().enumerate() {
            ints[i * c.npix + p] = *s;
        }
    }
    (rate, ints)
}

/// Online driver: integration-major, every pixel pushed as its integration completes.
fn run_online(c: &Case) -> (Vec<FitValues>, Vec<FitValues>) {
    let cfg = FitConfig::new(&c.params).expect("config");
    let mut scratch = RampScratch::new(&cfg);
    let mut accs: Vec<_> = (0..c.npix)
        .map(|p| PixelAccumulator::new(&cfg, &c.consts(p)))
        .collect();
    let mut records: Vec<Vec<u16>> = vec![Vec::new(); c.npix];
    let mut ints = vec![FitValues::default(); c.nints * c.npix];
    let mut ramp = vec![0f32; c.ngroups];
    let mut gdq = vec![0u8; c.ngroups];
    for i in 0..c.nints {
        for p in 0..c.npix {
            for g in 0..c.ngroups {
                let k = (i * c.ngroups + g) * c.npix + p;
                ramp[g] = c.sci[k];
                gdq[g] = c.gdq[k];
            }
            let z = c.zf.as_ref().map(|z| z[i * c.npix + p]);
            let input = IntegrationRamp {
                ramp: &ramp,
                gdq: &gdq,
                zeroframe: z,
            };
            let e =
                accs[p].push_integration(&cfg, &c.consts(p), input, &mut scratch, &mut records[p]);
            let o = &mut ints[i * c.npix + p];
            o.sci = e.sci;
            o.dq = e.dq;
            o.var_rnoise = e.var_rnoise;
        }
    }
    let mut rate = vec![FitValues::default(); c.npix];
    for p in 0..c.npix {
        rate[p] = accs[p]
            .finish(&cfg, &c.consts(p), &records[p], |i, late| {
                ints[i * c.npix + p].var_poisson = late.var_poisson;
                ints[i * c.npix + p].err = late.err;
            })
            .expect("finish");
    }
    (rate, ints)
}

fn check_case(name: &str) {
    check_loaded(&load(name));
}

fn check_loaded(c: &Case) {
    let name = &c.name;
    let (rate, ints) = run_exact(c);
    let mut problems = Vec::new();
    for (p, (ours, theirs)) in rate.iter().zip(&c.rate).enumerate() {
        for d in diff(ours, theirs) {
            problems.push(format!("{} rate pixel {p}: {d}", c.name));
        }
        for i in 0..c.nints {
            let k = i * c.npix + p;
            for d in diff(&ints[k], &c.ints[k]) {
                problems.push(format!("{} rateints int {i} pixel {p}: {d}", c.name));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{} differences from the official products:\n{}",
        problems.len(),
        problems
            .iter()
            .take(40)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );

    let (rate_o, ints_o) = run_online(c);
    for p in 0..c.npix {
        assert!(
            diff(&rate_o[p], &rate[p]).is_empty(),
            "{name}: online rate differs at pixel {p}"
        );
    }
    for k in 0..ints.len() {
        assert!(
            diff(&ints_o[k], &ints[k]).is_empty(),
            "{name}: online rateints differs at {k}"
        );
    }
}

#[test]
fn golden_n10() {
    check_case("n10");
}

#[test]
fn golden_n5_nframes4_groupgap1() {
    check_case("n5_nframes4");
}

#[test]
fn golden_n3() {
    check_case("n3");
}

#[test]
fn golden_n2() {
    check_case("n2");
}

#[test]
fn golden_n1_with_zeroframe() {
    check_case("n1");
}

#[test]
fn golden_n4_no_suppression_zeroframe() {
    check_case("n4_nosuppress_zf");
}

#[test]
fn golden_n4_suppression_ignores_zeroframe() {
    check_case("n4_suppress_zf");
}

#[test]
fn golden_n8_firstgroup_lastgroup() {
    check_case("n8_window");
}

#[test]
fn golden_n6_chargeloss() {
    check_case("n6_chargeloss");
}

#[test]
fn golden_n6_no_suppression() {
    check_case("n6_nosuppress");
}

#[test]
fn golden_n12_many_ordinary_pixels() {
    check_case("n12_many");
}

/// Rust's `f32::powf` is the same libm `powf` the C extension calls: checked against values
/// obtained from libm through ctypes for every weight base of segments up to 120 groups.
#[test]
fn powf_matches_libm_powf() {
    let path = fixture("powf.fits.gz");
    let mut f = FitsFile::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let x: Vec<f32> = image(&mut f, "X");
    let p: Vec<f32> = image(&mut f, "P");
    let r: Vec<f32> = image(&mut f, "POWF");
    assert!(x.len() > 10_000);
    let bad: Vec<_> = (0..x.len())
        .filter(|&k| x[k].powf(p[k]).to_bits() != r[k].to_bits())
        .collect();
    assert!(
        bad.is_empty(),
        "{} powf mismatches, first at x={} p={}",
        bad.len(),
        x[bad[0]],
        p[bad[0]]
    );
}

/// End to end on the committed official exposure (`fixtures/oracle/tiny`): the `_ramp` product
/// that calwebb_detector1 fed to ramp_fit, with its GAIN/READNOISE references, against the
/// official `_rate` / `_rateints` (gain_scale was skipped there).
#[test]
fn tiny_official_exposure() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/oracle/tiny");
    let stem = "jw01234001001_01101_00001_nrcalong";
    let open = |p: PathBuf| FitsFile::open(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let mut ramp = open(dir.join(format!("golden/{stem}_ramp.fits")));
    let mut rate_f = open(dir.join(format!("golden/{stem}_rate.fits")));
    let mut ints_f = open(dir.join(format!("golden/{stem}_rateints.fits")));
    let mut gain_f = open(dir.join("ref_gain.fits"));
    let mut rn_f = open(dir.join("ref_readnoise.fits"));
    let (nints, ngroups, npix) = (2usize, 5usize, 32 * 32usize);
    assert_eq!(key_i64(&mut ramp, "NINTS") as usize, nints);
    assert_eq!(key_i64(&mut ramp, "NGROUPS") as usize, ngroups);
    let params = ExposureParams {
        nints,
        ngroups,
        nframes: key_i64(&mut ramp, "NFRAMES") as u32,
        group_time: key_f64(&mut ramp, "TGROUP"),
        frame_time: key_f64(&mut ramp, "TFRAME"),
        suppress_one_group: true,
        firstgroup: None,
        lastgroup: None,
    };
    let c = Case {
        name: "tiny".into(),
        nints,
        ngroups,
        npix,
        params,
        sci: image(&mut ramp, "SCI"),
        gdq: image(&mut ramp, "GROUPDQ"),
        pdq: image(&mut ramp, "PIXELDQ"),
        gain: image(&mut gain_f, "SCI"),
        rn: image(&mut rn_f, "SCI"),
        dark: image(&mut ramp, "AVDRKCUR"),
        zf: None,
        rate: assemble(
            &image::<f32>(&mut rate_f, "SCI"),
            &image::<f32>(&mut rate_f, "ERR"),
            &image::<u32>(&mut rate_f, "DQ"),
            &image::<f32>(&mut rate_f, "VAR_POISSON"),
            &image::<f32>(&mut rate_f, "VAR_RNOISE"),
        ),
        ints: assemble(
            &image::<f32>(&mut ints_f, "SCI"),
            &image::<f32>(&mut ints_f, "ERR"),
            &image::<u32>(&mut ints_f, "DQ"),
            &image::<f32>(&mut ints_f, "VAR_POISSON"),
            &image::<f32>(&mut ints_f, "VAR_RNOISE"),
        ),
    };
    check_loaded(&c);
}
