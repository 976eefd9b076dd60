//! The `strun` command-line syntax: `[PARAMS.asdf|PARAMS.cfg] INPUT [--param=VALUE]
//! [--steps.<step>.<param>=VALUE]`, `--name VALUE` also accepted, strun's own options
//! (`--save-parameters`, `--log-level`, `--log-file`, `--log-stream`, `--verbose`/`-v`,
//! `--disable-crds-steppars`, `--debug`), sloper's `--config FILE`, plus the caller's hyphenated
//! options (`--max-memory=256MiB`).
//!
//! Precedence, as stpipe: built-in defaults < parameter file (whose steps may name their own
//! `config_file`, lower than the step's entries in the file) < command line
//! (`--steps.<step>.config_file=F` < `--steps.<step>.<param>`). sloper has no CRDS, so the CRDS
//! `pars-*` layer that stpipe puts between defaults and the file does not exist
//! (`--disable-crds-steppars` is accepted: it is always the case).
//!
//! Unknown steps or parameters are errors, never silently ignored; on the command line they are
//! usage errors (exit status 2, as argparse), in a file validation errors (status 1).

use super::aliases::{self, Target};
use super::exit::ExitStatus;
use super::paramfile::{self, ExportTree, ParamTree};
use super::registry::{PipelineSpec, COMMON_STEP_PARAMS};
use super::value::Value;
use crate::logging::{Level, LogSettings, Stream};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A sloper-specific option accepted next to the strun parameters.
#[derive(Debug, Clone, Copy)]
pub struct ExtraOption {
    pub name: &'static str,
    pub takes_value: bool,
}

/// strun's own options, which are not step parameters.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Session {
    /// `--save-parameters FILE`: write the parameters used as an ASDF parameter file.
    pub save_parameters: Option<PathBuf>,
    /// `--log-level`, `--log-file`, `--log-stream`, `--verbose`.
    pub log: LogSettings,
    /// `--debug` (stpipe: post-mortem debugger; sloper: nothing more to show than the error).
    pub debug: bool,
}

/// Everything the command line (and parameter files) said, validated against the pipeline spec.
#[derive(Debug, Clone)]
pub struct RunConfig {
    pub spec: PipelineSpec,
    pub input: PathBuf,
    /// Pipeline-level parameters given explicitly (file or command line).
    pub pipeline: BTreeMap<String, Value>,
    /// Step parameters given explicitly, by step alias.
    pub steps: BTreeMap<String, BTreeMap<String, Value>>,
    /// sloper options (name without dashes -> value, "true" for flags).
    pub extra: BTreeMap<String, String>,
    /// The parameter file read (leading positional or `--config`).
    pub config_file: Option<PathBuf>,
    /// The pipeline's `name` from the parameter file (stpipe's instance name).
    pub name: Option<String>,
    pub session: Session,
}

impl RunConfig {
    /// A pipeline-level parameter: explicit value or the spec default.
    pub fn pipeline_param(&self, name: &str) -> Value {
        if let Some(v) = self.pipeline.get(name) {
            return v.clone();
        }
        self.spec
            .param(name)
            .or_else(|| COMMON_STEP_PARAMS.iter().find(|p| p.name == name))
            .map(|p| p.default_value())
            .unwrap_or(Value::None)
    }

    /// A step parameter: explicit value or the spec default (`override_*` default to None).
    pub fn step_param(&self, step: &str, name: &str) -> Value {
        if let Some(v) = self.steps.get(step).and_then(|m| m.get(name)) {
            return v.clone();
        }
        if name == "skip" {
            return Value::Bool(self.spec.step(step).is_some_and(|s| s.skip_default));
        }
        self.spec
            .step(step)
            .and_then(|s| s.param(name))
            .or_else(|| COMMON_STEP_PARAMS.iter().find(|p| p.name == name))
            .map(|p| p.default_value())
            .unwrap_or(Value::None)
    }

    pub fn skip(&self, step: &str) -> bool {
        self.step_param(step, "skip").as_bool().unwrap_or(false)
    }

    /// `override_<reftype>` of a step: `Some(path)`, `Some("N/A")`, or `None` when not given.
    pub fn override_ref(&self, step: &str, reftype: &str) -> Option<String> {
        self.step_param(step, &format!("override_{reftype}"))
            .as_str()
            .map(str::to_string)
    }

    pub fn extra(&self, name: &str) -> Option<&str> {
        self.extra.get(name).map(String::as_str)
    }

