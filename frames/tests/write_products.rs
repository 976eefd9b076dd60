//! Product writers: write the official tiny products' values back through our writers (row bands
//! in scrambled order), read them back, compare layouts and values with the golden files, verify
//! the checksums, and check that nothing is left behind when a writer is dropped or incomplete.
//! With SLOPER_ORACLE_PYTHON set, `jwst.datamodels.open` checks every product too
//! (fixtures/write/check_datamodels.py).

use std::path::{Path, PathBuf};

use fitsio::FitsFile;
use frames::write::*;
use ndarray::{s, Array2, Array3, Array4, ArrayView2};

const BASE: &str = "jw01234001001_01101_00001_nrcalong";

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}
fn tiny(name: &str) -> PathBuf {
    fixtures().join("oracle/tiny").join(name)
}
fn golden(kind: &str) -> PathBuf {
    fixtures()
        .join("oracle/tiny/golden")
        .join(format!("{BASE}_{kind}.fits"))
}
fn uncal() -> PathBuf {
    tiny(&format!("{BASE}_uncal.fits"))
}

fn read_f32(p: &Path, ext: &str) -> (Vec<usize>, Vec<f32>) {
    let mut f = FitsFile::open(p).unwrap();
    let h = f.hdu(ext).unwrap();
    let shape = match &h.info {
        fitsio::hdu::HduInfo::ImageInfo { shape, .. } => shape.clone(),
        _ => panic!("{ext} not an image"),
    };
    (shape, h.read_image(&mut f).unwrap())
}
fn read_u32(p: &Path, ext: &str) -> Vec<u32> {
    let mut f = FitsFile::open(p).unwrap();
    let h = f.hdu(ext).unwrap();
    h.read_image(&mut f).unwrap()
}
fn read_u8(p: &Path, ext: &str) -> Vec<u8> {
    let mut f = FitsFile::open(p).unwrap();
    let h = f.hdu(ext).unwrap();
    h.read_image(&mut f).unwrap()
}
fn key_str(p: &Path, ext: usize, key: &str) -> Option<String> {
    let mut f = FitsFile::open(p).unwrap();
    let h = f.hdu(ext).unwrap();
    h.read_key::<String>(&mut f, key).ok()
}
fn key_i64(p: &Path, ext: &str, key: &str) -> Option<i64> {
    let mut f = FitsFile::open(p).unwrap();
    let h = f.hdu(ext).unwrap();
    h.read_key::<i64>(&mut f, key).ok()
}
fn hdu_names(p: &Path) -> Vec<String> {
    let mut f = FitsFile::open(p).unwrap();
    let n = f.iter().count();
    (0..n)
        .map(|i| {
            let h = f.hdu(i).unwrap();
            if i == 0 {
                "PRIMARY".into()
            } else {
                h.read_key::<String>(&mut f, "EXTNAME").unwrap()
            }
        })
        .collect()
}
fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// The Detector1 header content of the golden products.
fn d1_header(input: PathBuf) -> ProductHeader {
    let steps = [
        ("S_GRPSCL", "SKIPPED"),
        ("S_DQINIT", "COMPLETE"),
        ("S_SATURA", "COMPLETE"),
        ("S_IPC", "SKIPPED"),
        ("S_SUPERB", "COMPLETE"),
        ("S_REFPIX", "COMPLETE"),
        ("S_LINEAR", "COMPLETE"),
        ("S_DARK", "COMPLETE"),
        ("S_CHGMIG", "SKIPPED"),
        ("S_JUMP", "COMPLETE"),
        ("S_PCTFRM", "SKIPPED"),
        ("S_CLNFNS", "SKIPPED"),
        ("S_PERSIS", "SKIPPED"),
        ("S_RAMP", "COMPLETE"),
        ("S_GANSCL", "SKIPPED"),
    ];
    let refs = [
        ("R_MASK", "ref_mask.fits"),
        ("R_SATURA", "ref_saturation.fits"),
        ("R_SUPERB", "ref_superbias.fits"),
        ("R_IPC", "N/A"),
        ("R_LINEAR", "ref_linearity.fits"),
        ("R_DARK", "ref_dark.fits"),
        ("R_GAIN", "ref_gain.fits"),
        ("R_READNO", "ref_readnoise.fits"),
    ];
    ProductHeader {
        input,
        cal_steps: steps
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ref_files: refs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        crds_ctx: Some("jwst_offline.pmap".into()),
        crds_ver: None,
        // jump's cosmic-ray rates, as the official products carry them
        primary_extra: vec![
            Card::new("PRIMECRS", KeyValue::Float(50.442277892561975)),
            Card::new("EXTNCRS", KeyValue::Float(0.0)),
        ],
        sci_extra: vec![],
    }
}

