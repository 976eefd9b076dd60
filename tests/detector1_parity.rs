//! Detector1 parity: sloper's products against the official jwst 3.0.0 / stcal 1.20.0 products
//! made from the same inputs (fixtures/parity/<case>: inputs and golden/, made by
//! fixtures/parity/make_parity.sh). Every image array of _rate, _rateints and _ramp must be
//! bit-identical (NaN compared as NaN) — stricter than the 1e-5 relative tolerance allowed.

mod common;

use common::{assert_same_images, detector1, repo, unpack_fits};
use std::path::Path;

fn run_case(case: &str, extra: &[&str]) {
    let fixture = repo().join("fixtures/parity").join(case);
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    let out = tmp.path().join("out");
    unpack_fits(&fixture, &input);
    let mut uncals: Vec<_> = std::fs::read_dir(&input)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with("_uncal.fits"))
        .collect();
    uncals.sort();
    assert!(!uncals.is_empty(), "{case}: no uncal file");
    for uncal in &uncals {
        let mut args: Vec<String> = vec![
            uncal.display().to_string(),
            "--refs".into(),
            input.display().to_string(),
            format!("--output_dir={}", out.display()),
            "--save_calibrated_ramp=true".into(),
            "--quiet".into(),
        ];
        let unpacked = input.display().to_string();
        args.extend(extra.iter().map(|s| s.replace("@IN@", &unpacked)));
        detector1(&args);
    }
    let golden = fixture.join("golden");
    let mut n = 0;
    for e in std::fs::read_dir(&golden).unwrap() {
        let g = e.unwrap().path();
        let name = g.file_name().unwrap().to_string_lossy().replace(".gz", "");
        assert_same_images(&out.join(&name), &g);
        n += 1;
    }
    assert_eq!(n, 3 * uncals.len(), "{case}: golden products");
    // Steps' own results the official run saved (the case's strun arguments ask for them).
    let saves = fixture.join("step_saves");
    if saves.is_dir() {
        for e in std::fs::read_dir(&saves).unwrap() {
            let g = e.unwrap().path();
            let name = g.file_name().unwrap().to_string_lossy().replace(".gz", "");
            assert_same_images(&out.join(&name), &g);
            for k in ["S_SATURA", "S_IPC", "R_IPC"] {
                assert_eq!(key(&out.join(&name), k), key(&g, k), "{case}: {name} {k}");
            }
        }
    }
}

/// A primary-header string keyword; a reference keyword reduced to its file name (the official
/// files hold the oracle's absolute paths).
fn key(path: &Path, name: &str) -> Option<String> {
    let mut f = fitsio::FitsFile::open(path).unwrap();
    let h = f.primary_hdu().unwrap();
    let v: String = h.read_key(&mut f, name).ok()?;
    Some(match v.rsplit_once('/') {
        Some((_, file)) if name.starts_with("R_") => file.to_string(),
        _ => v,
    })
}

macro_rules! parity {
    ($($name:ident),* $(,)?) => {$(
        #[test]
        fn $name() {
            run_case(stringify!($name), &[]);
        }
    )*};
}

