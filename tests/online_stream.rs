//! The online driver on a live feed: back-pressure from a slow sink, a producer that stops
//! mid-integration, and `sloper replay` with quick-look output.

mod common;

use clap::Parser;
use common::{assert_same_images, repo, unpack_fits};
use sloper::config::{parse_strun_args, DETECTOR1};
use sloper::pipeline::detector1::{settings::EXTRA_OPTIONS, Detector1Settings};
use sloper::pipeline::online::{self, geometry_of, IntegrationPlane, OnlineOptions, RawFileSource};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn settings(uncal: &Path, refs: &Path, out: &Path) -> Detector1Settings {
    let args = vec![
        uncal.display().to_string(),
        "--refs".into(),
        refs.display().to_string(),
        format!("--output_dir={}", out.display()),
        "--quiet".into(),
    ];
    let cfg = parse_strun_args(DETECTOR1, &args, EXTRA_OPTIONS).unwrap();
    Detector1Settings::from_config(&cfg).unwrap()
}

fn fixture(case: &str, dir: &Path) -> PathBuf {
    unpack_fits(&repo().join("fixtures/parity").join(case), dir);
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with("_uncal.fits"))
        .unwrap()
}

fn files_in(dir: &Path) -> Vec<String> {
    match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => vec![],
    }
}

/// A sink far slower than the producer: the producer blocks on the bounded feed instead of
/// queueing frames, the context never holds more than its capacity, and the products are
/// those of the same file read straight from disk.
#[test]
fn a_slow_sink_applies_back_pressure() {
    let tmp = tempfile::tempdir().unwrap();
    let uncal = fixture("heavy_cr", &tmp.path().join("in"));
    let raw = Arc::new(frames::raw::RawExposure::open(&uncal).unwrap());
    let geom = geometry_of(&raw);
    let capacity = 2;
    let (tx, mut src) = stream::live_feed(geom, capacity);
    let max_queued = Arc::new(AtomicUsize::new(0));
    let producer = {
        let (raw, max_queued) = (raw.clone(), max_queued.clone());
        std::thread::spawn(move || {
            let mut px = vec![0u16; geom.pixels()];
            for k in 0..geom.frames() {
                let f = RawFileSource::read_frame(&raw, k, &mut px).unwrap();
                tx.send(f).unwrap();
                max_queued.fetch_max(tx.queued(), Ordering::SeqCst);
            }
        })
    };
    let mut planes = 0;
    let mut sink = |p: &IntegrationPlane| {
        assert_eq!(p.int, planes);
        planes += 1;
        std::thread::sleep(Duration::from_millis(150));
        Ok(())
    };
    let out = tmp.path().join("live");
    let options = OnlineOptions {
        queue_frames: 3,
        ..OnlineOptions::default()
    };
    let report = online::run_stream(
        &settings(&uncal, &tmp.path().join("in"), &out),
        raw.meta(),
        &mut src,
        &mut sink,
        options,
    )
    .unwrap();
    producer.join().unwrap();
    assert_eq!(planes, geom.nints);
    assert!(max_queued.load(Ordering::SeqCst) <= capacity);
    assert!(report.queue_high_water <= 3, "{}", report.queue_high_water);
    // The same engine on the file directly gives the same products.
    let direct = tmp.path().join("direct");
    let r = online::run_online(&settings(&uncal, &tmp.path().join("in"), &direct)).unwrap();
    for p in &r.outputs {
        assert_same_images(&out.join(p.file_name().unwrap()), p);
    }
}

