//! Reference layouts met in real CRDS files, made by hand in the test: full-frame references
//! without subarray keywords cut to a subarray, uint8 / int32 / uint32 DQ, an extra UNC
//! extension, no DQ_DEF or ERR, and the errors for wrong shapes and out-of-bounds cuts.

use std::path::{Path, PathBuf};

use fitsio::images::{ImageDescription, ImageType};
use fitsio::tables::{ColumnDataType, ColumnDescription};
use fitsio::FitsFile;
use frames::refs::*;
use frames::{dq, ExposureMeta};

fn tiny_meta() -> ExposureMeta {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/oracle/tiny/jw01234001001_01101_00001_nrcalong_uncal.fits");
    ExposureMeta::read(p).unwrap()
}

/// A science subarray at 1-based (x, y) of size (nx, ny).
fn sci(x: usize, y: usize, nx: usize, ny: usize) -> ExposureMeta {
    ExposureMeta {
        substrt1: x,
        substrt2: y,
        subsize1: nx,
        subsize2: ny,
        ..tiny_meta()
    }
}

/// Builder of small FITS references.
struct Ref {
    f: FitsFile,
    path: PathBuf,
}

impl Ref {
    fn new(dir: &Path, name: &str, reftype: &str) -> Self {
        let path = dir.join(name);
        let mut f = FitsFile::create(&path).open().unwrap();
        let ph = f.primary_hdu().unwrap();
        ph.write_key(&mut f, "REFTYPE", reftype).unwrap();
        ph.write_key(&mut f, "INSTRUME", "NIRCAM").unwrap();
        Ref { f, path }
    }
    fn sub(mut self, x: i64, y: i64, nx: i64, ny: i64) -> Self {
        let ph = self.f.primary_hdu().unwrap();
        for (k, v) in [
            ("SUBSTRT1", x),
            ("SUBSTRT2", y),
            ("SUBSIZE1", nx),
            ("SUBSIZE2", ny),
        ] {
            ph.write_key(&mut self.f, k, v).unwrap();
        }
        self
    }
    fn key_f(mut self, k: &str, v: f64) -> Self {
        let ph = self.f.primary_hdu().unwrap();
        ph.write_key(&mut self.f, k, v).unwrap();
        self
    }
    fn key_i(mut self, k: &str, v: i64) -> Self {
        let ph = self.f.primary_hdu().unwrap();
        ph.write_key(&mut self.f, k, v).unwrap();
        self
    }
    fn f32(mut self, ext: &str, shape: &[usize], data: &[f32]) -> Self {
        let d = ImageDescription {
            data_type: ImageType::Float,
            dimensions: shape,
        };
        let h = self.f.create_image(ext, &d).unwrap();
        h.write_image(&mut self.f, data).unwrap();
        self
    }
    fn u8(mut self, ext: &str, shape: &[usize], data: &[u8]) -> Self {
        let d = ImageDescription {
            data_type: ImageType::UnsignedByte,
            dimensions: shape,
        };
        let h = self.f.create_image(ext, &d).unwrap();
        h.write_image(&mut self.f, data).unwrap();
        self
    }
    fn i32(mut self, ext: &str, shape: &[usize], data: &[i32]) -> Self {
        let d = ImageDescription {
            data_type: ImageType::Long,
            dimensions: shape,
        };
        let h = self.f.create_image(ext, &d).unwrap();
        h.write_image(&mut self.f, data).unwrap();
        self
    }
    fn u32(mut self, ext: &str, shape: &[usize], data: &[u32]) -> Self {
        let d = ImageDescription {
            data_type: ImageType::UnsignedLong,
            dimensions: shape,
        };
        let h = self.f.create_image(ext, &d).unwrap();
        h.write_image(&mut self.f, data).unwrap();
        self
    }
    fn done(self) -> PathBuf {
        self.path
    }
}

fn pattern(ny: usize, nx: usize) -> Vec<f32> {
    (0..ny * nx)
        .map(|i| (i / nx) as f32 * 1000.0 + (i % nx) as f32)
        .collect()
}

