//! `sloper replay X_uncal.fits --speed N|max [--json] [--quicklook DIR] [detector1 options]`:
//! feed a raw exposure through the live source at N times the detector's cadence (one group per
//! TGROUP / N; `max`: as fast as the pipeline takes them), run the online detector1 engine on
//! it, and report latency, throughput and missed deadlines.

use crate::config::{parse_strun_args, DETECTOR1};
use crate::pipeline::detector1::{settings::EXTRA_OPTIONS, Detector1Settings};
use crate::pipeline::online::{
    self, geometry_of, replay_frames, IntegrationPlane, OnlineOptions, OnlineReport, PlaneSink,
    Speed,
};
use crate::quicklook::QuickLook;
use anyhow::{bail, Context, Result};
use frames::raw::RawExposure;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Arguments of `sloper replay` (strun-style; parsed by the module, not clap).
#[derive(Debug, Clone, clap::Args)]
#[command(disable_help_flag = true)]
pub struct Args {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
    pub args: Vec<String>,
}

/// Replay's own options; everything else goes to the detector1 settings.
#[derive(Debug, Clone)]
pub struct ReplayOptions {
    pub speed: Speed,
    pub json: bool,
    pub quicklook: Option<PathBuf>,
    /// Frames the live feed may hold (the producer blocks beyond: back-pressure).
    pub feed_capacity: usize,
    /// Stop the producer after this many frames (to exercise a truncated stream).
    pub stop_after: Option<usize>,
}

pub fn help() -> String {
    "Replay a raw exposure through the live source at the detector's cadence and report latency.\n\n\
     usage: sloper replay X_uncal.fits --speed N|max [--json] [--quicklook DIR]\n\
     \x20                    [--feed-capacity N] [--stop-after FRAMES] [detector1 options...]\n\n\
     --speed N        N times real time: one group every TGROUP/N seconds; max: no pacing\n\
     --json           print the report as one JSON object instead of a table\n\
     --quicklook DIR  write a PNG of every finished integration's rate image and a running\n\
     \x20                white-light curve (PNG + CSV) into DIR\n\
     --feed-capacity  frames the live feed queues before the producer blocks (default 4)\n\
     --stop-after N   the producer stops after N frames (tests a truncated stream)\n\
     detector1 options as for `sloper detector1` (--refs DIR, --output_dir=DIR, --steps...,\n\
     --threads N); the online driver writes DIR/X_rate.fits and DIR/X_rateints.fits.\n"
        .to_string()
}

/// Split replay's options from the detector1 arguments.
pub fn split_args(args: &[String]) -> Result<(ReplayOptions, Vec<String>)> {
    let mut o = ReplayOptions {
        speed: Speed::Cadence(1.0),
        json: false,
        quicklook: None,
        feed_capacity: 4,
        stop_after: None,
    };
    let mut rest = Vec::new();
    let mut it = args.iter().peekable();
    while let Some(a) = it.next() {
        let (key, inline) = match a.split_once('=') {
            Some((k, v)) if k.starts_with("--") => (k, Some(v.to_string())),
            _ => (a.as_str(), None),
        };
        let mut value = |name: &str| -> Result<String> {
            match inline.clone() {
                Some(v) => Ok(v),
                None => it
                    .next()
                    .cloned()
                    .with_context(|| format!("{name} needs a value")),
            }
        };
        match key {
            "--speed" => {
                let v = value("--speed")?;
                o.speed = Speed::parse(&v)
                    .with_context(|| format!("--speed {v:?}: expected a positive number or max"))?;
            }
            "--json" => o.json = true,
            "--quicklook" => o.quicklook = Some(PathBuf::from(value("--quicklook")?)),
            "--feed-capacity" => {
                let v = value("--feed-capacity")?;
                o.feed_capacity =
                    v.parse::<usize>()
                        .ok()
                        .filter(|&n| n > 0)
                        .with_context(|| {
                            format!("--feed-capacity {v:?}: expected a positive integer")
                        })?;
            }
            "--stop-after" => {
                let v = value("--stop-after")?;
                o.stop_after = Some(
                    v.parse::<usize>()
                        .with_context(|| format!("--stop-after {v:?}: expected a frame count"))?,
                );
            }
            _ => rest.push(a.clone()),
        }
    }
    Ok((o, rest))
}

/// Everything replay measured.
pub struct ReplayReport {
    pub online: OnlineReport,
    pub speed: Speed,
    pub tgroup: f64,
    pub interval: Option<Duration>,
    pub frames_sent: usize,
    pub peak_rss_bytes: Option<u64>,
}

/// Peak resident set size of this process (Linux `VmHWM`).
pub fn peak_rss_bytes() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

struct Progress<'a> {
    inner: Option<&'a mut QuickLook>,
    quiet: bool,
}

