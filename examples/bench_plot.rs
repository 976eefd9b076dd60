//! Report generator of the benchmark harness (`benches/run.sh` calls it; no Python).
//!
//! ```text
//! bench_plot report  --csv benches/results.csv [--kernels benches/kernels.csv]
//!                    [--notes benches/notes.md] --md benches/RESULTS.md
//!                    --png benches/results.png [--generated TEXT]
//! bench_plot kernels --criterion target/criterion --out benches/kernels.csv
//!                    [--date D] [--commit C] [--load L]
//! ```
//!
//! `report` reads the macro-benchmark CSV that `benches/run.sh` keeps (one row per exposure x
//! pipeline x mode; a re-run replaces only the rows it measured) and writes the markdown report
//! (table, ratios to the official pipeline, the issue's targets) and a PNG of wall time and peak
//! RSS against NINTS. `kernels` turns criterion's `new/{benchmark,estimates,sample}.json` into a
//! CSV of ns per pixel-read (median of the samples, and the fastest sample, which is the least
//! disturbed by other processes on a shared machine).
//!
//! Text in the PNG uses a TrueType font read at run time: `BENCH_FONT=/path/font.ttf`, else the
//! first of a few usual DejaVu/Liberation paths, else `fc-match sans`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use plotters::prelude::*;

const WIDTH: u32 = 1400;
const HEIGHT: u32 = 620;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (cmd, rest) = args
        .split_first()
        .ok_or_else(|| anyhow!("usage: bench_plot report|kernels [options] (see the source)"))?;
    let opts = Opts::parse(rest)?;
    match cmd.as_str() {
        "report" => report(&opts),
        "kernels" => kernels(&opts),
        other => bail!("bench_plot: unknown command {other:?} (report | kernels)"),
    }
}

/// `--name value` pairs.
struct Opts(BTreeMap<String, String>);

impl Opts {
    fn parse(args: &[String]) -> Result<Self> {
        let mut m = BTreeMap::new();
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let name = a
                .strip_prefix("--")
                .ok_or_else(|| anyhow!("bench_plot: expected --option, got {a:?}"))?;
            if let Some((k, v)) = name.split_once('=') {
                m.insert(k.to_string(), v.to_string());
            } else {
                let v = it
                    .next()
                    .ok_or_else(|| anyhow!("bench_plot: --{name} needs a value"))?;
                m.insert(name.to_string(), v.clone());
            }
        }
        Ok(Opts(m))
    }
    fn get(&self, k: &str) -> Option<&str> {
        self.0.get(k).map(String::as_str)
    }
    fn req(&self, k: &str) -> Result<&str> {
        self.get(k)
            .ok_or_else(|| anyhow!("bench_plot: --{k} is required"))
    }
}

/// Write through a temporary name, then rename: no partial output.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty());
    let dir = dir.unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| anyhow!("{}: not a file name", path.display()))?;
    let tmp = dir.join(format!(".{}.tmp", name.to_string_lossy()));
    std::fs::write(&tmp, bytes).with_context(|| format!("{}: write", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("{}: rename", path.display()))?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// CSV

/// A comma-separated file with a header line (no quoting: the writers never put commas in
/// fields).
struct Table {
    rows: Vec<BTreeMap<String, String>>,
}

fn read_csv(path: &Path, required: &[&str]) -> Result<Table> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("{}: read", path.display()))?;
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<&str> = lines
        .next()
        .ok_or_else(|| anyhow!("{}: empty file", path.display()))?
        .split(',')
        .collect();
    for r in required {
        if !header.contains(r) {
            bail!("{}: no column {r:?} in the header", path.display());
        }
    }
    let mut rows = Vec::new();
    for (n, line) in lines.enumerate() {
        let fields: Vec<&str> = line.split(',').collect();
        if fields.len() != header.len() {
            bail!(
                "{}: line {} has {} fields, the header {}",
                path.display(),
                n + 2,
                fields.len(),
                header.len()
            );
        }
        rows.push(
            header
                .iter()
                .zip(fields)
                .map(|(h, f)| (h.to_string(), f.to_string()))
                .collect(),
        );
    }
    Ok(Table { rows })
}

/// One macro-benchmark row.
#[derive(Debug, Clone)]
struct Run {
    shape: String,
    nints: u64,
    ngroups: u64,
    ny: u64,
    nx: u64,
    pipeline: String,
    mode: String,
    jump_mode: String,
    raw_bytes: f64,
    pixel_reads: f64,
    wall_s: Option<f64>,
    cpu_s: Option<f64>,
    rss_mib: Option<f64>,
    est_rss_mib: Option<f64>,
    floor_s: Option<f64>,
    load_start: String,
    load_end: String,
    status: String,
    date: String,
    commit: String,
    machine: String,
}

const RUN_COLUMNS: &[&str] = &[
    "shape",
    "nints",
    "ngroups",
    "ny",
    "nx",
    "pipeline",
    "mode",
    "jump_mode",
    "raw_bytes",
    "pixel_reads",
    "wall_s",
    "cpu_s",
    "peak_rss_mib",
    "est_rss_mib",
    "floor_s",
    "load_start",
    "load_end",
    "status",
    "date",
    "commit",
    "machine",
];

