//! The online (group-major) driver against the exact (band-major) driver: where no jump is
//! involved the products must be identical bit for bit.
//!
//! * With the jump step skipped, every image of `_rate` and `_rateints` must be identical on
//!   every parity fixture (1- and 4-amplifier refpix, NFRAMES > 1 saturation latency, FRMDIVSR
//!   and GAINFACT, 1–12 groups, 100 integrations, segments) and on simulated exposures.
//! * With jump detection on a cosmic-ray-free simulated exposure, every pixel that neither
//!   driver flags is identical in every array.

mod common;

use clap::Parser;
use common::{assert_same_images, detector1, images, repo, uncals, unpack_fits, Data};
use sloper::config::{parse_strun_args, DETECTOR1};
use sloper::pipeline::detector1::{settings::EXTRA_OPTIONS, Detector1Settings};
use sloper::pipeline::online;
use std::path::Path;

fn settings(args: &[String]) -> Detector1Settings {
    let cfg = parse_strun_args(DETECTOR1, args, EXTRA_OPTIONS).unwrap();
    Detector1Settings::from_config(&cfg).unwrap()
}

fn args(uncal: &Path, refs: &Path, out: &Path, extra: &[&str]) -> Vec<String> {
    let mut a = vec![
        uncal.display().to_string(),
        "--refs".into(),
        refs.display().to_string(),
        format!("--output_dir={}", out.display()),
        "--quiet".into(),
    ];
    a.extend(extra.iter().map(|s| s.to_string()));
    a
}

/// Run both drivers on every uncal file of `input` and compare all products bit for bit.
fn both_identical(input: &Path, extra: &[&str]) {
    let tmp = tempfile::tempdir().unwrap();
    let (ex, on) = (tmp.path().join("exact"), tmp.path().join("online"));
    for uncal in uncals(input) {
        detector1(&args(&uncal, input, &ex, extra));
        let report = online::run_online(&settings(&args(&uncal, input, &on, extra))).unwrap();
        assert_eq!(report.outputs.len(), 2);
        for p in &report.outputs {
            let name = p.file_name().unwrap();
            assert_same_images(p, &ex.join(name));
        }
    }
    // Nothing but the products is left behind (the scratch directory is gone).
    let left: Vec<_> = std::fs::read_dir(&on)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.ends_with("_rate.fits") && !n.ends_with("_rateints.fits"))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

macro_rules! jump_skipped {
    ($($name:ident),* $(,)?) => {$(
        #[test]
        fn $name() {
            let tmp = tempfile::tempdir().unwrap();
            unpack_fits(&repo().join("fixtures/parity").join(stringify!($name)), tmp.path());
            both_identical(tmp.path(), &["--steps.jump.skip=true"]);
        }
    )*};
}

mod parity_without_jump {
    use super::*;
    jump_skipped!(
        generic_1amp,
        amp4_sub16,
        ngroups3,
        ngroups2,
        ngroups1,
        singlepass12,
        sigclip100,
        shallow4_gap,
        bright2_div4_gainfact,
        heavy_cr,
        segmented,
    );
}

#[derive(Parser)]
struct Sim {
    #[command(flatten)]
    a: sloper::simulate::SimulateArgs,
}

fn simulate(dir: &Path, extra: &[&str]) {
    let mut argv = vec![
        "simulate".to_string(),
        "--outdir".into(),
        dir.display().to_string(),
    ];
    argv.extend(extra.iter().map(|s| s.to_string()));
    sloper::simulate::run(&Sim::parse_from(argv).a).unwrap();
}

#[test]
fn simulated_nframes4_with_saturation_latency() {
    let tmp = tempfile::tempdir().unwrap();
    simulate(
        tmp.path(),
        &[
            "--nints",
            "3",
            "--ngroups",
            "6",
            "--ny",
            "24",
            "--nx",
            "40",
            "--readpatt",
            "MEDIUM8",
            "--cr-rate",
            "0",
            "--seed",
            "21",
        ],
    );
    both_identical(tmp.path(), &["--steps.jump.skip=true"]);
}

fn f32s(d: &Data) -> &[u32] {
    match d {
        Data::F32(v) => v,
        _ => panic!("not a float image"),
    }
}
fn u32s(d: &Data) -> &[u32] {
    match d {
        Data::U32(v) => v,
        _ => panic!("not a u32 image"),
    }
}
fn get<'a>(imgs: &'a [(String, Data)], name: &str) -> &'a Data {
    &imgs.iter().find(|(n, _)| n == name).unwrap().1
}

/// Cosmic-ray-free exposure with jump detection on: pixels flagged by neither driver agree.
#[test]
fn jump_free_pixels_are_identical_with_detection_on() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("sim");
    simulate(
        &dir,
        &[
            "--nints",
            "4",
            "--ngroups",
            "7",
            "--ny",
            "32",
            "--nx",
            "48",
            "--cr-rate",
            "0",
            "--seed",
            "5",
        ],
    );
    let uncal = &uncals(&dir)[0];
    let (ex, on) = (tmp.path().join("exact"), tmp.path().join("online"));
    detector1(&args(uncal, &dir, &ex, &[]));
    let report = online::run_online(&settings(&args(uncal, &dir, &on, &[]))).unwrap();
    let name = |p: &str| {
        uncal
            .file_name()
            .unwrap()
            .to_string_lossy()
            .replace("_uncal", &format!("_{p}"))
    };
    let (ei, oi) = (
        images(&ex.join(name("rateints"))),
        images(&on.join(name("rateints"))),
    );
    let (er, or) = (
        images(&ex.join(name("rate"))),
        images(&on.join(name("rate"))),
    );
    let npix = 32 * 48;
    let nints = 4;
    const JUMP_DET: u32 = 4;
    let (edq, odq) = (u32s(get(&ei, "DQ")), u32s(get(&oi, "DQ")));
    let clean: Vec<bool> = (0..npix)
        .map(|p| (0..nints).all(|i| (edq[i * npix + p] | odq[i * npix + p]) & JUMP_DET == 0))
        .collect();
    let nclean = clean.iter().filter(|&&c| c).count();
    assert!(
        nclean > npix * 9 / 10,
        "only {nclean} of {npix} pixels jump-free"
    );
    for arr in ["SCI", "ERR", "DQ", "VAR_POISSON", "VAR_RNOISE"] {
        let (a, b) = match arr {
            "DQ" => (u32s(get(&ei, arr)), u32s(get(&oi, arr))),
            _ => (f32s(get(&ei, arr)), f32s(get(&oi, arr))),
        };
        let (ra, rb) = match arr {
            "DQ" => (u32s(get(&er, arr)), u32s(get(&or, arr))),
            _ => (f32s(get(&er, arr)), f32s(get(&or, arr))),
        };
        for p in (0..npix).filter(|&p| clean[p]) {
            assert_eq!(ra[p], rb[p], "rate {arr} pixel {p}");
            for i in 0..nints {
                assert_eq!(
                    a[i * npix + p],
                    b[i * npix + p],
                    "rateints {arr} int {i} pixel {p}"
                );
            }
        }
    }
    assert_eq!(report.integrations, nints);
}