    /// Set a step parameter after parsing (e.g. a reference resolved from `--refs`, so that
    /// `--save-parameters` records it). The name is checked against the spec.
    pub fn set_step_param(&mut self, step: &str, name: &str, value: Value) -> Result<(), String> {
        let spec_step = self
            .spec
            .step(step)
            .ok_or_else(|| format!("{} has no step {step:?}", self.spec.alias))?;
        paramfile::param_kind(&self.spec, Some(spec_step), name)?;
        self.steps
            .entry(step.to_string())
            .or_default()
            .insert(name.to_string(), value);
        Ok(())
    }

    /// The parameters as stpipe's `export_config` writes them: every parameter of the pipeline
    /// and of each step with its effective value, plus the `override_*` that were given (stpipe
    /// leaves them out because CRDS supplies the references; sloper has no CRDS, so a file that
    /// is to reproduce a run must carry them). `save_results` is true at pipeline level and
    /// `input_dir` is the input's folder, as strun sets them before saving.
    pub fn export_tree(&self) -> ExportTree {
        let input_dir = if self.input.is_file() {
            Value::Str(
                self.input
                    .parent()
                    .map(|p| p.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            )
        } else {
            Value::None
        };
        let common = |out: &mut paramfile::ParamList, get: &dyn Fn(&str) -> Value| {
            for p in COMMON_STEP_PARAMS {
                let v = match p.name {
                    "input_dir" if get("input_dir").is_none() => input_dir.clone(),
                    _ => get(p.name),
                };
                out.push((p.name.to_string(), v, p.kind));
            }
        };
        let mut parameters = Vec::new();
        for p in self.spec.params {
            parameters.push((p.name.to_string(), self.pipeline_param(p.name), p.kind));
        }
        common(&mut parameters, &|n| match n {
            "save_results" => Value::Bool(true),
            _ => self.pipeline_param(n),
        });
        let mut steps = Vec::new();
        for s in self.spec.steps {
            let mut params = Vec::new();
            for p in s.params {
                params.push((p.name.to_string(), self.step_param(s.alias, p.name), p.kind));
            }
            common(&mut params, &|n| self.step_param(s.alias, n));
            for rt in s.reference_types {
                let v = self.step_param(s.alias, &format!("override_{rt}"));
                if !v.is_none() {
                    params.push((format!("override_{rt}"), v, super::value::Kind::Str));
                }
            }
            steps.push(ExportTree {
                class: aliases::step_class(s.alias)
                    .map_or_else(|| aliases::qualified_class(s.class_name), str::to_string),
                name: s.alias.to_string(),
                parameters: params,
                steps: Vec::new(),
            });
        }
        ExportTree {
            class: aliases::qualified_class(self.spec.class_name),
            name: self
                .name
                .clone()
                .unwrap_or_else(|| self.spec.class_name.to_string()),
            parameters,
            steps,
        }
    }

    /// Write [`RunConfig::export_tree`] as an ASDF parameter file.
    pub fn save_parameters(&self, path: &Path) -> Result<(), String> {
        paramfile::write_asdf(path, &self.export_tree())?;
        log::info!(
            target: "stpipe._cmdline",
            "Step/Pipeline parameters saved to '{}'",
            path.display()
        );
        Ok(())
    }

    /// What strun does once the command line is parsed: configure logging, then write
    /// `--save-parameters` (before running, like strun).
    pub fn start_session(&self) -> Result<(), String> {
        crate::logging::init(&self.session.log)?;
        if let Some(path) = &self.session.save_parameters {
            self.save_parameters(path)?;
        }
        Ok(())
    }
}

/// Parse `args` (everything after the subcommand) for `spec`, then start the session (logging,
/// `--save-parameters`) as strun does. Errors are messages; [`parse_run_args`] keeps the exit
/// status (2 for usage errors).
pub fn parse_strun_args(
    spec: PipelineSpec,
    args: &[String],
    extras: &[ExtraOption],
) -> Result<RunConfig, String> {
    let cfg = parse_run_args(spec, args, extras).map_err(|e| e.message)?;
    cfg.start_session()?;
    Ok(cfg)
}

/// Whether a positional argument is a parameter file rather than the input.
fn is_param_file(arg: &str) -> bool {
    let lower = arg.to_ascii_lowercase();
    lower.ends_with(".asdf") || lower.ends_with(".cfg")
}

struct CmdlineParam {
    step: Option<String>,
    name: String,
    text: String,
}

/// Parse without side effects: the validated configuration, or an error with its exit status.
pub fn parse_run_args(
    spec: PipelineSpec,
    args: &[String],
    extras: &[ExtraOption],
) -> Result<RunConfig, ExitStatus> {
    let usage = |m: String| ExitStatus::usage(m);
    let error = |m: String| ExitStatus::new(super::exit::ERROR, m);
    let mut positionals: Vec<String> = Vec::new();
    let mut params: Vec<CmdlineParam> = Vec::new();
    let mut extra = BTreeMap::new();
    let mut session = Session::default();
    let mut config_opt: Option<PathBuf> = None;
    let (mut log_level, mut verbose) = (None, false);
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        if arg == "-v" {
            verbose = true;
            continue;
        }
        let Some(body) = arg.strip_prefix("--") else {
            positionals.push(arg.clone());
            continue;
        };
        let (name, inline_value) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (body, None),
        };
        let mut value = |inline: Option<String>| -> Result<String, ExitStatus> {
            match inline {
                Some(v) => Ok(v),
                None => next_value(args, &mut i, name).map_err(usage),
            }
        };
        match name {
            "save-parameters" => session.save_parameters = Some(PathBuf::from(value(inline_value)?)),
            "log-level" => log_level = Some(value(inline_value)?),
            "log-file" => session.log.file = Some(PathBuf::from(value(inline_value)?)),
            "log-stream" => {
                session.log.stream = Stream::parse(&value(inline_value)?).map_err(usage)?
            }
            "verbose" => verbose = true,
            "debug" => session.debug = true,
            "disable-crds-steppars" => {}
            "logcfg" => {
                return Err(usage(
                    "--logcfg (deprecated in stpipe) is not supported: use --log-level, --log-file, --log-stream".into(),
                ))
            }
            "config" => config_opt = Some(PathBuf::from(value(inline_value)?)),
            _ => {
                if let Some(opt) = extras.iter().find(|o| o.name == name) {
                    let v = if opt.takes_value {
                        value(inline_value)?
                    } else {
                        inline_value.unwrap_or_else(|| "true".to_string())
                    };
                    extra.insert(name.to_string(), v);
                    continue;
                }
                let (step, pname) = match name.strip_prefix("steps.") {
                    Some(rest) => {
                        let (s, p) = rest.split_once('.').ok_or_else(|| {
                            usage(format!("--{name}: expected --steps.<step>.<parameter>=VALUE"))
                        })?;
                        (Some(s.to_string()), p.to_string())
                    }
                    None => (None, name.to_string()),
                };
                let text = value(inline_value)?;
                params.push(CmdlineParam {
                    step,
                    name: pname,
                    text,
                });
            }
        }
    }
    session.log.level = if verbose {
        Level::Debug
    } else if let Some(l) = log_level {
        Level::parse(&l).map_err(usage)?
    } else {
        Level::Info
    };

    // A leading parameter file, as strun's first argument.
    let mut config_file = config_opt;
    if positionals.first().is_some_and(|p| is_param_file(p)) {
        let file = positionals.remove(0);
        if config_file.is_some() {
            return Err(usage(format!(
                "two parameter files: {file:?} and --config; give one"
            )));
        }
        config_file = Some(PathBuf::from(file));
    }
    let input = match positionals.as_slice() {
        [one] => PathBuf::from(one),
        [] => return Err(usage("missing the input file".to_string())),
        [_, extra_arg, ..] => {
            return Err(error(format!(
                "unexpected extra argument {extra_arg:?} (only one input file is accepted)"
            )))
        }
    };

    let mut cfg = RunConfig {
        spec,
        input,
        pipeline: BTreeMap::new(),
        steps: BTreeMap::new(),
        extra,
        config_file: config_file.clone(),
        name: None,
        session,
    };
    if let Some(path) = &config_file {
        let tree = paramfile::load(path).map_err(error)?;
        apply_pipeline_file(&mut cfg, &tree).map_err(error)?;
    }
    // Command line: step config files first, then values (which win).
    for p in params.iter().filter(|p| p.name == "config_file") {
        let Some(step) = &p.step else {
            return Err(usage(
                "--config_file: use --config FILE (or the file as first argument)".into(),
            ));
        };
        let alias =
            step_alias(&spec, step, &format!("--steps.{step}.config_file")).map_err(usage)?;
        let tree = paramfile::load(Path::new(&p.text)).map_err(error)?;
        apply_step_file(&mut cfg, alias, &tree).map_err(error)?;
    }
    for p in params.iter().filter(|p| p.name != "config_file") {
        let flag = match &p.step {
            Some(s) => format!("--steps.{s}.{}", p.name),
            None => format!("--{}", p.name),
        };
        let step = match &p.step {
            Some(s) => Some(step_alias(&spec, s, &flag).map_err(usage)?),
            None => None,
        };
        let kind = paramfile::param_kind(&spec, step.and_then(|s| spec.step(s)), &p.name).map_err(
            |e| {
                usage(if step.is_none() {
                    format!("{flag}: unknown parameter of {} (see --help)", spec.alias)
                } else {
                    format!("{flag}: {e}")
                })
            },
        )?;
        let value = Value::parse(kind, &p.text).map_err(|e| error(format!("{flag}: {e}")))?;
        set(&mut cfg, step, &p.name, value);
    }
    Ok(cfg)
}

