//! The Stage 2 references `sloper simulate` writes (ref_flat, ref_photom, ref_area) load with
//! frames' reference loaders, hold what the simulator's functions say, cut to the science
//! subarray like the official steps, and drive `sloper image2`. (Official acceptance: the
//! jwst 3.0.0 flat_field and photom steps give bit-identical products from them,
//! fixtures/simulate/validate_stage2.sh, see fixtures/simulate/MADE_BY.md.)

use frames::refs::area::AreaRef;
use frames::refs::flat::{FlatLoad, FlatRef};
use frames::refs::photom::PhotomRef;
use frames::{dq, ExposureMeta};
use sloper::simulate::refs::{
    flat_pixel, photom_rows, pixel_area, relative_area, PHOTOM_DEFAULT, PHOTOM_ROWS,
};
use sloper::simulate::{config::Plan, simulate, SimulateArgs};
use std::path::Path;

const BASE: &str = "jw01234001001_01101_00001_nrcalong";

fn sim(dir: &Path, extra: &[&str]) -> SimulateArgs {
    let mut w: Vec<String> = vec!["--outdir".into(), dir.display().to_string()];
    w.extend(extra.iter().map(|s| s.to_string()));
    let a = SimulateArgs::from_words(w).unwrap();
    simulate(&a).unwrap();
    a
}

