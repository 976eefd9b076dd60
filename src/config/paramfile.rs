//! stpipe parameter files: the ASDF files written by `strun --save-parameters` /
//! `Step.export_config` (and served by CRDS as `pars-*` references), and the legacy ConfigObj
//! `.cfg` files.
//!
//! Both are read into one neutral tree, [`ParamTree`] (class, name, parameters, sub-steps), which
//! `strun_args` then validates against a [`PipelineSpec`] and layers between the built-in defaults
//! and the command line, as stpipe does (`config_parser.load_config_file`, `Pipeline.merge_config`).
//!
//! ASDF files are YAML documents behind a `#ASDF` header, optionally followed by binary blocks;
//! only the YAML tree is read (parameter files have no blocks). Two tree layouts exist:
//! the current `step_config-1.0.0` (`class`, `name`, `parameters`, `steps: [..]` at the top) and the
//! legacy `step_config-0.1.0` (everything under `parameters`, sub-steps as a mapping).
//!
//! [`write_asdf`] writes the current layout with the CRDS `meta` block that `--save-parameters`
//! adds (`include_metadata=True`), so the file loads in the official pipeline unchanged.

use super::registry::{PipelineSpec, StepSpec, COMMON_STEP_PARAMS};
use super::value::{Kind, Value};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use yaml_rust2::Yaml;

/// A parameter value as it appears in a file, before it is checked against a spec.
#[derive(Debug, Clone, PartialEq)]
pub enum RawValue {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    /// Untyped text from a ConfigObj file: parsed later with the spec's [`Kind`].
    Text(String),
    List(Vec<RawValue>),
}

impl RawValue {
    /// Check the value against a parameter's declared kind, with ConfigObj's leniency (strings
    /// such as `"true"` or `"6"` are accepted for booleans and numbers; an empty list, as
    /// stpipe writes `pre_hooks: []`, means "not set").
    pub fn to_value(&self, kind: Kind) -> Result<Value, String> {
        match (self, kind) {
            (RawValue::Null, _) => Ok(Value::None),
            (RawValue::Text(t), _) => Value::parse(kind, t),
            (RawValue::Str(s), Kind::Str) => Ok(if s.eq_ignore_ascii_case("none") {
                Value::None
            } else {
                Value::Str(s.clone())
            }),
            (RawValue::Str(s), _) => Value::parse(kind, s),
            (RawValue::Bool(b), Kind::Bool) => Ok(Value::Bool(*b)),
            (RawValue::Int(i), Kind::Bool) if *i == 0 || *i == 1 => Ok(Value::Bool(*i == 1)),
            (RawValue::Int(i), Kind::Int) => Ok(Value::Int(*i)),
            (RawValue::Int(i), Kind::Float) => Ok(Value::Float(*i as f64)),
            (RawValue::Float(f), Kind::Float) => Ok(Value::Float(*f)),
            (RawValue::Int(i), Kind::Str) => Ok(Value::Str(i.to_string())),
            (RawValue::Float(f), Kind::Str) => Ok(Value::Str(format!("{f:?}"))),
            (RawValue::Bool(b), Kind::Str) => {
                Ok(Value::Str(if *b { "True" } else { "False" }.into()))
            }
            (RawValue::List(v), _) if v.is_empty() => Ok(Value::None),
            (RawValue::List(_), _) => Err("list values are not supported by sloper".to_string()),
            (other, kind) => Err(format!(
                "{} is not a valid {}",
                other.describe(),
                kind_name(kind)
            )),
        }
    }

    fn describe(&self) -> String {
        match self {
            RawValue::Null => "null".into(),
            RawValue::Bool(b) => format!("{b}"),
            RawValue::Int(i) => format!("{i}"),
            RawValue::Float(f) => format!("{f:?}"),
            RawValue::Str(s) | RawValue::Text(s) => format!("{s:?}"),
            RawValue::List(_) => "a list".into(),
        }
    }

