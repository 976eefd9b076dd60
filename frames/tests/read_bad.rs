//! Bad input: each test damages a copy of the official tiny uncal (FITS headers are 80-byte
//! ASCII cards, so the damage is a card edit or a truncation) and checks that opening it gives
//! an error naming the file and the problem, never a panic, a SIGBUS or a huge allocation.

use std::path::{Path, PathBuf};

use frames::raw::{RampFile, RawExposure};
use frames::ExposureMeta;

const BASE: &str = "jw01234001001_01101_00001_nrcalong";

fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/oracle/tiny")
        .join(rel)
}

/// A copy of the tiny uncal in a temp dir, as raw bytes to damage.
struct Damaged {
    _dir: tempfile::TempDir,
    path: PathBuf,
    bytes: Vec<u8>,
}

impl Damaged {
    fn new(name: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        let bytes = std::fs::read(fixture(&format!("{BASE}_uncal.fits"))).unwrap();
        Damaged {
            _dir: dir,
            path,
            bytes,
        }
    }

    /// Byte offset of the first card starting with `prefix` at or after `from`.
    fn find_card(&self, prefix: &str, from: usize) -> usize {
        (from..self.bytes.len())
            .step_by(80)
            .find(|&o| self.bytes[o..].starts_with(prefix.as_bytes()))
            .unwrap_or_else(|| panic!("card {prefix:?} not found"))
    }

    /// Offset of the SCI extension's header.
    fn sci_header(&self) -> usize {
        self.find_card("XTENSION= 'IMAGE", 0)
    }

    /// Replaces the card starting with `prefix` (searching from `from`) by `card`.
    fn set_card(&mut self, prefix: &str, from: usize, card: &str) -> &mut Self {
        let at = self.find_card(prefix, from);
        let mut text = format!("{card:<80}");
        text.truncate(80);
        self.bytes[at..at + 80].copy_from_slice(text.as_bytes());
        self
    }

    /// An integer card `KEY = value` in fixed format.
    fn int_card(key: &str, value: i64) -> String {
        format!("{key:<8}= {value:>20}")
    }

    fn write(&self) -> &Path {
        std::fs::write(&self.path, &self.bytes).unwrap();
        &self.path
    }

    fn truncate(&mut self, len: usize) -> &mut Self {
        self.bytes.truncate(len);
        self
    }
}

/// Opens with `RawExposure::open` and returns the error text, checking it names the file.
fn open_err(path: &Path) -> String {
    let err = match RawExposure::open(path) {
        Ok(_) => panic!("{} opened without error", path.display()),
        Err(e) => e.to_string(),
    };
    eprintln!("{err}");
    let name = path.file_name().unwrap().to_string_lossy().to_string();
    assert!(err.contains(&name), "error does not name the file: {err}");
    err
}

fn assert_mentions(err: &str, words: &[&str]) {
    for w in words {
        assert!(err.contains(w), "error {err:?} does not mention {w:?}");
    }
}

#[test]
fn truncated_data_unit() {
    let mut d = Damaged::new("cut_uncal.fits");
    let data_start = 11520; // SCI data offset (astropy's datLoc, checked in read_tiny)
    d.truncate(data_start + 5000);
    let err = open_err(d.write());
    assert_mentions(
        &err,
        &["SCI HDU", "20480 bytes", "only 16520 bytes", "truncated"],
    );
}

#[test]
fn header_cut_mid_card() {
    let mut d = Damaged::new("midcard_uncal.fits");
    let sci = d.sci_header();
    d.truncate(sci + 3 * 80 + 37);
    let err = open_err(d.write());
    // cfitsio's own diagnosis, tagged as a FITS error while looking for SCI.
    assert_mentions(&err, &["FITS error", "SCI", "HDU 1", "truncated?"]);
}

#[test]
fn primary_header_cut_mid_card() {
    let mut d = Damaged::new("primcut_uncal.fits");
    d.truncate(25 * 80 + 11);
    let err = open_err(d.write());
    assert_mentions(&err, &["cannot open as FITS"]);
}

#[test]
fn wrong_bitpix() {
    let mut d = Damaged::new("bitpix_uncal.fits");
    let sci = d.sci_header();
    d.set_card("BITPIX", sci, &Damaged::int_card("BITPIX", -32));
    let err = open_err(d.write());
    assert_mentions(
        &err,
        &[
            "SCI HDU",
            "BITPIX = -32",
            "expected BITPIX = 16 with BZERO = 32768",
            "uint16",
        ],
    );
}

#[test]
fn signed_int16_without_bzero() {
    let mut d = Damaged::new("bzero_uncal.fits");
    let sci = d.sci_header();
    d.set_card("BZERO", sci, &Damaged::int_card("BZERO", 0));
    let err = open_err(d.write());
    assert_mentions(&err, &["BITPIX = 16, BZERO = 0", "uint16"]);
}

#[test]
fn wrong_naxis() {
    let mut d = Damaged::new("naxis_uncal.fits");
    let sci = d.sci_header();
    d.set_card("NAXIS   =", sci, &Damaged::int_card("NAXIS", 3));
    let err = open_err(d.write());
    assert_mentions(&err, &["SCI HDU", "NAXIS = 3, expected 4"]);
}

#[test]
fn naxis_beyond_the_file_size_is_caught_before_mapping() {
    let mut d = Damaged::new("big_uncal.fits");
    let sci = d.sci_header();
    // 200 integrations would be 2 MB of data; the file has 57600 bytes.
    d.set_card("NAXIS4", sci, &Damaged::int_card("NAXIS4", 200));
    let err = open_err(d.write());
    assert_mentions(&err, &["SCI HDU", "2048000 bytes", "only 57600 bytes"]);
}

