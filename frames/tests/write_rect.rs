//! Rectangle writes (what a tiled driver does): tiles in any order make a complete product with
//! the right values; a missing tile is refused at finish and leaves nothing behind.

use frames::write::*;
use ndarray::Array2;
use std::path::PathBuf;

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

fn tile(y0: usize, x0: usize, rows: usize, cols: usize) -> (Array2<f32>, Array2<u32>) {
    let sci = Array2::from_shape_fn((rows, cols), |(r, c)| ((y0 + r) * 100 + x0 + c) as f32);
    let dq = Array2::from_shape_fn((rows, cols), |(r, c)| ((y0 + r) * 100 + x0 + c) as u32);
    (sci, dq)
}

fn write_tile(w: &mut RateintsWriter, int: usize, y0: usize, x0: usize, rows: usize, cols: usize) {
    let (sci, dq) = tile(y0, x0, rows, cols);
    let b = RateBand {
        sci: sci.view(),
        err: sci.view(),
        dq: dq.view(),
        var_poisson: sci.view(),
        var_rnoise: sci.view(),
    };
    w.write_rect(int, y0, x0, &b).unwrap();
}

#[test]
fn tiles_in_any_order_make_the_whole_product() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x_rateints.fits");
    let mut w = RateintsWriter::create(&out, &header(), 2, 6, 10).unwrap();
    // 6x10 frame as tiles of 4x4 (edges smaller), written last-first, for both integrations.
    let mut tiles = vec![];
    for y0 in (0..6).step_by(4) {
        for x0 in (0..10).step_by(4) {
            tiles.push((y0, x0, 4.min(6 - y0), 4.min(10 - x0)));
        }
    }
    for int in 0..2 {
        for &(y0, x0, r, c) in tiles.iter().rev() {
            write_tile(&mut w, int, y0, x0, r, c);
        }
    }
    let path = w.finish().unwrap();
    let mut f = fitsio::FitsFile::open(&path).unwrap();
    let sci: Vec<f32> = f.hdu("SCI").unwrap().read_image(&mut f).unwrap();
    let dq: Vec<u32> = f.hdu("DQ").unwrap().read_image(&mut f).unwrap();
    for int in 0..2 {
        for y in 0..6 {
            for x in 0..10 {
                let k = (int * 6 + y) * 10 + x;
                assert_eq!(sci[k], (y * 100 + x) as f32);
                assert_eq!(dq[k], (y * 100 + x) as u32);
            }
        }
    }
}

#[test]
fn a_missing_tile_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x_rateints.fits");
    let mut w = RateintsWriter::create(&out, &header(), 1, 6, 10).unwrap();
    write_tile(&mut w, 0, 0, 0, 6, 5); // right half never written
    let e = w.finish().expect_err("incomplete").to_string();
    assert!(e.contains("not completely written"), "{e}");
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(left.is_empty(), "nothing left behind");
    // A rectangle outside the frame is an error, not a panic.
    let mut w = RateintsWriter::create(&out, &header(), 1, 6, 10).unwrap();
    let (sci, dq) = tile(0, 0, 2, 4);
    let b = RateBand {
        sci: sci.view(),
        err: sci.view(),
        dq: dq.view(),
        var_poisson: sci.view(),
        var_rnoise: sci.view(),
    };
    assert!(w.write_rect(0, 5, 8, &b).is_err());
}
