//! The chained consumers: integration planes pushed through image2 into tso3 with no
//! intermediate file read back, from a file source and from a live plane feed (as the online
//! driver will provide), give the official products bit for bit (catalogue: see
//! consumers_tso3.rs for the PSF/sky tolerances). Also the white-light quick look on a
//! simulated grism TSO.

mod consumers_util;
use consumers_util::*;
use sloper::consumers::chain::{run_chain, ChainPlan};
use sloper::consumers::ecsv::Table;
use sloper::consumers::image2::Image2Settings;
use sloper::consumers::source::{FilePlaneSource, RateProduct};
use sloper::consumers::tso3::{write_catalog, Tso3Settings};
use sloper::consumers::tso_photometry::PhotometryParams;
use std::path::Path;
use std::sync::Arc;
use stream::plane::{plane_feed, PlaneSource};

fn settings(dir: &Path) -> (Image2Settings, Tso3Settings) {
    let i2 = Image2Settings {
        flat: Some(unpack(dir, "tsimg_ref_flat.fits", "ref_flat.fits")),
        photom: Some(unpack(dir, "tsimg_ref_photom.fits", "ref_photom.fits")),
        area: Some(unpack(dir, "tsimg_ref_area.fits", "ref_area.fits")),
        apply_time_correction: true,
        output_dir: dir.join("out"),
        quiet: true,
        ..Default::default()
    };
    let t3 = Tso3Settings {
        outlier: Some(Default::default()),
        photometry: Some(PhotometryParams::default()),
        gain: Some(unpack(dir, "tsimg_ref_gain.fits", "ref_gain.fits")),
        white_light: None,
        output_dir: dir.join("out"),
        plot: false,
        quiet: true,
    };
    (i2, t3)
}

fn check_products(dir: &Path, calints: &Path, crfints: &Path, catalog: &Table) {
    let golden = unpack(dir, "tsimg_calints.fits", "golden_calints.fits");
    assert_same_product(
        calints,
        &golden,
        &[
            "SCI",
            "ERR",
            "DQ",
            "AREA",
            "VAR_POISSON",
            "VAR_RNOISE",
            "VAR_FLAT",
        ],
    );
    let dq = read_u32(
        &unpack(dir, "tsimg_crfints_dq.fits", "golden_dq.fits"),
        "DQ",
    );
    assert_same_u32("crfints DQ", &read_u32(crfints, "DQ"), &dq);
    let mut sci = read_f32(&golden, "SCI");
    for (s, d) in sci.iter_mut().zip(&dq) {
        if d & 1 != 0 {
            *s = f32::NAN;
        }
    }
    assert_same_f32("crfints SCI", &read_f32(crfints, "SCI"), &sci);
    let g = Table::read(&fixtures().join("tsimg_tso3_phot.ecsv")).unwrap();
    for c in &g.columns {
        let o = catalog.column(&c.name).unwrap();
        for (a, b) in o.values.iter().zip(&c.values) {
            let rel = ((a - b) / b).abs();
            assert!(
                rel < 1e-7 || (a.is_nan() && b.is_nan()),
                "{}: {a} vs {b}",
                c.name
            );
        }
    }
}

fn plan<'a>(
    dir: &Path,
    i2: &'a Image2Settings,
    t3: &'a Tso3Settings,
    info: &'a sloper::consumers::source::ProductInfo,
    input: &'a Path,
) -> ChainPlan<'a> {
    std::fs::create_dir_all(dir.join("out")).unwrap();
    ChainPlan {
        image2: Some(i2),
        tso3: Some(t3),
        info,
        header_input: input,
        calints_path: dir.join(format!("out/{BASE}_calints.fits")),
        crf_path: dir.join(format!("out/{BASE}_crfints.fits")),
        input_file: None,
    }
}

#[test]
fn rateints_file_through_image2_and_tso3() {
    let t = tempfile::tempdir().unwrap();
    let (i2, t3) = settings(t.path());
    let input = unpack(
        t.path(),
        "tsimg_rateints.fits",
        &format!("{BASE}_rateints.fits"),
    );
    let product = Arc::new(RateProduct::open(&input).unwrap());
    let info = product.info().clone();
    let p = plan(t.path(), &i2, &t3, &info, &input);
    let mut src = FilePlaneSource::new(product);
    let rep = run_chain(&p, &mut src).unwrap();
    let m = rep.tso3.unwrap();
    assert_eq!(m.flagged, 10);
    check_products(
        t.path(),
        rep.calints.as_ref().unwrap(),
        m.crfints.as_ref().unwrap(),
        m.table.as_ref().unwrap(),
    );
}

