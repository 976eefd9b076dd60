//! `--resume` (issue 7): a run stopped part-way — by the testing hook
//! `SLOPER_TEST_INTERRUPT_AFTER_TILES` (an interrupt requested after N tiles, as a SIGINT would),
//! by a real SIGINT, or by SIGKILL (no clean-up at all) — continues from its checkpoint and writes
//! the same products as a run that was never stopped: every data unit byte-identical and every
//! header card identical except the ones that record *when* the file was made (DATE, the time in
//! DATASUM's comment, and the CHECKSUMs that cover them); DATASUM values identical and every
//! checksum valid.
//!
//! The binary is run (not the library): an interrupt is a process-wide flag.
//! Cases: iterative jump mode on a simulated 128x128 exposure in 32 tiles, stopped twice and
//! resumed with other threads/tile/memory options (the stored tile plan is used); a real SIGINT
//! then SIGKILL; sigma-clip mode (100 integrations) with a whole-plane jump, so the second pass
//! (whole-plane clearing) runs and is interrupted in both passes; checkpoints that do not match
//! the run (other settings, changed input, damaged file) are refused, and a run without
//! `--resume` supersedes them.
#![cfg(unix)]

mod common;

use common::{entries, repo, unpack_fits};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const EXPOSURE: &str = "jw01234001001_01101_00001_nrcalong";
const PRODUCTS: [&str; 3] = ["rate", "rateints", "ramp"];

fn sloper() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sloper"))
}

/// `sloper simulate`: 3 integrations × 8 groups × 128 × 128 with every reference.
fn simulate(dir: &Path) -> PathBuf {
    let status = sloper()
        .args(["simulate", "--nints", "3", "--ngroups", "8", "--ny", "128"])
        .args(["--nx", "128", "--seed", "11", "--outdir"])
        .arg(dir)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    dir.join(format!("{EXPOSURE}_uncal.fits"))
}

/// `sloper detector1 INPUT --refs REFS --output_dir=OUT` + `extra`, with environment `env`.
fn detector1(
    input: &Path,
    refs: &Path,
    out: &Path,
    extra: &[&str],
    env: &[(&str, &str)],
) -> Command {
    let mut c = sloper();
    c.arg("detector1")
        .arg(input)
        .arg("--refs")
        .arg(refs)
        .arg(format!("--output_dir={}", out.display()))
        .args(["--save_calibrated_ramp=true", "--no-progress", "--quiet"])
        .args(["--log-level", "WARNING"])
        .args(extra)
        .env_remove("SLOPER_TEST_INTERRUPT_AFTER_TILES")
        .env_remove("SLOPER_CHECKPOINT_SECONDS")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

fn run(mut c: Command) -> Output {
    c.output().expect("run sloper detector1")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn assert_ok(o: &Output) {
    assert!(o.status.success(), "detector1 failed:\n{}", stderr(o));
}

/// The run stopped with the interrupt message that points at --resume.
fn assert_interrupted(o: &Output) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(1), "status {:?}: {err}", o.status);
    let last = err.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("sloper: error: ")
            && last.contains("interrupted; no product was written")
            && last.contains("sloper-checkpoint")
            && last.contains("--resume"),
        "{last}"
    );
}

fn checkpoint_path(out: &Path) -> PathBuf {
    out.join(format!(".{EXPOSURE}_rate.fits.sloper-checkpoint"))
}

/// `(pass, tiles_done, number of tiles)` of the checkpoint in `out`, if there is a readable one.
fn checkpoint(out: &Path) -> Option<(u64, u64, usize)> {
    let text = std::fs::read_to_string(checkpoint_path(out)).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    Some((
        v["progress"]["pass"].as_u64()?,
        v["progress"]["tiles_done"].as_u64()?,
        v["tiles"].as_array()?.len(),
    ))
}

/// After a stop: no product at its final name; partial products and the checkpoint are there.
fn assert_partial_state(out: &Path) {
    let mut names = entries(out);
    names.sort();
    let mut want: Vec<String> = PRODUCTS
        .iter()
        .map(|p| format!(".{EXPOSURE}_{p}.fits.sloper-partial"))
        .collect();
    want.push(format!(".{EXPOSURE}_rate.fits.sloper-checkpoint"));
    want.sort();
    assert_eq!(names, want, "in {}", out.display());
}

/// After completion: exactly the products, nothing else.
fn assert_only_products(out: &Path) {
    let mut names = entries(out);
    names.sort();
    let mut want: Vec<String> = PRODUCTS
        .iter()
        .map(|p| format!("{EXPOSURE}_{p}.fits"))
        .collect();
    want.sort();
    assert_eq!(names, want, "in {}", out.display());
}

