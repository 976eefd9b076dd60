//! Integrity (issue 7): `frames::fits::verify_checksums` on a product written by sloper (every
//! HDU carries CHECKSUM/DATASUM) accepts it intact and names the file and the HDU when one byte
//! of its data or its header is corrupted; a file without sums has nothing to verify.

mod common;

use std::path::{Path, PathBuf};

const STEM: &str = "jw01234001001_01101_00001_nrcalong";

/// Run detector1 on the committed tiny exposure; returns the _rate product.
fn rate_product(out: &Path) -> PathBuf {
    let tiny = common::repo().join("fixtures/oracle/tiny");
    common::detector1(&[
        tiny.join(format!("{STEM}_uncal.fits"))
            .display()
            .to_string(),
        "--refs".into(),
        tiny.display().to_string(),
        format!("--output_dir={}", out.display()),
        "--quiet".into(),
    ]);
    out.join(format!("{STEM}_rate.fits"))
}

/// Byte range of the data unit and start of the header of the HDU named `extname`.
fn hdu_bytes(path: &Path, extname: &str) -> (u64, std::ops::Range<u64>) {
    let mut r = frames::fits::FitsReader::open(path).unwrap();
    let i = r.require_hdu(extname).unwrap();
    let span = r.data_span(i).unwrap();
    (span.header_start, span.data_start..span.data_end_padded)
}

fn corrupt(src: &Path, dst: &Path, at: u64) {
    let mut bytes = std::fs::read(src).unwrap();
    bytes[at as usize] ^= 0x20;
    std::fs::write(dst, bytes).unwrap();
}

#[test]
fn intact_sloper_product_verifies() {
    let tmp = tempfile::tempdir().unwrap();
    let rate = rate_product(tmp.path());
    let n = frames::fits::verify_checksums(&rate).unwrap();
    let hdus = frames::fits::FitsReader::open(&rate)
        .unwrap()
        .num_hdus()
        .unwrap();
    assert_eq!(n, hdus, "every HDU of a sloper product carries checksums");
}

#[test]
fn corrupted_data_byte_is_reported_with_file_and_hdu() {
    let tmp = tempfile::tempdir().unwrap();
    let rate = rate_product(tmp.path());
    let (_, data) = hdu_bytes(&rate, "SCI");
    let bad = tmp.path().join("bad_data.fits");
    // A byte in the middle of the SCI array.
    corrupt(&rate, &bad, (data.start + data.end) / 2);
    let e = frames::fits::verify_checksums(&bad)
        .unwrap_err()
        .to_string();
    assert!(e.contains(&*bad.to_string_lossy()), "{e}");
    assert!(e.contains("SCI header"), "names the HDU: {e}");
    assert!(e.contains("DATASUM does not match"), "{e}");
}

#[test]
fn corrupted_header_byte_is_reported_with_file_and_hdu() {
    let tmp = tempfile::tempdir().unwrap();
    let rate = rate_product(tmp.path());
    let (header, _) = hdu_bytes(&rate, "ERR");
    let bad = tmp.path().join("bad_header.fits");
    // Inside the comment of the ERR header's second card (BITPIX): still a valid header.
    corrupt(&rate, &bad, header + 80 + 40);
    let mut r = frames::fits::FitsReader::open(&bad).unwrap();
    assert!(
        r.require_hdu("ERR").is_ok(),
        "the corrupted file still reads"
    );
    let e = frames::fits::verify_checksums(&bad)
        .unwrap_err()
        .to_string();
    assert!(e.contains(&*bad.to_string_lossy()), "{e}");
    assert!(e.contains("ERR header"), "names the HDU: {e}");
    assert!(e.contains("CHECKSUM does not match"), "{e}");
}

#[test]
fn file_without_checksums_has_nothing_to_verify() {
    let uncal = common::repo().join(format!("fixtures/oracle/tiny/{STEM}_uncal.fits"));
    assert_eq!(frames::fits::verify_checksums(&uncal).unwrap(), 0);
}