fn err_text<T: std::fmt::Debug>(r: frames::Result<T>) -> String {
    r.expect_err("expected an error").to_string()
}

#[test]
fn full_frame_uint8_mask_without_subarray_keywords_is_cut() {
    let dir = tempfile::tempdir().unwrap();
    let n = 2048;
    let data: Vec<u8> = (0..n * n)
        .map(|i| ((i / n * 7 + i % n * 3) % 251) as u8)
        .collect();
    let p = Ref::new(dir.path(), "mask_ff.fits", "MASK")
        .u8("DQ", &[n, n], &data)
        .done();
    let m = MaskRef::load(&p, &sci(101, 201, 16, 8)).unwrap();
    assert_eq!(
        m.window,
        Window {
            y0: 200,
            x0: 100,
            ny: 8,
            nx: 16
        }
    );
    for y in 0..8 {
        for x in 0..16 {
            let (fy, fx) = (200 + y, 100 + x);
            assert_eq!(m.dq[[y, x]], ((fy * 7 + fx * 3) % 251) as u32);
        }
    }
    // Not full frame and no keywords: cannot be placed.
    let small = Ref::new(dir.path(), "mask_small.fits", "MASK")
        .u8("DQ", &[20, 20], &[0; 400])
        .done();
    let e = err_text(MaskRef::load(&small, &sci(1, 1, 16, 8)));
    assert!(
        e.contains("mask_small.fits") && e.contains("not a full frame"),
        "{e}"
    );
}

#[test]
fn larger_reference_with_unc_extension_is_cut_and_out_of_bounds_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let (ny, nx) = (40, 64);
    let p = Ref::new(dir.path(), "gain_big.fits", "GAIN")
        .sub(1, 1, nx as i64, ny as i64)
        .key_f("GAINFACT", 1.5)
        .f32("SCI", &[ny, nx], &pattern(ny, nx))
        .f32("UNC", &[ny, nx], &vec![0.01; ny * nx])
        .done();
    let g = GainRef::load(&p, &sci(5, 3, 32, 16)).unwrap();
    assert_eq!(g.gain.dim(), (16, 32));
    assert_eq!(g.gain[[0, 0]], 2.0 * 1000.0 + 4.0);
    assert_eq!(g.gain[[15, 31]], 17.0 * 1000.0 + 35.0);
    assert_eq!(g.gainfact, Some(1.5));
    // same corner and size: whole array
    let whole = GainRef::load(&p, &sci(1, 1, nx, ny)).unwrap();
    assert_eq!(
        whole.window,
        Window {
            y0: 0,
            x0: 0,
            ny,
            nx
        }
    );
    // a reference that starts later than the science
    let p2 = Ref::new(dir.path(), "rn_sub.fits", "READNOISE")
        .sub(10, 10, 32, 32)
        .f32("SCI", &[32, 32], &pattern(32, 32))
        .done();
    let e = err_text(ReadnoiseRef::load(&p2, &sci(5, 3, 16, 16)));
    assert!(e.contains("rn_sub.fits") && e.contains("outside"), "{e}");
    let e = err_text(GainRef::load(&p, &sci(50, 30, 32, 32)));
    assert!(e.contains("gain_big.fits") && e.contains("outside"), "{e}");
    let r = ReadnoiseRef::load(&p2, &sci(12, 11, 8, 4)).unwrap();
    assert_eq!(r.readnoise[[0, 0]], 1000.0 + 2.0);
}