    /// The value as a plain string, for the special keys (`class`, `name`, `config_file`).
    pub fn as_text(&self) -> Option<&str> {
        match self {
            RawValue::Str(s) | RawValue::Text(s) => Some(strip_quotes(s.trim())),
            _ => None,
        }
    }
}

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Bool => "boolean",
        Kind::Int => "integer",
        Kind::Float => "number",
        Kind::Str => "string",
        Kind::Choice(_) => "option",
    }
}

fn strip_quotes(s: &str) -> &str {
    let b = s.as_bytes();
    if b.len() >= 2 && (b[0] == b'"' || b[0] == b'\'') && b[b.len() - 1] == b[0] {
        &s[1..s.len() - 1]
    } else {
        s
    }
}

/// One step's (or the pipeline's) section of a parameter file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ParamTree {
    /// `class` (fully qualified, an alias, or absent).
    pub class: Option<String>,
    /// `name` (the step alias inside a pipeline).
    pub name: Option<String>,
    /// Parameters in file order is irrelevant: kept sorted.
    pub parameters: BTreeMap<String, RawValue>,
    /// Sub-steps, by name, in file order.
    pub steps: Vec<ParamTree>,
    /// The file this section was read from (relative `config_file` entries resolve against
    /// its folder, as `Pipeline.merge_config` does).
    pub source: PathBuf,
}

impl ParamTree {
    /// The sub-step section named `name`.
    pub fn step(&self, name: &str) -> Option<&ParamTree> {
        self.steps.iter().find(|s| s.name.as_deref() == Some(name))
    }
}

fn file_error(path: &Path, what: impl std::fmt::Display) -> String {
    format!("parameter file {}: {what}", path.display())
}

/// Read a parameter file: ASDF (`#ASDF` header or `.asdf` extension) or ConfigObj `.cfg`,
/// decided as stpipe does (try ASDF first, fall back to ConfigObj).
pub fn load(path: &Path) -> Result<ParamTree, String> {
    let bytes = std::fs::read(path).map_err(|e| file_error(path, e))?;
    let is_asdf = bytes.starts_with(b"#ASDF")
        || path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("asdf"));
    if is_asdf {
        load_asdf_bytes(&bytes, path)
    } else {
        let text = String::from_utf8(bytes).map_err(|_| file_error(path, "not UTF-8 text"))?;
        parse_cfg(&text, path)
    }
}

