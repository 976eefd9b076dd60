//! Bad input through the command line: one clear line naming the file and the problem, exit
//! status 1, and nothing left in the output directory (no product, no temporary file).

mod common;

use common::repo;
use std::path::Path;
use std::process::Command;

fn tiny() -> std::path::PathBuf {
    repo().join("fixtures/oracle/tiny")
}

/// Run `sloper detector1 UNCAL --refs REFS --output_dir=OUT` and return (status, stderr).
fn run(uncal: &Path, refs: &Path, out: &Path, extra: &[&str]) -> (i32, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_sloper"))
        .arg("detector1")
        .arg(uncal)
        .arg("--refs")
        .arg(refs)
        .arg(format!("--output_dir={}", out.display()))
        .args(["--no-progress", "--log-level=ERROR"])
        .args(extra)
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn assert_empty(out: &Path) {
    let left = common::entries(out);
    assert!(left.is_empty(), "files left behind: {left:?}");
}

fn copy_refs(dst: &Path) {
    for e in std::fs::read_dir(tiny()).unwrap() {
        let p = e.unwrap().path();
        if p.file_name().unwrap().to_string_lossy().starts_with("ref_") {
            std::fs::copy(&p, dst.join(p.file_name().unwrap())).unwrap();
        }
    }
}

const UNCAL: &str = "jw01234001001_01101_00001_nrcalong_uncal.fits";

#[test]
fn truncated_raw_file() {
    let t = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(tiny().join(UNCAL)).unwrap();
    let bad = t.path().join(UNCAL);
    std::fs::write(&bad, &bytes[..bytes.len() / 2]).unwrap();
    let out = t.path().join("out");
    let (code, err) = run(&bad, &tiny(), &out, &[]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains(UNCAL), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert_empty(&out);
}

#[test]
fn reference_of_the_wrong_shape() {
    let t = tempfile::tempdir().unwrap();
    let refs = t.path().join("refs");
    std::fs::create_dir(&refs).unwrap();
    copy_refs(&refs);
    // A 24x24 exposure's gain in place of the 32x32 one.
    let other = repo().join("fixtures/parity/ngroups3/ref_gain.fits.gz");
    let mut raw = Vec::new();
    use std::io::Read;
    flate2::read::GzDecoder::new(std::fs::File::open(other).unwrap())
        .read_to_end(&mut raw)
        .unwrap();
    std::fs::write(refs.join("ref_gain.fits"), raw).unwrap();
    let out = t.path().join("out");
    let (code, err) = run(&tiny().join(UNCAL), &refs, &out, &[]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("ref_gain.fits"), "{err}");
    assert_empty(&out);
}

#[test]
fn missing_reference_names_the_option() {
    let t = tempfile::tempdir().unwrap();
    let refs = t.path().join("refs");
    std::fs::create_dir(&refs).unwrap();
    copy_refs(&refs);
    std::fs::remove_file(refs.join("ref_dark.fits")).unwrap();
    let out = t.path().join("out");
    let (code, err) = run(&tiny().join(UNCAL), &refs, &out, &[]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("--steps.dark_current.override_dark"), "{err}");
    assert_empty(&out);
}

#[test]
fn not_fits_at_all() {
    let t = tempfile::tempdir().unwrap();
    let bad = t.path().join("x_uncal.fits");
    std::fs::write(&bad, b"this is not a FITS file").unwrap();
    let out = t.path().join("out");
    let (code, err) = run(&bad, &tiny(), &out, &[]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("x_uncal.fits"), "{err}");
    assert_empty(&out);
}

#[test]
fn unknown_parameter_is_a_usage_error() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    let (code, err) = run(
        &tiny().join(UNCAL),
        &tiny(),
        &out,
        &["--steps.jump.rejection=3"],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("rejection"), "{err}");
    assert_empty(&out);
}