impl Run {
    fn ok(&self) -> bool {
        self.status == "ok"
    }
    fn label(&self) -> String {
        match (self.pipeline.as_str(), self.mode.as_str()) {
            ("sloper", m) => format!("sloper {m}"),
            ("official", _) => "official calwebb_detector1".to_string(),
            (p, m) => format!("{p} {m}"),
        }
    }
    fn order(&self) -> u8 {
        match (self.pipeline.as_str(), self.mode.as_str()) {
            ("sloper", "exact") => 0,
            ("sloper", "online") => 1,
            ("sloper", _) => 2,
            _ => 3,
        }
    }
    /// The SUBGRISM256-size series that the plot draws against NINTS.
    fn in_series(&self) -> bool {
        self.ngroups == 10 && self.ny == 256 && self.nx == 2048
    }
    fn rate(&self) -> Option<f64> {
        self.wall_s.map(|w| self.pixel_reads / w)
    }
}

fn parse_runs(path: &Path) -> Result<Vec<Run>> {
    let t = read_csv(path, RUN_COLUMNS)?;
    let num = |r: &BTreeMap<String, String>, k: &str| -> Result<Option<f64>> {
        let v = r[k].trim();
        if v.is_empty() || v == "-" {
            return Ok(None);
        }
        v.parse::<f64>()
            .map(Some)
            .with_context(|| format!("{}: column {k}: {v:?} is not a number", path.display()))
    };
    let int = |r: &BTreeMap<String, String>, k: &str| -> Result<u64> {
        r[k].trim().parse::<u64>().with_context(|| {
            format!(
                "{}: column {k}: {:?} is not an integer",
                path.display(),
                r[k]
            )
        })
    };
    t.rows
        .iter()
        .map(|r| {
            Ok(Run {
                shape: r["shape"].clone(),
                nints: int(r, "nints")?,
                ngroups: int(r, "ngroups")?,
                ny: int(r, "ny")?,
                nx: int(r, "nx")?,
                pipeline: r["pipeline"].clone(),
                mode: r["mode"].clone(),
                jump_mode: r["jump_mode"].clone(),
                raw_bytes: num(r, "raw_bytes")?.unwrap_or(f64::NAN),
                pixel_reads: num(r, "pixel_reads")?.unwrap_or(f64::NAN),
                wall_s: num(r, "wall_s")?,
                cpu_s: num(r, "cpu_s")?,
                rss_mib: num(r, "peak_rss_mib")?,
                est_rss_mib: num(r, "est_rss_mib")?,
                floor_s: num(r, "floor_s")?,
                load_start: r["load_start"].clone(),
                load_end: r["load_end"].clone(),
                status: r["status"].clone(),
                date: r["date"].clone(),
                commit: r["commit"].clone(),
                machine: r["machine"].clone(),
            })
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// report

fn fmt_opt(v: Option<f64>, digits: usize) -> String {
    v.map_or("–".to_string(), |v| format!("{v:.digits$}"))
}

fn fmt_secs(v: Option<f64>) -> String {
    match v {
        None => "–".into(),
        Some(v) if v < 10.0 => format!("{v:.2}"),
        Some(v) if v < 100.0 => format!("{v:.1}"),
        Some(v) => format!("{v:.0}"),
    }
}

fn fmt_ratio(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}×")
    } else if v >= 10.0 {
        format!("{v:.1}×")
    } else {
        format!("{v:.2}×")
    }
}

fn report(o: &Opts) -> Result<()> {
    let csv = PathBuf::from(o.req("csv")?);
    let md_path = PathBuf::from(o.req("md")?);
    let png_path = PathBuf::from(o.req("png")?);
    let mut runs = parse_runs(&csv)?;
    runs.sort_by(|a, b| {
        (!a.in_series(), a.ny * a.nx, a.nints, a.order()).cmp(&(
            !b.in_series(),
            b.ny * b.nx,
            b.nints,
            b.order(),
        ))
    });
    let ram_mib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0);

    plot(&runs, ram_mib, &png_path)?;

    let mut md = String::new();
    let w = &mut md;
    writeln!(
        w,
        "# Benchmarks: sloper detector1 against the official calwebb_detector1"
    )?;
    writeln!(w)?;
    writeln!(
        w,
        "Generated by `benches/run.sh` ({}); every row carries its own date, commit, machine and \
         load average, because a re-run replaces only the rows it measures (e.g. `OFFICIAL=0` \
         re-measures sloper and keeps the official rows).",
        o.get("generated").unwrap_or("no generation note")
    )?;
    writeln!(w)?;
    let mut machines: Vec<&str> = runs.iter().map(|r| r.machine.as_str()).collect();
    machines.sort();
    machines.dedup();
    for m in &machines {
        writeln!(w, "- machine: {}", m.replace(';', ","))?;
    }
    let mut commits: Vec<(&str, &str)> = runs
        .iter()
        .map(|r| (r.commit.as_str(), r.date.as_str()))
        .collect();
    commits.sort();
    commits.dedup_by(|a, b| a.0 == b.0);
    for (c, d) in &commits {
        if c.starts_with("jwst") {
            writeln!(w, "- official pipeline: {c} (rows from {d})")?;
        } else {
            writeln!(w, "- sloper commit {c} (rows from {d})")?;
        }
    }
    writeln!(w)?;
    writeln!(
        w,
        "Exposures come from `sloper simulate` (NIRCam grism TSO, 4 outputs, RAPID: one frame per \
         group); sloper and the official pipeline read the same file and the same references. \
         Wall, CPU (user + sys) and peak RSS from `/usr/bin/time -v`; pixel-reads = NINTS × \
         NGROUPS × NY × NX; the page-cache floor is one warm `dd` of the raw file \
         (`bs=1M` to /dev/null). `load` is the 1-minute load average before → after the run \
         (2 cores: above 2, other processes were competing)."
    )?;
    writeln!(w)?;
    writeln!(
        w,
        "![wall time and peak RSS against NINTS]({})",
        png_name(&png_path)
    )?;
    writeln!(w)?;
    writeln!(
        w,
        "| exposure (ints × groups × rows × cols) | pipeline | jump mode | raw MB | wall s | CPU s | \
         peak RSS MiB | M pixel-reads/s | floor s | wall / floor | load | date | commit |"
    )?;
    writeln!(
        w,
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
    )?;
    for r in &runs {
        let (wall, cpu, rss, rate, ratio) = if r.ok() {
            (
                fmt_secs(r.wall_s),
                fmt_secs(r.cpu_s),
                fmt_opt(r.rss_mib, 0),
                fmt_opt(r.rate().map(|x| x / 1e6), 1),
                match (r.wall_s, r.floor_s) {
                    (Some(w), Some(f)) if f > 0.0 => format!("{w_f:.0}", w_f = w / f),
                    _ => "–".into(),
                },
            )
        } else {
            let rss = match (r.rss_mib, r.est_rss_mib) {
                (Some(m), _) => format!("{m:.0} at failure"),
                (None, Some(e)) => format!("~{e:.0} estimated"),
                _ => "–".into(),
            };
            (
                r.status.replace(';', ","),
                "–".into(),
                rss,
                "–".into(),
                "–".into(),
            )
        };
        writeln!(
            w,
            "| {} | {} | {} | {:.0} | {} | {} | {} | {} | {} | {} | {} → {} | {} | {} |",
            r.shape,
            r.label(),
            r.jump_mode,
            r.raw_bytes / 1e6,
            wall,
            cpu,
            rss,
            rate,
            fmt_opt(r.floor_s, 3),
            ratio,
            r.load_start,
            r.load_end,
            r.date,
            r.commit
        )?;
    }
    writeln!(w)?;

    // sloper against the official pipeline, where both ran.
    let find = |shape: &str, pipeline: &str, mode: &str| {
        runs.iter()
            .find(|r| r.shape == shape && r.pipeline == pipeline && r.mode == mode && r.ok())
    };
    let mut shapes: Vec<&Run> = runs.iter().filter(|r| r.order() == 0).collect();
    shapes.dedup_by(|a, b| a.shape == b.shape);
    let mut cmp = String::new();
    for s in &shapes {
        let Some(off) = find(&s.shape, "official", "default") else {
            continue;
        };
        for mode in ["exact", "online"] {
            if let Some(sl) = find(&s.shape, "sloper", mode) {
                let (Some(ow), Some(sw), Some(om), Some(sm)) =
                    (off.wall_s, sl.wall_s, off.rss_mib, sl.rss_mib)
                else {
                    continue;
                };
                writeln!(
                    cmp,
                    "| {} | sloper {mode} | {} | {} |",
                    s.shape,
                    fmt_ratio(ow / sw),
                    fmt_ratio(om / sm)
                )?;
            }
        }
    }
    if !cmp.is_empty() {
        writeln!(w, "## sloper against the official pipeline")?;
        writeln!(w)?;
        writeln!(
            w,
            "| exposure | sloper mode | faster (wall) | less peak memory |"
        )?;
        writeln!(w, "| --- | --- | --- | --- |")?;
        w.push_str(&cmp);
        writeln!(w)?;
        writeln!(
            w,
            "The rows of a pair may come from different runs and loads (see their dates and load columns); a row dated `earlier` was measured on another file of the same size."
        )?;
        writeln!(w)?;
    }

    targets(w, &runs)?;

    // Hand-written notes on the measurements (benches/notes.md), kept across re-runs.
    if let Some(n) = o.get("notes") {
        let np = PathBuf::from(n);
        if np.exists() {
            let text =
                std::fs::read_to_string(&np).with_context(|| format!("{}: read", np.display()))?;
            w.push_str(text.trim_end());
            w.push_str("\n\n");
        }
    }

    if let Some(k) = o.get("kernels") {
        let kp = PathBuf::from(k);
        if kp.exists() {
            kernel_section(w, &kp)?;
        }
    }
    write_atomic(&md_path, md.as_bytes())?;
    eprintln!("wrote {} and {}", md_path.display(), png_path.display());
    Ok(())
}