/// The YAML part of an ASDF file: everything up to the document end marker `...` (binary blocks,
/// if any, follow it and are not YAML).
fn asdf_yaml_part(bytes: &[u8]) -> &[u8] {
    let mut start = 0;
    while start < bytes.len() {
        let end = bytes[start..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(bytes.len(), |p| start + p + 1);
        let line = &bytes[start..end];
        if line.strip_suffix(b"\n").unwrap_or(line).trim_ascii_end() == b"..." {
            return &bytes[..end];
        }
        start = end;
    }
    bytes
}

fn load_asdf_bytes(bytes: &[u8], path: &Path) -> Result<ParamTree, String> {
    let yaml = std::str::from_utf8(asdf_yaml_part(bytes))
        .map_err(|_| file_error(path, "the ASDF tree is not UTF-8"))?;
    parse_asdf_tree(yaml, path)
}

/// Parse the YAML tree of an ASDF parameter file.
pub fn parse_asdf_tree(yaml: &str, path: &Path) -> Result<ParamTree, String> {
    let docs = yaml_rust2::YamlLoader::load_from_str(yaml)
        .map_err(|e| file_error(path, format!("invalid YAML: {e}")))?;
    let root = docs
        .first()
        .ok_or_else(|| file_error(path, "empty ASDF tree"))?;
    if root.as_hash().is_none() {
        return Err(file_error(path, "the ASDF tree is not a mapping"));
    }
    if !root["class"].is_badvalue() || !root["name"].is_badvalue() {
        tree_from_yaml(root, path)
    } else if let Some(params) = root["parameters"].as_hash() {
        // Legacy step_config-0.1.0: class, name and steps (a mapping) live under `parameters`.
        legacy_tree(params, None, path)
    } else {
        Err(file_error(
            path,
            "not a step parameter file (no class, name or parameters)",
        ))
    }
}

fn yaml_key(k: &Yaml) -> Option<String> {
    match k {
        Yaml::String(s) => Some(s.clone()),
        Yaml::Integer(i) => Some(i.to_string()),
        Yaml::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

fn raw_from_yaml(y: &Yaml, path: &Path, key: &str) -> Result<RawValue, String> {
    Ok(match y {
        Yaml::Null => RawValue::Null,
        Yaml::Boolean(b) => RawValue::Bool(*b),
        Yaml::Integer(i) => RawValue::Int(*i),
        Yaml::Real(r) => {
            RawValue::Float(parse_yaml_real(r).ok_or_else(|| {
                file_error(path, format!("parameter {key}: {r:?} is not a number"))
            })?)
        }
        Yaml::String(s) => RawValue::Str(s.clone()),
        Yaml::Array(items) => RawValue::List(
            items
                .iter()
                .map(|i| raw_from_yaml(i, path, key))
                .collect::<Result<_, _>>()?,
        ),
        _ => {
            return Err(file_error(
                path,
                format!("parameter {key}: unsupported value (a mapping or alias)"),
            ))
        }
    })
}

/// YAML reals, including the `.inf`/`.nan` spellings.
fn parse_yaml_real(r: &str) -> Option<f64> {
    match r.trim_start_matches('+') {
        ".inf" | ".Inf" | ".INF" => Some(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => Some(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => Some(f64::NAN),
        s => s.parse().ok(),
    }
}

fn tree_from_yaml(node: &Yaml, path: &Path) -> Result<ParamTree, String> {
    let text = |k: &str| -> Result<Option<String>, String> {
        match &node[k] {
            Yaml::BadValue | Yaml::Null => Ok(None),
            Yaml::String(s) => Ok(Some(s.clone())),
            _ => Err(file_error(path, format!("`{k}` is not a string"))),
        }
    };
    let mut tree = ParamTree {
        class: text("class")?,
        name: text("name")?,
        source: path.to_path_buf(),
        ..ParamTree::default()
    };
    match &node["parameters"] {
        Yaml::Hash(h) => {
            for (k, v) in h {
                let key = yaml_key(k)
                    .ok_or_else(|| file_error(path, "a parameter name is not a string"))?;
                let value = raw_from_yaml(v, path, &key)?;
                tree.parameters.insert(key, value);
            }
        }
        Yaml::BadValue | Yaml::Null => {}
        _ => return Err(file_error(path, "`parameters` is not a mapping")),
    }
    match &node["steps"] {
        Yaml::Array(steps) => {
            for s in steps {
                tree.steps.push(tree_from_yaml(s, path)?);
            }
        }
        Yaml::BadValue | Yaml::Null => {}
        _ => return Err(file_error(path, "`steps` is not a list")),
    }
    Ok(tree)
}

fn legacy_tree(
    params: &yaml_rust2::yaml::Hash,
    name: Option<String>,
    path: &Path,
) -> Result<ParamTree, String> {
    let mut tree = ParamTree {
        name,
        source: path.to_path_buf(),
        ..ParamTree::default()
    };
    for (k, v) in params {
        let key =
            yaml_key(k).ok_or_else(|| file_error(path, "a parameter name is not a string"))?;
        match key.as_str() {
            "class" => tree.class = v.as_str().map(str::to_string),
            "name" => tree.name = v.as_str().map(str::to_string),
            "steps" => {
                let steps = v
                    .as_hash()
                    .ok_or_else(|| file_error(path, "`steps` is not a mapping"))?;
                for (sk, sv) in steps {
                    let sname = yaml_key(sk)
                        .ok_or_else(|| file_error(path, "a step name is not a string"))?;
                    let sp = sv.as_hash().ok_or_else(|| {
                        file_error(path, format!("step {sname} is not a mapping"))
                    })?;
                    tree.steps.push(legacy_tree(sp, Some(sname), path)?);
                }
            }
            _ => {
                let value = raw_from_yaml(v, path, &key)?;
                tree.parameters.insert(key, value);
            }
        }
    }
    Ok(tree)
}

/// Parse a ConfigObj `.cfg` file: `key = value` lines, `[section]` / `[[subsection]]` headers
/// (nesting by bracket count), `#` comments, quoted values, and `steps` holding one subsection
/// per step. `class` and `name` keys become the tree's class and name.
pub fn parse_cfg(text: &str, path: &Path) -> Result<ParamTree, String> {
    // Sections as a path of names from the root; values stored per path.
    let mut root = ParamTree {
        source: path.to_path_buf(),
        ..ParamTree::default()
    };
    let mut section: Vec<String> = Vec::new();
    for (lineno, raw_line) in text.lines().enumerate() {
        let line = raw_line.trim();
        let at = |msg: &str| file_error(path, format!("line {}: {msg}", lineno + 1));
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line.starts_with('[') {
            let depth = line.bytes().take_while(|&b| b == b'[').count();
            let close = line
                .rfind(']')
                .ok_or_else(|| at("unclosed section header"))?;
            let closing = line[..=close]
                .bytes()
                .rev()
                .take_while(|&b| b == b']')
                .count();
            if closing != depth {
                return Err(at("mismatched brackets in section header"));
            }
            let name = strip_quotes(line[depth..=close - depth].trim()).to_string();
            if depth > section.len() + 1 {
                return Err(at("section nested too deeply"));
            }
            section.truncate(depth - 1);
            section.push(name);
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .ok_or_else(|| at("expected `key = value`"))?;
        let key = strip_quotes(key.trim()).to_string();
        let value = cfg_value(value.trim());
        let target = cfg_section(&mut root, &section).map_err(|e| at(&e))?;
        match key.as_str() {
            "class" => target.class = Some(strip_quotes(&value).to_string()),
            "name" => target.name = Some(strip_quotes(&value).to_string()),
            _ => {
                target.parameters.insert(key, RawValue::Text(value));
            }
        }
    }
    Ok(root)
}

/// The value text without an inline comment (a `#` outside quotes).
fn cfg_value(v: &str) -> String {
    let mut quote: Option<char> = None;
    for (i, c) in v.char_indices() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '#') => return v[..i].trim().to_string(),
            _ => {}
        }
    }
    v.to_string()
}

fn cfg_section<'a>(
    root: &'a mut ParamTree,
    section: &[String],
) -> Result<&'a mut ParamTree, String> {
    match section {
        [] => Ok(root),
        [steps, step] if steps == "steps" => {
            let source = root.source.clone();
            if root.step(step).is_none() {
                root.steps.push(ParamTree {
                    name: Some(step.clone()),
                    source,
                    ..ParamTree::default()
                });
            }
            Ok(root
                .steps
                .iter_mut()
                .find(|s| s.name.as_deref() == Some(step.as_str()))
                .expect("just inserted"))
        }
        [steps] if steps == "steps" => Err("values directly under [steps]".to_string()),
        other => Err(format!(
            "section [{}] is not supported (only [steps] [[<step>]])",
            other.join("/")
        )),
    }
}

/// Parameter values of one step (or the pipeline) in writing order, as stpipe's `get_pars`
/// gives them: every spec parameter with its effective value, plus the `override_*` given.
pub type ParamList = Vec<(String, Value, Kind)>;

/// Writer input: a pipeline and its steps with their effective parameters.
#[derive(Debug, Clone)]
pub struct ExportTree {
    pub class: String,
    pub name: String,
    pub parameters: ParamList,
    pub steps: Vec<ExportTree>,
}

/// A string as a YAML scalar: plain when it cannot be read back as anything else, otherwise
/// single-quoted (YAML 1.1 readers such as PyYAML take `yes`, `on`, `1e3` as non-strings).
fn yaml_string(s: &str) -> String {
    let plain = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'/' | b'-'))
        && !s.starts_with(['-', '.']);
    let lower = s.to_ascii_lowercase();
    let ambiguous = matches!(
        lower.as_str(),
        "true" | "false" | "yes" | "no" | "on" | "off" | "null" | "none" | "y" | "n" | "~"
    ) || s.parse::<f64>().is_ok()
        || s.starts_with(|c: char| c.is_ascii_digit());
    if plain && !ambiguous {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "''"))
    }
}

