//! Per-step saved results (`--steps.<step>.save_results=true`, `--steps.<step>.output_file`)
//! against the official calwebb_detector1 (jwst 3.0.0): fixtures/step_saves, made by
//! fixtures/step_saves/make_step_saves.sh (BRIGHT2 with FRMDIVSR=4 so group_scale runs,
//! GAINFACT so gain_scale runs, heavy cosmic rays, flagged/NaN reference pixels so PIXELDQ
//! changes at saturation, superbias, linearity, dark_current and jump). Every image array is
//! compared bit for bit, and the primary header's step-status/reference keywords and
//! PRIMECRS/EXTNCRS by value. fixtures/step_saves_zeroframe (make.sh there) adds a ZEROFRAME:
//! every saved ramp carries it as it stands after its step.

mod common;

use common::{assert_same_images, detector1, images, repo, unpack_fits};
use std::path::{Path, PathBuf};

const STEPS: [&str; 11] = [
    "group_scale",
    "dq_init",
    "saturation",
    "ipc",
    "superbias",
    "refpix",
    "linearity",
    "dark_current",
    "jump",
    "ramp_fit",
    "gain_scale",
];

const KEYS: [&str; 23] = [
    "S_GRPSCL", "S_DQINIT", "S_SATURA", "S_IPC", "S_SUPERB", "S_REFPIX", "S_LINEAR", "S_DARK",
    "S_CHGMIG", "S_JUMP", "S_PCTFRM", "S_CLNFNS", "S_PERSIS", "S_RAMP", "S_GANSCL", "R_MASK",
    "R_SATURA", "R_IPC", "R_SUPERB", "R_LINEAR", "R_DARK", "R_GAIN", "R_READNO",
];

fn fixture() -> PathBuf {
    repo().join("fixtures/step_saves")
}

/// A primary-header string keyword; a reference keyword reduced to its file name (the official
/// files hold the oracle's absolute paths).
fn key(path: &Path, name: &str) -> Option<String> {
    let mut f = fitsio::FitsFile::open(path).unwrap();
    let h = f.primary_hdu().unwrap();
    let v: String = h.read_key(&mut f, name).ok()?;
    Some(match v.rsplit_once('/') {
        Some((_, file)) if name.starts_with("R_") && v != "N/A" => file.to_string(),
        _ => v,
    })
}

fn float_key(path: &Path, name: &str) -> Option<f64> {
    let mut f = fitsio::FitsFile::open(path).unwrap();
    let h = f.primary_hdu().unwrap();
    h.read_key(&mut f, name).ok()
}

fn assert_same_keywords(ours: &Path, golden: &Path) {
    for k in KEYS {
        assert_eq!(
            key(ours, k),
            key(golden, k),
            "{}: {k} differs from {}",
            ours.display(),
            golden.display()
        );
    }
    for k in ["PRIMECRS", "EXTNCRS"] {
        match (float_key(ours, k), float_key(golden, k)) {
            (Some(a), Some(b)) => assert!(
                (a - b).abs() <= 1e-12 * b.abs().max(1.0),
                "{}: {k} {a} vs {b}",
                ours.display()
            ),
            (a, b) => assert_eq!(a.is_some(), b.is_some(), "{}: {k}", ours.display()),
        }
    }
}

fn fits_names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".fits"))
        .collect();
    v.sort();
    v
}

fn zeroframe_fixture() -> PathBuf {
    repo().join("fixtures/step_saves_zeroframe")
}

/// The image HDUs of a file, in order.
fn image_names(path: &Path) -> Vec<String> {
    images(path).into_iter().map(|(n, _)| n).collect()
}

/// Run with every step saved (plus `extra`) and compare each file with the official one.
fn every_step(extra: &[&str]) {
    every_step_of(&fixture(), extra);
}

/// [`every_step`] on the fixture in `dir`; also the same image HDUs in the same order (the
/// ZEROFRAME after GROUPDQ exactly when the official file has one).
fn every_step_of(dir: &Path, extra: &[&str]) {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    let out = tmp.path().join("out");
    unpack_fits(dir, &input);
    let mut args: Vec<String> = vec![
        input
            .join("jw01234001001_01101_00001_nrcalong_uncal.fits")
            .display()
            .to_string(),
        "--refs".into(),
        input.display().to_string(),
        format!("--output_dir={}", out.display()),
        "--save_calibrated_ramp=true".into(),
        "--steps.ipc.override_ipc=N/A".into(),
        "--quiet".into(),
    ];
    args.extend(
        STEPS
            .iter()
            .map(|s| format!("--steps.{s}.save_results=true")),
    );
    args.extend(extra.iter().map(|s| s.to_string()));
    let report = detector1(&args);
    assert_eq!(report.outputs.len(), 16);
    let golden = tmp.path().join("golden");
    unpack_fits(&dir.join("golden"), &golden);
    let names = fits_names(&golden);
    assert_eq!(names.len(), 16);
    assert_eq!(
        fits_names(&out),
        names,
        "the same files as the official run"
    );
    for n in &names {
        assert_same_images(&out.join(n), &golden.join(n));
        assert_eq!(
            image_names(&out.join(n)),
            image_names(&golden.join(n)),
            "{n}: image HDUs"
        );
        assert_same_keywords(&out.join(n), &golden.join(n));
    }
}

