//! Prepared references in scratch files, read back a band of rows at a time (what large frames
//! do: `SLOPER_REFS_IN_MEMORY_MAX=0` forces it on the small parity fixtures and
//! `SLOPER_REFS_BAND_ROWS=3` cuts them into several bands). Both drivers must give the same bits
//! as with the references in memory, leave no scratch file behind, and still name a bad
//! reference in a clear error.

mod common;

use common::{assert_same_images, detector1, entries, repo, uncals, unpack_fits};
use std::path::Path;
use std::process::Command;

/// `sloper detector1 UNCAL --refs DIR --output_dir=OUT EXTRA...` with the references in scratch
/// files of a private TMPDIR (checked empty afterwards); (status, stderr).
fn run_in_files(uncal: &Path, refs: &Path, out: &Path, extra: &[String]) -> (i32, String) {
    let tmp = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_sloper"))
        .arg("detector1")
        .arg(uncal)
        .arg("--refs")
        .arg(refs)
        .arg(format!("--output_dir={}", out.display()))
        .args(["--no-progress", "--log-level=ERROR"])
        .args(extra)
        .env("SLOPER_REFS_IN_MEMORY_MAX", "0")
        .env("SLOPER_REFS_BAND_ROWS", "3")
        .env("TMPDIR", tmp.path())
        .output()
        .unwrap();
    let left = entries(tmp.path());
    assert!(left.is_empty(), "scratch files left behind: {left:?}");
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Exact driver, references in files: the official products of parity case `case`.
fn exact_case(case: &str, extra: &[&str]) {
    let fixture = repo().join("fixtures/parity").join(case);
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    let out = tmp.path().join("out");
    unpack_fits(&fixture, &input);
    let unpacked = input.display().to_string();
    let mut args = vec!["--save_calibrated_ramp=true".to_string()];
    args.extend(extra.iter().map(|s| s.replace("@IN@", &unpacked)));
    for uncal in uncals(&input) {
        let (code, err) = run_in_files(&uncal, &input, &out, &args);
        assert_eq!(code, 0, "{case}: {err}");
    }
    let mut n = 0;
    for e in std::fs::read_dir(fixture.join("golden")).unwrap() {
        let g = e.unwrap().path();
        let name = g.file_name().unwrap().to_string_lossy().replace(".gz", "");
        assert_same_images(&out.join(&name), &g);
        n += 1;
    }
    assert!(n > 0, "{case}: golden products");
    let saves = fixture.join("step_saves");
    if saves.is_dir() {
        for e in std::fs::read_dir(&saves).unwrap() {
            let g = e.unwrap().path();
            let name = g.file_name().unwrap().to_string_lossy().replace(".gz", "");
            assert_same_images(&out.join(&name), &g);
        }
    }
}

#[test]
fn exact_driver_reads_the_references_band_by_band() {
    for (case, extra) in [
        ("generic_1amp", &[][..]),
        ("amp4_sub16", &["--tile", "5x300", "--threads", "2"][..]),
        ("shallow4_gap", &["--tile", "4x4"][..]),
        ("bright2_div4_gainfact", &[][..]),
        ("heavy_cr", &["--tile", "3x5", "--threads", "2"][..]),
    ] {
        exact_case(case, extra);
    }
}

#[test]
fn exact_driver_ipc_linearity_and_zeroframe_from_files() {
    let ipc = "--steps.ipc.override_ipc=@IN@/ref_ipc.fits";
    exact_case("ipc", &[ipc, "--steps.ipc.save_results=true"]);
    exact_case(
        "ipc_4d",
        &[ipc, "--steps.ipc.save_results=true", "--tile", "5x7"],
    );
    let save = "--steps.linearity.save_results=true";
    exact_case(
        "linearity_reads",
        &[save, "--tile", "5x7", "--threads", "1"],
    );
    let off = "--steps.ramp_fit.suppress_one_group=false";
    exact_case("zeroframe_nosuppress", &[off, "--tile", "3x5"]);
    exact_case("linearity_reads_zeroframe", &[off]);
}

/// Online driver (jump skipped: then it is exact), references in files read in bands of 3 rows
/// (saturation growth and, with NFRAMES > 1, the diluted-saturation window across bands),
/// against the exact driver with the references in memory.
#[test]
fn online_driver_reads_the_references_band_by_band() {
    for (case, extra) in [
        ("generic_1amp", &[][..]),
        ("amp4_sub16", &[][..]),
        ("shallow4_gap", &[][..]),
        ("bright2_div4_gainfact", &[][..]),
        ("segmented", &[][..]),
        ("ipc", &["--steps.ipc.override_ipc=@IN@/ref_ipc.fits"][..]),
        ("shallow4_gap", &["--steps.saturation.n_pix_grow_sat=2"][..]),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let input = tmp.path().join("in");
        unpack_fits(&repo().join("fixtures/parity").join(case), &input);
        let unpacked = input.display().to_string();
        let mut extra: Vec<String> = extra.iter().map(|s| s.replace("@IN@", &unpacked)).collect();
        extra.push("--steps.jump.skip=true".into());
        let (ex, on) = (tmp.path().join("exact"), tmp.path().join("online"));
        for uncal in uncals(&input) {
            let mut args = vec![
                uncal.display().to_string(),
                "--refs".into(),
                unpacked.clone(),
                format!("--output_dir={}", ex.display()),
                "--quiet".into(),
            ];
            args.extend(extra.iter().cloned());
            detector1(&args);
            let mut online = vec!["--mode=online".to_string()];
            online.extend(extra.iter().cloned());
            let (code, err) = run_in_files(&uncal, &input, &on, &online);
            assert_eq!(code, 0, "{case}: {err}");
        }
        let products = entries(&on);
        assert!(!products.is_empty(), "{case}: no product");
        for name in products {
            assert!(
                name.ends_with("_rate.fits") || name.ends_with("_rateints.fits"),
                "{case}: left behind: {name}"
            );
            assert_same_images(&on.join(&name), &ex.join(&name));
        }
    }
}

/// A reference cut short still gives one clear error naming it, exit status 1 and no product,
/// with the references going to scratch files band by band (both drivers).
#[test]
fn truncated_reference_is_named_band_by_band() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    unpack_fits(&repo().join("fixtures/parity/generic_1amp"), &input);
    for name in ["ref_linearity.fits", "ref_saturation.fits"] {
        let p = input.join(name);
        let bytes = std::fs::read(&p).unwrap();
        let saved = bytes.clone();
        std::fs::write(&p, &bytes[..bytes.len() * 2 / 3]).unwrap();
        let uncal = &uncals(&input)[0];
        for mode in ["--mode=exact", "--mode=online"] {
            let out = tmp.path().join("out");
            let (code, err) = run_in_files(uncal, &input, &out, &[mode.to_string()]);
            assert_eq!(code, 1, "{name} {mode}: {err}");
            assert!(err.contains(name), "{name} {mode}: {err}");
            let left = entries(&out);
            assert!(left.is_empty(), "{name} {mode}: left behind: {left:?}");
        }
        std::fs::write(&p, saved).unwrap();
    }
}