/// Band starts covering `ny` rows in bands of `h`, in a scrambled order.
fn bands(ny: usize, h: usize) -> Vec<(usize, usize)> {
    let mut v: Vec<(usize, usize)> = (0..ny).step_by(h).map(|y| (y, h.min(ny - y))).collect();
    v.reverse();
    let mid = v.len() / 2;
    v.swap(0, mid);
    v
}

fn arr2(v: &[f32], ny: usize, nx: usize) -> Array2<f32> {
    Array2::from_shape_vec((ny, nx), v.to_vec()).unwrap()
}

fn write_rate(dir: &Path) -> PathBuf {
    let g = golden("rate");
    let names = ["SCI", "ERR", "VAR_POISSON", "VAR_RNOISE"];
    let a: Vec<Array2<f32>> = names
        .iter()
        .map(|n| arr2(&read_f32(&g, n).1, 32, 32))
        .collect();
    let dq = Array2::from_shape_vec((32, 32), read_u32(&g, "DQ")).unwrap();
    let out = dir.join(format!("{BASE}_rate.fits"));
    let mut header = d1_header(uncal());
    header
        .primary_extra
        .push(Card::new("PRIMECRS", KeyValue::Float(50.442277892561975)));
    let mut w = RateWriter::create(&out, &header, 32, 32).unwrap();
    assert!(w.temp_path().exists());
    for (y0, h) in bands(32, 5) {
        let r = s![y0..y0 + h, ..];
        let band = RateBand {
            sci: a[0].slice(r),
            err: a[1].slice(r),
            dq: dq.slice(r),
            var_poisson: a[2].slice(r),
            var_rnoise: a[3].slice(r),
        };
        w.write_band(y0, &band).unwrap();
    }
    w.update_primary(&[Card::new("EXTNCRS", KeyValue::Float(0.0))])
        .unwrap();
    assert!(!out.exists(), "nothing at the final name before finish");
    let tmp = w.temp_path().to_path_buf();
    assert_eq!(w.finish().unwrap(), out);
    assert!(!tmp.exists());
    out
}

fn write_rateints(dir: &Path) -> PathBuf {
    let g = golden("rateints");
    let cube = |n: &str| Array3::from_shape_vec((2, 32, 32), read_f32(&g, n).1).unwrap();
    let (sci, err, vp, vr) = (
        cube("SCI"),
        cube("ERR"),
        cube("VAR_POISSON"),
        cube("VAR_RNOISE"),
    );
    let dq = Array3::from_shape_vec((2, 32, 32), read_u32(&g, "DQ")).unwrap();
    let out = dir.join(format!("{BASE}_rateints.fits"));
    let mut w = RateintsWriter::create(&out, &d1_header(uncal()), 2, 32, 32).unwrap();
    for int in [1, 0] {
        for (y0, h) in bands(32, 7) {
            let r = s![int, y0..y0 + h, ..];
            let band = RateBand {
                sci: sci.slice(r),
                err: err.slice(r),
                dq: dq.slice(r),
                var_poisson: vp.slice(r),
                var_rnoise: vr.slice(r),
            };
            w.write_band(int, y0, &band).unwrap();
        }
    }
    w.finish().unwrap()
}

fn write_ramp(dir: &Path) -> PathBuf {
    let g = golden("ramp");
    let sci = Array4::from_shape_vec((2, 5, 32, 32), read_f32(&g, "SCI").1).unwrap();
    let gdq = Array4::from_shape_vec((2, 5, 32, 32), read_u8(&g, "GROUPDQ")).unwrap();
    let pdq = Array2::from_shape_vec((32, 32), read_u32(&g, "PIXELDQ")).unwrap();
    let avd = arr2(&read_f32(&g, "AVDRKCUR").1, 32, 32);
    let out = dir.join(format!("{BASE}_ramp.fits"));
    let mut header = d1_header(uncal());
    header
        .cal_steps
        .retain(|(k, _)| k != "S_RAMP" && k != "S_GANSCL");
    let mut w = RampWriter::create(&out, &header, 2, 5, 32, 32, true).unwrap();
    for (y0, h) in bands(32, 16) {
        w.write_pixeldq_band(y0, pdq.slice(s![y0..y0 + h, ..]))
            .unwrap();
        w.write_avdrkcur_band(y0, avd.slice(s![y0..y0 + h, ..]))
            .unwrap();
        for int in 0..2 {
            for grp in (0..5).rev() {
                let r = s![int, grp, y0..y0 + h, ..];
                w.write_group_band(int, grp, y0, sci.slice(r), gdq.slice(r))
                    .unwrap();
            }
        }
    }
    w.finish().unwrap()
}