/// Planes handed over one by one from another thread through a bounded feed (capacity 2), as
/// the online Detector1 driver does when each integration is fitted.
#[test]
fn live_plane_feed_gives_the_same_products() {
    let t = tempfile::tempdir().unwrap();
    let (i2, t3) = settings(t.path());
    let input = unpack(
        t.path(),
        "tsimg_rateints.fits",
        &format!("{BASE}_rateints.fits"),
    );
    let product = Arc::new(RateProduct::open(&input).unwrap());
    let info = product.info().clone();
    let (mut tx, rx) = plane_feed(product.geometry(), 2);
    let producer = {
        let product = product.clone();
        std::thread::spawn(move || {
            let mut src = FilePlaneSource::new(product);
            while let Some(p) = src.next_plane().unwrap() {
                tx.send(p).unwrap();
            }
        })
    };
    let p = plan(t.path(), &i2, &t3, &info, &input);
    let mut feed = rx.with_timeout(std::time::Duration::from_secs(60));
    let rep = run_chain(&p, &mut feed).unwrap();
    producer.join().unwrap();
    let m = rep.tso3.unwrap();
    check_products(
        t.path(),
        rep.calints.as_ref().unwrap(),
        m.crfints.as_ref().unwrap(),
        m.table.as_ref().unwrap(),
    );
    let (cat, _) = write_catalog(&t3, "live", std::slice::from_ref(&m)).unwrap();
    assert!(cat.unwrap().ends_with("live_phot.ecsv"));
}

/// A producer that dies mid-stream: the chain reports the truncation and leaves no product.
#[test]
fn truncated_feed_is_an_error_and_writes_nothing() {
    let t = tempfile::tempdir().unwrap();
    let (i2, t3) = settings(t.path());
    let input = unpack(
        t.path(),
        "tsimg_rateints.fits",
        &format!("{BASE}_rateints.fits"),
    );
    let product = Arc::new(RateProduct::open(&input).unwrap());
    let info = product.info().clone();
    let (mut tx, rx) = plane_feed(product.geometry(), 2);
    let producer = {
        let product = product.clone();
        std::thread::spawn(move || {
            for k in 0..5 {
                tx.send(product.plane(k).unwrap()).unwrap();
            }
        })
    };
    let p = plan(t.path(), &i2, &t3, &info, &input);
    let mut feed = rx;
    let err = run_chain(&p, &mut feed).unwrap_err().to_string();
    producer.join().unwrap();
    assert!(err.contains("ended after 5 of 28"), "{err}");
    assert!(!p.calints_path.exists() && !p.crf_path.exists());
}

/// `sloper run --pipeline detector1,tso3` on a simulated grism TSO: outlier detection, then
/// sloper's box-extraction white light (`_whtlt.ecsv`, labelled as a quick look) and its plot.
#[test]
fn grism_tso_white_light_quick_look() {
    let t = tempfile::tempdir().unwrap();
    let exe = env!("CARGO_BIN_EXE_sloper");
    let sim = std::process::Command::new(exe)
        .args([
            "simulate",
            "--nints",
            "6",
            "--ngroups",
            "4",
            "--ny",
            "32",
            "--nx",
            "64",
        ])
        .args(["--seed", "3", "--outdir"])
        .arg(t.path())
        .output()
        .unwrap();
    assert!(
        sim.status.success(),
        "{}",
        String::from_utf8_lossy(&sim.stderr)
    );
    let uncal = t.path().join(format!("{BASE}_uncal.fits"));
    let out = t.path().join("out");
    let run = std::process::Command::new(exe)
        .arg("run")
        .arg(&uncal)
        .args(["--pipeline", "detector1,tso3", "--refs"])
        .arg(t.path())
        .arg(format!("--output_dir={}", out.display()))
        .args(["--no-progress", "--quiet"])
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let w = Table::read(&out.join(format!("{BASE}_whtlt.ecsv"))).unwrap();
    assert_eq!(w.len(), 6);
    let f = &w.column("whitelight_flux").unwrap().values;
    let e = &w.column("whitelight_flux_err").unwrap().values;
    assert_eq!(
        w.column("whitelight_flux").unwrap().unit.as_deref(),
        Some("DN/s")
    );
    let mean = f.iter().sum::<f64>() / 6.0;
    assert!(
        mean > 0.0 && f.iter().all(|v| (v / mean - 1.0).abs() < 0.05),
        "{f:?}"
    );
    assert!(e.iter().all(|v| *v > 0.0 && *v < 0.05 * mean), "{e:?}");
    assert!(w.column("MJD").unwrap().values.iter().all(|v| *v > 50000.0));
    let desc = w.meta.iter().find(|(k, _)| k == "description").unwrap();
    assert!(desc.1.contains("Not the official"), "{}", desc.1);
    assert!(out.join(format!("{BASE}_whtlt.png")).is_file());
    assert!(out.join(format!("{BASE}_crfints.fits")).is_file());
}

