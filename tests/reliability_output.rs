//! Crash safety of `sloper detector1` when the output cannot be written (issue 7): an unwritable
//! or impossible `--output_dir`, and a disk that fills up mid-run (ENOSPC), each give a one-line
//! error naming the output location and exit status 1, leave no product and no temporary file,
//! and leave the input untouched.
//!
//! The full disk is a 1 MiB tmpfs when this process may mount one (root, as in CI); otherwise it
//! is simulated by a file-size limit (`ulimit -f`, with SIGXFSZ ignored so the write fails with
//! EFBIG instead of killing the process).
#![cfg(unix)]

mod common;

use common::{entries, fingerprint};

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn sloper_bin() -> &'static str {
    env!("CARGO_BIN_EXE_sloper")
}

/// 2 integrations × 5 groups × 256 × 256: its _rate alone (1.3 MB) overflows the 1 MiB disk.
fn simulate(dir: &Path) -> PathBuf {
    common::simulate_cli(dir, 2, 5, 11)
}

fn detector1_args(input: &Path, out: &Path) -> Vec<String> {
    vec![
        "detector1".into(),
        input.display().to_string(),
        "--refs".into(),
        input.parent().unwrap().display().to_string(),
        format!("--output_dir={}", out.display()),
        "--no-progress".into(),
        "--quiet".into(),
    ]
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// The failure must be reported on one line (`sloper: error: ...`) that names `what`, with exit
/// status 1.
fn assert_clean_failure(output: &Output, what: &Path) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(1),
        "status {:?}; stderr:\n{stderr}",
        output.status
    );
    let errors: Vec<&str> = stderr.lines().filter(|l| l.contains("error")).collect();
    assert_eq!(errors.len(), 1, "one error line expected, got:\n{stderr}");
    assert!(errors[0].starts_with("sloper: error: "), "{}", errors[0]);
    assert!(
        errors[0].contains(&what.display().to_string()),
        "the error does not name {}: {}",
        what.display(),
        errors[0]
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// An `--output_dir` below a regular file can never be created.
#[test]
fn output_dir_below_a_file_is_a_clean_error() {
    let tmp = tempfile::tempdir().unwrap();
    let input = simulate(&tmp.path().join("sim"));
    let before = fingerprint(&input);
    let file = tmp.path().join("not_a_dir");
    std::fs::write(&file, b"x").unwrap();
    let out = file.join("out");
    let output = Command::new(sloper_bin())
        .args(detector1_args(&input, &out))
        .output()
        .unwrap();
    assert_clean_failure(&output, &out);
    assert_eq!(std::fs::read(&file).unwrap(), b"x");
    assert_eq!(fingerprint(&input), before, "the input was modified");
}

/// A directory the user may not write to (mode 0555; as root the child drops to `nobody`, for
/// whom root's permission bits apply).
#[test]
fn unwritable_output_dir_is_a_clean_error() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    // Readable by everybody, so an unprivileged child can read the input and references.
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let input = simulate(&tmp.path().join("sim"));
    let before = fingerprint(&input);
    let out = tmp.path().join("readonly");
    std::fs::create_dir(&out).unwrap();
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o555)).unwrap();

    let mut cmd = if is_root() {
        let mut c = Command::new("setpriv");
        c.args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            sloper_bin(),
        ]);
        c
    } else {
        Command::new(sloper_bin())
    };
    let output = match cmd.args(detector1_args(&input, &out)).output() {
        Ok(o) => o,
        Err(e) => {
            // setpriv (util-linux) missing: root cannot be refused a write, nothing to test.
            eprintln!("skipped: cannot run as an unprivileged user ({e})");
            return;
        }
    };
    assert_clean_failure(&output, &out);
    assert!(entries(&out).is_empty(), "left behind: {:?}", entries(&out));
    assert_eq!(fingerprint(&input), before, "the input was modified");
}

/// Unmounts the tmpfs when the test ends, whatever happens.
struct Mounted(PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

fn mount_tiny_tmpfs(dir: &Path) -> Option<Mounted> {
    std::fs::create_dir_all(dir).unwrap();
    let ok = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1M", "tmpfs"])
        .arg(dir)
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    ok.then(|| Mounted(dir.to_path_buf()))
}

/// The disk fills up while the products stream out.
#[test]
fn full_disk_is_a_clean_error_and_leaves_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let input = simulate(&tmp.path().join("sim"));
    let before = fingerprint(&input);
    let out = tmp.path().join("disk");
    let mounted = mount_tiny_tmpfs(&out);
    let output = if mounted.is_some() {
        Command::new(sloper_bin())
            .args(detector1_args(&input, &out))
            .output()
            .unwrap()
    } else {
        // No tmpfs: a 1 MiB file-size limit stands in for the full disk (EFBIG, not ENOSPC, but
        // the same failed write in the middle of a product).
        eprintln!("no tmpfs (not root?): simulating the full disk with ulimit -f");
        Command::new("sh")
            .args([
                "-c",
                "ulimit -f 2048 && trap '' XFSZ && exec \"$0\" \"$@\"",
                sloper_bin(),
            ])
            .args(detector1_args(&input, &out))
            .output()
            .unwrap()
    };
    assert_clean_failure(&output, &out);
    assert!(entries(&out).is_empty(), "left behind: {:?}", entries(&out));
    assert_eq!(fingerprint(&input), before, "the input was modified");
    drop(mounted);
}

/// The file-size limit path is exercised even where the tmpfs is available.
#[test]
fn file_size_limit_is_a_clean_error_and_leaves_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let input = simulate(&tmp.path().join("sim"));
    let before = fingerprint(&input);
    let out = tmp.path().join("out");
    let output = Command::new("sh")
        .args([
            "-c",
            "ulimit -f 2048 && trap '' XFSZ && exec \"$0\" \"$@\"",
            sloper_bin(),
        ])
        .args(detector1_args(&input, &out))
        .output()
        .unwrap();
    assert_clean_failure(&output, &out);
    assert!(entries(&out).is_empty(), "left behind: {:?}", entries(&out));
    assert_eq!(fingerprint(&input), before, "the input was modified");
}
