//! `sloper demo`: the whole chain on built-in demo data. Simulates a small NIRCam time series
//! (by default TSO imaging: a star with a 1 % transit in a 64 x 2048 subarray read by 4
//! amplifiers; `--exp-type NRC_TSGRISM` for a grism time series) with its full reference set
//! (Detector1's and Stage 2's flat, photom and area), runs detector1 -> image2 -> tso3 in one
//! process (what `sloper run --pipeline detector1,image2,tso3` does), and prints every file it
//! wrote. Needs nothing but the binary.

use crate::simulate::{simulate, ExpType, SimulateArgs};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, clap::Args)]
pub struct DemoArgs {
    /// Where to write the demo exposure and the products.
    #[arg(long, default_value = "sloper-demo")]
    pub outdir: PathBuf,
    /// Integrations of the simulated exposure.
    #[arg(long, default_value_t = 40)]
    pub nints: usize,
    /// Groups per integration.
    #[arg(long, default_value_t = 8)]
    pub ngroups: usize,
    /// NRC_TSIMAGE: aperture photometry (`_phot.ecsv`, the official tso3 product);
    /// NRC_TSGRISM: sloper's box-extraction white light (`_whtlt.ecsv`, a quick look).
    #[arg(long, value_enum, ignore_case = true, default_value = "NRC_TSIMAGE")]
    pub exp_type: ExpType,
}

fn size(p: &Path) -> u64 {
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}

pub fn run(a: &DemoArgs) -> anyhow::Result<()> {
    let raw_dir = a.outdir.join("raw");
    let out_dir = a.outdir.join("products");
    let what = match a.exp_type {
        ExpType::NrcTsgrism => "grism time series",
        _ => "TSO imaging exposure (a star with a 1 % transit)",
    };
    println!(
        "sloper demo: simulating a {} x {} x 64 x 2048 NIRCam {what} in {}",
        a.nints,
        a.ngroups,
        raw_dir.display()
    );
    let sim = SimulateArgs::from_words([
        "--nints".to_string(),
        a.nints.to_string(),
        "--ngroups".into(),
        a.ngroups.to_string(),
        "--ny".into(),
        "64".into(),
        "--nx".into(),
        "2048".into(),
        "--exp-type".into(),
        a.exp_type.keyword().into(),
        "--seed".into(),
        "2026".into(),
        "--outdir".into(),
        raw_dir.display().to_string(),
    ])
    .map_err(|e| anyhow::anyhow!("demo: {e}"))?;
    let report = simulate(&sim)?;
    for (p, size) in report.uncal.iter().chain(&report.refs) {
        println!("  wrote {:>12} bytes  {}", size, p.display());
    }
    let mut words: Vec<String> = report
        .uncal
        .iter()
        .map(|(p, _)| p.display().to_string())
        .collect();
    words.extend([
        "--pipeline".to_string(),
        "detector1,image2,tso3".into(),
        "--refs".into(),
        raw_dir.display().to_string(),
        format!("--output_dir={}", out_dir.display()),
        "--no-progress".into(),
    ]);
    println!(
        "sloper demo: detector1 -> image2 -> tso3 in one process, as\n  sloper run {}",
        words.join(" ")
    );
    let rep = crate::cli::run::execute(&words)?;
    for p in &rep.outputs {
        println!("  wrote {:>12} bytes  {}", size(p), p.display());
    }
    for r in &rep.detector1 {
        println!(
            "  detector1: {:.2} s, {:.1} M pixel-reads/s, jump mode {:?}, {} tile(s) of {} x {}",
            r.wall_seconds,
            r.throughput() / 1e6,
            r.jump_mode,
            r.tiles,
            r.tile_rows,
            r.tile_cols
        );
    }
    println!(
        "  chain: {:.2} s (detector1 {:.2} s, image2 + tso3 {:.2} s); {} outlier(s) flagged",
        rep.total_seconds,
        rep.detector1_seconds,
        rep.consumer_seconds(),
        rep.flagged()
    );
    for m in &rep.members {
        if let Some((x, y)) = m.centre {
            println!("  tso_photometry: aperture centre x, y = {x:.2}, {y:.2}");
        }
    }
    let first = &report.uncal[0].0;
    println!(
        "sloper demo: done. The light curve is {}; inspect a product with: sloper info {}",
        rep.outputs
            .iter()
            .find(|p| p.extension().is_some_and(|e| e == "png"))
            .map_or("not plotted".to_string(), |p| p.display().to_string()),
        crate::pipeline::naming::product_path(&out_dir, first, "calints").display()
    );
    Ok(())
}