impl PlaneSink for Progress<'_> {
    fn accept(&mut self, p: &IntegrationPlane) -> Result<()> {
        if let Some(q) = self.inner.as_deref_mut() {
            q.accept(p)?;
        } else if !self.quiet {
            eprintln!(
                "replay: integration {}/{} done, {} jumps, plane written {:.1} ms after its last group",
                p.int + 1,
                p.nints,
                p.primary_jumps,
                1e3 * p.latency_secs()
            );
        }
        Ok(())
    }
    fn wants_planes(&self) -> bool {
        self.inner.is_some()
    }
}

/// Replay one exposure.
pub fn replay(settings: &Detector1Settings, o: &ReplayOptions) -> Result<ReplayReport> {
    let raw = Arc::new(RawExposure::open(&settings.input)?);
    crate::pipeline::online::refuse_unsupported_zeroframe(settings, &raw)?;
    let meta = raw.meta().clone();
    let interval = o.speed.interval(meta.tgroup);
    let (tx, mut src) = stream::live_feed(geometry_of(&raw), o.feed_capacity);
    // The producer starts when the engine is ready (set-up is not the frames' latency).
    let (start_tx, start_rx) = std::sync::mpsc::channel::<()>();
    let producer = {
        let raw = raw.clone();
        let limit = o.stop_after;
        std::thread::Builder::new()
            .name("replay-producer".into())
            .spawn(move || {
                if start_rx.recv().is_err() {
                    return Ok(0); // the engine failed to start
                }
                replay_frames(&raw, tx, interval, limit)
            })
            .context("could not start the replay producer")?
    };
    let mut ql = match &o.quicklook {
        Some(dir) => {
            let stem = settings
                .input
                .file_name()
                .map(|n| {
                    n.to_string_lossy()
                        .replace("_uncal.fits", "")
                        .replace(".fits", "")
                })
                .unwrap_or_else(|| "exposure".into());
            let mut q = QuickLook::new(dir, &stem)?;
            q.progress = !settings.quiet && !o.json;
            Some(q)
        }
        None => None,
    };
    let mut sink = Progress {
        inner: ql.as_mut(),
        quiet: settings.quiet || o.json,
    };
    let options = OnlineOptions {
        deadline: interval,
        ..OnlineOptions::default()
    };
    let result = online::run_stream_when_ready(settings, &meta, &mut src, &mut sink, options, {
        move || {
            let _ = start_tx.send(());
        }
    });
    drop(src); // a producer still sending sees the consumer gone
    let sent = producer.join();
    let online = result?;
    let frames_sent = match sent {
        Ok(Ok(n)) => n,
        Ok(Err(e)) => bail!("{}: replay producer: {e}", settings.input.display()),
        Err(_) => bail!("{}: the replay producer panicked", settings.input.display()),
    };
    Ok(ReplayReport {
        online,
        speed: o.speed,
        tgroup: meta.tgroup,
        interval,
        frames_sent,
        peak_rss_bytes: peak_rss_bytes(),
    })
}

fn ms(s: f64) -> f64 {
    1e3 * s
}

impl ReplayReport {
    fn busy_seconds(&self) -> f64 {
        self.online
            .times
            .entries()
            .iter()
            .filter(|(n, _)| n != "references")
            .map(|(_, d)| d.as_secs_f64())
            .sum()
    }

    pub fn table(&self) -> String {
        let r = &self.online;
        let [ni, ng, ny, nx] = r.shape;
        let speed = match self.speed {
            Speed::Max => "max".to_string(),
            Speed::Cadence(f) => format!("{f}x"),
        };
        let mut s = format!(
            "replay {}\n  {ni} ints x {ng} groups x {ny} x {nx}, TGROUP {:.3} s, speed {speed}{}\n  jump mode {:?}, reservoir {} integrations\n",
            r.input.display(),
            self.tgroup,
            self.interval
                .map(|d| format!(" (one group every {:.1} ms)", d.as_secs_f64() * 1e3))
                .unwrap_or_default(),
            r.jump_mode,
            r.reservoir_integrations
        );
        s += &format!(
            "  {:<36} {:>9} {:>9} {:>9} {:>7}\n",
            "latency (ms)", "p50", "p99", "max", "count"
        );
        for (name, l) in [
            ("group arrival -> processed", &r.group_latency),
            (
                "last group -> rateints plane written",
                &r.integration_latency,
            ),
            ("CPU time per group", &r.cpu.group),
            ("CPU time per finishing slice", &r.cpu.slice),
        ] {
            s += &format!(
                "  {:<36} {:>9.2} {:>9.2} {:>9.2} {:>7}\n",
                name,
                ms(l.quantile_secs(0.5)),
                ms(l.quantile_secs(0.99)),
                ms(l.max_secs()),
                l.count()
            );
        }
        s += &format!(
            "  throughput: {:.2} M pixel-reads/s sustained (wall {:.3} s), {:.2} M pixel-reads/s processing capacity\n",
            r.throughput() / 1e6,
            r.wall_seconds,
            self.capacity() / 1e6
        );
        s += &format!(
            "  missed deadlines: {}{} of {} groups; feed/context queue high water {} frames; {} finishing slices between groups\n",
            r.deadline_misses,
            if self.interval.is_none() {
                " (no deadlines at max speed)"
            } else {
                ""
            },
            r.groups,
            r.queue_high_water,
            r.background_slices
        );
        if !r.cpu.slice_max.is_empty() {
            let kinds: Vec<String> = r
                .cpu
                .slice_max
                .iter()
                .map(|(k, d)| format!("{k} {:.2}", ms(d.as_secs_f64())))
                .collect();
            s += &format!("  longest finishing slice (CPU ms): {}\n", kinds.join(", "));
        }
        if let Some(b) = self.peak_rss_bytes {
            s += &format!("  peak RSS {:.1} MiB\n", b as f64 / (1 << 20) as f64);
        }
        for p in &r.outputs {
            s += &format!("  wrote {}\n", p.display());
        }
        s += &r.times.table();
        s
    }