/// The whole chain on a simulated TSO imaging exposure with the simulator's own references
/// (Detector1's and Stage 2's flat, photom, area): `sloper run --pipeline
/// detector1,image2,tso3 --refs DIR` writes every product, the calibrated data are in MJy/sr,
/// the catalogue in Jy, and the injected 1 % transit comes out of the light curve.
#[test]
fn simulated_tso_imaging_full_chain_recovers_the_transit() {
    let t = tempfile::tempdir().unwrap();
    let exe = env!("CARGO_BIN_EXE_sloper");
    let nints = 30;
    let sim = std::process::Command::new(exe)
        .args(["simulate", "--exp-type", "NRC_TSIMAGE", "--nints"])
        .arg(nints.to_string())
        .args(["--ngroups", "4", "--ny", "64", "--nx", "64", "--seed", "5"])
        .arg("--outdir")
        .arg(t.path())
        .output()
        .unwrap();
    assert!(sim.status.success());
    let out = t.path().join("out");
    let run = std::process::Command::new(exe)
        .arg("run")
        .arg(t.path().join(format!("{BASE}_uncal.fits")))
        .args(["--pipeline", "detector1,image2,tso3", "--refs"])
        .arg(t.path())
        .arg(format!("--output_dir={}", out.display()))
        .arg("--no-progress")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    let listed = String::from_utf8_lossy(&run.stdout);
    for s in [
        "rate",
        "rateints",
        "cal",
        "calints",
        "crfints",
        "phot.ecsv",
        "phot.png",
    ] {
        let name = if s.contains('.') {
            format!("{BASE}_{s}")
        } else {
            format!("{BASE}_{s}.fits")
        };
        assert!(out.join(&name).is_file(), "{name} missing");
        assert!(listed.contains(&name), "{name} not listed: {listed}");
    }
    assert!(
        stderr.contains("run: detector1 -> image2 -> tso3 in"),
        "{stderr}"
    );
    let calints = out.join(format!("{BASE}_calints.fits"));
    assert_eq!(key_str(&calints, "SCI", "BUNIT").as_deref(), Some("MJy/sr"));
    assert_eq!(key_f64(&calints, "SCI", "PHOTMJSR"), Some(0.217f32 as f64));
    let cat = Table::read(&out.join(format!("{BASE}_phot.ecsv"))).unwrap();
    assert_eq!(cat.len(), nints);
    let flux = cat.column("net_aperture_sum").unwrap();
    assert_eq!(flux.unit.as_deref(), Some("Jy"));
    // Transit: 40 % of the span centred on the middle, 5 % ingress/egress (Plan::lightcurve);
    // fully in transit: |i - 14.5| < 4.35, out: |i - 14.5| > 5.8.
    let mean = |f: &dyn Fn(f64) -> bool| {
        let v: Vec<f64> = (0..nints)
            .filter(|&i| f((i as f64 - 14.5).abs()))
            .map(|i| flux.values[i])
            .collect();
        v.iter().sum::<f64>() / v.len() as f64
    };
    let depth = 1.0 - mean(&|d| d < 4.35) / mean(&|d| d > 5.8);
    // Per-integration noise is ~0.2 %, so the depth is known to ~0.1 %.
    assert!((depth - 0.01).abs() < 0.004, "transit depth {depth}");
}