#[test]
fn int32_and_uint32_dq_without_dq_def_or_err() {
    let dir = tempfile::tempdir().unwrap();
    let mut dqv = vec![0i32; 16 * 16];
    dqv[17] = dq::NO_SAT_CHECK as i32;
    dqv[18] = -1; // numpy astype(uint32) wraps to 0xFFFFFFFF
    let mut t = vec![60000.0f32; 256];
    t[19] = f32::NAN;
    let p = Ref::new(dir.path(), "sat_i32.fits", "SATURATION")
        .sub(1, 1, 16, 16)
        .f32("SCI", &[16, 16], &t)
        .i32("DQ", &[16, 16], &dqv)
        .done();
    let s = SaturationRef::load(&p, &sci(1, 1, 16, 16)).unwrap();
    assert_eq!(s.dq[[1, 1]], dq::NO_SAT_CHECK);
    assert_eq!(s.dq[[1, 2]], u32::MAX);
    let prep = s.prepare();
    assert!(prep.no_sat_check[[1, 1]] && prep.no_sat_check[[1, 2]] && prep.no_sat_check[[1, 3]]);
    assert_eq!(prep.threshold[[1, 3]], 65536.0);
    assert_eq!(prep.pixeldq[[1, 3]], dq::NO_SAT_CHECK);
    assert_eq!(prep.threshold[[0, 0]], 60000.0);

    let mut bdq = vec![0u32; 256];
    bdq[5] = dq::UNRELIABLE_BIAS | dq::REFERENCE_PIXEL;
    let mut b = vec![12000.0f32; 256];
    b[6] = f32::NAN;
    let p = Ref::new(dir.path(), "bias_u32.fits", "SUPERBIAS")
        .sub(1, 1, 16, 16)
        .f32("SCI", &[16, 16], &b)
        .u32("DQ", &[16, 16], &bdq)
        .done();
    let sb = SuperbiasRef::load(&p, &sci(1, 1, 16, 16)).unwrap();
    assert_eq!(sb.dq[[0, 5]], dq::UNRELIABLE_BIAS | dq::REFERENCE_PIXEL);
    assert!(sb.bias[[0, 6]].is_nan(), "kept for the saturation step");
    assert_eq!(sb.subtraction_bias()[[0, 6]], 0.0);

    // A mask with no DQ at all is an error; a saturation ref without DQ gets zeros.
    let p = Ref::new(dir.path(), "sat_nodq.fits", "SATURATION")
        .sub(1, 1, 16, 16)
        .f32("SCI", &[16, 16], &t)
        .done();
    assert!(SaturationRef::load(&p, &sci(1, 1, 16, 16))
        .unwrap()
        .dq
        .iter()
        .all(|&d| d == 0));
    let p = Ref::new(dir.path(), "mask_nodq.fits", "MASK")
        .sub(1, 1, 16, 16)
        .done();
    let e = err_text(MaskRef::load(&p, &sci(1, 1, 16, 16)));
    assert!(e.contains("mask_nodq.fits") && e.contains("DQ"), "{e}");
}

#[test]
fn wrong_reftype_and_wrong_shapes_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let p = Ref::new(dir.path(), "not_gain.fits", "READNOISE")
        .sub(1, 1, 16, 16)
        .f32("SCI", &[16, 16], &[1.0; 256])
        .done();
    let e = err_text(GainRef::load(&p, &sci(1, 1, 16, 16)));
    assert!(e.contains("not_gain.fits") && e.contains("REFTYPE"), "{e}");

    let p = Ref::new(dir.path(), "lin2d.fits", "LINEARITY")
        .sub(1, 1, 16, 16)
        .f32("COEFFS", &[16, 16], &[1.0; 256])
        .done();
    let e = err_text(LinearityRef::load(&p, &sci(1, 1, 16, 16)));
    assert!(e.contains("lin2d.fits") && e.contains("3-D"), "{e}");

    // Darks are never cut: a full-frame-like dark for a subarray is an error.
    let p = Ref::new(dir.path(), "dark_big.fits", "DARK")
        .sub(1, 1, 32, 32)
        .key_i("NFRAMES", 1)
        .key_i("GROUPGAP", 0)
        .f32("SCI", &[3, 32, 32], &vec![0.5; 3 * 1024])
        .done();
    let e = err_text(DarkRef::load(&p, &sci(5, 5, 16, 16)));
    assert!(e.contains("dark_big.fits") && e.contains("not"), "{e}");

    let p = Ref::new(dir.path(), "dark_nf2.fits", "DARK")
        .sub(1, 1, 16, 16)
        .key_i("NFRAMES", 2)
        .key_i("GROUPGAP", 0)
        .f32("SCI", &[3, 16, 16], &vec![0.5; 3 * 256])
        .done();
    let d = DarkRef::load(
        &p,
        &ExposureMeta {
            ngroups: 3,
            ..sci(1, 1, 16, 16)
        },
    )
    .unwrap();
    assert!(matches!(d.status(), DarkStatus::Skipped { .. }));
    assert!(d.group_band(0, 0, 1).is_err());
    // science NFRAMES = 2 too: direct path, no extrapolation needed for 3 groups
    let d = DarkRef::load(
        &p,
        &ExposureMeta {
            ngroups: 3,
            nframes: 2,
            ..sci(1, 1, 16, 16)
        },
    )
    .unwrap();
    assert_eq!(d.status(), &DarkStatus::Apply);
    assert_eq!(d.group_band(2, 15, 1).unwrap()[[0, 15]], 0.5);
    assert_eq!(
        d.average_dark_current(None)[[0, 0]],
        0.0,
        "no AVDRKCUR anywhere"
    );
}