fn step_alias(spec: &PipelineSpec, step: &str, flag: &str) -> Result<&'static str, String> {
    spec.step(step).map(|s| s.alias).ok_or_else(|| {
        let known: Vec<_> = spec.steps.iter().map(|s| s.alias).collect();
        format!(
            "{flag}: {} has no step {step:?} (steps: {})",
            spec.alias,
            known.join(", ")
        )
    })
}

fn set(cfg: &mut RunConfig, step: Option<&str>, name: &str, value: Value) {
    match step {
        Some(s) => {
            cfg.steps
                .entry(s.to_string())
                .or_default()
                .insert(name.to_string(), value);
        }
        None => {
            cfg.pipeline.insert(name.to_string(), value);
        }
    }
}

fn in_file(tree: &ParamTree, what: impl std::fmt::Display) -> String {
    format!("parameter file {}: {what}", tree.source.display())
}

/// Apply a pipeline's parameter file (class checked, steps by name).
fn apply_pipeline_file(cfg: &mut RunConfig, tree: &ParamTree) -> Result<(), String> {
    let spec = cfg.spec;
    if let Some(class) = &tree.class {
        match aliases::resolve(class) {
            Some(Target::Pipeline(kind)) if kind.alias() == spec.alias => {}
            Some(Target::Step { alias, pipeline }) if pipeline.alias() == spec.alias => {
                return Err(in_file(
                    tree,
                    format!(
                        "holds the parameters of the {alias} step ({class}), not of {}: give it as --steps.{alias}.config_file=FILE",
                        spec.class_name
                    ),
                ))
            }
            _ => {
                return Err(in_file(
                    tree,
                    format!("is for {class}, not {} ({})", spec.class_name, spec.alias),
                ))
            }
        }
    }
    cfg.name = tree.name.clone();
    for (k, raw) in &tree.parameters {
        let kind = paramfile::param_kind(&spec, None, k).map_err(|e| in_file(tree, e))?;
        let v = raw
            .to_value(kind)
            .map_err(|e| in_file(tree, format!("parameter {k}: {e}")))?;
        set(cfg, None, k, v);
    }
    for st in &tree.steps {
        let name = st
            .name
            .as_deref()
            .ok_or_else(|| in_file(tree, "a step has no name"))?;
        let alias = spec
            .step(name)
            .map(|s| s.alias)
            .ok_or_else(|| in_file(tree, format!("{} has no step {name:?}", spec.class_name)))?;
        if let Some(sub) = st.parameters.get("config_file") {
            let rel = sub
                .as_text()
                .ok_or_else(|| in_file(st, format!("steps.{alias}.config_file is not a path")))?;
            if !rel.eq_ignore_ascii_case("none") {
                let dir = st.source.parent().unwrap_or(Path::new(""));
                let sub_tree = paramfile::load(&dir.join(rel))?;
                apply_step_file(cfg, alias, &sub_tree)?;
            }
        }
        apply_step_values(cfg, alias, st)?;
    }
    Ok(())
}

