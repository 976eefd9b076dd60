//! Resumable products (what `sloper detector1 --resume` builds on): a product created resumable
//! survives its writer being dropped or the process dying (simulated by leaking the writer after
//! `sync`), is reopened with its shape checked, and finishing it after the missing tiles are
//! written gives the same file as an uninterrupted writer, byte for byte except the creation
//! DATE and the primary CHECKSUM that covers it.

use frames::write::*;
use ndarray::Array2;
use std::path::{Path, PathBuf};

fn header() -> ProductHeader {
    let input = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/oracle/tiny/jw01234001001_01101_00001_nrcalong_uncal.fits");
    ProductHeader {
        input,
        cal_steps: vec![],
        ref_files: vec![],
        crds_ctx: None,
        crds_ver: None,
        primary_extra: vec![],
        sci_extra: vec![],
    }
}

const NINTS: usize = 2;
const NY: usize = 6;
const NX: usize = 10;

/// Tiles of 4x4 (smaller at the edges) of the 6x10 frame.
fn tiles() -> Vec<(usize, usize, usize, usize)> {
    let mut t = vec![];
    for y0 in (0..NY).step_by(4) {
        for x0 in (0..NX).step_by(4) {
            t.push((y0, x0, 4.min(NY - y0), 4.min(NX - x0)));
        }
    }
    t
}

fn write_tile(w: &mut RateintsWriter, (y0, x0, rows, cols): (usize, usize, usize, usize)) {
    for int in 0..NINTS {
        let v = |r: usize, c: usize| (int * 10_000 + (y0 + r) * 100 + x0 + c) as f32;
        let sci = Array2::from_shape_fn((rows, cols), |(r, c)| v(r, c));
        let err = sci.mapv(|x| x * 0.5);
        let dq = Array2::from_shape_fn((rows, cols), |(r, c)| v(r, c) as u32);
        let b = RateBand {
            sci: sci.view(),
            err: err.view(),
            dq: dq.view(),
            var_poisson: sci.view(),
            var_rnoise: err.view(),
        };
        w.write_rect(int, y0, x0, &b).unwrap();
    }
}

/// Copy the partial file of `out` into `dir` as a crash would leave it; the product path there.
fn crashed_copy(out: &Path, dir: PathBuf) -> PathBuf {
    std::fs::create_dir_all(&dir).unwrap();
    let moved = dir.join(out.file_name().unwrap());
    std::fs::copy(
        resumable_temp_path(out).unwrap(),
        resumable_temp_path(&moved).unwrap(),
    )
    .unwrap();
    moved
}

/// Byte offsets of the primary header's DATE and CHECKSUM cards.
fn volatile_cards(bytes: &[u8]) -> Vec<usize> {
    let mut out = vec![];
    for (i, card) in bytes.chunks(80).enumerate() {
        if card.starts_with(b"DATE    =") || card.starts_with(b"CHECKSUM=") {
            out.push(i * 80);
        }
        if card.starts_with(b"END ") {
            break;
        }
    }
    out
}

/// The two files are identical but for the primary DATE and CHECKSUM cards.
fn assert_same_but_date(a: &Path, b: &Path) {
    let (x, y) = (std::fs::read(a).unwrap(), std::fs::read(b).unwrap());
    assert_eq!(x.len(), y.len(), "file sizes differ");
    let skip = volatile_cards(&x);
    assert_eq!(skip.len(), 2, "DATE and CHECKSUM in the primary header");
    let differ: Vec<usize> = (0..x.len())
        .filter(|&i| x[i] != y[i] && !skip.iter().any(|&s| (s..s + 80).contains(&i)))
        .collect();
    assert!(
        differ.is_empty(),
        "{} bytes differ, first at {}",
        differ.len(),
        differ[0]
    );
}

fn all_checksums_ok(p: &Path) {
    for (hdu, d, h) in verify_checksums(p).unwrap() {
        assert!(d && h, "{}[{hdu}]: checksum", p.display());
    }
}