#[test]
fn flat_skip_and_bad_value_rules() {
    let dir = tempfile::tempdir().unwrap();
    let mut f = vec![1.02f32; 256];
    f[1] = f32::NAN;
    f[2] = 0.0;
    f[4] = 0.9;
    let mut fdq = vec![0u32; 256];
    fdq[3] = dq::NO_FLAT_FIELD;
    fdq[4] = dq::UNRELIABLE_FLAT;
    let p = Ref::new(dir.path(), "flat.fits", "FLAT")
        .sub(1, 1, 16, 16)
        .f32("SCI", &[16, 16], &f)
        .u32("DQ", &[16, 16], &fdq)
        .done();
    let FlatLoad::Ready(flat) = FlatRef::load(&p, &sci(1, 1, 16, 16)).unwrap() else {
        panic!("flat should apply")
    };
    assert!(flat.err.iter().all(|&e| e == 0.0), "missing ERR is zeros");
    let prep = flat.prepare();
    let bad = dq::DO_NOT_USE | dq::NO_FLAT_FIELD;
    assert_eq!(prep.dq[[0, 1]], bad);
    assert_eq!(prep.dq[[0, 2]], bad);
    assert_eq!(prep.dq[[0, 3]], bad);
    assert_eq!(prep.dq[[0, 4]], dq::UNRELIABLE_FLAT);
    assert_eq!(&prep.flat.row(0).to_vec()[..5], &[1.02, 1.0, 1.0, 1.0, 0.9]);
    assert!(matches!(
        FlatRef::load(&p, &sci(1, 1, 32, 16)).unwrap(),
        FlatLoad::Skipped { .. }
    ));
}

#[test]
fn area_and_4d_ipc_are_cut_from_detector_origin() {
    let dir = tempfile::tempdir().unwrap();
    let p = Ref::new(dir.path(), "area.fits", "AREA")
        .key_f("PIXAR_SR", 9.2993e-14)
        .key_f("PIXAR_A2", 0.00395641)
        .f32("SCI", &[40, 40], &pattern(40, 40))
        .done();
    let a = AreaRef::load(&p, &sci(5, 3, 16, 8)).unwrap();
    assert_eq!(a.area[[0, 0]], 2000.0 + 4.0);
    assert_eq!(a.pixar_sr, Some(9.2993e-14));
    assert_eq!(a.pixar_a2, Some(0.00395641));
    let e = err_text(AreaRef::load(&p, &sci(30, 3, 16, 8)));
    assert!(e.contains("area.fits"), "{e}");

    let k: Vec<f32> = (0..3 * 3 * 20 * 20).map(|i| i as f32).collect();
    let p = Ref::new(dir.path(), "ipc4d.fits", "IPC")
        .f32("SCI", &[3, 3, 20, 20], &k)
        .done();
    let IpcKernel::PerPixel(kk) = IpcRef::load(&p, &sci(3, 2, 8, 4)).unwrap().kernel else {
        panic!("4-D kernel expected")
    };
    assert_eq!(kk.dim(), (3, 3, 4, 8));
    assert_eq!(kk[[1, 2, 0, 0]], ((5 * 20 + 1) * 20 + 2) as f32);
}