/// A live feed with pauses between groups (as at detector cadence): the engine finishes each
/// integration a slice at a time in the pauses instead of making the next group wait for the
/// whole integration, and the products are exactly those of the file processed straight.
#[test]
fn finishing_between_groups_gives_the_same_products() {
    let tmp = tempfile::tempdir().unwrap();
    let uncal = fixture("heavy_cr", &tmp.path().join("in"));
    let raw = Arc::new(frames::raw::RawExposure::open(&uncal).unwrap());
    let geom = geometry_of(&raw);
    for window in [1, 3] {
        let (tx, mut src) = stream::live_feed(geom, 2);
        let producer = {
            let raw = raw.clone();
            std::thread::spawn(move || {
                online::replay_frames(&raw, tx, Some(Duration::from_millis(40)), None)
            })
        };
        let mut planes = Vec::new();
        let mut sink = |p: &IntegrationPlane| {
            planes.push(p.int);
            Ok(())
        };
        let out = tmp.path().join(format!("live{window}"));
        let options = OnlineOptions {
            first_window: window,
            ..OnlineOptions::default()
        };
        let report = online::run_stream(
            &settings(&uncal, &tmp.path().join("in"), &out),
            raw.meta(),
            &mut src,
            &mut sink,
            options.clone(),
        )
        .unwrap();
        producer.join().unwrap().unwrap();
        assert_eq!(planes, (0..geom.nints).collect::<Vec<_>>());
        // With a window of 3 this 3-integration exposure is decided after its last group, when
        // nothing is left to wait for; with 1, integrations 0 and 1 are finished in the pauses.
        assert!(
            window == 3 || report.background_slices > 0,
            "window {window}: no finishing slice ran between groups"
        );
        // The same engine on the file (frames always at hand: no pause, no background slice).
        let direct = tmp.path().join(format!("direct{window}"));
        let s = settings(&uncal, &tmp.path().join("in"), &direct);
        let mut file = RawFileSource::new(raw.clone());
        let r =
            online::run_stream(&s, raw.meta(), &mut file, &mut online::NullSink, options).unwrap();
        assert_eq!(r.background_slices, 0);
        for p in &r.outputs {
            assert_same_images(&out.join(p.file_name().unwrap()), p);
        }
    }
}

/// The producer stops in the middle of an integration: the run fails with an error naming the
/// truncation, the finished integrations reached the sink, and no product (complete or
/// partial) nor scratch file is left in the output directory. With the default window the
/// first three integrations are decided together (none is finished when integration 2 is cut);
/// with a window of 1 every integration is finished when its last group arrives.
#[test]
fn a_producer_that_stops_mid_integration_is_a_clear_error() {
    for (window, stop_int, finished) in [(1, 1, vec![0]), (1, 2, vec![0, 1]), (3, 2, vec![])] {
        let tmp = tempfile::tempdir().unwrap();
        let uncal = fixture("heavy_cr", &tmp.path().join("in"));
        let raw = Arc::new(frames::raw::RawExposure::open(&uncal).unwrap());
        let geom = geometry_of(&raw);
        let (tx, mut src) = stream::live_feed(geom, 4);
        let stop = stop_int * geom.ngroups + 2;
        let producer = {
            let raw = raw.clone();
            std::thread::spawn(move || online::replay_frames(&raw, tx, None, Some(stop)))
        };
        let mut got = Vec::new();
        let mut sink = |p: &IntegrationPlane| {
            got.push(p.int);
            Ok(())
        };
        let out = tmp.path().join("out");
        let err = online::run_stream(
            &settings(&uncal, &tmp.path().join("in"), &out),
            raw.meta(),
            &mut src,
            &mut sink,
            OnlineOptions {
                first_window: window,
                ..OnlineOptions::default()
            },
        )
        .err()
        .expect("a truncated stream must fail");
        assert_eq!(producer.join().unwrap().unwrap(), stop);
        let msg = format!("{err:#}");
        assert!(
            msg.contains(&format!(
                "stopped after {} of 3 integrations",
                finished.len()
            )),
            "{msg}"
        );
        assert!(msg.contains("no product was written"), "{msg}");
        assert!(
            msg.contains(&format!(
                "stream ended after {stop} of {} frames",
                geom.frames()
            )),
            "{msg}"
        );
        assert_eq!(
            got, finished,
            "window {window}, cut in integration {stop_int}"
        );
        assert_eq!(files_in(&out), Vec::<String>::new(), "nothing left behind");
    }
}

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    a: sloper::cli::replay::Args,
}