/// Apply a step's own parameter file (`config_file`) to step `alias`.
fn apply_step_file(
    cfg: &mut RunConfig,
    alias: &'static str,
    tree: &ParamTree,
) -> Result<(), String> {
    if let Some(class) = &tree.class {
        match aliases::resolve(class) {
            Some(Target::Step { alias: a, .. }) if a == alias => {}
            _ => {
                return Err(in_file(
                    tree,
                    format!("is for {class}, not the {alias} step"),
                ))
            }
        }
    }
    apply_step_values(cfg, alias, tree)
}

fn apply_step_values(
    cfg: &mut RunConfig,
    alias: &'static str,
    tree: &ParamTree,
) -> Result<(), String> {
    let spec = cfg.spec;
    let step = spec.step(alias);
    for (k, raw) in &tree.parameters {
        if k == "config_file" {
            continue;
        }
        let kind = paramfile::param_kind(&spec, step, k).map_err(|e| in_file(tree, e))?;
        let v = raw
            .to_value(kind)
            .map_err(|e| in_file(tree, format!("steps.{alias}.{k}: {e}")))?;
        set(cfg, Some(alias), k, v);
    }
    Ok(())
}

fn next_value(args: &[String], i: &mut usize, name: &str) -> Result<String, String> {
    match args.get(*i) {
        Some(v) if !v.starts_with("--") => {
            *i += 1;
            Ok(v.clone())
        }
        _ => Err(format!("--{name} needs a value")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DETECTOR1;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }
    const EXTRAS: &[ExtraOption] = &[
        ExtraOption {
            name: "max-memory",
            takes_value: true,
        },
        ExtraOption {
            name: "no-progress",
            takes_value: false,
        },
    ];

    #[test]
    fn parses_official_syntax() {
        let c = parse_strun_args(
            DETECTOR1,
            &args("x_uncal.fits --output_dir=out --save_calibrated_ramp=true --steps.jump.rejection_threshold 6 --steps.ipc.skip=True --steps.dq_init.override_mask=m.fits --max-memory=64M --no-progress"),
            EXTRAS,
        )
        .unwrap();
        assert_eq!(c.input, PathBuf::from("x_uncal.fits"));
        assert_eq!(c.pipeline_param("output_dir"), Value::Str("out".into()));
        assert_eq!(c.pipeline_param("save_calibrated_ramp"), Value::Bool(true));
        assert_eq!(
            c.step_param("jump", "rejection_threshold"),
            Value::Float(6.0)
        );
        assert_eq!(c.step_param("jump", "flag_4_neighbors"), Value::Bool(true));
        assert!(c.skip("ipc"));
        assert!(!c.skip("jump"));
        assert!(c.skip("persistence"));
        assert_eq!(c.override_ref("dq_init", "mask").as_deref(), Some("m.fits"));
        assert_eq!(c.override_ref("jump", "gain"), None);
        assert_eq!(c.extra("max-memory"), Some("64M"));
        assert_eq!(c.extra("no-progress"), Some("true"));
    }

    #[test]
    fn refuses_unknown_names() {
        let e =
            parse_strun_args(DETECTOR1, &args("x.fits --steps.jumpp.skip=true"), &[]).unwrap_err();
        assert!(e.contains("no step \"jumpp\""), "{e}");
        let e =
            parse_strun_args(DETECTOR1, &args("x.fits --steps.jump.rejection=3"), &[]).unwrap_err();
        assert!(e.contains("no parameter \"rejection\""), "{e}");
        let e = parse_strun_args(DETECTOR1, &args("x.fits --steps.jump.override_mask=a"), &[])
            .unwrap_err();
        assert!(e.contains("reference type"), "{e}");
        let e = parse_strun_args(
            DETECTOR1,
            &args("x.fits --steps.jump.rejection_threshold=abc"),
            &[],
        )
        .unwrap_err();
        assert!(e.contains("not a number"), "{e}");
        let e = parse_strun_args(DETECTOR1, &args("x.fits --frobnicate=1"), &[]).unwrap_err();
        assert!(e.contains("unknown parameter"), "{e}");
        assert!(parse_strun_args(DETECTOR1, &args("--output_dir=x"), &[]).is_err());
    }

    #[test]
    fn exit_statuses_follow_argparse() {
        let code = |s: &str| parse_run_args(DETECTOR1, &args(s), &[]).unwrap_err().code;
        assert_eq!(code("x.fits --steps.jump.foo=1"), 2);
        assert_eq!(code("x.fits --foo=1"), 2);
        assert_eq!(code("x.fits --steps.jump.rejection_threshold=abc"), 1);
        assert_eq!(code("x.fits --log-level=LOUD"), 2);
        assert_eq!(code("x.fits --logcfg=a.cfg"), 2);
    }

    #[test]
    fn session_options() {
        let c = parse_run_args(
            DETECTOR1,
            &args("x.fits -v --log-file l.txt --save-parameters=p.asdf --disable-crds-steppars --log-stream=null"),
            &[],
        )
        .unwrap();
        assert_eq!(c.session.log.level, Level::Debug);
        assert_eq!(c.session.log.stream, Stream::Null);
        assert_eq!(c.session.log.file, Some(PathBuf::from("l.txt")));
        assert_eq!(c.session.save_parameters, Some(PathBuf::from("p.asdf")));
        let c = parse_run_args(DETECTOR1, &args("x.fits --log-level warning"), &[]).unwrap();
        assert_eq!(c.session.log.level, Level::Warning);
    }
}