fn png_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The issue's targets, checked against whatever rows exist.
fn targets(w: &mut String, runs: &[Run]) -> Result<()> {
    let series = |mode: &str| -> Vec<&Run> {
        runs.iter()
            .filter(|r| r.in_series() && r.pipeline == "sloper" && r.mode == mode && r.ok())
            .collect()
    };
    let exact = series("exact");
    let online = series("online");
    if exact.is_empty() && online.is_empty() {
        return Ok(());
    }
    writeln!(w, "## Targets (issue 6), from the rows above")?;
    writeln!(w)?;
    writeln!(w, "| target | measured | met |")?;
    writeln!(w, "| --- | --- | --- |")?;
    let yes = |b: bool| if b { "yes" } else { "**no**" };
    let rates = |rs: &[&Run]| -> (f64, f64) {
        let v: Vec<f64> = rs.iter().filter_map(|r| r.rate()).collect();
        (
            v.iter().cloned().fold(f64::INFINITY, f64::min) / 1e6,
            v.iter().cloned().fold(0.0, f64::max) / 1e6,
        )
    };
    if !exact.is_empty() {
        let (lo, hi) = rates(&exact);
        writeln!(
            w,
            "| exact ≥ 150 M pixel-reads/s end to end | {lo:.1}–{hi:.1} M/s (10 × 256 × 2048 series) | {} |",
            yes(lo >= 150.0)
        )?;
    }
    if !online.is_empty() {
        let (lo, hi) = rates(&online);
        writeln!(
            w,
            "| online ≥ 300 M pixel-reads/s | {lo:.1}–{hi:.1} M/s | {} |",
            yes(lo >= 300.0)
        )?;
    }
    if exact.len() >= 2 {
        let first = exact.first().expect("two rows");
        let last = exact.last().expect("two rows");
        if let (Some(a), Some(b)) = (first.rss_mib, last.rss_mib) {
            writeln!(
                w,
                "| exact peak memory flat from {} to {} integrations | {a:.0} → {b:.0} MiB ({:+.0} %) | {} |",
                first.nints,
                last.nints,
                100.0 * (b / a - 1.0),
                yes(b <= a * 1.10)
            )?;
        }
        let per_int: Vec<(u64, f64)> = exact
            .iter()
            .filter_map(|r| r.wall_s.map(|s| (r.nints, s / r.nints as f64)))
            .collect();
        let lo = per_int.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
        let hi = per_int.iter().map(|p| p.1).fold(0.0, f64::max);
        let list: Vec<String> = per_int
            .iter()
            .map(|(n, s)| format!("{n}: {:.0} ms", s * 1e3))
            .collect();
        writeln!(
            w,
            "| exact wall time linear in NINTS within 10 % | per integration {} (max/min {:.2}) | {} |",
            list.join(", "),
            hi / lo,
            yes(hi / lo <= 1.10)
        )?;
    }
    {
        let shape = "70x10x256x2048";
        let off = runs
            .iter()
            .find(|r| r.shape == shape && r.pipeline == "official" && r.ok());
        let sl = exact.iter().find(|r| r.shape == shape);
        match (off, sl) {
            (Some(o), Some(s)) => {
                let (sp, mem) = (
                    o.wall_s.unwrap_or(f64::NAN) / s.wall_s.unwrap_or(f64::NAN),
                    o.rss_mib.unwrap_or(f64::NAN) / s.rss_mib.unwrap_or(f64::NAN),
                );
                writeln!(
                    w,
                    "| 70 ints: ≥ 100× faster, ≥ 200× less peak memory than official | {} faster, {} less memory | {} |",
                    fmt_ratio(sp),
                    fmt_ratio(mem),
                    yes(sp >= 100.0 && mem >= 200.0)
                )?;
            }
            _ => writeln!(
                w,
                "| 70 ints: ≥ 100× faster, ≥ 200× less peak memory than official | no 70-integration pair in the table; see the ratios above | – |"
            )?,
        }
    }
    let floors: Vec<f64> = exact
        .iter()
        .filter_map(|r| match (r.wall_s, r.floor_s) {
            (Some(wl), Some(f)) if f > 0.0 => Some(wl / f),
            _ => None,
        })
        .collect();
    if !floors.is_empty() {
        let lo = floors.iter().cloned().fold(f64::INFINITY, f64::min);
        let hi = floors.iter().cloned().fold(0.0, f64::max);
        writeln!(
            w,
            "| exact within 10× of the page-cache read floor (long-term goal) | {lo:.0}–{hi:.0}× the floor | {} |",
            yes(hi <= 10.0)
        )?;
    }
    writeln!(w)?;
    Ok(())
}