fn sloper(args: &[&str]) -> std::process::Output {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sloper"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "sloper {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn key_str(path: &Path, hdu: &str, key: &str) -> String {
    let mut f = fitsio::FitsFile::open(path).unwrap();
    let h = if hdu == "PRIMARY" {
        f.primary_hdu().unwrap()
    } else {
        f.hdu(hdu).unwrap()
    };
    h.read_key::<String>(&mut f, key).unwrap()
}

#[test]
fn stage2_refs_load_and_cut_to_the_subarray() {
    let t = tempfile::tempdir().unwrap();
    let opts = [
        "--exp-type",
        "NRC_TSIMAGE",
        "--nints",
        "2",
        "--ngroups",
        "3",
        "--ny",
        "32",
        "--nx",
        "48",
        "--substrt1",
        "3",
        "--substrt2",
        "2001",
        "--seed",
        "8",
    ];
    for full in [false, true] {
        let dir = t.path().join(if full { "full" } else { "sub" });
        let mut o = opts.to_vec();
        if full {
            o.push("--full-frame-refs");
        }
        sim(&dir, &o);
        let meta = ExposureMeta::read(dir.join(format!("{BASE}_uncal.fits"))).unwrap();
        let (y0, x0) = (2000usize, 2usize);

        let FlatLoad::Ready(flat) = FlatRef::load(&dir.join("ref_flat.fits"), &meta).unwrap()
        else {
            panic!("the flat covers the subarray")
        };
        assert_eq!(flat.data.dim(), (32, 48));
        for y in 0..32 {
            for x in 0..48 {
                let p = flat_pixel(8, y0 + y, x0 + x);
                let v = flat.data[(y, x)];
                assert!(v == p.flat || (v.is_nan() && p.flat.is_nan()), "({y},{x})");
                assert_eq!(flat.dq[(y, x)], p.dq);
                assert_eq!(flat.err[(y, x)], p.err);
            }
        }
        // Reference pixels (here detector columns 3 and 4) are 1, ERR 0, unflagged.
        for (y, x) in [(0, 0), (17, 1)] {
            assert_eq!(
                (flat.data[(y, x)], flat.err[(y, x)], flat.dq[(y, x)]),
                (1.0, 0.0, 0)
            );
        }
        assert_ne!(flat.err[(17, 2)], 0.0);

        let area = AreaRef::load(&dir.join("ref_area.fits"), &meta).unwrap();
        assert_eq!(area.area.dim(), (32, 48));
        assert_eq!(area.area[(5, 7)], relative_area(y0 + 5, x0 + 7));
        let (sr, a2) = pixel_area();
        assert_eq!((area.pixar_sr, area.pixar_a2), (Some(sr), Some(a2)));
        assert!((a2 - 0.0629f64.powi(2)).abs() < 1e-15);
        assert!((sr / a2 - 2.350443e-11).abs() < 1e-16, "{sr}");

        let photom = PhotomRef::load(&dir.join("ref_photom.fits")).unwrap();
        assert_eq!(photom.rows.len(), PHOTOM_ROWS.len());
        let row = photom
            .find_row(Path::new("p"), "F444W", "CLEAR", &meta.subarray)
            .unwrap()
            .unwrap();
        assert_eq!(photom.rows[row].photmjsr, 0.217);
        assert_eq!(photom.rows[row].uncertainty, 0.01 * 0.217f32);
        assert_eq!((photom.pixar_sr, photom.pixar_a2), (Some(sr), Some(a2)));
        assert_eq!(
            key_str(&dir.join("ref_photom.fits"), "PRIMARY", "DATAMODL"),
            "NrcImgPhotomModel"
        );
        assert_eq!(
            key_str(&dir.join("ref_flat.fits"), "PRIMARY", "PUPIL"),
            "CLEAR"
        );
        assert_eq!(
            key_str(&dir.join("ref_flat.fits"), "PRIMARY", "SUBARRAY"),
            if full { "FULL" } else { meta.subarray.as_str() }
        );
    }
}

/// The flat's defect classes occur at their documented rates (0.05 % NaN, 0.05 % zero,
/// 0.05 % NO_FLAT_FIELD, 0.05 % NO_FLAT_FIELD + DO_NOT_USE, 0.4 % UNRELIABLE_FLAT) and the
/// good pixels scatter about the smooth response by 0.4 %.
#[test]
fn flat_statistics() {
    let (mut nan, mut zero, mut nff, mut nff_dnu, mut unrel) = (0, 0, 0, 0, 0);
    let mut resid = Vec::new();
    let n = 512 * 512;
    for y in 600..1112 {
        for x in 600..1112 {
            let p = flat_pixel(3, y, x);
            if p.flat.is_nan() {
                nan += 1;
            } else if p.flat == 0.0 {
                zero += 1;
            } else if p.dq == dq::NO_FLAT_FIELD {
                nff += 1;
            } else if p.dq == dq::NO_FLAT_FIELD | dq::DO_NOT_USE {
                nff_dnu += 1;
            } else if p.dq == dq::UNRELIABLE_FLAT {
                unrel += 1;
            }
            let (fx, fy) = (x as f64, y as f64);
            let smooth =
                1.0 + 0.015 * (fx / 37.0).sin() * (fy / 23.0).cos() + 0.01 * (fx - 1024.0) / 2048.0;
            if p.flat.is_finite() && p.flat != 0.0 {
                resid.push(p.flat as f64 - smooth);
                assert!((0.002..0.008).contains(&p.err), "{}", p.err);
            }
        }
    }
    // Binomial counts: expected n·p ± 5 sigma.
    let within = |k: usize, p: f64| {
        let (m, s) = (n as f64 * p, (n as f64 * p * (1.0 - p)).sqrt());
        (k as f64 - m).abs() < 5.0 * s
    };
    for (what, k, p) in [
        ("NaN", nan, 0.0005),
        ("zero", zero, 0.0005),
        ("NO_FLAT_FIELD", nff, 0.0005),
        ("NO_FLAT_FIELD+DO_NOT_USE", nff_dnu, 0.0005),
        ("UNRELIABLE_FLAT", unrel, 0.004),
    ] {
        assert!(within(k, p), "{what}: {k} of {n}");
    }
    let m = resid.iter().sum::<f64>() / resid.len() as f64;
    let sd = (resid.iter().map(|r| (r - m).powi(2)).sum::<f64>() / resid.len() as f64).sqrt();
    assert!(m.abs() < 5e-5, "mean residual {m}");
    assert!((sd / 0.004 - 1.0).abs() < 0.01, "scatter {sd}");
}

/// PHOTOM rows: the fixed table, plus the imaging exposure's own filter/pupil when missing; a
/// grism exposure gets no row of its own (its 2-D data are not calibrated by image2).
#[test]
fn photom_rows_follow_the_exposure() {
    let t = tempfile::tempdir().unwrap();
    let plan = |extra: &[&str]| {
        let mut w: Vec<String> = vec!["--outdir".into(), t.path().display().to_string()];
        w.extend(extra.iter().map(|s| s.to_string()));
        Plan::from_args(&SimulateArgs::from_words(w).unwrap()).unwrap()
    };
    let rows = photom_rows(&plan(&["--exp-type", "NRC_TSIMAGE"]));
    assert_eq!(rows.len(), PHOTOM_ROWS.len());
    let rows = photom_rows(&plan(&["--exp-type", "NRC_TSIMAGE", "--filter", "F470N"]));
    assert_eq!(rows.len(), PHOTOM_ROWS.len() + 1);
    assert_eq!(
        rows.last().unwrap(),
        &("F470N".to_string(), "CLEAR".to_string(), PHOTOM_DEFAULT)
    );
    let rows = photom_rows(&plan(&["--exp-type", "NRC_TSGRISM"]));
    assert!(!rows.iter().any(|r| r.1 == "GRISMR"));
}

/// `sloper image2 --refs DIR` on sloper's own Detector1 products of a simulated exposure:
/// imaging is flat-fielded and calibrated to MJy/sr (with the AREA extension); a grism TSO is
/// flat-fielded and photom is skipped (SKIPPED, data in DN/s), with a message.
#[test]
fn image2_runs_on_simulated_exposures() {
    let t = tempfile::tempdir().unwrap();
    for (ty, cal) in [("NRC_TSIMAGE", true), ("NRC_TSGRISM", false)] {
        let dir = t.path().join(ty);
        sim(
            &dir,
            &[
                "--exp-type",
                ty,
                "--nints",
                "3",
                "--ngroups",
                "4",
                "--ny",
                "32",
                "--nx",
                "64",
                "--seed",
                "12",
            ],
        );
        let d = dir.display().to_string();
        let out = format!("--output_dir={d}/out");
        sloper(&[
            "detector1",
            &format!("{d}/{BASE}_uncal.fits"),
            "--refs",
            &d,
            &out,
            "--quiet",
            "--no-progress",
        ]);
        let r = sloper(&[
            "image2",
            &format!("{d}/out/{BASE}_rateints.fits"),
            "--refs",
            &d,
            &out,
        ]);
        let calints = dir.join(format!("out/{BASE}_calints.fits"));
        let stderr = String::from_utf8_lossy(&r.stderr);
        assert_eq!(key_str(&calints, "PRIMARY", "S_FLAT"), "COMPLETE");
        let bunit = key_str(&calints, "SCI", "BUNIT");
        let s_photom = key_str(&calints, "PRIMARY", "S_PHOTOM");
        let has_area = {
            let mut f = fitsio::FitsFile::open(&calints).unwrap();
            f.hdu("AREA").is_ok()
        };
        if cal {
            assert_eq!((bunit.as_str(), s_photom.as_str()), ("MJy/sr", "COMPLETE"));
            assert!(has_area);
            assert!(!stderr.contains("photom"), "{stderr}");
        } else {
            assert_eq!((bunit.as_str(), s_photom.as_str()), ("DN/s", "SKIPPED"));
            assert!(!has_area);
            assert!(
                stderr.contains("photom skipped: NRC_TSGRISM is spectroscopic"),
                "{stderr}"
            );
        }
    }
}
