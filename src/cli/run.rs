//! `sloper run X_uncal.fits [more segments] --pipeline detector1,image2,tso3 [options]`: the
//! whole chain in one process.
//!
//! Options use the strun syntax of each pipeline; `--steps.<step>.<param>` goes to the first
//! pipeline of the chain that has that step (detector1, then image2, then tso3 — so
//! `--steps.photom.*` is image2's photom), pipeline-level options (`--output_dir`,
//! `--save_calibrated_ramp`) to every pipeline that knows them. Detector1 writes `_rate` and
//! `_rateints`; image2 turns the `_rate` into `_cal`, and the `_rateints` integrations flow
//! plane by plane through image2 (`_calints`) into tso3 (`_crfints`, `_phot.ecsv` + PNG, or
//! `_whtlt.ecsv` for spectroscopic TSOs) without being read back from an intermediate cube.

use crate::config::registry::PipelineSpec;
use crate::config::strun_args::ExtraOption;
use crate::config::{parse_strun_args, RunConfig, DETECTOR1};
use crate::consumers::chain::{run_chain, ChainPlan};
use crate::consumers::image2::{run_file, Image2Settings};
use crate::consumers::source::{FilePlaneSource, RateProduct};
use crate::consumers::specs::{IMAGE2, TSO3};
use crate::consumers::tso3::{crfints_path, write_catalog, MemberReport, Tso3Settings};
use crate::pipeline::detector1::{self, Detector1Settings};
use crate::pipeline::naming::{base_name, product_path};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Arguments of `sloper run` (strun-style; parsed by the module, not clap).
#[derive(Debug, Clone, clap::Args)]
#[command(disable_help_flag = true)]
pub struct Args {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
    pub args: Vec<String>,
}

const FLAGS: &[&str] = &["quiet", "no-plot", "no-progress"];

pub fn help() -> String {
    "Run a chain of pipelines in one process.\n\n\
     usage: sloper run X_uncal.fits [Y_uncal.fits ...] --pipeline detector1,image2,tso3 [--refs DIR]\n\
     \x20         [--output_dir=DIR] [--steps.<step>.<param>=VALUE ...] [--max-memory SIZE] [--threads N]\n\
     \x20         [--no-plot] [--quiet]\n\n\
     --pipeline  detector1, image2, tso3 in that order, any of them (default: all three); without\n\
     \x20           detector1 the inputs are _rateints (image2) or _calints (tso3) files.\n\
     Several inputs are the segments of one exposure: each runs through the chain, and tso3\n\
     stacks their catalogues into one time series as calwebb_tso3 does.\n\
     Step options go to the first pipeline with that step (see `sloper detector1 --help`,\n\
     `sloper image2 --help`, `sloper tso3 --help`).\n"
        .to_string()
}

/// The options of `args` that belong to `spec` (its steps' and its own parameters).
fn args_for(
    spec: PipelineSpec,
    before: &[PipelineSpec],
    input: &str,
    opts: &[String],
    extras: &[ExtraOption],
) -> Vec<String> {
    let mut out = vec![input.to_string()];
    let mut i = 0;
    while i < opts.len() {
        let a = &opts[i];
        let body = a.trim_start_matches("--");
        let (name, has_value) = match body.split_once('=') {
            Some((n, _)) => (n, true),
            None => (body, false),
        };
        let next_is_value = !has_value && !FLAGS.contains(&name) && i + 1 < opts.len();
        let take = |out: &mut Vec<String>| {
            out.push(a.clone());
            if next_is_value {
                out.push(opts[i + 1].clone());
            }
        };
        let mine = if let Some(rest) = name.strip_prefix("steps.") {
            let step = rest.split('.').next().unwrap_or("");
            spec.step(step).is_some() && !before.iter().any(|b| b.step(step).is_some())
        } else if name == "pipeline" {
            false
        } else {
            spec.param(name).is_some()
                || crate::config::registry::COMMON_STEP_PARAMS
                    .iter()
                    .any(|p| p.name == name)
                || extras.iter().any(|e| e.name == name)
        };
        if mine {
            take(&mut out);
        }
        i += if next_is_value { 2 } else { 1 };
    }
    out
}