/// Stage-2-like products made from the golden rate/rateints values: SCI/ERR/VAR_* as in the
/// input, VAR_FLAT = 0, AREA = 1, PHOTMJSR = 0.5, BUNIT MJy/sr.
fn write_cal(dir: &Path) -> (PathBuf, PathBuf) {
    let mut header = d1_header(golden("rate"));
    header.cal_steps = vec![
        ("S_FLAT".into(), "COMPLETE".into()),
        ("S_PHOTOM".into(), "COMPLETE".into()),
    ];
    header.ref_files = vec![("R_FLAT".into(), "ref_flat.fits".into())];
    header.sci_extra = vec![
        Card::new("PHOTMJSR", KeyValue::Float(0.5)),
        Card::new("PIXAR_SR", KeyValue::Float(9.2993e-14)),
    ];
    let g = golden("rate");
    let a: Vec<Array2<f32>> = ["SCI", "ERR", "VAR_POISSON", "VAR_RNOISE"]
        .iter()
        .map(|n| arr2(&read_f32(&g, n).1, 32, 32))
        .collect();
    let dq = Array2::from_shape_vec((32, 32), read_u32(&g, "DQ")).unwrap();
    let zeros = Array2::<f32>::zeros((32, 32));
    let ones = Array2::<f32>::ones((32, 32));
    let cal = dir.join(format!("{BASE}_cal.fits"));
    let mut w = CalWriter::create(&cal, &header, 32, 32, "MJy/sr", true).unwrap();
    let band = CalBand {
        sci: a[0].view(),
        err: a[1].view(),
        dq: dq.view(),
        var_poisson: a[2].view(),
        var_rnoise: a[3].view(),
        var_flat: zeros.view(),
    };
    w.write_band(0, &band).unwrap();
    w.write_area_band(0, ones.view()).unwrap();
    let cal = w.finish().unwrap();

    let gi = golden("rateints");
    header.input = gi.clone();
    let cube = |n: &str| Array3::from_shape_vec((2, 32, 32), read_f32(&gi, n).1).unwrap();
    let (sci, err, vp, vr) = (
        cube("SCI"),
        cube("ERR"),
        cube("VAR_POISSON"),
        cube("VAR_RNOISE"),
    );
    let dqi = Array3::from_shape_vec((2, 32, 32), read_u32(&gi, "DQ")).unwrap();
    let calints = dir.join(format!("{BASE}_calints.fits"));
    let mut w = CalintsWriter::create(&calints, &header, 2, 32, 32, "MJy/sr", true).unwrap();
    for int in 0..2 {
        let band = CalBand {
            sci: sci.slice(s![int, .., ..]),
            err: err.slice(s![int, .., ..]),
            dq: dqi.slice(s![int, .., ..]),
            var_poisson: vp.slice(s![int, .., ..]),
            var_rnoise: vr.slice(s![int, .., ..]),
            var_flat: zeros.view(),
        };
        w.write_band(int, 0, &band).unwrap();
    }
    w.write_area_band(0, ones.view()).unwrap();
    (cal, w.finish().unwrap())
}

fn only_files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    v.sort();
    v
}

