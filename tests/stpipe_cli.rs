//! The strun conventions through the built binary: `sloper strun` with official names and
//! parameter files, `--save-parameters` round trip, logging on stderr only, exit statuses, and
//! the README's paste-able official command line.

mod common;

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

/// The README's official command line (section "stpipe conventions"), taken from README.md and
/// run as written except for the output folder, in `fixtures/oracle/tiny`: every file it writes
/// is bit-identical with the official `strun` run of the same line
/// (`fixtures/step_saves/make_readme_golden.sh`).
#[test]
fn readme_official_command_line_runs_unchanged() {
    let repo = common::repo();
    let readme = std::fs::read_to_string(repo.join("README.md")).unwrap();
    let lines: Vec<&str> = readme.lines().collect();
    let start = "sloper strun calwebb_detector1 jw01234001001_01101_00001_nrcalong_uncal.fits --output_dir=out";
    let i = lines
        .iter()
        .position(|l| l.starts_with(start))
        .expect("README shows the official command line");
    assert_eq!(lines[i - 1], "cd fixtures/oracle/tiny");
    let mut words: Vec<String> = Vec::new();
    for l in &lines[i..] {
        words.extend(
            l.split_whitespace()
                .filter(|w| *w != "\\")
                .map(str::to_string),
        );
        if !l.trim_end().ends_with('\\') {
            break;
        }
    }
    assert_eq!(&words[..2], ["sloper", "strun"]);
    // Nothing sloper-specific in it: every option is an official strun one.
    assert!(words
        .iter()
        .all(|w| !w.starts_with("--refs") && !w.starts_with("--max-memory")));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let args: Vec<String> = words[1..]
        .iter()
        .map(|w| {
            if w == "--output_dir=out" {
                format!("--output_dir={}", out.display())
            } else {
                w.clone()
            }
        })
        .collect();
    let run = Command::new(env!("CARGO_BIN_EXE_sloper"))
        .args(&args)
        .current_dir(tiny())
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));
    let base = "jw01234001001_01101_00001_nrcalong";
    let mut written = common::entries(&out);
    written.sort();
    let expected: Vec<String> = ["jump", "ramp", "rate", "rateints", "saturation"]
        .iter()
        .map(|s| format!("{base}_{s}.fits"))
        .collect();
    assert_eq!(written, expected);
    for s in ["rate", "rateints", "ramp"] {
        let name = format!("{base}_{s}.fits");
        common::assert_same_images(&out.join(&name), &tiny().join("golden").join(&name));
    }
    let golden = dir.path().join("golden");
    common::unpack_fits(&repo.join("fixtures/step_saves/readme"), &golden);
    for s in ["saturation", "jump"] {
        let name = format!("{base}_{s}.fits");
        common::assert_same_images(&out.join(&name), &golden.join(&name));
    }
}

/// strun's 64 ("no science data") comes only from NIRSpec code in jwst 3.0.0; for the
/// pipelines sloper implements the official tool exits 0 on exposures without science data
/// (fixtures/stpipe/no_science_data.sh and .txt), and so does sloper.
#[test]
fn no_science_data_exits_0_as_the_official_strun() {
    let dir = tempfile::tempdir().unwrap();
    // 1. Every pixel saturated in group 0: no rate products, status 0.
    let refs = dir.path().join("refs");
    std::fs::create_dir(&refs).unwrap();
    for e in std::fs::read_dir(tiny()).unwrap() {
        let p = e.unwrap().path();
        if p.file_name().unwrap().to_string_lossy().starts_with("ref_") {
            std::fs::copy(&p, refs.join(p.file_name().unwrap())).unwrap();
        }
    }
    {
        let mut f = fitsio::FitsFile::edit(refs.join("ref_saturation.fits")).unwrap();
        let hdu = f.hdu("SCI").unwrap();
        hdu.write_image(&mut f, &vec![1.0f32; 32 * 32]).unwrap();
        let dq = f.hdu("DQ").unwrap();
        dq.write_image(&mut f, &vec![0u32; 32 * 32]).unwrap();
    }
    let out = dir.path().join("saturated");
    let run = sloper(&[
        "strun",
        "calwebb_detector1",
        tiny().join(UNCAL).to_str().unwrap(),
        "--refs",
        refs.to_str().unwrap(),
        &format!("--output_dir={}", out.display()),
        "--no-progress",
    ]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));
    assert!(
        common::entries(&out).is_empty(),
        "{:?}",
        common::entries(&out)
    );

    // 2. Every pixel DO_NOT_USE: detector1 -> image2 -> tso3, status 0 and every product.
    let sim = dir.path().join("sim");
    let made = sloper(&[
        "simulate",
        "--exp-type",
        "NRC_TSIMAGE",
        "--nints",
        "4",
        "--ngroups",
        "3",
        "--ny",
        "32",
        "--nx",
        "32",
        "--seed",
        "3",
        "--outdir",
        sim.to_str().unwrap(),
    ]);
    assert!(made.status.success(), "{}", text(&made.stderr));
    {
        let mut f = fitsio::FitsFile::edit(sim.join("ref_mask.fits")).unwrap();
        let hdu = f.hdu("DQ").unwrap();
        let dq: Vec<u32> = hdu.read_image(&mut f).unwrap();
        let all: Vec<u32> = dq.iter().map(|q| q | 1).collect();
        hdu.write_image(&mut f, &all).unwrap();
    }
    let out = dir.path().join("dnu");
    let run = sloper(&[
        "run",
        sim.join(UNCAL).to_str().unwrap(),
        "--pipeline",
        "detector1,image2,tso3",
        "--refs",
        sim.to_str().unwrap(),
        &format!("--output_dir={}", out.display()),
        "--no-progress",
    ]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));
    let base = "jw01234001001_01101_00001_nrcalong";
    for s in [
        "rate.fits",
        "rateints.fits",
        "cal.fits",
        "calints.fits",
        "crfints.fits",
        "phot.ecsv",
    ] {
        assert!(
            out.join(format!("{base}_{s}")).is_file(),
            "{s}: {:?}",
            common::entries(&out)
        );
    }
    let mut f = fitsio::FitsFile::open(out.join(format!("{base}_rate.fits"))).unwrap();
    let sci: Vec<f32> = f.hdu("SCI").unwrap().read_image(&mut f).unwrap();
    assert!(
        sci.iter().all(|v| v.is_nan()),
        "no science data: every rate is NaN"
    );
}
