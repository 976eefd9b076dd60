//! Regression tests for the hostile inputs the fuzz test (tests/reliability_fuzz.rs) found: each
//! rebuilds the offending mutation of a committed fixture and checks the reader now returns a
//! clean error naming the file, quickly, instead of panicking or hanging.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
}

const TINY_RAMP: &str = "fixtures/oracle/tiny/golden/jw01234001001_01101_00001_nrcalong_ramp.fits";
const TINY_UNCAL: &str = "fixtures/oracle/tiny/jw01234001001_01101_00001_nrcalong_uncal.fits";

/// Replace the value of the `nth` card named `key` (0 = first occurrence in the file).
fn set_card(bytes: &mut [u8], key: &str, nth: usize, value: &str) {
    let at = bytes
        .chunks(80)
        .enumerate()
        .filter(|(_, c)| c.len() == 80 && String::from_utf8_lossy(&c[..8]).trim_end() == key)
        .nth(nth)
        .map(|(i, _)| i * 80)
        .unwrap_or_else(|| panic!("no card {key} #{nth}"));
    let mut card = format!("{key:<8}= {value:>20}").into_bytes();
    card.resize(80, b' ');
    bytes[at..at + 80].copy_from_slice(&card);
}

/// Write the mutant into a temporary directory; the directory lives as long as the guard.
fn mutant(src: &str, edit: impl FnOnce(&mut Vec<u8>)) -> (tempfile::TempDir, PathBuf) {
    let mut bytes = std::fs::read(fixture(src)).unwrap();
    edit(&mut bytes);
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("mutant.fits");
    std::fs::write(&p, bytes).unwrap();
    (dir, p)
}

fn assert_clean_error<T: std::fmt::Debug>(r: frames::Result<T>, path: &Path, expect: &str) {
    let e = r.expect_err("the mutant must be refused").to_string();
    assert!(
        e.contains(&*path.to_string_lossy()),
        "does not name the file: {e}"
    );
    assert!(e.contains(expect), "expected {expect:?} in: {e}");
    assert!(!e.contains('\n'), "not one line: {e}");
}

/// Found by the fuzz test: an absurd NAXIS3 (2^63 - 1) in an extension header wraps cfitsio's
/// 64-bit data size, so "the next HDU" starts where this one does, again and again: counting
/// HDUs (checksum verification, `sloper info`) and searching them by name never ended.
#[test]
fn checksum_of_an_overflowing_data_unit_is_refused_quickly() {
    let (_dir, p) = mutant(TINY_RAMP, |b| {
        set_card(b, "NAXIS3", 0, "9223372036854775807")
    });
    let t0 = Instant::now();
    let r = frames::write::verify_checksums(&p);
    assert!(
        t0.elapsed() < Duration::from_secs(5),
        "took {:?}",
        t0.elapsed()
    );
    assert_clean_error(
        r,
        &p,
        "HDU 1: its header declares a data unit too large to address",
    );
}

#[test]
fn hdu_count_and_search_stop_on_an_overflowing_data_unit() {
    let (_dir, p) = mutant(TINY_RAMP, |b| {
        set_card(b, "NAXIS3", 0, "9223372036854775807")
    });
    let mut r = frames::fits::FitsReader::open(&p).unwrap();
    assert_clean_error(r.num_hdus(), &p, "too large to address");
    assert_clean_error(r.find_hdu("ASDF"), &p, "too large to address");
    assert_clean_error(frames::raw::RampFile::open(&p), &p, "too large to address");
}

/// The same overflow in a reference file (32 × 2^56 four-byte pixels: 2^63 bytes, negative as a
/// signed size) reaches cfitsio's name search (`goto_name`).
#[test]
fn reference_with_an_overflowing_data_unit_is_refused() {
    let meta = frames::meta::ExposureMeta::read(fixture(TINY_UNCAL)).unwrap();
    let (_dir, p) = mutant("fixtures/oracle/tiny/ref_gain.fits", |b| {
        set_card(b, "NAXIS2", 0, "72057594037927936")
    });
    let t0 = Instant::now();
    let r = frames::refs::GainRef::load(&p, &meta);
    assert!(
        t0.elapsed() < Duration::from_secs(5),
        "took {:?}",
        t0.elapsed()
    );
    assert_clean_error(r, &p, "too large to address");
}