/// A finite float in a form every YAML 1.1 reader takes as a float: a decimal point always, and
/// a signed exponent (`1.0e-05`), since PyYAML reads `1e-5` as a string.
fn yaml_float(f: f64) -> String {
    let s = format!("{f:?}");
    match s.split_once('e') {
        None => s,
        Some((mantissa, exp)) => {
            let mantissa = if mantissa.contains('.') {
                mantissa.to_string()
            } else {
                format!("{mantissa}.0")
            };
            let exp = if exp.starts_with('-') {
                exp.to_string()
            } else {
                format!("+{exp}")
            };
            format!("{mantissa}e{exp}")
        }
    }
}

fn yaml_scalar(name: &str, value: &Value, kind: Kind) -> String {
    match value {
        Value::None if name == "pre_hooks" || name == "post_hooks" => "[]".into(),
        Value::None => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) if kind == Kind::Float => format!("{:?}", *i as f64),
        Value::Int(i) => i.to_string(),
        Value::Float(f) if f.is_nan() => ".nan".into(),
        Value::Float(f) if f.is_infinite() => if *f > 0.0 { ".inf" } else { "-.inf" }.into(),
        Value::Float(f) => yaml_float(*f),
        Value::Str(s) => yaml_string(s),
    }
}

fn write_tree(out: &mut String, t: &ExportTree, indent: usize, first_prefix: &str) {
    let pad = " ".repeat(indent);
    let _ = writeln!(out, "{first_prefix}class: {}", yaml_string(&t.class));
    let _ = writeln!(out, "{pad}name: {}", yaml_string(&t.name));
    if t.parameters.is_empty() {
        let _ = writeln!(out, "{pad}parameters: {{}}");
    } else {
        let _ = writeln!(out, "{pad}parameters:");
        let mut sorted: Vec<_> = t.parameters.iter().collect();
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        for (k, v, kind) in sorted {
            let _ = writeln!(out, "{pad}  {k}: {}", yaml_scalar(k, v, *kind));
        }
    }
    if !t.steps.is_empty() {
        let _ = writeln!(out, "{pad}steps:");
        for s in &t.steps {
            write_tree(out, s, indent + 2, &format!("{pad}- "));
        }
    }
}