const ZF_ARGS: [&str; 1] = ["--steps.ramp_fit.suppress_one_group=false"];

/// A ZEROFRAME (ZEROFRAM = T, saturated values zeroed and grown, raw zeros): group_scale and
/// dq_init carry the raw values, saturation and ipc the saturated ones, then superbias, refpix
/// and linearity each change it, dark_current and jump carry linearity's (as the final _ramp).
/// Every array of every file bit for bit, the fit reading the ZEROFRAME.
#[test]
fn zeroframe_in_every_step_matches_the_official_files() {
    every_step_of(&zeroframe_fixture(), &ZF_ARGS);
}

/// The ZEROFRAME's saturation growth crosses tile borders: one-row and small tiles, any thread
/// count, give the same files.
#[test]
fn zeroframe_in_every_step_with_small_tiles() {
    for tile in [
        ["--tile", "3x5", "--threads", "2"],
        ["--tile", "1x24", "--threads", "1"],
    ] {
        every_step_of(&zeroframe_fixture(), &[&ZF_ARGS[..], &tile[..]].concat());
    }
}

/// ZEROFRAM = F with the HDU present: no step touches the ZEROFRAME, so every saved ramp
/// carries the raw values and is otherwise the ZEROFRAM = T run's (checked with the official
/// pipeline by fixtures/step_saves_zeroframe/check_false.py; the fit's products, which read the
/// ZEROFRAME, are not compared).
#[test]
fn zeroframe_false_is_carried_raw_by_every_step() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    let out = tmp.path().join("out");
    unpack_fits(&zeroframe_fixture(), &input);
    let uncal = input.join("jw01234001001_01101_00001_nrcalong_uncal.fits");
    let mut bytes = std::fs::read(&uncal).unwrap();
    let card = bytes
        .chunks(80)
        .position(|c| c.starts_with(b"ZEROFRAM="))
        .expect("ZEROFRAM card");
    assert_eq!(bytes[card * 80 + 29], b'T');
    bytes[card * 80 + 29] = b'F';
    std::fs::write(&uncal, bytes).unwrap();
    let raw: Vec<f32> = {
        let mut f = fitsio::FitsFile::open(&uncal).unwrap();
        let h = f.hdu("ZEROFRAME").unwrap();
        h.read_image(&mut f).unwrap()
    };
    let mut args: Vec<String> = vec![
        uncal.display().to_string(),
        "--refs".into(),
        input.display().to_string(),
        format!("--output_dir={}", out.display()),
        "--steps.ipc.override_ipc=N/A".into(),
        "--tile".into(),
        "5x7".into(),
        "--quiet".into(),
    ];
    args.extend(ZF_ARGS.iter().map(|s| s.to_string()));
    args.extend(
        STEPS[..9]
            .iter()
            .map(|s| format!("--steps.{s}.save_results=true")),
    );
    detector1(&args);
    let golden = tmp.path().join("golden");
    unpack_fits(&zeroframe_fixture().join("golden"), &golden);
    let mut zeroed_by_t = 0;
    for step in &STEPS[..9] {
        let n = format!("jw01234001001_01101_00001_nrcalong_{step}.fits");
        let ours = images(&out.join(&n));
        let official = images(&golden.join(&n));
        assert_eq!(
            ours.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            official.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            "{n}: image HDUs"
        );
        for ((name, a), (_, b)) in ours.iter().zip(&official) {
            if name == "ZEROFRAME" {
                let raw_bits: Vec<u32> = raw.iter().map(|v| v.to_bits()).collect();
                assert_eq!(*a, common::Data::F32(raw_bits), "{n}: raw ZEROFRAME");
                if let common::Data::F32(t) = b {
                    zeroed_by_t = zeroed_by_t.max(
                        t.iter()
                            .zip(&raw)
                            .filter(|(&t, &r)| t == 0 && r != 0.0)
                            .count(),
                    );
                }
            } else {
                assert_eq!(a, b, "{n}[{name}] differs from the ZEROFRAM = T file");
            }
        }
    }
    // The fixture's ZEROFRAM = T run does zero values (saturation), so the check means something.
    assert!(zeroed_by_t > 50, "{zeroed_by_t}");
}

#[test]
fn every_step_matches_the_official_files() {
    every_step(&[]);
}

/// Taps cut at tile borders: many small tiles with halos (saturation growth, neighbours) and
/// any thread count give the same files.
#[test]
fn every_step_with_small_tiles() {
    every_step(&["--tile", "3x5", "--threads", "2"]);
    every_step(&["--tile", "16x1", "--threads", "1"]);
}

