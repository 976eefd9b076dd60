//! The `sloper` command: parses arguments and calls the library. Nothing else lives here.

use clap::{Parser, Subcommand};
use sloper::{cli, simulate};

/// Streaming, bounded-memory JWST Stage 1: raw up-the-ramp frames to count-rate images.
#[derive(Parser, Debug)]
#[command(name = "sloper", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Simulate a small TSO exposure with its references and calibrate it (the built-in demo).
    Demo(cli::demo::DemoArgs),
    /// Write a synthetic raw exposure and its reference files in the official layouts.
    Simulate(Box<simulate::SimulateArgs>),
    /// Summarise an exposure, product or reference file.
    Info(cli::info::InfoArgs),
    /// calwebb_detector1: raw ramps to _rate/_rateints (strun syntax; `sloper detector1 --help`).
    Detector1(cli::detector1::Detector1Args),
    /// calwebb_image2 subset (flat_field, photom) on _rate/_rateints products.
    Image2(cli::image2::Args),
    /// calwebb_tso3 subset (outlier_detection, tso_photometry, white light) on _calints products.
    Tso3(cli::tso3::Args),
    /// Run a chain of pipelines in one process: `sloper run X_uncal.fits --pipeline detector1,image2,tso3`.
    Run(cli::run::Args),
    /// Run a pipeline or step by its official name, as the official `strun` does.
    Strun(cli::strun::Args),
    /// Feed a raw exposure through the live source at the detector's cadence and report latency.
    Replay(cli::replay::Args),
}

fn main() {
    let cli = Cli::parse();
    sloper::allocator::install();
    sloper::interrupt::install().unwrap_or_else(|e| eprintln!("sloper: warning: {e}"));
    let result = match &cli.command {
        Command::Demo(a) => cli::demo::run(a),
        Command::Simulate(a) => simulate::run(a),
        Command::Info(a) => cli::info::run(a),
        Command::Detector1(a) => cli::detector1::run(a),
        Command::Image2(a) => cli::image2::run(a),
        Command::Tso3(a) => cli::tso3::run(a),
        Command::Run(a) => cli::run::run(a),
        Command::Strun(a) => cli::strun::run(a),
        Command::Replay(a) => cli::replay::run(a),
    };
    if let Err(e) = result {
        eprintln!("sloper: error: {e:#}");
        std::process::exit(exit_status(&e));
    }
}

/// strun's exit statuses: 1 for an error, or the status an error carries
/// (`sloper::config::ExitStatus`: 2 usage, 64 no science data).
fn exit_status(e: &anyhow::Error) -> i32 {
    sloper::config::exit_code_of(e)
}