#[test]
fn rate_matches_golden_layout_and_values() {
    let dir = tempfile::tempdir().unwrap();
    let p = write_rate(dir.path());
    let g = golden("rate");
    assert_eq!(only_files(dir.path()), vec![format!("{BASE}_rate.fits")]);
    assert_eq!(
        hdu_names(&p),
        ["PRIMARY", "SCI", "ERR", "DQ", "VAR_POISSON", "VAR_RNOISE"]
    );
    for n in ["SCI", "ERR", "VAR_POISSON", "VAR_RNOISE"] {
        let (shape, v) = read_f32(&p, n);
        assert_eq!(shape, vec![32, 32]);
        assert_eq!(bits(&v), bits(&read_f32(&g, n).1), "{n}");
        assert_eq!(key_i64(&p, n, "BITPIX"), Some(-32));
    }
    assert_eq!(read_u32(&p, "DQ"), read_u32(&g, "DQ"));
    assert_eq!(key_i64(&p, "DQ", "BITPIX"), Some(32));
    assert_eq!(key_i64(&p, "DQ", "BZERO"), Some(2147483648));
    assert_eq!(key_str(&p, 1, "BUNIT").as_deref(), Some("DN/s"));
    assert_eq!(key_str(&p, 2, "BUNIT").as_deref(), Some("DN/s"));
    assert_eq!(key_str(&p, 3, "BUNIT"), None);
    assert_eq!(key_str(&p, 1, "XPOSURE"), key_str(&g, 1, "XPOSURE"));
    assert_eq!(key_str(&p, 0, "DATAMODL").as_deref(), Some("ImageModel"));
    assert_eq!(key_str(&p, 0, "CAL_VER").as_deref(), Some("3.0.0"));
    assert_eq!(key_str(&p, 0, "CAL_VCS").as_deref(), Some("sloper 0.1.0"));
    assert_eq!(
        key_str(&p, 0, "FILENAME").as_deref(),
        Some(&*format!("{BASE}_rate.fits"))
    );
    assert_eq!(
        key_str(&p, 0, "CRDS_CTX").as_deref(),
        Some("jwst_offline.pmap")
    );
    assert_eq!(key_str(&p, 0, "CRDS_VER"), None);
    assert_eq!(key_str(&p, 0, "S_JUMP").as_deref(), Some("COMPLETE"));
    assert_eq!(key_str(&p, 0, "R_IPC").as_deref(), Some("N/A"));
    assert_eq!(key_str(&p, 0, "PRIMECRS"), key_str(&g, 0, "PRIMECRS"));
    assert_eq!(key_str(&p, 0, "EXPMID"), key_str(&g, 0, "EXPMID"));
    assert_eq!(key_str(&p, 0, "EXTNCRS").as_deref(), Some("0.0"));
    for (name, d, h) in verify_checksums(&p).unwrap() {
        assert!(d && h, "checksum of {name}");
    }
}

#[test]
fn rateints_and_ramp_match_golden_and_copy_tables() {
    let dir = tempfile::tempdir().unwrap();
    let p = write_rateints(dir.path());
    let g = golden("rateints");
    assert_eq!(
        hdu_names(&p),
        [
            "PRIMARY",
            "SCI",
            "ERR",
            "DQ",
            "INT_TIMES",
            "VAR_POISSON",
            "VAR_RNOISE"
        ]
    );
    for n in ["SCI", "ERR", "VAR_POISSON", "VAR_RNOISE"] {
        let (shape, v) = read_f32(&p, n);
        assert_eq!(shape, vec![2, 32, 32]);
        assert_eq!(bits(&v), bits(&read_f32(&g, n).1), "{n}");
    }
    assert_eq!(read_u32(&p, "DQ"), read_u32(&g, "DQ"));
    let mid = |path: &Path| {
        let mut f = FitsFile::open(path).unwrap();
        let h = f.hdu("INT_TIMES").unwrap();
        h.read_col::<f64>(&mut f, "int_mid_MJD_UTC").unwrap()
    };
    assert_eq!(mid(&p), mid(&g));
    assert_eq!(key_str(&p, 0, "DATAMODL").as_deref(), Some("CubeModel"));
    assert!(verify_checksums(&p)
        .unwrap()
        .iter()
        .all(|(_, d, h)| *d && *h));

    let p = write_ramp(dir.path());
    let g = golden("ramp");
    assert_eq!(
        hdu_names(&p),
        [
            "PRIMARY",
            "SCI",
            "PIXELDQ",
            "GROUPDQ",
            "AVDRKCUR",
            "GROUP",
            "INT_TIMES"
        ]
    );
    let (shape, v) = read_f32(&p, "SCI");
    assert_eq!(shape, vec![2, 5, 32, 32]);
    assert_eq!(bits(&v), bits(&read_f32(&g, "SCI").1));
    assert_eq!(read_u8(&p, "GROUPDQ"), read_u8(&g, "GROUPDQ"));
    assert_eq!(key_i64(&p, "GROUPDQ", "BITPIX"), Some(8));
    assert_eq!(read_u32(&p, "PIXELDQ"), read_u32(&g, "PIXELDQ"));
    assert_eq!(
        bits(&read_f32(&p, "AVDRKCUR").1),
        bits(&read_f32(&g, "AVDRKCUR").1)
    );
    assert_eq!(key_str(&p, 1, "BUNIT"), None);
    assert_eq!(key_str(&p, 0, "S_RAMP"), None);
    let rows = |path: &Path| {
        let mut f = FitsFile::open(path).unwrap();
        let h = f.hdu("GROUP").unwrap();
        h.read_col::<i32>(&mut f, "group_number").unwrap()
    };
    assert_eq!(rows(&p), rows(&g));
    assert!(verify_checksums(&p)
        .unwrap()
        .iter()
        .all(|(_, d, h)| *d && *h));
}