/// Check every option is understood by some pipeline of the chain.
fn check_known(
    opts: &[String],
    specs: &[PipelineSpec],
    extras: &[&[ExtraOption]],
) -> anyhow::Result<()> {
    let mut i = 0;
    while i < opts.len() {
        let body = opts[i].trim_start_matches("--");
        let (name, has_value) = match body.split_once('=') {
            Some((n, _)) => (n, true),
            None => (body, false),
        };
        let known = if let Some(rest) = name.strip_prefix("steps.") {
            let step = rest.split('.').next().unwrap_or("");
            specs.iter().any(|s| s.step(step).is_some())
        } else {
            name == "pipeline"
                || specs.iter().any(|s| s.param(name).is_some())
                || crate::config::registry::COMMON_STEP_PARAMS
                    .iter()
                    .any(|p| p.name == name)
                || extras.iter().any(|e| e.iter().any(|x| x.name == name))
        };
        if !known {
            anyhow::bail!(
                "run: --{name} is not an option of {} (see sloper run --help)",
                specs.iter().map(|s| s.alias).collect::<Vec<_>>().join(", ")
            );
        }
        i += if !has_value && !FLAGS.contains(&name) {
            2
        } else {
            1
        };
    }
    Ok(())
}

fn parse(
    spec: PipelineSpec,
    before: &[PipelineSpec],
    input: &str,
    opts: &[String],
    extras: &[ExtraOption],
) -> anyhow::Result<RunConfig> {
    let a = args_for(spec, before, input, opts, extras);
    parse_strun_args(spec, &a, extras).map_err(|e| anyhow::anyhow!("{}: {e}", spec.alias))
}

/// The exposure's name without a segment tag: `jw…_00001-seg002_nrcalong` -> `jw…_00001_nrcalong`.
fn exposure_base(input: &Path) -> String {
    let b = base_name(input);
    match b.find("-seg") {
        Some(i) if b[i + 4..].len() >= 3 && b[i + 4..i + 7].chars().all(|c| c.is_ascii_digit()) => {
            format!("{}{}", &b[..i], &b[i + 7..])
        }
        _ => b,
    }
}

/// What a chained run did.
#[derive(Debug, Default)]
pub struct RunReport {
    /// The pipelines run, in order.
    pub stages: Vec<String>,
    /// One report per Detector1 input (segment).
    pub detector1: Vec<detector1::Detector1Report>,
    /// Every product written, in the order written (Detector1's, `_cal`, `_calints`,
    /// `_crfints`, then the stacked catalogue and its plot).
    pub outputs: Vec<PathBuf>,
    /// tso3's per-member results.
    pub members: Vec<MemberReport>,
    pub detector1_seconds: f64,
    pub total_seconds: f64,
    /// CPU time (user + system, every thread) of the process at the end of Detector1 and at
    /// the end of the run, when the system tells it (Linux `/proc/self/stat`).
    pub detector1_cpu_seconds: Option<f64>,
    pub total_cpu_seconds: Option<f64>,
}

/// User + system CPU seconds of this process so far (all threads), from `/proc/self/stat`
/// (clock ticks of 1/100 s, the Linux USER_HZ).
pub fn process_cpu_seconds() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

impl RunReport {
    /// Outliers flagged by tso3 over all members.
    pub fn flagged(&self) -> usize {
        self.members.iter().map(|m| m.flagged).sum()
    }
    /// Wall time of everything after Detector1.
    pub fn consumer_seconds(&self) -> f64 {
        self.total_seconds - self.detector1_seconds
    }
    /// CPU time of everything after Detector1.
    pub fn consumer_cpu_seconds(&self) -> Option<f64> {
        Some(self.total_cpu_seconds? - self.detector1_cpu_seconds?)
    }
}

pub fn run(a: &Args) -> anyhow::Result<()> {
    if a.args.is_empty() || a.args.iter().any(|x| x == "--help" || x == "-h") {
        print!("{}", help());
        return Ok(());
    }
    let quiet = a.args.iter().any(|o| o == "--quiet");
    let rep = execute(&a.args)?;
    if !quiet {
        for p in &rep.outputs {
            println!("{}", p.display());
        }
        let cpu = match (rep.detector1_cpu_seconds, rep.consumer_cpu_seconds()) {
            (Some(d), Some(c)) => format!("; CPU detector1 {d:.2} s, consumers {c:.2} s"),
            _ => String::new(),
        };
        eprintln!(
            "run: {} in {:.3} s (detector1 {:.3} s, consumers {:.3} s{cpu}); {} outlier(s) flagged",
            rep.stages.join(" -> "),
            rep.total_seconds,
            rep.detector1_seconds,
            rep.consumer_seconds(),
            rep.flagged()
        );
    }
    Ok(())
}

