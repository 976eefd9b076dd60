//! `sloper detector1 X_uncal.fits [strun parameters]`: the official command-line syntax.

use crate::config::strun_args::parse_run_args;
use crate::config::DETECTOR1;
use crate::pipeline::detector1::{self, settings::EXTRA_OPTIONS, Detector1Settings};

/// Arguments are parsed by [`parse_run_args`], not clap: the official syntax is
/// `--steps.<step>.<param>=VALUE`, which a fixed clap schema cannot express.
#[derive(Debug, Clone, clap::Args)]
#[command(disable_help_flag = true)]
pub struct Detector1Args {
    /// INPUT_uncal.fits followed by strun-style parameters (see `sloper detector1 --help`).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
    pub args: Vec<String>,
}

/// Help text listing every parameter with its official default.
pub fn help() -> String {
    let mut s = String::from(
        "Run calwebb_detector1 (jwst 3.0.0 / stcal 1.20.0 parity) on one raw exposure.\n\n\
         usage: sloper detector1 X_uncal.fits [--output_dir=DIR] [--save_calibrated_ramp=true]\n\
         \x20                        [--steps.<step>.override_<reftype>=PATH|N/A] [--steps.<step>.skip=true]\n\
         \x20                        [--steps.<step>.<param>=VALUE] [--refs DIR] [--max-memory SIZE]\n\
         \x20                        [--threads N] [--mode exact|online] [--no-progress] [--quiet]\n\
         \x20                        [--resume]\n\n\
         Writes DIR/X_rate.fits, DIR/X_rateints.fits (and DIR/X_ramp.fits).\n\
         --refs DIR      take every reference not given by override from DIR/ref_<reftype>.fits\n\
         --max-memory    working-set budget (default 256MiB); peak memory does not grow with NINTS\n\
         --resume        if stopped (signal, crash), keep partial products and a checkpoint in DIR;\n\
         \x20               the same command with --resume continues there, with identical products\n\n\
         Pipeline parameters:\n",
    );
    for p in DETECTOR1.params {
        s += &format!("  --{}={}  {}\n", p.name, p.default, p.help);
    }
    s += "  --output_dir=DIR  directory for the products (default: the current directory)\n\nSteps and parameters (official defaults):\n";
    for st in DETECTOR1.steps {
        let note = if st.miri_only {
            " (MIRI only: no effect on near-IR data)"
        } else if !st.implemented {
            " (not implemented: skipped)"
        } else {
            ""
        };
        s += &format!("  {}{}\n", st.alias, note);
        for rt in st.reference_types {
            s += &format!("    --steps.{}.override_{}=PATH\n", st.alias, rt);
        }
        for p in st.params {
            s += &format!("    --steps.{}.{}={}\n", st.alias, p.name, p.default);
        }
    }
    s
}

pub fn run(a: &Detector1Args) -> anyhow::Result<()> {
    if a.args.is_empty() || a.args.iter().any(|x| x == "--help" || x == "-h") {
        print!("{}", help());
        return Ok(());
    }
    // Usage errors keep strun's exit status 2; logging and --save-parameters start as in strun.
    let cfg = parse_run_args(DETECTOR1, &a.args, EXTRA_OPTIONS)?;
    let settings = Detector1Settings::from_config(&cfg).map_err(anyhow::Error::msg)?;
    cfg.start_session().map_err(anyhow::Error::msg)?;
    match cfg.extra("mode").unwrap_or("exact") {
        "exact" => {}
        "online" => {
            // Group-major driver with causal jump detection (not bit-identical where jumps
            // are involved; see src/pipeline/online).
            let r = crate::pipeline::online::run_online(&settings)?;
            for p in &r.outputs {
                println!("{}", p.display());
            }
            return Ok(());
        }
        other => anyhow::bail!("--mode={other}: expected exact or online"),
    }
    let report = detector1::run(&settings)?;
    if !settings.quiet {
        for p in &report.outputs {
            println!("{}", p.display());
        }
        let [ni, ng, ny, nx] = report.shape;
        let resumed = if report.resumed_tiles > 0 {
            format!(" (resumed: {} done before)", report.resumed_tiles)
        } else {
            String::new()
        };
        eprintln!(
            "detector1: {ni} ints x {ng} groups x {ny} x {nx} in {:.3} s ({:.1} M pixel-reads/s), {} tile(s){resumed} of {} x {}, jump mode {:?}",
            report.wall_seconds,
            report.throughput() / 1e6,
            report.tiles,
            report.tile_rows,
            report.tile_cols,
            report.jump_mode
        );
        eprint!("{}", report.times.table());
    }
    Ok(())
}