    /// Pixel reads per second of busy time (what the engine could sustain).
    pub fn capacity(&self) -> f64 {
        let reads: usize = self.online.shape.iter().product();
        reads as f64 / self.busy_seconds().max(1e-9)
    }

    pub fn to_json(&self) -> String {
        let r = &self.online;
        let lat = |l: &stream::Latency| {
            format!(
                "{{\"p50_ms\": {:.4}, \"p99_ms\": {:.4}, \"max_ms\": {:.4}, \"count\": {}}}",
                ms(l.quantile_secs(0.5)),
                ms(l.quantile_secs(0.99)),
                ms(l.max_secs()),
                l.count()
            )
        };
        let esc = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
        let speed = match self.speed {
            Speed::Max => "\"max\"".to_string(),
            Speed::Cadence(f) => format!("{f}"),
        };
        let outputs: Vec<String> = r
            .outputs
            .iter()
            .map(|p| format!("\"{}\"", esc(&p.display().to_string())))
            .collect();
        let slice_max: Vec<String> = r
            .cpu
            .slice_max
            .iter()
            .map(|(k, d)| format!("\"{k}\": {:.4}", ms(d.as_secs_f64())))
            .collect();
        format!(
            "{{\"input\": \"{}\", \"shape\": [{}, {}, {}, {}], \"tgroup_s\": {}, \"speed\": {}, \"interval_ms\": {}, \"jump_mode\": \"{:?}\", \"frames\": {}, \"group_latency\": {}, \"integration_latency\": {}, \"throughput_reads_per_s\": {:.1}, \"capacity_reads_per_s\": {:.1}, \"wall_s\": {:.6}, \"missed_deadlines\": {}, \"groups\": {}, \"queue_high_water\": {}, \"background_slices\": {}, \"group_cpu\": {}, \"slice_cpu\": {}, \"slice_cpu_max_ms\": {{{}}}, \"peak_rss_bytes\": {}, \"outputs\": [{}]}}",
            esc(&r.input.display().to_string()),
            r.shape[0],
            r.shape[1],
            r.shape[2],
            r.shape[3],
            self.tgroup,
            speed,
            self.interval
                .map(|d| format!("{:.4}", d.as_secs_f64() * 1e3))
                .unwrap_or_else(|| "null".into()),
            r.jump_mode,
            self.frames_sent,
            lat(&r.group_latency),
            lat(&r.integration_latency),
            r.throughput(),
            self.capacity(),
            r.wall_seconds,
            r.deadline_misses,
            r.groups,
            r.queue_high_water,
            r.background_slices,
            lat(&r.cpu.group),
            lat(&r.cpu.slice),
            slice_max.join(", "),
            self.peak_rss_bytes
                .map(|b| b.to_string())
                .unwrap_or_else(|| "null".into()),
            outputs.join(", ")
        )
    }
}

pub fn run(a: &Args) -> Result<()> {
    if a.args.is_empty() || a.args.iter().any(|x| x == "--help" || x == "-h") {
        print!("{}", help());
        return Ok(());
    }
    let (o, rest) = split_args(&a.args)?;
    let cfg = parse_strun_args(DETECTOR1, &rest, EXTRA_OPTIONS).map_err(|e| anyhow::anyhow!(e))?;
    let settings = Detector1Settings::from_config(&cfg).map_err(|e| anyhow::anyhow!(e))?;
    let report = replay(&settings, &o)?;
    if o.json {
        println!("{}", report.to_json());
    } else {
        print!("{}", report.table());
    }
    Ok(())
}
