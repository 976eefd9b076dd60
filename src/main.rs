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
    /// Write a synthetic raw exposure and its reference files in the official layouts.
    Simulate(simulate::SimulateArgs),
    /// Summarise an exposure, product or reference file.
    Info(cli::info::InfoArgs),
    /// calwebb_detector1: raw ramps to _rate/_rateints (strun syntax; `sloper detector1 --help`).
    Detector1(cli::detector1::Detector1Args),
}

fn main() {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Simulate(a) => simulate::run(a),
        Command::Info(a) => cli::info::run(a),
        Command::Detector1(a) => cli::detector1::run(a),
    };
    if let Err(e) = result {
        eprintln!("sloper: error: {e:#}");
        std::process::exit(1);
    }
}