/// `sloper demo` runs detector1 -> image2 -> tso3 in one process on its own simulated data and
/// lists what it wrote, the light-curve PNG included.
#[test]
fn demo_runs_the_whole_chain() {
    let t = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sloper"))
        .args(["demo", "--nints", "6", "--ngroups", "3", "--outdir"])
        .arg(t.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let products = t.path().join("products");
    for s in [
        "rate.fits",
        "cal.fits",
        "calints.fits",
        "crfints.fits",
        "phot.ecsv",
        "phot.png",
    ] {
        let p = products.join(format!("{BASE}_{s}"));
        assert!(p.is_file(), "{} missing", p.display());
        assert!(
            stdout.contains(&p.display().to_string()),
            "{} not listed:\n{stdout}",
            p.display()
        );
    }
    for r in ["ref_flat.fits", "ref_photom.fits", "ref_area.fits"] {
        assert!(stdout.contains(r), "{r} not listed:\n{stdout}");
    }
    assert!(
        stdout.contains("--pipeline detector1,image2,tso3"),
        "{stdout}"
    );
    let png = std::fs::read(products.join(format!("{BASE}_phot.png"))).unwrap();
    assert_eq!(&png[1..4], b"PNG");
}

/// The outlier window reads the integrations waiting for their median back from the _calints
/// image2 is writing (the writer thread may lag: with a window of 3 each plane is read back one
/// integration after it arrived) instead of holding them: the _crfints is the same, array for
/// array and bit for bit, as when the planes are held (a feed with no file behind it).
#[test]
fn outlier_window_reading_planes_back_equals_holding_them() {
    use sloper::consumers::outlier::RefetchSlot;
    use sloper::consumers::tso3::{read_area, run_member, MemberPlan};
    let t = tempfile::tempdir().unwrap();
    let (i2, mut t3) = settings(t.path());
    t3.photometry = None;
    t3.outlier.as_mut().unwrap().rolling_window_width = 3;
    let input = unpack(
        t.path(),
        "tsimg_rateints.fits",
        &format!("{BASE}_rateints.fits"),
    );
    let product = Arc::new(RateProduct::open(&input).unwrap());
    let info = product.info().clone();
    let p = plan(t.path(), &i2, &t3, &info, &input);
    let rep = run_chain(&p, &mut FilePlaneSource::new(product)).unwrap();
    let streamed = rep.tso3.unwrap();
    let calints = rep.calints.unwrap();

    let cal = Arc::new(RateProduct::open(&calints).unwrap());
    let cinfo = cal.info().clone();
    let (ny, nx) = cal.shape();
    let held_path = t.path().join("held_crfints.fits");
    let member = MemberPlan {
        settings: &t3,
        info: &cinfo,
        crf_header: frames::write::ProductHeader {
            input: calints.clone(),
            ..Default::default()
        },
        crf_path: held_path.clone(),
        input_file: None,
        bunit: cinfo.bunit_data.clone().unwrap(),
        area: read_area(&calints).unwrap(),
        nints: cal.nplanes(),
        ny,
        nx,
        refetch: RefetchSlot::default(),
    };
    // Planes from memory: nothing to read back, so the window holds them.
    let planes: Vec<_> = (0..cal.nplanes()).map(|k| cal.plane(k).unwrap()).collect();
    let mut src = stream::plane::VecPlaneSource::new(cal.geometry(), planes);
    let held = run_member(&member, |sink| {
        stream::plane::drain(&mut src, sink).map(|_| ())
    })
    .unwrap();
    assert_eq!(streamed.flagged, held.flagged);
    assert!(held.flagged > 0);
    let a = streamed.crfints.unwrap();
    assert_eq!(read_u32(&a, "DQ"), read_u32(&held_path, "DQ"));
    for hdu in ["SCI", "ERR", "VAR_POISSON", "VAR_RNOISE", "VAR_FLAT"] {
        let (x, y) = (read_f32(&a, hdu), read_f32(&held_path, hdu));
        assert_eq!(x.len(), y.len());
        assert!(
            x.iter().zip(&y).all(|(u, v)| u.to_bits() == v.to_bits()),
            "{hdu}"
        );
    }
}