#[test]
fn naxis_disagreeing_with_the_keywords() {
    let mut d = Damaged::new("ngroups_uncal.fits");
    let sci = d.sci_header();
    // Fits in the file, but NGROUPS says 5.
    d.set_card("NAXIS3", sci, &Damaged::int_card("NAXIS3", 4));
    let err = open_err(d.write());
    assert_mentions(
        &err,
        &["NAXIS1..4 = [32, 32, 4, 2]", "NGROUPS", "[32, 32, 5, 2]"],
    );
}

#[test]
fn absurd_naxis_values() {
    for (i, (key, value, words)) in [
        (
            "NAXIS1",
            99_999_999_999i64,
            &["SCI HDU", "only 57600 bytes"][..],
        ),
        ("NAXIS2", 0, &["SCI HDU", "NAXIS2 = 0"][..]),
        ("NAXIS   =", 1000, &["SCI"][..]),
    ]
    .into_iter()
    .enumerate()
    {
        let mut d = Damaged::new(&format!("absurd{i}_uncal.fits"));
        let sci = d.sci_header();
        let k = key.trim_end_matches([' ', '=']);
        d.set_card(key, sci, &Damaged::int_card(k, value));
        let err = open_err(d.write());
        assert_mentions(&err, words);
    }
    // Axes whose byte count overflows 64 bits.
    let mut d = Damaged::new("overflow_uncal.fits");
    let sci = d.sci_header();
    for k in ["NAXIS1", "NAXIS2", "NAXIS3", "NAXIS4"] {
        d.set_card(k, sci, &Damaged::int_card(k, 9_999_999_999));
    }
    let err = open_err(d.write());
    assert_mentions(&err, &["SCI"]);
}

#[test]
fn negative_naxis() {
    let mut d = Damaged::new("negative_uncal.fits");
    let sci = d.sci_header();
    d.set_card("NAXIS2", sci, &Damaged::int_card("NAXIS2", -32));
    let err = open_err(d.write());
    assert_mentions(&err, &["SCI", "NAXIS"]);
}

#[test]
fn missing_sci_hdu() {
    let mut d = Damaged::new("nosci_uncal.fits");
    let sci = d.sci_header();
    d.set_card("EXTNAME", sci, "EXTNAME = 'SCX     '");
    let err = open_err(d.write());
    assert_mentions(&err, &["no SCI HDU"]);
}

#[test]
fn missing_required_keyword() {
    let mut d = Damaged::new("nongroups_uncal.fits");
    d.set_card("NGROUPS =", 0, "NGROUPX =                    5");
    let path = d.write().to_path_buf();
    let err = open_err(&path);
    assert_mentions(&err, &["keyword NGROUPS missing from the primary header"]);
    let err = ExposureMeta::read(&path).unwrap_err().to_string();
    assert_mentions(
        &err,
        &[
            "nongroups_uncal.fits",
            "keyword NGROUPS missing from the primary header",
        ],
    );
}

#[test]
fn keyword_of_the_wrong_type() {
    let mut d = Damaged::new("strngroups_uncal.fits");
    d.set_card("NGROUPS =", 0, "NGROUPS = 'five    '");
    let err = open_err(d.write());
    assert_mentions(
        &err,
        &["keyword NGROUPS in the primary header is not an integer"],
    );
}

#[test]
fn integration_range_outside_nints() {
    let mut d = Damaged::new("intend_uncal.fits");
    d.set_card("INTEND  =", 0, &Damaged::int_card("INTEND", 7));
    let err = open_err(d.write());
    assert_mentions(&err, &["INTSTART = 1, INTEND = 7", "NINTS = 2"]);
}

#[test]
fn int_times_with_absurd_row_count() {
    let mut d = Damaged::new("inttimes_uncal.fits");
    let it = d.find_card("EXTNAME = 'INT_TIMES'", 0);
    // The table header starts a few cards before EXTNAME; NAXIS2 is its 5th card.
    let hdr = it - (it % 2880);
    d.set_card("NAXIS2", hdr, &Damaged::int_card("NAXIS2", 4_000_000_000));
    let err = open_err(d.write());
    assert_mentions(
        &err,
        &[
            "INT_TIMES table",
            "4000000000 rows",
            "do not fit in the file",
        ],
    );
}

#[test]
fn not_fits_and_missing_files() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes_uncal.fits");
    std::fs::write(&text, "this is not a FITS file\n".repeat(200)).unwrap();
    let err = open_err(&text);
    assert_mentions(&err, &["cannot open as FITS"]);
    let missing = dir.path().join("absent_uncal.fits");
    let err = open_err(&missing);
    assert_mentions(&err, &["No such file"]);
    let empty = dir.path().join("empty_uncal.fits");
    std::fs::write(&empty, b"").unwrap();
    open_err(&empty);
}

#[test]
fn uncal_is_not_a_ramp_and_ramp_is_not_an_uncal() {
    let err = RampFile::open(fixture(&format!("{BASE}_uncal.fits")))
        .unwrap_err()
        .to_string();
    assert_mentions(
        &err,
        &[
            &format!("{BASE}_uncal.fits"),
            "SCI HDU",
            "BITPIX = 16",
            "float32",
        ],
    );
    let err = RawExposure::open(fixture(&format!("golden/{BASE}_ramp.fits")))
        .unwrap_err()
        .to_string();
    assert_mentions(
        &err,
        &[
            &format!("{BASE}_ramp.fits"),
            "SCI HDU",
            "BITPIX = -32",
            "uint16",
        ],
    );
}