#[test]
fn a_crashed_product_is_reopened_and_finished_identically() {
    let dir = tempfile::tempdir().unwrap();
    // Uninterrupted.
    let whole = dir.path().join("a").join("x_rateints.fits");
    std::fs::create_dir_all(whole.parent().unwrap()).unwrap();
    let mut w = RateintsWriter::create(&whole, &header(), NINTS, NY, NX).unwrap();
    tiles().into_iter().for_each(|t| write_tile(&mut w, t));
    w.finish().unwrap();

    // Interrupted after 3 tiles: synced, then the process "dies" (no drop, no close).
    let out = dir.path().join("b").join("x_rateints.fits");
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    let partial = resumable_temp_path(&out).unwrap();
    assert_eq!(
        partial.file_name().unwrap(),
        ".x_rateints.fits.sloper-partial"
    );
    let mut w = RateintsWriter::create_resumable(&out, &header(), NINTS, NY, NX).unwrap();
    let all = tiles();
    for &t in &all[..3] {
        write_tile(&mut w, t);
    }
    w.sync().unwrap();
    // A fourth tile half-way into cfitsio's buffers when the process dies.
    write_tile(&mut w, all[3]);
    // What is on disk now is what a killed process leaves: copy it elsewhere, since cfitsio
    // would share the still-open handle's buffers with a reopen of the same name.
    let out = crashed_copy(&out, dir.path().join("c"));
    std::mem::forget(w);

    let mut w = RateintsWriter::reopen(&out, NINTS, NY, NX).unwrap();
    for &(y0, x0, r, c) in &all[..3] {
        w.mark_written(y0, x0, r, c).unwrap();
    }
    for &t in &all[3..] {
        write_tile(&mut w, t);
    }
    let done = w.finish().unwrap();
    assert_eq!(done, out);
    assert!(
        !resumable_temp_path(&out).unwrap().exists(),
        "the partial file was renamed"
    );
    all_checksums_ok(&out);
    assert_same_but_date(&out, &whole);
}

#[test]
fn dropping_a_resumable_writer_keeps_its_file_and_discard_removes_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x_rate.fits");
    let partial = resumable_temp_path(&out).unwrap();
    let w = RateWriter::create_resumable(&out, &header(), NY, NX).unwrap();
    drop(w);
    assert!(partial.exists(), "kept for a later run");
    let w = RateWriter::reopen(&out, NY, NX).unwrap();
    w.discard().unwrap();
    assert!(!partial.exists(), "discarded");
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(names.is_empty());
}

#[test]
fn reopen_refuses_a_gap_a_wrong_shape_a_wrong_product_and_a_missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x_rateints.fits");
    let e = RateintsWriter::reopen(&out, NINTS, NY, NX)
        .err()
        .expect("no partial file")
        .to_string();
    assert!(e.contains(".x_rateints.fits.sloper-partial"), "{e}");

    let mut w = RateintsWriter::create_resumable(&out, &header(), NINTS, NY, NX).unwrap();
    write_tile(&mut w, tiles()[0]);
    drop(w);
    let e = RateintsWriter::reopen(&out, NINTS + 1, NY, NX)
        .err()
        .expect("wrong shape")
        .to_string();
    assert!(e.contains("SCI HDU") && e.contains("[3, 6, 10]"), "{e}");
    // A rate (ImageModel) partial file under the rateints name is not this product.
    let e = RampWriter::reopen(&out, NINTS, 1, NY, NX, false)
        .err()
        .expect("wrong product")
        .to_string();
    assert!(e.contains("DATAMODL"), "{e}");
    // Nothing declared written: finish refuses, and (resumable) keeps the file.
    let w = RateintsWriter::reopen(&out, NINTS, NY, NX).unwrap();
    let e = w.finish().expect_err("gap").to_string();
    assert!(e.contains("not completely written"), "{e}");
    assert!(resumable_temp_path(&out).unwrap().exists());
    // A truncated partial file is refused, naming it.
    let partial = resumable_temp_path(&out).unwrap();
    let len = std::fs::metadata(&partial).unwrap().len();
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&partial)
        .unwrap();
    f.set_len(len - 2880).unwrap();
    drop(f);
    let e = RateintsWriter::reopen(&out, NINTS, NY, NX)
        .err()
        .expect("truncated")
        .to_string();
    assert!(
        e.contains("sloper-partial") && e.contains("truncated"),
        "{e}"
    );
}

/// The headers of every HDU are on disk as soon as the resumable product exists: a process that
/// dies before its first tile leaves a file that reopens.
#[test]
fn a_product_killed_before_its_first_tile_reopens() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x_ramp.fits");
    let w = RampWriter::create_resumable(&out, &header(), NINTS, 3, NY, NX, true).unwrap();
    let out = crashed_copy(&out, dir.path().join("c"));
    std::mem::forget(w);
    let partial = resumable_temp_path(&out).unwrap();
    let len = std::fs::metadata(&partial).unwrap().len();
    assert_eq!(len % 2880, 0, "whole FITS blocks");
    RampWriter::reopen(&out, NINTS, 3, NY, NX, true).unwrap();
}