fn kernel_section(w: &mut String, path: &Path) -> Result<()> {
    let t = read_csv(
        path,
        &[
            "bench",
            "elements",
            "ns_per_read_median",
            "ns_per_read_min",
            "date",
            "commit",
            "load",
        ],
    )?;
    if t.rows.is_empty() {
        return Ok(());
    }
    let r0 = &t.rows[0];
    writeln!(
        w,
        "## Kernel micro-benchmarks (`cargo bench --bench kernels`)"
    )?;
    writeln!(w)?;
    writeln!(
        w,
        "One thread; a pixel-read is one group of one pixel of one integration. Median of \
         criterion's samples and the fastest sample (the least disturbed by other processes). \
         Run {} at commit {}, load average {} at the start. What each row times is described \
         at the top of `benches/kernels.rs`.",
        r0["date"], r0["commit"], r0["load"]
    )?;
    writeln!(w)?;
    writeln!(
        w,
        "| kernel | pixel-reads per iteration | ns / pixel-read (median) | ns / pixel-read (fastest) | M pixel-reads/s (median) |"
    )?;
    writeln!(w, "| --- | --- | --- | --- | --- |")?;
    for r in &t.rows {
        let med: f64 = r["ns_per_read_median"].parse().unwrap_or(f64::NAN);
        let min: f64 = r["ns_per_read_min"].parse().unwrap_or(f64::NAN);
        writeln!(
            w,
            "| {} | {} | {:.3} | {:.3} | {:.1} |",
            r["bench"],
            r["elements"],
            med,
            min,
            1e3 / med
        )?;
    }
    writeln!(w)?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// PNG

fn find_font() -> Result<Vec<u8>> {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Ok(p) = std::env::var("BENCH_FONT") {
        candidates.push(p.into());
    }
    for p in [
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
        "/usr/share/fonts/TTF/DejaVuSans.ttf",
        "/usr/share/fonts/dejavu/DejaVuSans.ttf",
        "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
        "/Library/Fonts/Arial.ttf",
    ] {
        candidates.push(p.into());
    }
    if let Ok(out) = std::process::Command::new("fc-match")
        .args(["-f", "%{file}", "sans"])
        .output()
    {
        let p = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if !p.is_empty() {
            candidates.push(p.into());
        }
    }
    for p in &candidates {
        if let Ok(b) = std::fs::read(p) {
            return Ok(b);
        }
    }
    bail!(
        "bench_plot: no TrueType font found (tried {}); set BENCH_FONT=/path/to/font.ttf",
        candidates
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    )
}

#[derive(Clone, Copy, PartialEq)]
enum Mark {
    /// Line with filled dots at the measurements.
    Line,
    /// Dashed line, no dots.
    Dashed,
    /// Hollow circles only.
    Hollow,
}

struct Series {
    label: String,
    color: RGBColor,
    points: Vec<(f64, f64)>,
    mark: Mark,
}

fn plot(runs: &[Run], ram_mib: Option<f64>, path: &Path) -> Result<()> {
    let font: &'static [u8] = Box::leak(find_font()?.into_boxed_slice());
    plotters::style::register_font("sans-serif", FontStyle::Normal, font)
        .map_err(|_| anyhow!("bench_plot: the font is not a usable TrueType font"))?;
    let e = |e: DrawingAreaErrorKind<_>| anyhow!("plot: {e}");

    let colors = [
        ("sloper", "exact", RGBColor(31, 119, 180)),
        ("sloper", "online", RGBColor(44, 160, 44)),
        ("official", "default", RGBColor(214, 39, 40)),
    ];
    let pick = |pipeline: &str, mode: &str, f: &dyn Fn(&Run) -> Option<f64>| -> Vec<(f64, f64)> {
        let mut v: Vec<(f64, f64)> = runs
            .iter()
            .filter(|r| r.in_series() && r.pipeline == pipeline && r.mode == mode && r.ok())
            .filter_map(|r| f(r).map(|y| (r.nints as f64, y)))
            .collect();
        v.sort_by(|a, b| a.0.total_cmp(&b.0));
        v
    };
    let label_of = |p: &str, m: &str| {
        if p == "official" {
            "official calwebb_detector1 (jwst 3.0.0)".to_string()
        } else {
            format!("sloper {m}")
        }
    };
    let mut wall = Vec::new();
    let mut rss = Vec::new();
    for (p, m, c) in colors {
        for (out, f) in [
            (
                &mut wall,
                &(|r: &Run| r.wall_s) as &dyn Fn(&Run) -> Option<f64>,
            ),
            (&mut rss, &|r: &Run| r.rss_mib),
        ] {
            out.push(Series {
                label: label_of(p, m),
                color: c,
                points: pick(p, m, f),
                mark: Mark::Line,
            });
        }
    }
    // Page-cache floor: one per exposure.
    let mut floor: BTreeMap<u64, f64> = BTreeMap::new();
    for r in runs.iter().filter(|r| r.in_series()) {
        if let Some(f) = r.floor_s {
            floor.entry(r.nints).or_insert(f);
        }
    }
    wall.push(Series {
        label: "page-cache read of the raw file (dd)".into(),
        color: RGBColor(110, 110, 110),
        points: floor.iter().map(|(&n, &f)| (n as f64, f)).collect(),
        mark: Mark::Dashed,
    });
    // Official runs not attempted: their estimated peak RSS.
    rss.push(Series {
        label: "official, not run: estimated peak RSS (25x the raw file)".into(),
        color: RGBColor(214, 39, 40),
        points: runs
            .iter()
            .filter(|r| r.in_series() && r.pipeline == "official" && !r.ok())
            .filter_map(|r| r.est_rss_mib.map(|e| (r.nints as f64, e)))
            .collect(),
        mark: Mark::Hollow,
    });
    if let Some(ram) = ram_mib {
        rss.push(Series {
            label: format!("RAM of this machine ({:.1} GiB)", ram / 1024.0),
            color: RGBColor(90, 90, 90),
            points: Vec::new(), // drawn across the panel below
            mark: Mark::Dashed,
        });
    }

    let mut xs: Vec<f64> = wall
        .iter()
        .chain(&rss)
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .collect();
    if xs.is_empty() {
        bail!("bench_plot: no 10 x 256 x 2048 row to plot");
    }
    xs.sort_by(f64::total_cmp);
    xs.dedup();
    let xr = log_range(&xs, 1.6);
    let wy: Vec<f64> = wall
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .collect();
    let mut my: Vec<f64> = rss
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .collect();
    my.extend(ram_mib);
    let (wyr, myr) = (log_range(&wy, 2.0), log_range(&my, 2.0));

    let mut buf = vec![0u8; (WIDTH * HEIGHT * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(e)?;
        let (top, rest) = root.split_vertically(46);
        let (body, bottom) = rest.split_vertically(HEIGHT - 46 - 70);
        top.draw(&Text::new(
            "sloper detector1 vs the official calwebb_detector1, 10 groups x 256 x 2048 per integration",
            (20, 12),
            ("sans-serif", 24).into_font().color(&BLACK),
        ))
        .map_err(e)?;
        let (left, right) = body.split_horizontally(WIDTH / 2);
        panel(
            &left,
            "Wall time",
            "wall time, s",
            xr.clone(),
            &xs,
            wyr,
            &wall,
            None,
        )?;
        panel(
            &right,
            "Peak resident memory",
            "peak RSS, MiB",
            xr,
            &xs,
            myr,
            &rss,
            ram_mib,
        )?;

        // One legend for both panels, below them.
        let mut items: Vec<&Series> = Vec::new();
        for s in wall.iter().chain(&rss) {
            let shown =
                !s.points.is_empty() || (s.mark == Mark::Dashed && s.label.starts_with("RAM"));
            if shown && !items.iter().any(|i| i.label == s.label) {
                items.push(s);
            }
        }
        let font = ("sans-serif", 17).into_font().color(&BLACK);
        let (mut x, mut y) = (30i32, 12i32);
        for s in items {
            let (tw, _) = bottom.estimate_text_size(&s.label, &font).map_err(e)?;
            let need = 34 + tw as i32 + 28;
            if x + need > WIDTH as i32 - 10 {
                x = 30;
                y += 28;
            }
            let c = s.color;
            let cy = y + 9;
            match s.mark {
                Mark::Line => {
                    bottom
                        .draw(&PathElement::new(
                            vec![(x, cy), (x + 26, cy)],
                            c.stroke_width(3),
                        ))
                        .map_err(e)?;
                    bottom
                        .draw(&Circle::new((x + 13, cy), 5, c.filled()))
                        .map_err(e)?;
                }
                Mark::Dashed => {
                    for k in 0..3 {
                        bottom
                            .draw(&PathElement::new(
                                vec![(x + 10 * k, cy), (x + 10 * k + 6, cy)],
                                c.stroke_width(2),
                            ))
                            .map_err(e)?;
                    }
                }
                Mark::Hollow => {
                    bottom
                        .draw(&Circle::new((x + 13, cy), 6, c.stroke_width(2)))
                        .map_err(e)?;
                }
            }
            bottom
                .draw(&Text::new(s.label.clone(), (x + 34, y), font.clone()))
                .map_err(e)?;
            x += need;
        }
        root.present().map_err(e)?;
    }
    let mut png_bytes = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut png_bytes, WIDTH, HEIGHT);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut wr = enc.write_header().context("PNG header")?;
        wr.write_image_data(&buf).context("PNG data")?;
    }
    write_atomic(path, &png_bytes)
}

