//! Every pixel saturated in group 0 of every integration: the official ramp_fit returns nothing,
//! calwebb_detector1 logs "NoneType returned from ramp_fit" and writes no rate products (only
//! the calibrated ramp when asked), exiting 0. sloper does the same.

mod common;

use common::{detector1, repo};

#[test]
fn no_rate_products_when_everything_saturates_at_once() {
    let tiny = repo().join("fixtures/oracle/tiny");
    let t = tempfile::tempdir().unwrap();
    let refs = t.path().join("refs");
    std::fs::create_dir(&refs).unwrap();
    for e in std::fs::read_dir(&tiny).unwrap() {
        let p = e.unwrap().path();
        if p.file_name().unwrap().to_string_lossy().starts_with("ref_") {
            std::fs::copy(&p, refs.join(p.file_name().unwrap())).unwrap();
        }
    }
    // Threshold 1 DN everywhere: every group saturates.
    {
        let mut f = fitsio::FitsFile::edit(refs.join("ref_saturation.fits")).unwrap();
        let hdu = f.hdu("SCI").unwrap();
        let n = 32 * 32;
        hdu.write_image(&mut f, &vec![1.0f32; n]).unwrap();
        let dq = f.hdu("DQ").unwrap();
        dq.write_image(&mut f, &vec![0u32; n]).unwrap();
    }
    let out = t.path().join("out");
    let uncal = tiny.join("jw01234001001_01101_00001_nrcalong_uncal.fits");
    let report = detector1(&[
        uncal.display().to_string(),
        "--refs".into(),
        refs.display().to_string(),
        format!("--output_dir={}", out.display()),
        "--save_calibrated_ramp=true".into(),
        "--quiet".into(),
    ]);
    let names: Vec<String> = report
        .outputs
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        vec!["jw01234001001_01101_00001_nrcalong_ramp.fits".to_string()]
    );
    let left: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left.len(), 1, "{left:?}");
}
