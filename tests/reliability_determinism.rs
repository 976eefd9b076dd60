//! Determinism (issue 7): the same input gives bit-identical products whatever the thread count
//! (1, 2, 8), the memory budget (`--max-memory`) and the tile shape (`--tile`). Every image HDU's
//! data of _rate, _rateints and _ramp is compared byte for byte (NaN payloads included: the raw
//! bit patterns are compared); headers are not, since DATE differs.
//!
//! The planner never makes tiles smaller than 32 MiB, so on these small fixtures every
//! `--max-memory` value plans one tile (the budget path is still exercised end to end); the
//! cuts a small budget makes on a large exposure are reproduced with `--tile`, which feeds the
//! same tile loop.
//!
//! Cases: `heavy_cr` (many jumps: the iterative jump step and its neighbour flagging cross tile
//! borders) and `sigclip100` (100 integrations: sigma-clip jump mode works across integrations).

mod common;

use common::{repo, unpack_fits};
use std::path::{Path, PathBuf};

/// Raw bytes of every non-empty image HDU's data unit, by EXTNAME, sliced from the file at the
/// offsets cfitsio reports (so a NaN's payload or a -0.0 would count as a difference).
fn image_bytes(path: &Path) -> Vec<(String, Vec<u8>)> {
    use frames::fits::{FitsReader, HduKind};
    let bytes = std::fs::read(path).unwrap();
    let mut r = FitsReader::open(path).unwrap();
    let mut out = Vec::new();
    for i in 1..r.num_hdus().unwrap() {
        if r.select(i).unwrap() != HduKind::Image {
            continue;
        }
        let span = r.data_span(i).unwrap();
        if span.data_end_padded > span.data_start {
            let name = r.hdu_name(i).unwrap();
            let data = &bytes[span.data_start as usize..span.data_end_padded as usize];
            out.push((name, data.to_vec()));
        }
    }
    out
}

fn run(input_dir: &Path, uncal: &Path, out: &Path, extra: &[&str]) -> Vec<PathBuf> {
    let mut args: Vec<String> = vec![
        uncal.display().to_string(),
        "--refs".into(),
        input_dir.display().to_string(),
        format!("--output_dir={}", out.display()),
        "--save_calibrated_ramp=true".into(),
        "--quiet".into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    common::detector1(&args);
    let stem = uncal
        .file_name()
        .unwrap()
        .to_string_lossy()
        .replace("_uncal.fits", "");
    ["rate", "rateints", "ramp"]
        .iter()
        .map(|p| out.join(format!("{stem}_{p}.fits")))
        .collect()
}

fn assert_same_everywhere(case: &str, settings: &[&[&str]]) {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    unpack_fits(&repo().join("fixtures/parity").join(case), &input);
    let uncal = std::fs::read_dir(&input)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with("_uncal.fits"))
        .unwrap();
    let reference_out = tmp.path().join("ref");
    let reference: Vec<_> = run(&input, &uncal, &reference_out, &["--threads", "1"])
        .iter()
        .map(|p| image_bytes(p))
        .collect();
    assert!(reference.iter().all(|hdus| !hdus.is_empty()));
    for (k, extra) in settings.iter().enumerate() {
        let out = tmp.path().join(format!("run{k}"));
        for (product, want) in run(&input, &uncal, &out, extra).iter().zip(&reference) {
            let got = image_bytes(product);
            assert_eq!(
                got.iter().map(|(n, _)| n).collect::<Vec<_>>(),
                want.iter().map(|(n, _)| n).collect::<Vec<_>>(),
                "{case} {extra:?}: HDUs of {}",
                product.display()
            );
            for ((name, a), (_, b)) in got.iter().zip(want) {
                let first = a.iter().zip(b).position(|(x, y)| x != y);
                assert!(
                    a.len() == b.len() && first.is_none(),
                    "{case} {extra:?}: {}[{name}] differs from the 1-thread run (first byte {first:?})",
                    product.display()
                );
            }
        }
    }
}

const SETTINGS: &[&[&str]] = &[
    &["--threads", "2"],
    &["--threads", "8"],
    &["--threads", "8", "--max-memory", "64k"],
    &["--threads", "2", "--max-memory", "1m"],
    &["--threads", "1", "--max-memory", "16g"],
    &["--threads", "8", "--tile", "1x7"],
    &["--threads", "2", "--tile", "5x3"],
];

#[test]
fn heavy_cosmic_rays_are_identical_for_any_threads_budget_and_tile() {
    assert_same_everywhere("heavy_cr", SETTINGS);
}

#[test]
fn sigma_clip_jumps_are_identical_for_any_threads_budget_and_tile() {
    assert_same_everywhere("sigclip100", SETTINGS);
}
