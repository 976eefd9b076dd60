//! Diluted saturation across tile edges (fixtures/saturation_tiles, made by make.sh there with
//! the official calwebb_detector1, jwst 3.0.0 / stcal 1.20.0).
//!
//! With NFRAMES > 1 and use_readpatt, stcal's backward pass flags a group DO_NOT_USE where the
//! value reaches the diluted threshold and the next group is SATURATED, then grows that flag by
//! n_pix_grow_sat; the next group's SATURATED may itself come from growth. A pixel's flags thus
//! depend on pixels up to 2 x n_pix_grow_sat away (add_diluted.py places such chains at random),
//! so each tile must read that far around its jump region. Every tile shape gives the official
//! products bit for bit, in the exact driver (`--tile`) and in the online driver with its
//! references cut into bands of a few rows.

mod common;

use common::{assert_same_images, detector1, entries, repo, unpack_fits};
use std::path::{Path, PathBuf};
use std::process::Command;

const UNCAL: &str = "jw01234001001_01101_00001_nrcalong_uncal.fits";
const PRODUCTS: [&str; 3] = ["rate", "rateints", "ramp"];

/// The fixture for growth `n` unpacked into `dir`: (input folder, golden folder).
fn unpack(n: usize, dir: &Path) -> (PathBuf, PathBuf) {
    let fixture = repo().join(format!("fixtures/saturation_tiles/grow{n}"));
    let (input, golden) = (dir.join("in"), dir.join("golden"));
    unpack_fits(&fixture, &input);
    unpack_fits(&fixture.join("golden"), &golden);
    (input, golden)
}

fn product(dir: &Path, suffix: &str) -> PathBuf {
    dir.join(format!("jw01234001001_01101_00001_nrcalong_{suffix}.fits"))
}

fn args(input: &Path, out: &Path, n: usize, extra: &[&str]) -> Vec<String> {
    let mut a = vec![
        input.join(UNCAL).display().to_string(),
        "--refs".into(),
        input.display().to_string(),
        format!("--output_dir={}", out.display()),
        "--steps.ipc.override_ipc=N/A".into(),
        format!("--steps.saturation.n_pix_grow_sat={n}"),
        "--quiet".into(),
    ];
    a.extend(extra.iter().map(|s| s.to_string()));
    a
}

/// The exact driver with one tile and with many small ones (the 32 x 32 frame cut into rows,
/// squares and oblongs at every offset): the official products every time.
fn exact_tiles(n: usize) {
    let tmp = tempfile::tempdir().unwrap();
    let (input, golden) = unpack(n, tmp.path());
    let tiles = [
        "32x32", "1x32", "32x1", "1x1", "2x2", "3x5", "4x4", "6x6", "7x3", "5x9",
    ];
    for (k, tile) in tiles.iter().enumerate() {
        let out = tmp.path().join(format!("out{k}"));
        let threads = if k % 2 == 0 { "1" } else { "2" };
        detector1(&args(
            &input,
            &out,
            n,
            &[
                "--save_calibrated_ramp=true",
                "--tile",
                tile,
                "--threads",
                threads,
            ],
        ));
        for p in PRODUCTS {
            assert_same_images(&product(&out, p), &product(&golden, p));
        }
    }
}

#[test]
fn exact_tiles_grow2() {
    exact_tiles(2);
}

#[test]
fn exact_tiles_grow3() {
    exact_tiles(3);
}

/// The online driver (jump skipped: its jump differs from the official by design) with the
/// references in scratch files read back in bands of 1, 2, 3 and 5 rows, each band's saturation
/// computed with its halo: the exact driver's products bit for bit.
fn online_bands(n: usize) {
    let tmp = tempfile::tempdir().unwrap();
    let (input, _) = unpack(n, tmp.path());
    let exact = tmp.path().join("exact");
    detector1(&args(&input, &exact, n, &["--steps.jump.skip=true"]));
    for band in [1, 2, 3, 5] {
        let out = tmp.path().join(format!("online{band}"));
        let scratch = tempfile::tempdir().unwrap();
        let o = Command::new(env!("CARGO_BIN_EXE_sloper"))
            .arg("detector1")
            .args(args(
                &input,
                &out,
                n,
                &["--steps.jump.skip=true", "--mode", "online"],
            ))
            .env("SLOPER_REFS_IN_MEMORY_MAX", "0")
            .env("SLOPER_REFS_BAND_ROWS", band.to_string())
            .env("TMPDIR", scratch.path())
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "band {band}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(entries(scratch.path()).is_empty(), "scratch files left");
        for p in ["rate", "rateints"] {
            assert_same_images(&product(&out, p), &product(&exact, p));
        }
    }
}

#[test]
fn online_bands_grow2() {
    online_bands(2);
}

#[test]
fn online_bands_grow3() {
    online_bands(3);
}
