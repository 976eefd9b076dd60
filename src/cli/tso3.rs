//! `sloper tso3 X_calints.fits [more members | X_asn.json] [strun parameters]`.

use crate::config::parse_strun_args;
use crate::config::registry::PipelineSpec;
use crate::consumers::specs::{EXTRA_OPTIONS, TSO3};
use crate::consumers::tso3::{read_association, run_members, Members, Tso3Settings};
use std::path::PathBuf;

/// Arguments of `sloper tso3` (strun-style; parsed by the module, not clap).
#[derive(Debug, Clone, clap::Args)]
#[command(disable_help_flag = true)]
pub struct Args {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
    pub args: Vec<String>,
}

/// `--steps.<step>.*` lines of a pipeline's help.
pub fn steps_help(spec: PipelineSpec) -> String {
    let mut s = String::new();
    for st in spec.steps {
        let note = if st.implemented {
            ""
        } else {
            " (not implemented: skipped)"
        };
        s += &format!("  {}{}\n", st.alias, note);
        for rt in st.reference_types {
            s += &format!("    --steps.{}.override_{}=PATH\n", st.alias, rt);
        }
        for p in st.params {
            let help = if p.help.is_empty() {
                String::new()
            } else {
                format!("  {}", p.help)
            };
            s += &format!(
                "    --steps.{}.{}={}{}\n",
                st.alias, p.name, p.default, help
            );
        }
    }
    s
}

pub fn help() -> String {
    let mut s = String::from(
        "calwebb_tso3 subset (outlier_detection, tso_photometry; sloper white light) on _calints.\n\n\
         usage: sloper tso3 X_calints.fits [Y_calints.fits ... | X_tso3_asn.json] [--output_dir=DIR]\n\
         \x20        [--steps.outlier_detection.rolling_window_width=25] [--steps.tso_photometry.override_gain=PATH]\n\
         \x20        [--steps.<step>.<param>=VALUE] [--refs DIR] [--no-plot] [--quiet]\n\n\
         Several members (the segments of one exposure, or an association's members) are processed in\n\
         order as calwebb_tso3 does, and their catalogues stacked into one time series:\n\
         DIR/<member>_crfints.fits each, DIR/<product>_phot.ecsv (imaging TSO) or _whtlt.ecsv\n\
         (spectroscopic TSO: sloper's box-extraction quick look, not the official product), and a\n\
         PNG light curve next to it.\n\nSteps and parameters (official defaults):\n",
    );
    s += &steps_help(TSO3);
    s
}

/// Split the positional inputs from the options (`--name VALUE` takes the next argument unless
/// the option is a flag).
pub(crate) fn split_inputs(args: &[String], flags: &[&str]) -> (Vec<String>, Vec<String>) {
    let (mut inputs, mut rest) = (Vec::new(), Vec::new());
    let mut takes_next = false;
    for a in args {
        if let Some(body) = a.strip_prefix("--") {
            takes_next = !body.contains('=') && !flags.contains(&body);
            rest.push(a.clone());
        } else if takes_next {
            takes_next = false;
            rest.push(a.clone());
        } else {
            inputs.push(a.clone());
        }
    }
    (inputs, rest)
}

pub fn run(a: &Args) -> anyhow::Result<()> {
    if a.args.is_empty() || a.args.iter().any(|x| x == "--help" || x == "-h") {
        print!("{}", help());
        return Ok(());
    }
    let (inputs, mut rest) = split_inputs(&a.args, &["quiet", "no-plot"]);
    let Some(first) = inputs.first() else {
        anyhow::bail!("tso3: give at least one _calints.fits or an association (_asn.json)");
    };
    rest.insert(0, first.clone());
    let cfg = parse_strun_args(TSO3, &rest, EXTRA_OPTIONS).map_err(anyhow::Error::msg)?;
    let s = Tso3Settings::from_config(&cfg).map_err(anyhow::Error::msg)?;
    let members = if inputs.len() == 1 && first.ends_with(".json") {
        read_association(std::path::Path::new(first))?
    } else {
        if inputs.iter().any(|i| i.ends_with(".json")) {
            anyhow::bail!("tso3: give either one association or member files, not both");
        }
        let files: Vec<PathBuf> = inputs.iter().map(PathBuf::from).collect();
        Members {
            product: crate::pipeline::naming::base_name(&files[0]),
            files,
            asn_id: None,
        }
    };
    let t = std::time::Instant::now();
    let rep = run_members(&s, &members)?;
    if !s.quiet {
        for m in &rep.members {
            if let Some(c) = &m.crfints {
                println!("{}", c.display());
            }
        }
        for p in rep.catalog.iter().chain(&rep.plot) {
            println!("{}", p.display());
        }
        let flagged: usize = rep.members.iter().map(|m| m.flagged).sum();
        eprintln!(
            "tso3: {} member(s), {flagged} outlier(s) flagged, in {:.3} s",
            rep.members.len(),
            t.elapsed().as_secs_f64()
        );
        for m in &rep.members {
            if let Some((x, y)) = m.centre {
                eprintln!("tso3: aperture centre x,y = {x:.2},{y:.2}");
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_are_split_from_options() {
        let a: Vec<String> = "a.fits --output_dir o b.fits --quiet c.fits --x=1"
            .split_whitespace()
            .map(String::from)
            .collect();
        let (i, r) = split_inputs(&a, &["quiet"]);
        assert_eq!(i, vec!["a.fits", "b.fits", "c.fits"]);
        assert_eq!(r, vec!["--output_dir", "o", "--quiet", "--x=1"]);
    }
}