/// Run the chain described by `args` (the words after `sloper run`); prints nothing itself
/// except what the stages log.
pub fn execute(args: &[String]) -> anyhow::Result<RunReport> {
    let (inputs, opts) = super::tso3::split_inputs(args, FLAGS);
    if inputs.is_empty() {
        anyhow::bail!("run: give the input file(s)");
    }
    let pipeline = opts
        .iter()
        .enumerate()
        .find_map(|(i, o)| {
            if let Some(v) = o.strip_prefix("--pipeline=") {
                Some(v.to_string())
            } else if o == "--pipeline" {
                opts.get(i + 1).cloned()
            } else {
                None
            }
        })
        .unwrap_or_else(|| "detector1,image2,tso3".into());
    let stages: Vec<&str> = pipeline.split(',').map(str::trim).collect();
    let order = ["detector1", "image2", "tso3"];
    let idx: Vec<usize> = stages
        .iter()
        .map(|s| {
            order.iter().position(|o| o == s).ok_or_else(|| {
                anyhow::anyhow!("run: unknown pipeline {s:?} (detector1, image2, tso3)")
            })
        })
        .collect::<anyhow::Result<_>>()?;
    if idx.is_empty() || idx.windows(2).any(|w| w[1] <= w[0]) {
        anyhow::bail!("run: --pipeline lists detector1, image2, tso3 in that order (any of them)");
    }
    let want = |s: &str| stages.contains(&s);
    let specs: Vec<PipelineSpec> = [(DETECTOR1, "detector1"), (IMAGE2, "image2"), (TSO3, "tso3")]
        .into_iter()
        .filter(|(_, n)| want(n))
        .map(|(s, _)| s)
        .collect();
    let d1_extras = detector1::settings::EXTRA_OPTIONS;
    let my_extras = crate::consumers::specs::EXTRA_OPTIONS;
    check_known(&opts, &specs, &[d1_extras, my_extras])?;

    let first = inputs[0].as_str();
    let d1_cfg = if want("detector1") {
        Some(parse(DETECTOR1, &[], first, &opts, d1_extras)?)
    } else {
        None
    };
    let before_i2: Vec<PipelineSpec> = if want("detector1") {
        vec![DETECTOR1]
    } else {
        vec![]
    };
    let i2 = if want("image2") {
        let c = parse(IMAGE2, &before_i2, first, &opts, my_extras)?;
        Some(Image2Settings::from_config(&c).map_err(anyhow::Error::msg)?)
    } else {
        None
    };
    let mut before_t3 = before_i2.clone();
    if want("image2") {
        before_t3.push(IMAGE2);
    }
    let t3 = if want("tso3") {
        let c = parse(TSO3, &before_t3, first, &opts, my_extras)?;
        Some(Tso3Settings::from_config(&c).map_err(anyhow::Error::msg)?)
    } else {
        None
    };
    let t0 = std::time::Instant::now();
    let cpu_start = process_cpu_seconds();
    let mut rep_all = RunReport {
        stages: stages.iter().map(|s| s.to_string()).collect(),
        detector1_cpu_seconds: Some(0.0),
        ..Default::default()
    };
    for input in &inputs {
        let mut rateints = PathBuf::from(input);
        let mut rate: Option<PathBuf> = None;
        if let Some(cfg) = &d1_cfg {
            let mut cfg = cfg.clone();
            cfg.input = PathBuf::from(input);
            let s = Detector1Settings::from_config(&cfg).map_err(anyhow::Error::msg)?;
            let t = std::time::Instant::now();
            let cpu0 = process_cpu_seconds();
            let rep = detector1::run(&s)?;
            rep_all.detector1_seconds += t.elapsed().as_secs_f64();
            rep_all.detector1_cpu_seconds =
                match (rep_all.detector1_cpu_seconds, cpu0, process_cpu_seconds()) {
                    (Some(acc), Some(a), Some(b)) => Some(acc + (b - a)),
                    _ => None,
                };
            rep_all.outputs.extend(rep.outputs.iter().cloned());
            rep_all.detector1.push(rep);
            rate = Some(product_path(&s.output_dir, Path::new(input), "rate"));
            rateints = product_path(&s.output_dir, Path::new(input), "rateints");
        }
        if let (Some(s), Some(r)) = (&i2, &rate) {
            rep_all.outputs.push(run_file(s, r)?);
        }
        if i2.is_none() && t3.is_none() {
            continue;
        }
        let product = Arc::new(RateProduct::open(&rateints)?);
        if !product.is_cube() {
            anyhow::bail!(
                "{}: the chain needs integrations (a cube)",
                rateints.display()
            );
        }
        let info = product.info().clone();
        let out_dir = i2
            .as_ref()
            .map(|s| s.output_dir.clone())
            .or_else(|| t3.as_ref().map(|s| s.output_dir.clone()))
            .unwrap_or_else(|| PathBuf::from("."));
        std::fs::create_dir_all(&out_dir)?;
        let calints_path = product_path(&out_dir, &rateints, "calints");
        let crf_path = crfints_path(&out_dir, &calints_path, None);
        let plan = ChainPlan {
            image2: i2.as_ref(),
            tso3: t3.as_ref(),
            info: &info,
            header_input: &rateints,
            calints_path,
            crf_path,
            input_file: if i2.is_none() {
                Some(rateints.clone())
            } else {
                None
            },
        };
        let mut src = FilePlaneSource::new(product);
        let rep = run_chain(&plan, &mut src)?;
        rep_all.outputs.extend(rep.calints.iter().cloned());
        if let Some(m) = rep.tso3 {
            rep_all.outputs.extend(m.crfints.iter().cloned());
            rep_all.members.push(m);
        }
    }
    if let Some(s) = &t3 {
        let product = exposure_base(Path::new(first));
        let (cat, plot) = write_catalog(s, &product, &rep_all.members)?;
        rep_all.outputs.extend(cat.into_iter().chain(plot));
    }
    rep_all.total_seconds = t0.elapsed().as_secs_f64();
    rep_all.total_cpu_seconds = match (cpu_start, process_cpu_seconds()) {
        (Some(a), Some(b)) => Some(b - a),
        _ => None,
    };
    Ok(rep_all)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_routed_to_their_pipeline() {
        let opts: Vec<String> =
            "--output_dir=o --steps.jump.rejection_threshold=5 --steps.photom.override_area N/A \
             --steps.outlier_detection.rolling_window_width=0 --refs r --quiet"
                .split_whitespace()
                .map(String::from)
                .collect();
        let d1 = args_for(
            DETECTOR1,
            &[],
            "x",
            &opts,
            detector1::settings::EXTRA_OPTIONS,
        );
        assert!(d1.contains(&"--steps.jump.rejection_threshold=5".to_string()));
        assert!(!d1
            .iter()
            .any(|a| a.contains("photom") || a.contains("outlier")));
        let i2 = args_for(
            IMAGE2,
            &[DETECTOR1],
            "x",
            &opts,
            crate::consumers::specs::EXTRA_OPTIONS,
        );
        assert_eq!(
            i2,
            vec![
                "x",
                "--output_dir=o",
                "--steps.photom.override_area",
                "N/A",
                "--refs",
                "r",
                "--quiet"
            ]
        );
        let t3 = args_for(
            TSO3,
            &[DETECTOR1, IMAGE2],
            "x",
            &opts,
            crate::consumers::specs::EXTRA_OPTIONS,
        );
        assert!(t3.contains(&"--steps.outlier_detection.rolling_window_width=0".to_string()));
        assert!(!t3.iter().any(|a| a.contains("photom")));
        assert!(check_known(
            &opts,
            &[DETECTOR1, IMAGE2, TSO3],
            &[crate::consumers::specs::EXTRA_OPTIONS]
        )
        .is_ok());
        let bad: Vec<String> = vec!["--steps.nope.x=1".into()];
        assert!(check_known(&bad, &[DETECTOR1], &[]).is_err());
        assert_eq!(
            exposure_base(Path::new("d/jw01_00001-seg002_nrcalong_uncal.fits")),
            "jw01_00001_nrcalong"
        );
    }
}