/// The text of an ASDF parameter file for `tree` (with the CRDS `meta` block, as
/// `export_config(..., include_metadata=True)` writes it; `date` is the UTC time given).
pub fn asdf_text(tree: &ExportTree, date_utc: &str) -> String {
    let mut out = String::from(
        "#ASDF 1.0.0\n#ASDF_STANDARD 1.6.0\n%YAML 1.1\n%TAG ! tag:stsci.edu:asdf/\n--- !core/asdf-1.1.0\n",
    );
    let _ = writeln!(
        out,
        "asdf_library: !core/software-1.0.0 {{author: sloper, name: sloper, version: {}}}",
        env!("CARGO_PKG_VERSION")
    );
    // `meta` between `class` and `name` is where asdf puts it; order is irrelevant to readers.
    let mut body = String::new();
    write_tree(&mut body, tree, 0, "");
    let meta = format!(
        "meta:\n  author: <SPECIFY>\n  date: '{date_utc}'\n  description: Parameters for calibration step {}\n  instrument: {{name: <SPECIFY>}}\n  origin: <SPECIFY>\n  pedigree: <SPECIFY>\n  reftype: <SPECIFY>\n  telescope: <SPECIFY>\n  useafter: <SPECIFY>\n",
        tree.class
    );
    out.push_str(&body.replacen('\n', &format!("\n{meta}"), 1));
    out.push_str("...\n");
    out
}