/// A log axis range covering `v` with a margin factor either side.
fn log_range(v: &[f64], margin: f64) -> std::ops::Range<f64> {
    let lo = v
        .iter()
        .cloned()
        .filter(|x| *x > 0.0)
        .fold(f64::INFINITY, f64::min);
    let hi = v.iter().cloned().fold(0.0, f64::max);
    if !lo.is_finite() || hi <= 0.0 {
        return 1.0..10.0;
    }
    (lo / margin)..(hi * margin)
}

/// Tick values for a log axis: 1, 2, 5 × powers of ten inside the range.
fn log_ticks(r: &std::ops::Range<f64>) -> Vec<f64> {
    let mut t = Vec::new();
    let mut p = 10f64.powf(r.start.log10().floor());
    while p <= r.end {
        for m in [1.0, 2.0, 5.0] {
            let v = p * m;
            if v >= r.start && v <= r.end {
                t.push(v);
            }
        }
        p *= 10.0;
    }
    t
}

#[allow(clippy::too_many_arguments)]
fn panel(
    area: &DrawingArea<BitMapBackend<'_>, plotters::coord::Shift>,
    title: &str,
    ylabel: &str,
    xr: std::ops::Range<f64>,
    xticks: &[f64],
    yr: std::ops::Range<f64>,
    series: &[Series],
    ram_mib: Option<f64>,
) -> Result<()> {
    let err = |e: DrawingAreaErrorKind<_>| anyhow!("plot: {e}");
    let (x0, x1) = (xr.start, xr.end);
    let yticks = log_ticks(&yr);
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 22))
        .margin(14)
        .margin_right(28)
        .x_label_area_size(52)
        .y_label_area_size(78)
        .build_cartesian_2d(
            xr.log_scale().with_key_points(xticks.to_vec()),
            yr.log_scale().with_key_points(yticks),
        )
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("NINTS (integrations, log scale)")
        .y_desc(format!("{ylabel} (log scale)"))
        .label_style(("sans-serif", 16))
        .axis_desc_style(("sans-serif", 18))
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| {
            if *y >= 1.0 {
                format!("{y:.0}")
            } else {
                format!("{y}")
            }
        })
        .bold_line_style(RGBColor(225, 225, 225))
        .draw()
        .map_err(err)?;
    for s in series.iter().filter(|s| !s.points.is_empty()) {
        let c = s.color;
        match s.mark {
            Mark::Dashed => {
                chart
                    .draw_series(DashedLineSeries::new(
                        s.points.clone(),
                        6,
                        4,
                        c.stroke_width(2),
                    ))
                    .map_err(err)?;
            }
            Mark::Line => {
                chart
                    .draw_series(LineSeries::new(s.points.clone(), c.stroke_width(3)))
                    .map_err(err)?;
                chart
                    .draw_series(s.points.iter().map(|&p| Circle::new(p, 5, c.filled())))
                    .map_err(err)?;
            }
            Mark::Hollow => {
                chart
                    .draw_series(
                        s.points
                            .iter()
                            .map(|&p| Circle::new(p, 6, c.stroke_width(2))),
                    )
                    .map_err(err)?;
            }
        }
    }
    if let Some(ram) = ram_mib {
        let c = RGBColor(90, 90, 90);
        chart
            .draw_series(DashedLineSeries::new(
                vec![(x0, ram), (x1, ram)],
                8,
                6,
                c.stroke_width(1),
            ))
            .map_err(err)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// kernels

fn kernels(o: &Opts) -> Result<()> {
    let dir = PathBuf::from(o.req("criterion")?);
    let out = PathBuf::from(o.req("out")?);
    let mut rows = Vec::new();
    for group in sorted_dirs(&dir)? {
        for bench in sorted_dirs(&group)? {
            let new = bench.join("new");
            if !new.join("benchmark.json").exists() {
                continue;
            }
            let read = |name: &str| -> Result<serde_json::Value> {
                let p = new.join(name);
                let t = std::fs::read_to_string(&p)
                    .with_context(|| format!("{}: read", p.display()))?;
                serde_json::from_str(&t).with_context(|| format!("{}: not JSON", p.display()))
            };
            let meta = read("benchmark.json")?;
            let est = read("estimates.json")?;
            let sample = read("sample.json")?;
            let id = meta["full_id"]
                .as_str()
                .ok_or_else(|| anyhow!("{}: no full_id", new.display()))?
                .to_string();
            let Some(elements) = meta["throughput"]["Elements"].as_f64() else {
                continue;
            };
            let median = est["median"]["point_estimate"]
                .as_f64()
                .ok_or_else(|| anyhow!("{}: no median estimate", new.display()))?;
            let iters = sample["iters"].as_array();
            let times = sample["times"].as_array();
            let min = match (iters, times) {
                (Some(i), Some(t)) => i
                    .iter()
                    .zip(t)
                    .filter_map(|(i, t)| Some(t.as_f64()? / i.as_f64()?))
                    .fold(f64::INFINITY, f64::min),
                _ => f64::NAN,
            };
            rows.push(format!(
                "{id},{elements:.0},{:.4},{:.4},{},{},{}",
                median / elements,
                min / elements,
                o.get("date").unwrap_or("-"),
                o.get("commit").unwrap_or("-"),
                o.get("load").unwrap_or("-").replace(',', ";"),
            ));
        }
    }
    if rows.is_empty() {
        bail!(
            "{}: no criterion results (run `cargo bench --bench kernels` first)",
            dir.display()
        );
    }
    // The order the bench file defines them in reads better than alphabetical.
    let order = ["corrections/", "jump/", "ramp_fit/"];
    rows.sort_by_key(|r| order.iter().position(|p| r.starts_with(p)).unwrap_or(9));
    let mut text =
        String::from("bench,elements,ns_per_read_median,ns_per_read_min,date,commit,load\n");
    for r in rows {
        text.push_str(&r);
        text.push('\n');
    }
    write_atomic(&out, text.as_bytes())?;
    eprintln!("wrote {}", out.display());
    Ok(())
}

fn sorted_dirs(p: &Path) -> Result<Vec<PathBuf>> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(p)
        .with_context(|| format!("{}: read directory", p.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir() && p.file_name().is_some_and(|n| n != "report"))
        .collect();
    v.sort();
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "key,shape,nints,ngroups,ny,nx,pipeline,mode,jump_mode,raw_bytes,pixel_reads,wall_s,cpu_s,peak_rss_mib,est_rss_mib,floor_s,load_start,load_end,status,date,commit,machine";

    fn row(
        shape: &str,
        nints: u64,
        pipeline: &str,
        mode: &str,
        wall: &str,
        rss: &str,
        status: &str,
    ) -> String {
        let reads = nints * 10 * 256 * 2048;
        format!(
            "{pipeline}/{mode}/{shape},{shape},{nints},10,256,2048,{pipeline},{mode},Iterative,{},{reads},{wall},1.5,{rss},,0.05,1.0,1.2,{status},2026-01-01,abc,2 cores; X; 23.5 GiB RAM",
            reads * 2
        )
    }

    fn write_csv(dir: &Path, rows: &[String]) -> PathBuf {
        let p = dir.join("results.csv");
        let mut t = format!("{HEADER}\n");
        for r in rows {
            t.push_str(r);
            t.push('\n');
        }
        std::fs::write(&p, t).unwrap();
        p
    }

    #[test]
    fn report_table_ratios_and_targets() {
        let dir = tempfile::tempdir().unwrap();
        let csv = write_csv(
            dir.path(),
            &[
                row("10x10x256x2048", 10, "sloper", "exact", "2.0", "200", "ok"),
                row("10x10x256x2048", 10, "official", "default", "50.0", "3000", "ok"),
                row("100x10x256x2048", 100, "sloper", "exact", "20.0", "210", "ok"),
                // not run: estimate only
                "official/default/100x10x256x2048,100x10x256x2048,100,10,256,2048,official,default,SigmaClip,1048576000,524288000,,,,25000,0.5,-,-,not run: needs ~24.4 GB (> 16 GB),2026-01-01,jwst 3.0.0,m"
                    .to_string(),
            ],
        );
        let md = dir.path().join("R.md");
        let png = dir.path().join("r.png");
        let o = Opts(
            [
                ("csv", csv.to_str().unwrap()),
                ("md", md.to_str().unwrap()),
                ("png", png.to_str().unwrap()),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        );
        report(&o).unwrap();
        let text = std::fs::read_to_string(&md).unwrap();
        // 10 ints: 10*10*256*2048 / 2 s = 26.2 M pixel-reads/s; official 25x slower, 15x more memory.
        assert!(text.contains("| 10x10x256x2048 | sloper exact | Iterative | 105 | 2.00 | 1.50 | 200 | 26.2 | 0.050 | 40 |"), "{text}");
        assert!(
            text.contains("| 10x10x256x2048 | sloper exact | 25.0× | 15.0× |"),
            "{text}"
        );
        assert!(text.contains("~25000 estimated"), "{text}");
        // 10 -> 100 ints: 200 ms per integration both times, RSS +5 %.
        assert!(
            text.contains("per integration 10: 200 ms, 100: 200 ms (max/min 1.00) | yes"),
            "{text}"
        );
        assert!(text.contains("200 → 210 MiB (+5 %) | yes"), "{text}");
        assert!(
            text.contains("| exact ≥ 150 M pixel-reads/s end to end | 26.2–26.2 M/s"),
            "{text}"
        );
        let bytes = std::fs::read(&png).unwrap();
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
        // No temporary file left behind.
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(names.iter().all(|n| !n.ends_with(".tmp")), "{names:?}");
    }

    #[test]
    fn bad_csv_is_refused_with_the_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = write_csv(dir.path(), &["a,b".to_string()]);
        let e = parse_runs(&p).unwrap_err().to_string();
        assert!(e.contains("results.csv") && e.contains("line 2"), "{e}");
        let mut bad = row("10x10x256x2048", 10, "sloper", "exact", "2.0", "200", "ok");
        bad = bad.replace(",2.0,", ",fast,");
        let p = write_csv(dir.path(), &[bad]);
        let e = format!("{:#}", parse_runs(&p).unwrap_err());
        assert!(e.contains("wall_s") && e.contains("fast"), "{e}");
    }

    #[test]
    fn kernels_csv_from_criterion_json() {
        let dir = tempfile::tempdir().unwrap();
        let new = dir.path().join("jump/iterative_10x10/new");
        std::fs::create_dir_all(&new).unwrap();
        std::fs::write(
            new.join("benchmark.json"),
            r#"{"full_id":"jump/iterative_10x10","throughput":{"Elements":1000}}"#,
        )
        .unwrap();
        std::fs::write(
            new.join("estimates.json"),
            r#"{"median":{"point_estimate":50000.0}}"#,
        )
        .unwrap();
        // Per-iteration times 40000 and 30000 ns: the fastest is 30 ns per read.
        std::fs::write(
            new.join("sample.json"),
            r#"{"iters":[1.0,2.0],"times":[40000.0,60000.0]}"#,
        )
        .unwrap();
        let out = dir.path().join("k.csv");
        let o = Opts(
            [
                ("criterion", dir.path().to_str().unwrap()),
                ("out", out.to_str().unwrap()),
                ("load", "3.5"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        );
        kernels(&o).unwrap();
        let text = std::fs::read_to_string(&out).unwrap();
        assert_eq!(
            text.lines().nth(1).unwrap(),
            "jump/iterative_10x10,1000,50.0000,30.0000,-,-,3.5"
        );
    }
}
