//! The strun conventions through the built binary: `sloper strun` with official names and
//! parameter files, `--save-parameters` round trip, logging on stderr only, exit statuses.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const UNCAL: &str = "jw01234001001_01101_00001_nrcalong_uncal.fits";

fn tiny() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/oracle/tiny")
}

fn sloper(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sloper"))
        .args(args)
        .output()
        .expect("run sloper")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The SCI array's bit patterns (NaN-safe equality, no huge diff on failure).
fn sci(path: &Path) -> Vec<u32> {
    let mut f = fitsio::FitsFile::open(path).unwrap();
    let hdu = f.hdu("SCI").unwrap();
    let v: Vec<f32> = hdu.read_image(&mut f).unwrap();
    v.iter().map(|x| x.to_bits()).collect()
}

fn assert_same_sci(a: &Path, b: &Path) {
    let (x, y) = (sci(a), sci(b));
    assert_eq!(x.len(), y.len());
    let differing = x.iter().zip(&y).filter(|(p, q)| p != q).count();
    assert_eq!(differing, 0, "{} vs {}", a.display(), b.display());
}

#[test]
fn strun_alias_save_parameters_and_reload() {
    let dir = tempfile::tempdir().unwrap();
    let input = tiny().join(UNCAL);
    let refs = tiny();
    let (a, b, c) = (
        dir.path().join("a"),
        dir.path().join("b"),
        dir.path().join("c"),
    );
    let params = dir.path().join("used.asdf");
    let log = dir.path().join("run.log");
    let out = sloper(&[
        "strun",
        "calwebb_detector1",
        input.to_str().unwrap(),
        "--steps.jump.rejection_threshold=6",
        "--refs",
        refs.to_str().unwrap(),
        &format!("--output_dir={}", a.display()),
        "--save-parameters",
        params.to_str().unwrap(),
        "--log-file",
        log.to_str().unwrap(),
        "--no-progress",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(out.status.code(), Some(0));
    // stdout lists the products only; log lines go to stderr (and the log file).
    let stdout = text(&out.stdout);
    assert!(stdout.lines().all(|l| l.ends_with(".fits")), "{stdout}");
    assert!(!stdout.contains(" - INFO - "));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(" - stpipe._cmdline - INFO - Step/Pipeline parameters saved to"),
        "{stderr}"
    );
    assert!(std::fs::read_to_string(&log)
        .unwrap()
        .contains("parameters saved to"));
    let rate_a = a.join("jw01234001001_01101_00001_nrcalong_rate.fits");
    assert!(rate_a.is_file());

    // The saved file, as strun's first argument (class -> pipeline), reproduces the run.
    let saved = std::fs::read_to_string(&params).unwrap();
    assert!(saved.starts_with("#ASDF 1.0.0") && saved.contains("rejection_threshold: 6.0"));
    let out = sloper(&[
        "strun",
        params.to_str().unwrap(),
        input.to_str().unwrap(),
        "--refs",
        refs.to_str().unwrap(),
        &format!("--output_dir={}", b.display()),
        "--no-progress",
        "--log-level=ERROR",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        !text(&out.stderr).contains(" - INFO - "),
        "--log-level=ERROR hides INFO"
    );
    assert_same_sci(
        &rate_a,
        &b.join("jw01234001001_01101_00001_nrcalong_rate.fits"),
    );

    // And as the leading positional of `sloper detector1`.
    let out = sloper(&[
        "detector1",
        params.to_str().unwrap(),
        input.to_str().unwrap(),
        "--refs",
        refs.to_str().unwrap(),
        &format!("--output_dir={}", c.display()),
        "--no-progress",
        "--quiet",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_same_sci(
        &rate_a,
        &c.join("jw01234001001_01101_00001_nrcalong_rate.fits"),
    );
}

#[test]
fn official_parameter_file_runs() {
    let dir = tempfile::tempdir().unwrap();
    let input = tiny().join(UNCAL);
    let file =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/stpipe/official_detector1.asdf");
    let out = sloper(&[
        "strun",
        file.to_str().unwrap(),
        input.to_str().unwrap(),
        "--refs",
        tiny().to_str().unwrap(),
        &format!("--output_dir={}", dir.path().display()),
        "--no-progress",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // save_calibrated_ramp: true in the official file.
    assert!(dir
        .path()
        .join("jw01234001001_01101_00001_nrcalong_ramp.fits")
        .is_file());
}

#[test]
fn exit_statuses_as_strun() {
    let input = tiny().join(UNCAL);
    let input = input.to_str().unwrap();
    // argparse usage error: 2.
    let out = sloper(&["strun", "calwebb_detector1", input, "--steps.jump.foo=1"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("no parameter \"foo\""));
    // bad value, missing input, unknown pipeline: 1.
    let out = sloper(&[
        "strun",
        "calwebb_detector1",
        input,
        "--steps.jump.rejection_threshold=abc",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let out = sloper(&[
        "strun",
        "calwebb_detector1",
        "/nonexistent/x_uncal.fits",
        "--refs",
        "/nonexistent",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let out = sloper(&["strun", "calwebb_spec2", input]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("calwebb_spec2"));
    // A step name explains how to run it.
    let out = sloper(&["strun", "jump", input]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("--steps.jump."));
}
