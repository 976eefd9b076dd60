//! Shared helpers of the consumer parity tests: unpack gzipped fixtures, read arrays, compare.
#![allow(dead_code)]

use fitsio::FitsFile;
use flate2::read::GzDecoder;
use std::path::{Path, PathBuf};

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/stage23")
}

/// Gunzip `fixtures/stage23/NAME.gz` into `dir/target_name`; returns the path.
pub fn unpack(dir: &Path, name: &str, target_name: &str) -> PathBuf {
    let src = fixtures().join(format!("{name}.gz"));
    let f = std::fs::File::open(&src).unwrap_or_else(|e| panic!("{}: {e}", src.display()));
    let mut d = GzDecoder::new(f);
    let out = dir.join(target_name);
    let mut o = std::fs::File::create(&out).unwrap();
    std::io::copy(&mut d, &mut o).unwrap();
    out
}

pub fn read_f32(path: &Path, hdu: &str) -> Vec<f32> {
    let mut f = FitsFile::open(path).unwrap();
    let h = f
        .hdu(hdu)
        .unwrap_or_else(|e| panic!("{} {hdu}: {e}", path.display()));
    h.read_image(&mut f).unwrap()
}

pub fn read_u32(path: &Path, hdu: &str) -> Vec<u32> {
    let mut f = FitsFile::open(path).unwrap();
    let h = f
        .hdu(hdu)
        .unwrap_or_else(|e| panic!("{} {hdu}: {e}", path.display()));
    h.read_image(&mut f).unwrap()
}

pub fn has_hdu(path: &Path, hdu: &str) -> bool {
    let mut f = FitsFile::open(path).unwrap();
    f.hdu(hdu).is_ok()
}

fn hdu_of(f: &mut FitsFile, hdu: &str) -> fitsio::hdu::FitsHdu {
    if hdu == "PRIMARY" {
        f.primary_hdu().unwrap()
    } else {
        f.hdu(hdu).unwrap()
    }
}

pub fn key_f64(path: &Path, hdu: &str, key: &str) -> Option<f64> {
    let mut f = FitsFile::open(path).unwrap();
    let h = hdu_of(&mut f, hdu);
    h.read_key::<f64>(&mut f, key).ok()
}

pub fn key_str(path: &Path, hdu: &str, key: &str) -> Option<String> {
    let mut f = FitsFile::open(path).unwrap();
    let h = hdu_of(&mut f, hdu);
    h.read_key::<String>(&mut f, key).ok()
}

/// Compare two float arrays: identical bits (NaN == NaN). Returns (differing, max relative).
pub fn diff_f32(ours: &[f32], golden: &[f32]) -> (usize, f64) {
    assert_eq!(ours.len(), golden.len(), "array lengths differ");
    let mut n = 0;
    let mut worst = 0.0f64;
    for (a, b) in ours.iter().zip(golden) {
        let same = a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan());
        if !same {
            n += 1;
            let rel = ((*a as f64 - *b as f64) / (*b as f64).abs().max(1e-30)).abs();
            worst = worst.max(if rel.is_nan() { f64::INFINITY } else { rel });
        }
    }
    (n, worst)
}

/// Assert bit-identical float arrays, reporting the count and worst relative difference.
pub fn assert_same_f32(what: &str, ours: &[f32], golden: &[f32]) {
    let (n, worst) = diff_f32(ours, golden);
    assert_eq!(n, 0, "{what}: {n} values differ (max relative {worst:e})");
}

pub fn assert_same_u32(what: &str, ours: &[u32], golden: &[u32]) {
    assert_eq!(ours.len(), golden.len(), "{what}: lengths differ");
    let n = ours.iter().zip(golden).filter(|(a, b)| a != b).count();
    assert_eq!(n, 0, "{what}: {n} DQ values differ");
}

/// Every array of a cal-like product, bit for bit.
pub fn assert_same_product(ours: &Path, golden: &Path, arrays: &[&str]) {
    for a in arrays {
        if *a == "DQ" {
            assert_same_u32(a, &read_u32(ours, a), &read_u32(golden, a));
        } else {
            assert_same_f32(a, &read_f32(ours, a), &read_f32(golden, a));
        }
    }
}

pub const BASE: &str = "jw01234001001_01101_00001_nrcalong";
