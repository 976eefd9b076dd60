//! The `strun` command-line syntax: `INPUT [--param=VALUE] [--steps.<step>.<param>=VALUE]`,
//! `--name VALUE` also accepted, plus sloper's own hyphenated options (`--max-memory=256MiB`).

use super::registry::{PipelineSpec, COMMON_STEP_PARAMS};
use super::value::{Kind, Value};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// A sloper-specific option accepted next to the strun parameters.
#[derive(Debug, Clone, Copy)]
pub struct ExtraOption {
    pub name: &'static str,
    pub takes_value: bool,
}

/// Everything the command line said, validated against the pipeline spec.
#[derive(Debug, Clone)]
pub struct RunConfig {
    pub spec: PipelineSpec,
    pub input: PathBuf,
    /// Pipeline-level parameters given explicitly.
    pub pipeline: BTreeMap<String, Value>,
    /// Step parameters given explicitly, by step alias.
    pub steps: BTreeMap<String, BTreeMap<String, Value>>,
    /// sloper options (name without dashes -> value, "true" for flags).
    pub extra: BTreeMap<String, String>,
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
}

/// Parse `args` (everything after the subcommand) for `spec`.
pub fn parse_strun_args(
    spec: PipelineSpec,
    args: &[String],
    extras: &[ExtraOption],
) -> Result<RunConfig, String> {
    let mut input: Option<PathBuf> = None;
    let mut pipeline = BTreeMap::new();
    let mut steps: BTreeMap<String, BTreeMap<String, Value>> = BTreeMap::new();
    let mut extra = BTreeMap::new();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        let Some(body) = arg.strip_prefix("--") else {
            if input.is_some() {
                return Err(format!(
                    "unexpected extra argument {arg:?} (only one input file is accepted)"
                ));
            }
            input = Some(PathBuf::from(arg));
            continue;
        };
        let (name, inline_value) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (body, None),
        };
        if let Some(opt) = extras.iter().find(|o| o.name == name) {
            let value = if opt.takes_value {
                match inline_value {
                    Some(v) => v,
                    None => next_value(args, &mut i, name)?,
                }
            } else {
                inline_value.unwrap_or_else(|| "true".to_string())
            };
            extra.insert(name.to_string(), value);
            continue;
        }
        let mut take_value = |inline: Option<String>| -> Result<String, String> {
            match inline {
                Some(v) => Ok(v),
                None => next_value(args, &mut i, name),
            }
        };
        if let Some(rest) = name.strip_prefix("steps.") {
            let (step_alias, param) = rest
                .split_once('.')
                .ok_or_else(|| format!("--{name}: expected --steps.<step>.<parameter>=VALUE"))?;
            let step = spec.step(step_alias).ok_or_else(|| {
                let known: Vec<_> = spec.steps.iter().map(|s| s.alias).collect();
                format!(
                    "--{name}: {} has no step {step_alias:?} (steps: {})",
                    spec.alias,
                    known.join(", ")
                )
            })?;
            let kind = if let Some(rt) = param.strip_prefix("override_") {
                if !step.reference_types.contains(&rt) {
                    return Err(format!(
                        "--{name}: step {} has no reference type {rt:?} (it uses: {})",
                        step.alias,
                        if step.reference_types.is_empty() {
                            "none".to_string()
                        } else {
                            step.reference_types.join(", ")
                        }
                    ));
                }
                Kind::Str
            } else if let Some(p) = step
                .param(param)
                .or_else(|| COMMON_STEP_PARAMS.iter().find(|p| p.name == param))
            {
                p.kind
            } else {
                return Err(format!(
                    "--{name}: step {} has no parameter {param:?}",
                    step.alias
                ));
            };
            let text = take_value(inline_value)?;
            let value = Value::parse(kind, &text).map_err(|e| format!("--{name}: {e}"))?;
            steps
                .entry(step.alias.to_string())
                .or_default()
                .insert(param.to_string(), value);
        } else {
            let p = spec
                .param(name)
                .or_else(|| COMMON_STEP_PARAMS.iter().find(|p| p.name == name))
                .ok_or_else(|| {
                    format!("--{name}: unknown parameter of {} (see --help)", spec.alias)
                })?;
            let text = take_value(inline_value)?;
            let value = Value::parse(p.kind, &text).map_err(|e| format!("--{name}: {e}"))?;
            pipeline.insert(name.to_string(), value);
        }
    }
    let input = input.ok_or_else(|| "missing the input file".to_string())?;
    Ok(RunConfig {
        spec,
        input,
        pipeline,
        steps,
        extra,
    })
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
}
