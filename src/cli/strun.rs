//! `sloper strun NAME|PARAMS_FILE INPUT [options]`: the official `strun` command line, unchanged.
//!
//! The first argument is resolved as strun resolves it: an existing file is a parameter file
//! (ASDF or `.cfg`) whose `class` names the pipeline; otherwise it is a pipeline alias
//! (`calwebb_detector1`, `jwst::calwebb_image2`) or class name (`Detector1Pipeline`,
//! `jwst.pipeline.calwebb_tso3.Tso3Pipeline`). The rest of the line goes to sloper's pipeline
//! subcommand, which parses it with the same syntax. Steps (`jump`, `jwst.jump.JumpStep`) are
//! recognised but run only inside their pipeline, and the error says how.
//!
//! Exit statuses are strun's (see `config::exit`): 0, 1 for errors, 2 for usage errors.

use crate::config::aliases::{self, PipelineKind, Target};
use crate::config::exit::ExitStatus;
use crate::config::{paramfile, parse_run_args, DETECTOR1};
use std::path::Path;

/// Arguments of `sloper strun` (strun-style; parsed by the module, not clap).
#[derive(Debug, Clone, clap::Args)]
#[command(disable_help_flag = true)]
pub struct Args {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
    pub args: Vec<String>,
}

pub fn help() -> String {
    "Run a pipeline by its official name, with the official strun command line.\n\n\
     usage: sloper strun NAME|PARAMS.asdf|PARAMS.cfg INPUT [--param=VALUE] [--steps.<step>.<param>=VALUE]\n\
     \x20                   [--save-parameters FILE.asdf] [--log-level LEVEL] [--log-file FILE]\n\
     \x20                   [--log-stream stderr|stdout|null] [--verbose]\n\n\
     NAME: calwebb_detector1 | Detector1Pipeline   (sloper detector1)\n\
     \x20     calwebb_image2    | Image2Pipeline      (sloper image2)\n\
     \x20     calwebb_tso3      | Tso3Pipeline        (sloper tso3)\n\
     \x20     (also jwst::<alias> and the fully qualified jwst class names)\n\n\
     A parameter file's `class` chooses the pipeline; values on the command line override it.\n\
     `sloper strun NAME --help` lists the parameters of a pipeline.\n"
        .to_string()
}

/// Which pipeline the first argument designates, and the arguments to hand it.
pub fn resolve(first: &str, rest: &[String]) -> Result<(PipelineKind, Vec<String>), ExitStatus> {
    let fail = |m: String| ExitStatus::new(crate::config::exit::ERROR, m);
    if Path::new(first).is_file() {
        let tree = paramfile::load(Path::new(first)).map_err(fail)?;
        let class = tree.class.as_deref().ok_or_else(|| {
            fail(format!(
                "parameter file {first}: no `class`, so the pipeline is unknown: give `sloper strun NAME INPUT --config {first}`"
            ))
        })?;
        let kind = pipeline_of(class).map_err(|e| fail(format!("parameter file {first}: {e}")))?;
        let mut args = vec!["--config".to_string(), first.to_string()];
        args.extend_from_slice(rest);
        return Ok((kind, args));
    }
    let kind = pipeline_of(first).map_err(fail)?;
    Ok((kind, rest.to_vec()))
}

fn pipeline_of(name: &str) -> Result<PipelineKind, String> {
    match aliases::resolve(name) {
        Some(Target::Pipeline(kind)) => Ok(kind),
        Some(Target::Step { alias, pipeline }) => Err(format!(
            "{name} is the {alias} step of {}: sloper runs it inside its pipeline, e.g. \
             `sloper strun {} INPUT --steps.{alias}.<param>=VALUE` (and --steps.<other>.skip=true)",
            pipeline.alias(),
            pipeline.alias()
        )),
        None => Err(format!(
            "{name:?} is not a path to a config file or a pipeline sloper knows \
             (calwebb_detector1, calwebb_image2, calwebb_tso3 or their class names)"
        )),
    }
}

pub fn run(a: &Args) -> anyhow::Result<()> {
    let Some((first, rest)) = a.args.split_first() else {
        print!("{}", help());
        return Ok(());
    };
    if first == "--help" || first == "-h" {
        print!("{}", help());
        return Ok(());
    }
    let (kind, args) = resolve(first, rest)?;
    let asks_help = args.iter().any(|x| x == "--help" || x == "-h");
    match kind {
        PipelineKind::Detector1 => {
            if !asks_help {
                // Validate first so that usage errors exit with strun's status 2; the
                // subcommand parses again (cheap) and runs.
                parse_run_args(
                    DETECTOR1,
                    &args,
                    crate::pipeline::detector1::settings::EXTRA_OPTIONS,
                )?;
            }
            crate::cli::detector1::run(&crate::cli::detector1::Detector1Args { args })
        }
        PipelineKind::Image2 => crate::cli::image2::run(&crate::cli::image2::Args { args }),
        PipelineKind::Tso3 => crate::cli::tso3::run(&crate::cli::tso3::Args { args }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_files_choose_the_pipeline() {
        let rest = vec!["x_uncal.fits".to_string()];
        let (k, args) = resolve("calwebb_detector1", &rest).unwrap();
        assert_eq!(k, PipelineKind::Detector1);
        assert_eq!(args, rest);
        assert_eq!(
            resolve("Tso3Pipeline", &rest).unwrap().0,
            PipelineKind::Tso3
        );
        let e = resolve("jump", &rest).unwrap_err();
        assert!(e.message.contains("--steps.jump."), "{e}");
        assert_eq!(e.code, 1);
        assert!(resolve("calwebb_spec2", &rest).is_err());
    }
}
