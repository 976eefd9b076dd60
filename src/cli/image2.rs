//! `sloper image2 X_rate.fits|X_rateints.fits [strun parameters]`: flat_field + photom.

use crate::config::parse_strun_args;
use crate::consumers::image2::{run_file, Image2Settings};
use crate::consumers::specs::{EXTRA_OPTIONS, IMAGE2};

/// Arguments of `sloper image2` (strun-style; parsed by the module, not clap).
#[derive(Debug, Clone, clap::Args)]
#[command(disable_help_flag = true)]
pub struct Args {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
    pub args: Vec<String>,
}

/// Help text with every step and parameter (official defaults).
pub fn help() -> String {
    let mut s = String::from(
        "calwebb_image2 subset (flat_field, photom; jwst 3.0.0 parity) on a rate product.\n\n\
         usage: sloper image2 X_rate.fits|X_rateints.fits [--output_dir=DIR]\n\
         \x20        [--steps.flat_field.override_flat=PATH] [--steps.photom.override_photom=PATH]\n\
         \x20        [--steps.photom.override_area=PATH|N/A] [--steps.<step>.<param>=VALUE] [--refs DIR] [--quiet]\n\n\
         Writes DIR/X_cal.fits (from _rate) or DIR/X_calints.fits (from _rateints), one integration\n\
         at a time. --refs DIR takes references not given by override from DIR/ref_<reftype>.fits.\n\
         assign_wcs is accepted but does not run (sloper computes sky positions from the SIAF\n\
         keywords); bkg_subtract and resample are not implemented (the official pipeline does not\n\
         run them for TSO data either).\n\nSteps and parameters (official defaults):\n",
    );
    s += &super::tso3::steps_help(IMAGE2);
    s
}

pub fn run(a: &Args) -> anyhow::Result<()> {
    if a.args.is_empty() || a.args.iter().any(|x| x == "--help" || x == "-h") {
        print!("{}", help());
        return Ok(());
    }
    let cfg = parse_strun_args(IMAGE2, &a.args, EXTRA_OPTIONS).map_err(anyhow::Error::msg)?;
    let s = Image2Settings::from_config(&cfg).map_err(anyhow::Error::msg)?;
    let t = std::time::Instant::now();
    let out = run_file(&s, &cfg.input)?;
    if !s.quiet {
        println!("{}", out.display());
        eprintln!(
            "image2: {} in {:.3} s",
            cfg.input.display(),
            t.elapsed().as_secs_f64()
        );
    }
    Ok(())
}