/// Keyword of an 80-byte card.
fn keyword(card: &[u8]) -> String {
    String::from_utf8_lossy(&card[..8]).trim_end().to_string()
}

/// `got` is the product `want` is: same HDUs at the same offsets, every data unit byte for byte,
/// every header card identical except DATE, CHECKSUM and the comment of DATASUM (cfitsio stamps
/// it with the time); every checksum of `got` valid.
fn assert_same_product(got: &Path, want: &Path) {
    use frames::fits::FitsReader;
    let (a, b) = (std::fs::read(got).unwrap(), std::fs::read(want).unwrap());
    assert_eq!(a.len(), b.len(), "{}: size", got.display());
    let mut ra = FitsReader::open(got).unwrap();
    let mut rb = FitsReader::open(want).unwrap();
    let n = ra.num_hdus().unwrap();
    assert_eq!(n, rb.num_hdus().unwrap());
    for i in 0..n {
        let (sa, sb) = (ra.data_span(i).unwrap(), rb.data_span(i).unwrap());
        assert_eq!(
            (sa.header_start, sa.data_start, sa.data_end_padded),
            (sb.header_start, sb.data_start, sb.data_end_padded),
            "{}: HDU {i} layout",
            got.display()
        );
        let (h0, d0, d1) = (
            sa.header_start as usize,
            sa.data_start as usize,
            sa.data_end_padded as usize,
        );
        if let Some(k) = (d0..d1).find(|&k| a[k] != b[k]) {
            panic!(
                "{}: HDU {i} data differs from {} at byte {k}",
                got.display(),
                want.display()
            );
        }
        for (ca, cb) in a[h0..d0].chunks(80).zip(b[h0..d0].chunks(80)) {
            if ca == cb {
                continue;
            }
            let key = keyword(ca);
            assert_eq!(key, keyword(cb));
            match key.as_str() {
                "DATE" | "CHECKSUM" => {}
                // Value identical; only the comment's time stamp may differ.
                "DATASUM" => assert_eq!(ca[..31], cb[..31], "{}: HDU {i} DATASUM", got.display()),
                _ => panic!(
                    "{}: HDU {i} card differs:\n{}\n{}",
                    got.display(),
                    String::from_utf8_lossy(ca),
                    String::from_utf8_lossy(cb)
                ),
            }
        }
    }
    for (hdu, data_ok, hdu_ok) in frames::write::verify_checksums(got).unwrap() {
        assert!(data_ok && hdu_ok, "{}[{hdu}]: checksum", got.display());
    }
}

fn assert_same_products(got: &Path, want: &Path) {
    for p in PRODUCTS {
        let name = format!("{EXPOSURE}_{p}.fits");
        assert_same_product(&got.join(&name), &want.join(&name));
    }
}

#[test]
fn iterative_run_stopped_twice_resumes_to_identical_products() {
    let tmp = tempfile::tempdir().unwrap();
    let sim = tmp.path().join("sim");
    let input = simulate(&sim);
    let whole = tmp.path().join("whole");
    let out = tmp.path().join("out");
    // Uninterrupted, without --resume: the reference.
    assert_ok(&run(detector1(
        &input,
        &sim,
        &whole,
        &["--tile", "16x32"],
        &[],
    )));

    // Stopped after 5 of 32 tiles.
    let opts = ["--tile", "16x32", "--threads", "2", "--resume"];
    let o = run(detector1(
        &input,
        &sim,
        &out,
        &opts,
        &[("SLOPER_TEST_INTERRUPT_AFTER_TILES", "5")],
    ));
    assert_interrupted(&o);
    assert_partial_state(&out);
    let (pass, done, n) = checkpoint(&out).expect("checkpoint");
    assert_eq!((pass, n), (0, 32));
    assert!((5..32).contains(&done), "{done} tiles done");

    // Resumed from another working directory with relative paths, other threads, tile size and
    // memory budget (the stored plan is kept), and stopped again 9 tiles later.
    let opts2 = [
        "--tile",
        "128x128",
        "--threads",
        "1",
        "--max-memory",
        "64m",
        "--resume",
    ];
    let rel = |p: &Path| p.strip_prefix(tmp.path()).unwrap().to_path_buf();
    let mut c = detector1(
        &rel(&input),
        &rel(&sim),
        &rel(&out),
        &opts2,
        &[("SLOPER_TEST_INTERRUPT_AFTER_TILES", "9")],
    );
    c.current_dir(tmp.path());
    let o = run(c);
    assert_interrupted(&o);
    assert_partial_state(&out);
    let (_, done2, n2) = checkpoint(&out).unwrap();
    assert_eq!(n2, 32, "the stored tile plan is kept");
    assert!(done2 >= done + 9 && done2 < 32, "{done} then {done2}");

    // Resumed to the end.
    assert_ok(&run(detector1(&input, &sim, &out, &opts, &[])));
    assert_only_products(&out);
    assert_same_products(&out, &whole);
}