/// `sloper replay --speed max --json --quicklook DIR`: the JSON report, the products (equal to
/// the online driver's on the file), and one valid PNG per integration plus the light curve.
#[test]
fn replay_reports_and_writes_quicklook_images() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    let uncal = fixture("generic_1amp", &input);
    let (out, ql) = (tmp.path().join("out"), tmp.path().join("ql"));
    let argv: Vec<String> = [
        "replay",
        uncal.to_str().unwrap(),
        "--speed",
        "max",
        "--json",
        "--quicklook",
        ql.to_str().unwrap(),
        "--refs",
        input.to_str().unwrap(),
        &format!("--output_dir={}", out.display()),
        "--quiet",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let args = Cli::parse_from(argv).a;
    let (o, rest) = sloper::cli::replay::split_args(&args.args).unwrap();
    assert!(o.json && o.quicklook.is_some());
    let cfg = parse_strun_args(DETECTOR1, &rest, EXTRA_OPTIONS).unwrap();
    let s = Detector1Settings::from_config(&cfg).unwrap();
    let report = sloper::cli::replay::replay(&s, &o).unwrap();
    let json = report.to_json();
    for key in [
        "\"group_latency\": {\"p50_ms\"",
        "\"integration_latency\"",
        "\"throughput_reads_per_s\"",
        "\"missed_deadlines\": 0",
        "\"speed\": \"max\"",
        "\"frames\": 10",
    ] {
        assert!(json.contains(key), "{key} missing in {json}");
    }
    assert_eq!(report.online.group_latency.count(), 10);
    assert_eq!(report.online.integration_latency.count(), 2);
    let direct = tmp.path().join("direct");
    let r = online::run_online(&settings(&uncal, &input, &direct)).unwrap();
    for p in &r.outputs {
        assert_same_images(&out.join(p.file_name().unwrap()), p);
    }
    let mut names = files_in(&ql);
    names.sort();
    let stem = "jw01234001001_01101_00001_nrcalong";
    assert_eq!(
        names,
        vec![
            format!("{stem}_int00001.png"),
            format!("{stem}_int00002.png"),
            format!("{stem}_whitelight.csv"),
            format!("{stem}_whitelight.png"),
        ]
    );
    for n in names.iter().filter(|n| n.ends_with(".png")) {
        let dec = png::Decoder::new(std::io::BufReader::new(
            std::fs::File::open(ql.join(n)).unwrap(),
        ));
        let reader = dec.read_info().unwrap();
        let info = reader.info();
        assert!(
            info.width >= 256 && info.height >= 128,
            "{n}: {}x{}",
            info.width,
            info.height
        );
    }
    let csv = std::fs::read_to_string(ql.join(format!("{stem}_whitelight.csv"))).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "integration,flux_dn_per_s");
    assert_eq!(lines.len(), 3);
    // The flux is the sum of the usable rateints SCI of that integration.
    let ints = common::images(&out.join(format!("{stem}_rateints.fits")));
    let (sci, dq) = match (&ints[0].1, &ints[2].1) {
        (common::Data::F32(s), common::Data::U32(q)) => (s, q),
        _ => panic!("rateints layout"),
    };
    let npix = 32 * 32;
    let expect: f64 = (0..npix)
        .map(|p| (f32::from_bits(sci[npix + p]), dq[npix + p]))
        .filter(|(s, q)| s.is_finite() && q & 1 == 0)
        .map(|(s, _)| s as f64)
        .sum();
    let got: f64 = lines[2].split(',').nth(1).unwrap().parse().unwrap();
    assert_eq!(got, expect);
}