// 1-amplifier GENERIC subarray, iterative jump mode, bad pixels and NaNs in references.
// 4-amplifier subarray (refpix full-frame embedding with side pixels), 3, 2 and 1 groups,
// single-pass (12 groups) and sigma-clip (100 integrations) jump modes, SHALLOW4 (NFRAMES=4,
// GROUPGAP=1), BRIGHT2 with FRMDIVSR=4 and GAINFACT=1.5, heavy cosmic rays, two segments.
parity!(
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

/// Snowball flagging (expand_large_events): snowball-like showers added to a simulated exposure
/// (fixtures/parity/add_snowballs.py: saturated cores with jump halos, one near the frame edge
/// per integration), official products made with the same parameter. Tiles smaller than a
/// snowball must not change anything: snowballs are found on whole frames.
#[test]
fn snowball() {
    run_case("snowball", &["--steps.jump.expand_large_events=true"]);
    run_case(
        "snowball",
        &[
            "--steps.jump.expand_large_events=true",
            "--tile",
            "7x9",
            "--threads",
            "1",
        ],
    );
}

/// ramp_fit with suppress_one_group=false (fixtures/parity/add_zeroframe.py, BRIGHT2 so the
/// 0th-group time (NFRAMES+1)·TFRAME/2 differs from TFRAME): ramps saturated from group 1 (slope
/// x0/t1), from group 0 with a usable ZEROFRAME value (group 0 replaced, slope z/TFRAME), and
/// with a ZEROFRAME value zeroed by saturation or 0 in the raw file (NaN). The ZEROFRAME goes
/// through saturation (grown to the neighbours: tiles read the margin), superbias, 1-amplifier
/// refpix and linearity, and is written to the _ramp product as the official one.
#[test]
fn zeroframe_nosuppress() {
    let off = "--steps.ramp_fit.suppress_one_group=false";
    run_case("zeroframe_nosuppress", &[off]);
    run_case(
        "zeroframe_nosuppress",
        &[off, "--tile", "3x5", "--threads", "1"],
    );
    run_case(
        "zeroframe_nosuppress",
        &[off, "--tile", "1x1", "--threads", "2"],
    );
}

/// suppress_one_group=false without a ZEROFRAME: only the 0th-group special case.
#[test]
fn nosuppress() {
    run_case("nosuppress", &["--steps.ramp_fit.suppress_one_group=false"]);
}

/// A ZEROFRAME on a 4-amplifier subarray with the default suppress_one_group=true: the fit
/// ignores it, the _ramp product carries it after 4-amplifier refpix with side pixels.
#[test]
fn zeroframe_amp4() {
    run_case("zeroframe_amp4", &[]);
    run_case("zeroframe_amp4", &["--tile", "4x300", "--threads", "2"]);
}

/// The same products with suppress_one_group=true differ: the fixture's special cases are real.
#[test]
#[should_panic(expected = "values differ")]
fn zeroframe_nosuppress_needs_the_parameter() {
    run_case("zeroframe_nosuppress", &[]);
}

/// Run `sloper detector1 UNCAL --refs REFS --mode=online EXTRA...` and check it is refused:
/// exit status 1, every one of `words` in the message, nothing in the output directory.
fn assert_refused_online(uncal: &Path, refs: &Path, extra: &[&str], words: &[&str]) {
    let out = tempfile::tempdir().unwrap();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_sloper"))
        .arg("detector1")
        .arg(uncal)
        .arg("--refs")
        .arg(refs)
        .arg(format!("--output_dir={}", out.path().display()))
        .args(["--mode=online", "--quiet"])
        .args(extra)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(words.iter().all(|w| err.contains(w)), "{err}");
    let left = std::fs::read_dir(out.path()).map_or(0, |d| d.count());
    assert_eq!(left, 0, "no product may be left behind");
}

/// Unpack parity fixture `case` into `dir`; its raw exposure's path.
fn unpack_case(case: &str, dir: &Path) -> std::path::PathBuf {
    unpack_fits(&repo().join("fixtures/parity").join(case), dir);
    dir.join("jw01234001001_01101_00001_nrcalong_uncal.fits")
}

/// The online driver does not pass the ZEROFRAME to its fit: with suppress_one_group=false on
/// an exposure that has one it refuses clearly (the exact driver handles it), leaving nothing.
#[test]
fn zeroframe_without_suppression_is_refused_online() {
    let input = tempfile::tempdir().unwrap();
    let uncal = unpack_case("zeroframe_nosuppress", input.path());
    let refused = |uncal: &Path| {
        assert_refused_online(
            uncal,
            input.path(),
            &["--steps.ramp_fit.suppress_one_group=false"],
            &["ZEROFRAME", "suppress_one_group", "--mode=exact"],
        )
    };
    refused(&uncal);
    // ZEROFRAM = F with the HDU present: the official fit still reads the HDU, so online must
    // refuse this too (it would otherwise fit without it).
    let mut bytes = std::fs::read(&uncal).unwrap();
    let card = bytes
        .chunks(80)
        .position(|c| c.starts_with(b"ZEROFRAM="))
        .expect("ZEROFRAM card");
    let value = &mut bytes[card * 80..card * 80 + 30];
    assert_eq!(value[29], b'T');
    value[29] = b'F';
    let flipped = input
        .path()
        .join("jw01234001001_01101_00001_nrcalong-f_uncal.fits");
    std::fs::write(&flipped, bytes).unwrap();
    refused(&flipped);
}

/// The ipc step with the kernel given as the official run got it (ORACLE_IPC=1:
/// `--steps.ipc.override_ipc=<refs>/ref_ipc.fits`); `--refs` alone never picks ref_ipc.fits up
/// (CRDS selects N/A for ipc). The reference border and frame edges see zeros, so tiles must
/// read the kernel's reach around them: tiny tiles must not change a bit.
fn run_ipc_case(case: &str, extra: &[&str]) {
    // run_case unpacks the fixture into `<tmp>/in`; the override names the unpacked file
    // through a placeholder it replaces.
    let save = if case == "ipc_amp4" {
        "--steps.ipc.save_results=false"
    } else {
        // As the official run: the ipc step's own result, compared with fixture/step_saves.
        "--steps.ipc.save_results=true"
    };
    run_case(
        case,
        &[&["--steps.ipc.override_ipc=@IN@/ref_ipc.fits", save], extra].concat(),
    );
}

/// make_synthetic.py's 3x3 kernel on a 1-amplifier corner subarray (4 reference rows and
/// columns).
#[test]
fn ipc() {
    run_ipc_case("ipc", &[]);
    run_ipc_case("ipc", &["--tile", "5x7", "--threads", "1"]);
    run_ipc_case("ipc", &["--tile", "1x1", "--threads", "2"]);
}

/// 4-amplifier subarray: reference columns at both ends and reference rows at the bottom.
#[test]
fn ipc_amp4() {
    run_ipc_case("ipc_amp4", &[]);
    run_ipc_case("ipc_amp4", &["--tile", "3x300", "--threads", "2"]);
}

/// A 4-D kernel (5x3 at every pixel), reaching two rows away.
#[test]
fn ipc_4d() {
    run_ipc_case("ipc_4d", &[]);
    run_ipc_case("ipc_4d", &["--tile", "5x7", "--threads", "1"]);
}

/// An even 2x4 kernel (the official middle-cell quirk) and science columns flagged
/// REFERENCE_PIXEL in the mask: 1-amplifier refpix then averages pixels that ipc corrected,
/// so the refpix summaries (pass A) must apply ipc too.
#[test]
fn ipc_refmask() {
    run_ipc_case("ipc_refmask", &[]);
    run_ipc_case("ipc_refmask", &["--tile", "2x3", "--threads", "2"]);
}

/// Without the override the ipc step is skipped even though the fixture holds ref_ipc.fits,
/// and the products then differ from the official ones made with ipc.
#[test]
#[should_panic(expected = "values differ")]
fn ipc_needs_the_override() {
    run_case("ipc", &[]);
}

/// The online driver corrects whole frames with the same ipc kernel: with jump skipped (the
/// online jump is not exact) its products equal the exact driver's bit for bit, including
/// refpix summaries over IPC-corrected science pixels.
#[test]
fn ipc_online_equals_exact() {
    use sloper::config::{parse_strun_args, DETECTOR1};
    use sloper::pipeline::detector1::{settings::EXTRA_OPTIONS, Detector1Settings};
    for case in ["ipc_refmask", "ipc_4d", "ipc"] {
        let fixture = repo().join("fixtures/parity").join(case);
        let tmp = tempfile::tempdir().unwrap();
        let input = tmp.path().join("in");
        unpack_fits(&fixture, &input);
        let uncal = input.join("jw01234001001_01101_00001_nrcalong_uncal.fits");
        let args = |out: &str| -> Vec<String> {
            vec![
                uncal.display().to_string(),
                "--refs".into(),
                input.display().to_string(),
                format!("--output_dir={}", tmp.path().join(out).display()),
                format!(
                    "--steps.ipc.override_ipc={}",
                    input.join("ref_ipc.fits").display()
                ),
                "--steps.jump.skip=true".into(),
                "--quiet".into(),
            ]
        };
        detector1(&args("exact"));
        let cfg = parse_strun_args(DETECTOR1, &args("online"), EXTRA_OPTIONS).unwrap();
        let settings = Detector1Settings::from_config(&cfg).unwrap();
        let report = sloper::pipeline::online::run_online(&settings).unwrap();
        assert_eq!(report.outputs.len(), 2);
        for p in &report.outputs {
            assert_same_images(p, &tmp.path().join("exact").join(p.file_name().unwrap()));
        }
    }
}

/// The answer must not depend on how the frame is cut into bands or on the thread count.
#[test]
fn band_height_and_threads_do_not_change_results() {
    run_case("heavy_cr", &["--tile", "1x32", "--threads", "1"]);
    run_case("heavy_cr", &["--tile", "3x5", "--threads", "2"]);
    run_case("amp4_sub16", &["--tile", "5x300", "--threads", "2"]);
    run_case("sigclip100", &["--tile", "2x7", "--threads", "3"]);
    run_case("shallow4_gap", &["--tile", "4x4"]);
}

#[test]
fn tiny_official_fixture() {
    let fixture = repo().join("fixtures/oracle/tiny");
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let uncal = fixture.join("jw01234001001_01101_00001_nrcalong_uncal.fits");
    detector1(&[
        uncal.display().to_string(),
        "--refs".into(),
        fixture.display().to_string(),
        format!("--output_dir={}", out.display()),
        "--save_calibrated_ramp=true".into(),
        "--quiet".into(),
    ]);
    for p in ["rate", "rateints", "ramp"] {
        let name = format!("jw01234001001_01101_00001_nrcalong_{p}.fits");
        assert_same_images(&out.join(&name), &fixture.join("golden").join(&name));
        assert!(Path::new(&out.join(&name)).exists());
    }
}

/// The comparison is sharp: a different jump threshold must change the products.
#[test]
#[should_panic(expected = "values differ")]
fn comparison_detects_a_changed_parameter() {
    run_case("heavy_cr", &["--steps.jump.rejection_threshold=3.5"]);
}

/// Online mode cannot flag snowballs (they need whole frames after jump): a clear refusal, no
/// product.
#[test]
fn snowballs_are_refused_online() {
    let input = tempfile::tempdir().unwrap();
    let uncal = unpack_case("snowball", input.path());
    assert_refused_online(
        &uncal,
        input.path(),
        &["--steps.jump.expand_large_events=true"],
        &["expand_large_events", "--mode=exact"],
    );
}

/// Read-level linearity (spec §9): INV_COEFFS (fixtures/parity/inv_linearity.py: a fitted
/// inverse polynomial, with NaN and zero-linear-term inverse pixels) on a BRIGHT2 exposure
/// (NFRAMES = 2) whose pixels saturate from every group on, so the nu = max(#unsaturated − 1, 2)
/// rule picks every possible k-th group; and MEDIUM8 (NFRAMES = 8, GROUPGAP = 2, which the read
/// pattern ignores). The linearity step's own result is compared too; tiles and threads must
/// not change a bit.
#[test]
fn linearity_reads() {
    let save = "--steps.linearity.save_results=true";
    run_case("linearity_reads", &[save]);
    run_case(
        "linearity_reads",
        &[save, "--tile", "5x7", "--threads", "1"],
    );
    run_case("linearity_reads_medium8", &[save]);
    run_case(
        "linearity_reads_medium8",
        &[save, "--tile", "3x4", "--threads", "2"],
    );
}

/// Read-level linearity with a ZEROFRAME (add_zeroframe.py; corrected with COEFFS only, zeros
/// kept) and suppress_one_group=false, on ramps saturating from group 0 or 1 (nu clamped to 2).
/// (No step save here: per-step saves do not carry the ZEROFRAME yet.)
#[test]
fn linearity_reads_zeroframe() {
    let off = "--steps.ramp_fit.suppress_one_group=false";
    run_case("linearity_reads_zeroframe", &[off]);
    run_case(
        "linearity_reads_zeroframe",
        &[off, "--tile", "4x5", "--threads", "1"],
    );
}

/// The online driver corrects group by group and cannot apply the read-level linearity
/// correction (it needs the k-th group near the end of each ramp): a clear refusal, no product.
#[test]
fn linearity_reads_refused_online() {
    let input = tempfile::tempdir().unwrap();
    let uncal = unpack_case("linearity_reads", input.path());
    assert_refused_online(
        &uncal,
        input.path(),
        &[],
        &["ref_linearity.fits", "INV_COEFFS", "--mode=exact"],
    );
}