#[test]
fn cal_and_calints_layouts() {
    let dir = tempfile::tempdir().unwrap();
    let (cal, calints) = write_cal(dir.path());
    assert_eq!(
        hdu_names(&cal),
        [
            "PRIMARY",
            "SCI",
            "ERR",
            "DQ",
            "AREA",
            "VAR_POISSON",
            "VAR_RNOISE",
            "VAR_FLAT"
        ]
    );
    assert_eq!(
        hdu_names(&calints),
        [
            "PRIMARY",
            "SCI",
            "ERR",
            "DQ",
            "AREA",
            "INT_TIMES",
            "VAR_POISSON",
            "VAR_RNOISE",
            "VAR_FLAT"
        ]
    );
    assert_eq!(key_str(&cal, 1, "BUNIT").as_deref(), Some("MJy/sr"));
    assert_eq!(key_str(&cal, 2, "BUNIT").as_deref(), Some("MJy/sr"));
    assert_eq!(key_str(&cal, 1, "PHOTMJSR").as_deref(), Some("0.5"));
    // carried over from the input rate: its steps, plus the new ones
    assert_eq!(key_str(&cal, 0, "S_JUMP").as_deref(), Some("COMPLETE"));
    assert_eq!(key_str(&cal, 0, "S_PHOTOM").as_deref(), Some("COMPLETE"));
    assert_eq!(read_f32(&calints, "AREA").0, vec![32, 32]);
    assert!(verify_checksums(&calints)
        .unwrap()
        .iter()
        .all(|(_, d, h)| *d && *h));
}

#[test]
fn dropped_or_incomplete_writers_leave_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x_rate.fits");
    let z = Array2::<f32>::zeros((4, 8));
    let dq = Array2::<u32>::zeros((4, 8));
    let band = RateBand {
        sci: z.view(),
        err: z.view(),
        dq: dq.view(),
        var_poisson: z.view(),
        var_rnoise: z.view(),
    };
    {
        let mut w = RateWriter::create(&out, &d1_header(uncal()), 8, 8).unwrap();
        w.write_band(0, &band).unwrap();
        assert!(w.temp_path().exists());
        assert!(w
            .temp_path()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with(".x_rate.fits.sloper-tmp-"));
    }
    assert!(
        only_files(dir.path()).is_empty(),
        "{:?}",
        only_files(dir.path())
    );

    let mut w = RateWriter::create(&out, &d1_header(uncal()), 8, 8).unwrap();
    w.write_band(4, &band).unwrap();
    let e = w.finish().expect_err("rows 0..4 missing").to_string();
    assert!(e.contains("row 0") && e.contains("SCI"), "{e}");
    assert!(only_files(dir.path()).is_empty());

    // bands that do not fit, wrong indices, missing input: errors, never panics
    let mut w = RateWriter::create(&out, &d1_header(uncal()), 8, 8).unwrap();
    assert!(w.write_band(6, &band).is_err());
    let mut wi =
        RateintsWriter::create(&dir.path().join("y.fits"), &d1_header(uncal()), 2, 8, 8).unwrap();
    assert!(wi.write_band(2, 0, &band).is_err());
    let wide: ArrayView2<f32> = z.slice(s![.., 0..4]);
    assert!(w.write_band(0, &RateBand { sci: wide, ..band }).is_err());
    drop((w, wi));
    let e = RateWriter::create(&out, &d1_header(dir.path().join("nope.fits")), 8, 8);
    assert!(e.is_err());
    assert!(only_files(dir.path()).is_empty());
}

/// `jwst.datamodels.open` must open every product as the right model with the right values.
/// Runs only when SLOPER_ORACLE_PYTHON names a python with jwst installed.
#[test]
fn official_datamodels_open_our_products() {
    let Some(python) = std::env::var_os("SLOPER_ORACLE_PYTHON") else {
        eprintln!("note: SLOPER_ORACLE_PYTHON is not set; skipping the jwst.datamodels check");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    write_rate(dir.path());
    write_rateints(dir.path());
    write_ramp(dir.path());
    write_cal(dir.path());
    let script = fixtures().join("write/check_datamodels.py");
    let golden_dir = fixtures().join("oracle/tiny/golden");
    let out = std::process::Command::new(python)
        .arg(&script)
        .arg(dir.path())
        .arg(&golden_dir)
        .output()
        .expect("running the oracle python");
    println!("{}", String::from_utf8_lossy(&out.stdout));
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "check_datamodels.py failed");
}