/// `output_file` (pipeline and step), `suffix`, a step's `output_dir`, and what the pipeline
/// overrides (dark_current/ramp_fit output_dir, gain_scale suffix), skipped steps: the same file
/// names as the official run (fixtures/step_saves/names.txt, options in name_args.txt).
#[test]
fn names_follow_the_official_rules() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    let out = tmp.path().join("out");
    unpack_fits(&fixture(), &input);
    let mut args: Vec<String> = vec![
        input
            .join("jw01234001001_01101_00001_nrcalong_uncal.fits")
            .display()
            .to_string(),
        "--refs".into(),
        input.display().to_string(),
        format!("--output_dir={}", out.display()),
        "--save_calibrated_ramp=true".into(),
        "--quiet".into(),
    ];
    let name_args = std::fs::read_to_string(fixture().join("name_args.txt")).unwrap();
    args.extend(
        name_args
            .lines()
            .map(|l| l.replace("OUT", &out.display().to_string())),
    );
    detector1(&args);
    let mut found = Vec::new();
    let mut stack = vec![out.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                found.push(p.strip_prefix(&out).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    found.sort();
    let expected: Vec<String> = std::fs::read_to_string(fixture().join("names.txt"))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(found, expected);
    // The saturation file holds saturation's result whatever its name.
    let golden = tmp.path().join("golden");
    unpack_fits(&fixture().join("golden"), &golden);
    assert_same_images(
        &out.join("sat_only_saturation.fits"),
        &golden.join("jw01234001001_01101_00001_nrcalong_saturation.fits"),
    );
    assert_same_images(
        &out.join("run7_lin.fits"),
        &golden.join("jw01234001001_01101_00001_nrcalong_linearity.fits"),
    );
}

/// Sigma-clip jump mode may run pass B twice (whole-plane clearing): jump's own file is the
/// calibrated ramp, identical to the official `_ramp` arrays.
#[test]
fn jump_save_in_sigma_clip_mode() {
    let fixture = repo().join("fixtures/parity/sigclip100");
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    let out = tmp.path().join("out");
    unpack_fits(&fixture, &input);
    let report = detector1(&[
        input
            .join("jw01234001001_01101_00001_nrcalong_uncal.fits")
            .display()
            .to_string(),
        "--refs".into(),
        input.display().to_string(),
        format!("--output_dir={}", out.display()),
        "--steps.jump.save_results=true".into(),
        "--steps.saturation.save_results=true".into(),
        "--tile".into(),
        "5x7".into(),
        "--quiet".into(),
    ]);
    assert_eq!(report.outputs.len(), 4);
    let golden = tmp.path().join("golden");
    unpack_fits(&fixture.join("golden"), &golden);
    assert_same_images(
        &out.join("jw01234001001_01101_00001_nrcalong_jump.fits"),
        &golden.join("jw01234001001_01101_00001_nrcalong_ramp.fits"),
    );
    assert_same_images(
        &out.join("jw01234001001_01101_00001_nrcalong_rate.fits"),
        &golden.join("jw01234001001_01101_00001_nrcalong_rate.fits"),
    );
    assert!(!out
        .join("jw01234001001_01101_00001_nrcalong_ramp.fits")
        .exists());
}

fn settings_error(extra: &[&str]) -> String {
    use sloper::config::{parse_strun_args, DETECTOR1};
    use sloper::pipeline::detector1::{settings::EXTRA_OPTIONS, Detector1Settings};
    let tiny = repo().join("fixtures/oracle/tiny");
    let mut args: Vec<String> = vec![
        tiny.join("jw01234001001_01101_00001_nrcalong_uncal.fits")
            .display()
            .to_string(),
        "--refs".into(),
        tiny.display().to_string(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let cfg = parse_strun_args(DETECTOR1, &args, EXTRA_OPTIONS).unwrap();
    Detector1Settings::from_config(&cfg).unwrap_err()
}

#[test]
fn unsupported_combinations_are_refused() {
    let e = settings_error(&["--steps.jump.save_results=true", "--resume"]);
    assert!(
        e.contains("--steps.jump.save_results") && e.contains("--resume"),
        "{e}"
    );
    let e = settings_error(&["--steps.dq_init.save_results=true", "--mode", "online"]);
    assert!(e.contains("--mode exact"), "{e}");
    let e = settings_error(&[
        "--steps.jump.save_results=true",
        "--steps.jump.output_use_model=true",
    ]);
    assert!(e.contains("output_use_model"), "{e}");
    // Two products at one name (the official pipeline would overwrite one with the other).
    let e = settings_error(&[
        "--save_calibrated_ramp=true",
        "--steps.jump.save_results=true",
        "--steps.jump.suffix=ramp",
    ]);
    assert!(e.contains("same file"), "{e}");
}