#[test]
fn photom_rows_subarray_column_and_time_tables() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("photom.fits");
    {
        let mut f = FitsFile::create(&path).open().unwrap();
        let ph = f.primary_hdu().unwrap();
        ph.write_key(&mut f, "REFTYPE", "PHOTOM").unwrap();
        ph.write_key(&mut f, "PIXAR_SR", 9.2993e-14).unwrap();
        let text = |n: &str| {
            ColumnDescription::new(n)
                .with_type(ColumnDataType::String)
                .that_repeats(12)
                .create()
                .unwrap()
        };
        let real = |n: &str| {
            ColumnDescription::new(n)
                .with_type(ColumnDataType::Float)
                .create()
                .unwrap()
        };
        let cols = [
            text("filter"),
            text("pupil"),
            text("subarray"),
            real("photmjsr"),
            real("uncertainty"),
        ];
        let h = f.create_table("PHOTOM", &cols).unwrap();
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        h.write_col(&mut f, "filter", &s(&["F444W", "F444W", "f322w2", "F444W"]))
            .unwrap();
        h.write_col(&mut f, "pupil", &s(&["CLEAR", "CLEAR", "CLEAR", "GRISMR"]))
            .unwrap();
        h.write_col(
            &mut f,
            "subarray",
            &s(&["FULL", "SUB64P", "SUB64P", "FULL"]),
        )
        .unwrap();
        h.write_col(&mut f, "photmjsr", &[0.217f32, 0.218085, 0.5, 0.3])
            .unwrap();
        h.write_col(&mut f, "uncertainty", &[0.01f32, 0.01, 0.02, 0.03])
            .unwrap();
        let tcols = [
            text("filter"),
            text("pupil"),
            real("t0"),
            real("lossperyear"),
        ];
        let t = f.create_table("TIMECOEFF_LINEAR", &tcols).unwrap();
        t.write_col(&mut f, "filter", &s(&["F444W", "F444W", "F322W2", "F444W"]))
            .unwrap();
        t.write_col(&mut f, "pupil", &s(&["CLEAR", "CLEAR", "CLEAR", "GRISMR"]))
            .unwrap();
        t.write_col(&mut f, "t0", &[59800.0f32; 4]).unwrap();
        t.write_col(&mut f, "lossperyear", &[0.01f32; 4]).unwrap();
    }
    let ph = PhotomRef::load(&path).unwrap();
    assert!(ph.has_subarray_column());
    assert_eq!(ph.rows.len(), 4);
    assert_eq!(
        ph.rows[2].filter, "F322W2",
        "upper-cased like the official match"
    );
    assert_eq!(ph.pixar_sr, Some(9.2993e-14));
    assert_eq!(ph.pixar_a2, None);
    assert_eq!(
        ph.find_row(&path, "F444W", "CLEAR", "SUB64P").unwrap(),
        Some(1)
    );
    assert_eq!(ph.rows[1].photmjsr, 0.218085f32);
    assert_eq!(
        ph.find_row(&path, "F444W", "clear", "full").unwrap(),
        Some(0)
    );
    assert_eq!(ph.find_row(&path, "F200W", "CLEAR", "FULL").unwrap(), None);
    let tl = ph.timecoeff_linear.as_ref().unwrap();
    assert_eq!(tl.len(), 4);
    assert_eq!(tl[0].t0, 59800.0);
    assert!(ph.timecoeff_powerlaw.is_none());
}
