//! image2 (flat_field + photom) parity with jwst 3.0.0 on fixtures/stage23 (make_golden.py):
//! every array of `_cal` and `_calints`, bit for bit, and the photom keywords.

mod consumers_util;
use consumers_util::*;
use sloper::consumers::image2::{run_file, Image2Settings};

const CAL_ARRAYS: &[&str] = &[
    "SCI",
    "ERR",
    "DQ",
    "AREA",
    "VAR_POISSON",
    "VAR_RNOISE",
    "VAR_FLAT",
];

fn settings(dir: &std::path::Path, refs: &str) -> Image2Settings {
    Image2Settings {
        flat: Some(unpack(
            dir,
            &format!("{refs}_ref_flat.fits"),
            "ref_flat.fits",
        )),
        photom: Some(unpack(
            dir,
            &format!("{refs}_ref_photom.fits"),
            "ref_photom.fits",
        )),
        area: Some(unpack(
            dir,
            &format!("{refs}_ref_area.fits"),
            "ref_area.fits",
        )),
        apply_time_correction: true,
        output_dir: dir.join("out"),
        quiet: true,
        ..Default::default()
    }
}

#[test]
fn calints_bit_identical() {
    let t = tempfile::tempdir().unwrap();
    let s = settings(t.path(), "tsimg");
    let input = unpack(
        t.path(),
        "tsimg_rateints.fits",
        &format!("{BASE}_rateints.fits"),
    );
    let ours = run_file(&s, &input).unwrap();
    assert!(ours.ends_with(format!("{BASE}_calints.fits")));
    let golden = unpack(t.path(), "tsimg_calints.fits", "golden_calints.fits");
    assert_same_product(&ours, &golden, CAL_ARRAYS);
    for k in ["PHOTMJSR", "PHOTUJA2", "PIXAR_SR", "PIXAR_A2"] {
        assert_eq!(key_f64(&ours, "SCI", k), key_f64(&golden, "SCI", k), "{k}");
    }
    assert_eq!(key_str(&ours, "SCI", "BUNIT").as_deref(), Some("MJy/sr"));
    assert_eq!(key_str(&ours, "ERR", "BUNIT").as_deref(), Some("MJy/sr"));
    assert_eq!(
        key_str(&ours, "PRIMARY", "S_FLAT").as_deref(),
        Some("COMPLETE")
    );
    assert_eq!(
        key_str(&ours, "PRIMARY", "S_PHOTOM").as_deref(),
        Some("COMPLETE")
    );
}

#[test]
fn cal_bit_identical() {
    let t = tempfile::tempdir().unwrap();
    let s = settings(t.path(), "tsimg");
    let input = unpack(t.path(), "tsimg_rate.fits", &format!("{BASE}_rate.fits"));
    let ours = run_file(&s, &input).unwrap();
    let golden = unpack(t.path(), "tsimg_cal.fits", "golden_cal.fits");
    assert_same_product(&ours, &golden, CAL_ARRAYS);
}

/// Flat larger than the science (cut-out path), PHOTOM with a subarray column and a linear
/// time-dependence table: the conversion becomes float64.
#[test]
fn cal_cutout_flat_and_time_dependence() {
    let t = tempfile::tempdir().unwrap();
    let s = settings(t.path(), "var");
    let input = unpack(t.path(), "tsimg_rate.fits", &format!("{BASE}_rate.fits"));
    let ours = run_file(&s, &input).unwrap();
    let golden = unpack(t.path(), "var_cal.fits", "golden_cal.fits");
    assert_same_product(&ours, &golden, CAL_ARRAYS);
    for k in ["PHOTMJSR", "PHOTUJA2", "PIXAR_SR", "PIXAR_A2"] {
        assert_eq!(key_f64(&ours, "SCI", k), key_f64(&golden, "SCI", k), "{k}");
    }
}
