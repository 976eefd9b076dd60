//! `sloper demo`: the main job on built-in demo data. Simulates a small NIRCam grism TSO
//! exposure (SUBGRISM64, 4 amplifiers) with its full reference set, runs detector1 on it, then
//! tso3 (outlier detection, the white-light quick look and its PNG), and prints what it wrote.
//! Needs nothing but the binary.

use crate::pipeline::detector1::{self, settings::EXTRA_OPTIONS, Detector1Settings};
use crate::simulate::{simulate, SimulateArgs};
use std::path::PathBuf;

#[derive(Debug, Clone, clap::Args)]
pub struct DemoArgs {
    /// Where to write the demo exposure and the products.
    #[arg(long, default_value = "sloper-demo")]
    pub outdir: PathBuf,
    /// Integrations of the simulated exposure.
    #[arg(long, default_value_t = 20)]
    pub nints: usize,
    /// Groups per integration.
    #[arg(long, default_value_t = 8)]
    pub ngroups: usize,
}

pub fn run(a: &DemoArgs) -> anyhow::Result<()> {
    let raw_dir = a.outdir.join("raw");
    let out_dir = a.outdir.join("products");
    println!(
        "sloper demo: simulating a {} x {} x 64 x 2048 NIRCam grism TSO exposure in {}",
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
    for (uncal, _) in &report.uncal {
        println!("sloper demo: detector1 on {}", uncal.display());
        let args = vec![
            uncal.display().to_string(),
            "--refs".to_string(),
            raw_dir.display().to_string(),
            format!("--output_dir={}", out_dir.display()),
            "--no-progress".into(),
        ];
        let cfg = crate::config::parse_strun_args(crate::config::DETECTOR1, &args, EXTRA_OPTIONS)
            .map_err(|e| anyhow::anyhow!(e))?;
        let settings = Detector1Settings::from_config(&cfg).map_err(|e| anyhow::anyhow!(e))?;
        let r = detector1::run(&settings)?;
        for p in &r.outputs {
            let size = std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
            println!("  wrote {:>12} bytes  {}", size, p.display());
        }
        println!(
            "  {:.2} s, {:.1} M pixel-reads/s, jump mode {:?}, {} tile(s) of {} x {}",
            r.wall_seconds,
            r.throughput() / 1e6,
            r.jump_mode,
            r.tiles,
            r.tile_rows,
            r.tile_cols
        );
        print!("{}", r.times.table());
    }
    // Stage 3 on the rateints: outlier detection over a rolling window, and for this grism
    // exposure the white-light quick-look curve with its PNG (image2 needs flat/photom
    // references, which the simulator does not make).
    for (uncal, _) in &report.uncal {
        let rateints = crate::pipeline::naming::product_path(&out_dir, uncal, "rateints");
        println!("sloper demo: tso3 on {}", rateints.display());
        crate::cli::tso3::run(&crate::cli::tso3::Args {
            args: vec![
                rateints.display().to_string(),
                "--refs".into(),
                raw_dir.display().to_string(),
                format!("--output_dir={}", out_dir.display()),
            ],
        })?;
    }
    println!(
        "sloper demo: done. Inspect a product with: sloper info {}",
        out_dir.display()
    );
    Ok(())
}