/// Write `tree` as an ASDF parameter file, atomically (temporary name, then rename).
pub fn write_asdf(path: &Path, tree: &ExportTree) -> Result<(), String> {
    let text = asdf_text(tree, &crate::logging::utc_timestamp_iso());
    let tmp = path.with_extension("asdf.part");
    std::fs::write(&tmp, text).map_err(|e| format!("--save-parameters {}: {e}", path.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("--save-parameters {}: {e}", path.display()))
}

/// Check a parameter (not `class`/`name`/`config_file`) of `step` (None = pipeline level)
/// against the spec: its kind, or an error naming the file and the parameter.
pub fn param_kind(
    spec: &PipelineSpec,
    step: Option<&StepSpec>,
    name: &str,
) -> Result<Kind, String> {
    match step {
        Some(step) => {
            if let Some(rt) = name.strip_prefix("override_") {
                if step.reference_types.contains(&rt) {
                    return Ok(Kind::Str);
                }
                return Err(format!(
                    "step {} has no reference type {rt:?} (it uses: {})",
                    step.alias,
                    if step.reference_types.is_empty() {
                        "none".to_string()
                    } else {
                        step.reference_types.join(", ")
                    }
                ));
            }
            step.param(name)
                .or_else(|| COMMON_STEP_PARAMS.iter().find(|p| p.name == name))
                .map(|p| p.kind)
                .ok_or_else(|| format!("step {} has no parameter {name:?}", step.alias))
        }
        None => spec
            .param(name)
            .or_else(|| COMMON_STEP_PARAMS.iter().find(|p| p.name == name))
            .map(|p| p.kind)
            .ok_or_else(|| format!("{} has no parameter {name:?}", spec.class_name)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cfg_sections_and_comments() {
        let t = parse_cfg(
            "name = \"Detector1Pipeline\"\nclass = \"jwst.pipeline.Detector1Pipeline\"\nsave_calibrated_ramp = True  # keep it\n\n[steps]\n  [[jump]]\n    rejection_threshold = 6.0\n  [[dq_init]]\n    config_file = dq_init.cfg\n",
            Path::new("x.cfg"),
        )
        .unwrap();
        assert_eq!(t.name.as_deref(), Some("Detector1Pipeline"));
        assert_eq!(t.class.as_deref(), Some("jwst.pipeline.Detector1Pipeline"));
        assert_eq!(
            t.parameters["save_calibrated_ramp"],
            RawValue::Text("True".into())
        );
        assert_eq!(
            t.step("jump").unwrap().parameters["rejection_threshold"],
            RawValue::Text("6.0".into())
        );
        assert!(t
            .step("dq_init")
            .unwrap()
            .parameters
            .contains_key("config_file"));
        assert!(parse_cfg("[a]\n[[[b]]]\n", Path::new("y.cfg")).is_err());
    }

    #[test]
    fn yaml_strings_round_trip() {
        for s in [
            "1",
            "True",
            "median",
            "",
            "a b",
            "N/A",
            "/tmp/x_uncal.fits",
            "it's",
            ".fits",
            "null",
            "6.0",
        ] {
            let text = format!("k: {}\n", yaml_string(s));
            let docs = yaml_rust2::YamlLoader::load_from_str(&text).unwrap();
            assert_eq!(docs[0]["k"].as_str(), Some(s), "{text}");
        }
    }

    #[test]
    fn raw_values_follow_configobj() {
        assert_eq!(
            RawValue::Int(6).to_value(Kind::Float).unwrap(),
            Value::Float(6.0)
        );
        assert_eq!(
            RawValue::List(vec![]).to_value(Kind::Str).unwrap(),
            Value::None
        );
        assert!(RawValue::Float(2.5).to_value(Kind::Int).is_err());
        assert_eq!(
            RawValue::Str("1".into()).to_value(Kind::Str).unwrap(),
            Value::Str("1".into())
        );
        assert_eq!(
            RawValue::Text("'median'".into())
                .to_value(Kind::Str)
                .unwrap(),
            Value::Str("median".into())
        );
    }
}