/// Poll the checkpoint in `out` until `tiles_done >= at_least`; panic if the run ends first.
fn wait_for_tiles(child: &mut std::process::Child, out: &Path, at_least: u64) -> u64 {
    let t0 = Instant::now();
    loop {
        if let Some((_, done, n)) = checkpoint(out) {
            if done >= at_least {
                assert!(
                    (done as usize) < n,
                    "the run was complete before the signal: make it longer"
                );
                return done;
            }
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("detector1 ended ({status}) before {at_least} tiles were checkpointed");
        }
        assert!(t0.elapsed() < Duration::from_secs(120), "no progress");
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn kill(pid: u32, signal: &str) {
    let ok = Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -{signal}");
}

#[test]
fn real_sigint_then_sigkill_then_resume_gives_identical_products() {
    use std::os::unix::process::ExitStatusExt;
    let tmp = tempfile::tempdir().unwrap();
    let sim = tmp.path().join("sim");
    let input = simulate(&sim);
    let whole = tmp.path().join("whole");
    let out = tmp.path().join("out");
    // Small tiles on one thread: long enough to be signalled mid-run; checkpoints after every
    // tile, so SIGKILL finds one recent.
    let opts = ["--tile", "8x32", "--threads", "1", "--resume"];
    let env = [("SLOPER_CHECKPOINT_SECONDS", "0")];
    assert_ok(&run(detector1(&input, &sim, &whole, &opts[..4], &[])));

    // SIGINT: stops at the next tile, keeps partial products and the checkpoint.
    let mut child = detector1(&input, &sim, &out, &opts, &env).spawn().unwrap();
    let first = wait_for_tiles(&mut child, &out, 3);
    kill(child.id(), "INT");
    let o = child.wait_with_output().unwrap();
    assert_interrupted(&o);
    assert_partial_state(&out);
    let (_, after_int, _) = checkpoint(&out).unwrap();
    assert!(after_int >= first);

    // SIGKILL while resuming: no clean-up at all, whatever the process was doing.
    let mut child = detector1(&input, &sim, &out, &opts, &env).spawn().unwrap();
    let second = wait_for_tiles(&mut child, &out, after_int + 4);
    kill(child.id(), "KILL");
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.signal(), Some(9), "{:?}", o.status);
    let (_, after_kill, n) = checkpoint(&out).unwrap();
    assert!(after_kill >= second && (after_kill as usize) < n);

    // Resumed to the end: identical products, nothing else left.
    let o = run(detector1(&input, &sim, &out, &opts, &env));
    assert_ok(&o);
    assert_only_products(&out);
    assert_same_products(&out, &whole);
}

/// The sigma-clip fixture (100 integrations of 12x12) with every pixel jumping by 3000 DN in
/// group 2 of integration 5: that plane is entirely JUMP_DET, so pass B runs a second time with
/// whole-plane clearing. (refpix and saturation are skipped so the jump is neither subtracted
/// as a reference-pixel offset nor saturated anywhere.)
fn sigma_clip_with_a_whole_plane_jump(dir: &Path) -> PathBuf {
    unpack_fits(&repo().join("fixtures/parity/sigclip100"), dir);
    let path = dir.join(format!("{EXPOSURE}_uncal.fits"));
    let mut bytes = std::fs::read(&path).unwrap();
    let data_start = {
        let mut r = frames::fits::FitsReader::open(&path).unwrap();
        r.data_span(1).unwrap().data_start as usize
    };
    let (ngroups, plane) = (4, 12 * 12);
    for g in [2, 3] {
        let off = data_start + (5 * ngroups + g) * plane * 2;
        for px in bytes[off..off + plane * 2].chunks_exact_mut(2) {
            // int16 with BZERO 32768, big-endian.
            let v = i16::from_be_bytes([px[0], px[1]]) as i32 + 32768;
            let w = (v + 3000).min(65535) - 32768;
            px.copy_from_slice(&(w as i16).to_be_bytes());
        }
    }
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn sigma_clip_run_stopped_in_both_passes_resumes_to_identical_products() {
    let tmp = tempfile::tempdir().unwrap();
    let sim = tmp.path().join("in");
    let input = sigma_clip_with_a_whole_plane_jump(&sim);
    let whole = tmp.path().join("whole");
    let out = tmp.path().join("out");
    let opts = [
        "--steps.refpix.skip=true",
        "--steps.saturation.skip=true",
        "--tile",
        "3x4",
        "--resume",
    ];
    assert_ok(&run(detector1(&input, &sim, &whole, &opts[..4], &[])));

    // Stopped in pass 0 (4 of 12 tiles).
    let o = run(detector1(
        &input,
        &sim,
        &out,
        &opts,
        &[("SLOPER_TEST_INTERRUPT_AFTER_TILES", "4")],
    ));
    assert_interrupted(&o);
    let (pass, done, n) = checkpoint(&out).unwrap();
    assert_eq!((pass, n), (0, 12));
    assert!((4..12).contains(&done), "{done}");

    // Resumed and stopped again in pass 1, the whole-plane clearing pass.
    let o = run(detector1(
        &input,
        &sim,
        &out,
        &opts,
        &[("SLOPER_TEST_INTERRUPT_AFTER_TILES", "11")],
    ));
    assert_interrupted(&o);
    let (pass, done1, _) = checkpoint(&out).unwrap();
    assert_eq!(pass, 1, "the second pass was running");
    assert!(done1 < 12);
    let text = std::fs::read_to_string(checkpoint_path(&out)).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let planes = v["progress"]["planes"].as_str().unwrap();
    assert_eq!(planes.len(), 400);
    assert_eq!(
        &planes[5 * 4 + 2..5 * 4 + 3],
        "1",
        "plane (5, 2) is cleared"
    );

    assert_ok(&run(detector1(&input, &sim, &out, &opts, &[])));
    assert_only_products(&out);
    assert_same_products(&out, &whole);
}

#[test]
fn checkpoints_of_other_runs_are_refused_and_a_plain_run_supersedes_them() {
    let tmp = tempfile::tempdir().unwrap();
    let sim = tmp.path().join("sim");
    let input = simulate(&sim);
    let out = tmp.path().join("out");
    let opts = ["--tile", "32x64", "--resume"];
    let stop = [("SLOPER_TEST_INTERRUPT_AFTER_TILES", "2")];
    assert_interrupted(&run(detector1(&input, &sim, &out, &opts, &stop)));
    assert_partial_state(&out);
    let saved = std::fs::read(checkpoint_path(&out)).unwrap();
    let refused = |extra: &[&str], what: &[&str]| {
        let mut args = opts.to_vec();
        args.extend(extra);
        let o = run(detector1(&input, &sim, &out, &args, &[]));
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{err}");
        let last = err.lines().last().unwrap_or_default();
        assert!(
            last.contains(".sloper-checkpoint") && what.iter().all(|w| last.contains(w)),
            "{last}"
        );
        assert_partial_state(&out);
        assert_eq!(
            std::fs::read(checkpoint_path(&out)).unwrap(),
            saved,
            "left as it was"
        );
    };
    // Other step settings.
    refused(
        &["--steps.jump.rejection_threshold=5"],
        &["different run", "settings differ"],
    );
    // The input changed (its modification time).
    let f = std::fs::File::options().write(true).open(&input).unwrap();
    f.set_modified(std::time::SystemTime::now() + Duration::from_secs(5))
        .unwrap();
    drop(f);
    refused(&[], &["different run", "input"]);
    // A damaged checkpoint.
    let changed = std::fs::read(checkpoint_path(&out)).unwrap();
    std::fs::write(checkpoint_path(&out), &changed[..changed.len() / 2]).unwrap();
    let o = run(detector1(&input, &sim, &out, &opts, &[]));
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("not a valid sloper checkpoint"),
        "{}",
        stderr(&o)
    );
    // --resume is for the exact driver.
    let o = run(detector1(
        &input,
        &sim,
        &out,
        &["--resume", "--mode", "online"],
        &[],
    ));
    assert!(!o.status.success());
    assert!(stderr(&o).contains("--resume applies to --mode exact"));

    // Without --resume: an interrupt still leaves nothing of its own...
    let o = run(detector1(&input, &sim, &out, &opts[..2], &stop));
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("interrupted; no product was written"));
    assert!(entries(&out).iter().all(|n| !n.contains("sloper-tmp")));
    // ...and a complete run replaces the stale checkpoint and partial products.
    assert_ok(&run(detector1(&input, &sim, &out, &opts[..2], &[])));
    assert_only_products(&out);
}