/// A data unit cut short by truncation: checksum verification names the problem instead of
/// summing past the end of the file.
#[test]
fn checksum_of_a_truncated_file_is_refused() {
    let (_dir, p) = mutant(TINY_UNCAL, |b| {
        let n = b.len();
        b.truncate(n - 2880);
    });
    assert_clean_error(
        frames::write::verify_checksums(&p),
        &p,
        "past the end of the file",
    );
}

/// Found by the fuzz test: BITPIX 8 and NAXIS1 = 2^32 in the IPC kernel made the loader allocate
/// 48 GiB before reading (the process aborted). Allocations sized from the header are now bounded
/// by the data unit actually in the file.
#[test]
fn reference_declaring_more_pixels_than_the_file_holds_is_refused_before_allocating() {
    let meta = frames::meta::ExposureMeta::read(fixture(TINY_UNCAL)).unwrap();
    let (_dir, p) = mutant("fixtures/oracle/tiny/ref_ipc.fits", |b| {
        set_card(b, "BITPIX", 1, "8");
        set_card(b, "NAXIS1", 0, "4294967296");
    });
    assert_clean_error(
        frames::refs::IpcRef::load(&p, &meta),
        &p,
        "past the end of the file",
    );
}

/// A table whose NAXIS2 claims more rows than its data unit holds: refused before the column
/// buffers are allocated.
#[test]
fn table_declaring_more_rows_than_the_file_holds_is_refused() {
    let src = "fixtures/oracle/tiny/ref_linearity.fits";
    let bytes = std::fs::read(fixture(src)).unwrap();
    // The DQ_DEF table's NAXIS2 is the last NAXIS2 card of the file.
    let n = bytes
        .chunks(80)
        .filter(|c| c.starts_with(b"NAXIS2  "))
        .count();
    let meta = frames::meta::ExposureMeta::read(fixture(TINY_UNCAL)).unwrap();
    let (_dir, p) = mutant(src, |b| set_card(b, "NAXIS2", n - 1, "100000000000"));
    assert_clean_error(
        frames::refs::LinearityRef::load(&p, &meta),
        &p,
        "past the end of the file",
    );
}

/// Found by the fuzz test: NAXIS3 = 2^63 - 1 in the dark's SCI header overflowed the data-size
/// multiplication (a panic in debug builds, a wrapped size in release).
#[test]
fn dark_with_an_overflowing_plane_count_is_refused() {
    let meta = frames::meta::ExposureMeta::read(fixture(TINY_UNCAL)).unwrap();
    let (_dir, p) = mutant("fixtures/oracle/tiny/ref_dark.fits", |b| {
        set_card(b, "NAXIS3", 0, "9223372036854775807")
    });
    let r = std::panic::catch_unwind(|| frames::refs::DarkRef::load(&p, &meta)).expect("no panic");
    let e = r.expect_err("must be refused").to_string();
    assert!(e.contains(&*p.to_string_lossy()), "{e}");
}

/// Found by the fuzz test: one flipped bit turned `EXTNAME = 'DQ'` into `EXTNAME =('DQ'`. Reading
/// it failed, the error message asked for the HDU's label, made from EXTNAME, which failed
/// again... until the stack overflowed (`sloper info` aborted).
#[test]
fn unreadable_extname_is_an_error_not_a_stack_overflow() {
    let (_dir, p) = mutant("fixtures/oracle/tiny/ref_dark.fits", |b| b[29529] ^= 1 << 3);
    let mut r = frames::fits::FitsReader::open(&p).unwrap();
    let dq = (0..r.num_hdus().unwrap())
        .find(|&i| {
            r.cards(i)
                .unwrap()
                .iter()
                .any(|c| c.starts_with("EXTNAME =("))
        })
        .expect("the mutated card");
    assert_clean_error(
        r.hdu_name(dq),
        &p,
        &format!("keyword EXTNAME in the HDU {dq} header"),
    );
    assert_eq!(r.hdu_label(dq), format!("HDU {dq} header"));
    assert!(frames::fits::FitsReader::open(&p)
        .unwrap()
        .hdu_summaries()
        .is_err());
}
