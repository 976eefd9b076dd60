//! `sloper info FILE`: a JWST-aware summary of an exposure, a product or a reference file.
//!
//! The file is classified from its primary header (REFTYPE -> reference file; DATAMODL, and the
//! `_suffix` of the JWST file name as a fallback, -> raw exposure or product). Raw exposures
//! and ramps are opened through the same validating readers the pipeline uses, so `info` also
//! tells whether the file is readable. The report is a list of (field, value) pairs printed as
//! aligned text or, with `--json`, as one JSON object.

use std::path::Path;

use frames::fits::{FitsReader, HduKind, HduSummary};
use frames::raw::{RampFile, RawExposure};
use frames::segments::FileName;
use frames::ExposureMeta;

#[derive(Debug, Clone, clap::Args)]
pub struct InfoArgs {
    /// An exposure (`_uncal`, `_ramp`, `_rate`, `_rateints`) or a reference file.
    pub file: std::path::PathBuf,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &InfoArgs) -> anyhow::Result<()> {
    // FramesError messages already name the file and the cause (its Io variant also carries
    // the OS error as `source`); print the message once rather than the whole chain.
    let report = describe(&args.file).map_err(|e| anyhow::anyhow!("{e}"))?;
    let out = if args.json {
        report.to_json()
    } else {
        report.to_text()
    };
    println!("{out}");
    Ok(())
}

/// The Stage 1 (NIR order) steps and the status keyword each writes to the primary header.
const DETECTOR1_STEPS: [(&str, &str); 12] = [
    ("group_scale", "S_GRPSCL"),
    ("dq_init", "S_DQINIT"),
    ("saturation", "S_SATURA"),
    ("ipc", "S_IPC"),
    ("superbias", "S_SUPERB"),
    ("refpix", "S_REFPIX"),
    ("linearity", "S_LINEAR"),
    ("dark_current", "S_DARK"),
    ("charge_migration", "S_CHGMIG"),
    ("jump", "S_JUMP"),
    ("ramp_fit", "S_RAMP"),
    ("gain_scale", "S_GANSCL"),
];

/// image2 (imaging) and tso3 steps sloper knows about, in order.
const LATER_STEPS: [(&str, &str); 5] = [
    ("assign_wcs", "S_WCS"),
    ("flat_field", "S_FLAT"),
    ("photom", "S_PHOTOM"),
    ("outlier_detection", "S_OUTLIR"),
    ("tso_photometry", "S_TSPHOT"),
];

/// A value in the report.
#[derive(Debug, Clone)]
pub enum Val {
    Str(String),
    Int(i64),
    Num(f64),
    Bool(bool),
    List(Vec<Val>),
    Obj(Vec<(String, Val)>),
}

impl From<&str> for Val {
    fn from(s: &str) -> Val {
        Val::Str(s.to_string())
    }
}
impl From<String> for Val {
    fn from(s: String) -> Val {
        Val::Str(s)
    }
}
impl From<usize> for Val {
    fn from(v: usize) -> Val {
        Val::Int(v as i64)
    }
}
impl From<i64> for Val {
    fn from(v: i64) -> Val {
        Val::Int(v)
    }
}
impl From<f64> for Val {
    fn from(v: f64) -> Val {
        Val::Num(v)
    }
}
impl From<bool> for Val {
    fn from(v: bool) -> Val {
        Val::Bool(v)
    }
}

/// Ordered (field, value) pairs.
#[derive(Debug, Default, Clone)]
pub struct Report(Vec<(String, Val)>);

impl Report {
    fn put(&mut self, key: &str, v: impl Into<Val>) {
        self.0.push((key.to_string(), v.into()));
    }
    fn put_opt(&mut self, key: &str, v: Option<impl Into<Val>>) {
        if let Some(v) = v {
            self.put(key, v);
        }
    }
    /// The value of `key`, if present (tests).
    pub fn get(&self, key: &str) -> Option<&Val> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// Aligned `field  value` lines; lists of objects become indented lines.
    pub fn to_text(&self) -> String {
        let width = self.0.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
        let mut out = String::new();
        for (k, v) in &self.0 {
            match v {
                Val::List(items) if items.iter().any(|i| matches!(i, Val::Obj(_))) => {
                    out.push_str(&format!("{k}:\n"));
                    for item in items {
                        out.push_str(&format!("  {}\n", text_value(item)));
                    }
                }
                _ => out.push_str(&format!("{k:<width$}  {}\n", text_value(v))),
            }
        }
        out.trim_end().to_string()
    }

    /// One JSON object.
    pub fn to_json(&self) -> String {
        json_value(&Val::Obj(self.0.clone()))
    }
}

fn text_value(v: &Val) -> String {
    match v {
        Val::Str(s) => s.clone(),
        Val::Int(i) => i.to_string(),
        Val::Num(x) => format!("{x}"),
        Val::Bool(b) => if *b { "yes" } else { "no" }.to_string(),
        Val::List(items) => items.iter().map(text_value).collect::<Vec<_>>().join(", "),
        Val::Obj(fields) => fields
            .iter()
            .map(|(k, v)| match v {
                Val::Str(_) | Val::List(_) if k == "name" => text_value(v),
                Val::List(items) => format!(
                    "{k}=({})",
                    items.iter().map(text_value).collect::<Vec<_>>().join(", ")
                ),
                _ => format!("{k}={}", text_value(v)),
            })
            .collect::<Vec<_>>()
            .join("  "),
    }
}

fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn json_value(v: &Val) -> String {
    match v {
        Val::Str(s) => json_string(s),
        Val::Int(i) => i.to_string(),
        // JSON has no NaN/Infinity: write them as null.
        Val::Num(x) if x.is_finite() => format!("{x:?}"),
        Val::Num(_) => "null".to_string(),
        Val::Bool(b) => b.to_string(),
        Val::List(items) => format!(
            "[{}]",
            items.iter().map(json_value).collect::<Vec<_>>().join(", ")
        ),
        Val::Obj(fields) => format!(
            "{{{}}}",
            fields
                .iter()
                .map(|(k, v)| format!("{}: {}", json_string(k), json_value(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// What kind of file this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Reference,
    Raw,
    Ramp,
    Product,
}

fn classify(r: &mut FitsReader, name: Option<&FileName>) -> anyhow::Result<(Kind, String)> {
    if let Some(reftype) = r.key::<String>(0, "REFTYPE")? {
        return Ok((Kind::Reference, format!("reference file ({reftype})")));
    }
    let model = r.key::<String>(0, "DATAMODL")?.unwrap_or_default();
    let suffix = name.map(|n| n.suffix.as_str()).unwrap_or("");
    let kind = match (model.as_str(), suffix) {
        ("Level1bModel", _) | ("", "uncal") => Kind::Raw,
        ("RampModel", _) | ("", "ramp") => Kind::Ramp,
        _ => Kind::Product,
    };
    let label = match (kind, suffix) {
        (Kind::Raw, _) => "raw exposure (uncal)".to_string(),
        (Kind::Ramp, _) => "calibrated ramp (ramp)".to_string(),
        (_, "rate") => "count-rate image (rate)".to_string(),
        (_, "rateints") => "per-integration count rates (rateints)".to_string(),
        (_, "cal") => "calibrated image (cal)".to_string(),
        (_, "calints") => "calibrated integrations (calints)".to_string(),
        (_, "crfints") => "outlier-flagged integrations (crfints)".to_string(),
        (_, s) if !s.is_empty() => format!("product ({s})"),
        _ => "FITS file".to_string(),
    };
    let label = if model.is_empty() {
        label
    } else {
        format!("{label}, {model}")
    };
    Ok((kind, label))
}

/// Builds the report for `path`.
pub fn describe(path: &Path) -> anyhow::Result<Report> {
    let mut r = FitsReader::open(path)?;
    let name = FileName::from_path(path);
    let (kind, label) = classify(&mut r, name.as_ref())?;
    let file_len = r.file_len()?;
    let mut rep = Report::default();
    rep.put("file", path.display().to_string());
    rep.put("size", human_bytes(file_len));
    rep.put("kind", label);
    match kind {
        Kind::Reference => describe_reference(&mut r, &mut rep)?,
        Kind::Raw => {
            let raw = RawExposure::open(path)?;
            describe_exposure(raw.meta(), &mut rep);
            rep.put("shape", shape_text(&raw.shape(), "uint16"));
            rep.put(
                "data",
                format!(
                    "SCI {} at byte {}, {} per group",
                    human_bytes(raw.sci().data_len()),
                    raw.sci().data_start(),
                    human_bytes((raw.ny() * raw.nx() * 2) as u64)
                ),
            );
            rep.put("zeroframe", raw.has_zeroframe());
            rep.put(
                "tables",
                tables_text(
                    raw.int_times().map(|t| t.rows.len()),
                    raw.group_table().map(|t| t.rows.len()),
                ),
            );
            put_steps(&mut r, &mut rep)?;
        }
        Kind::Ramp => {
            let ramp = RampFile::open(path)?;
            describe_exposure(ramp.meta(), &mut rep);
            rep.put(
                "shape",
                shape_text(&ramp.shape(), "float32 + GROUPDQ uint8"),
            );
            rep.put("zeroframe", ramp.has_zeroframe());
            rep.put(
                "tables",
                tables_text(
                    ramp.int_times().map(|t| t.rows.len()),
                    ramp.group_table().map(|t| t.rows.len()),
                ),
            );
            put_steps(&mut r, &mut rep)?;
        }
        Kind::Product => {
            let meta = ExposureMeta::from_reader(&mut r).map_err(|e| {
                anyhow::anyhow!("{e} (not a JWST exposure product or reference file?)")
            })?;
            describe_exposure(&meta, &mut rep);
            if let Some(sci) = r.find_hdu("SCI")? {
                rep.put_opt("bunit", r.key::<String>(sci, "BUNIT")?);
            }
            put_steps(&mut r, &mut rep)?;
        }
    }
    rep.put(
        "hdus",
        Val::List(r.hdu_summaries()?.iter().map(hdu_val).collect()),
    );
    Ok(rep)
}

fn describe_exposure(m: &ExposureMeta, rep: &mut Report) {
    let mut inst = format!("{} {}", m.instrument, m.detector);
    if let (Some(module), Some(channel)) = (&m.module, &m.channel) {
        inst.push_str(&format!(" (module {module}, channel {channel})"));
    }
    rep.put("instrument", inst);
    let tso = if m.is_tso() { " (time series)" } else { "" };
    rep.put("exp_type", format!("{}{tso}", m.exp_type));
    if m.filter.is_some() || m.pupil.is_some() {
        rep.put(
            "filter_pupil",
            format!(
                "{} / {}",
                m.filter.as_deref().unwrap_or("-"),
                m.pupil.as_deref().unwrap_or("-")
            ),
        );
    }
    rep.put(
        "subarray",
        format!(
            "{}: {} x {} (cols x rows) at column {}, row {} (1-based); FASTAXIS {}, SLOWAXIS {}",
            m.subarray, m.subsize1, m.subsize2, m.substrt1, m.substrt2, m.fastaxis, m.slowaxis
        ),
    );
    rep.put(
        "readout",
        format!(
            "{}: NINTS {}, NGROUPS {}, NFRAMES {}, GROUPGAP {}, FRMDIVSR {}",
            m.readpatt,
            m.nints,
            m.ngroups,
            m.nframes,
            m.groupgap,
            m.frame_divisor.map_or("-".to_string(), |v| v.to_string())
        ),
    );
    let mut timing = format!("TFRAME {} s, TGROUP {} s", m.tframe, m.tgroup);
    if let Some(e) = m.effinttm {
        timing.push_str(&format!(", EFFINTTM {e} s"));
    }
    rep.put("timing", timing);
    rep.put("noutputs", m.noutputs);
    let seg = match (m.exseg_num, m.exseg_tot) {
        (Some(k), Some(n)) => format!(
            "segment {k} of {n}: integrations {}..={} of {}",
            m.int_start, m.int_end, m.nints
        ),
        _ if m.is_segment() => format!(
            "integrations {}..={} of {}",
            m.int_start, m.int_end, m.nints
        ),
        _ => format!("whole exposure: integrations 1..={}", m.nints),
    };
    rep.put("segment", seg);
}

fn shape_text(shape: &[usize; 4], dtype: &str) -> String {
    format!(
        "(nints {}, ngroups {}, ny {}, nx {}) {dtype}",
        shape[0], shape[1], shape[2], shape[3]
    )
}

fn tables_text(int_times: Option<usize>, group: Option<usize>) -> String {
    let mut t = Vec::new();
    if let Some(n) = int_times {
        t.push(format!("INT_TIMES ({n} rows)"));
    }
    if let Some(n) = group {
        t.push(format!("GROUP ({n} rows)"));
    }
    if t.is_empty() {
        "none".to_string()
    } else {
        t.join(", ")
    }
}

/// Steps already run (from the S_* keywords) and the steps the file is ready for: those after
/// the last one that has a status keyword.
fn put_steps(r: &mut FitsReader, rep: &mut Report) -> anyhow::Result<()> {
    let all: Vec<(&str, &str, &str)> = DETECTOR1_STEPS
        .iter()
        .map(|&(s, k)| ("detector1", s, k))
        .chain(LATER_STEPS.iter().map(|&(s, k)| ("image2/tso3", s, k)))
        .collect();
    let mut done = Vec::new();
    let mut last = None;
    for (i, (_, step, key)) in all.iter().enumerate() {
        if let Some(status) = r.key::<String>(0, key)? {
            done.push(format!("{step} {}", status.to_lowercase()));
            last = Some(i);
        }
    }
    rep.put(
        "steps_done",
        if done.is_empty() {
            "none".to_string()
        } else {
            done.join(", ")
        },
    );
    let next = last.map_or(0, |i| i + 1);
    // The rest of the stage the next step belongs to.
    let ready: Vec<&str> = all
        .get(next)
        .map(|(stage, _, _)| {
            all[next..]
                .iter()
                .take_while(|(st, _, _)| st == stage)
                .map(|(_, s, _)| *s)
                .collect()
        })
        .unwrap_or_default();
    let ready_text = if next == 0 {
        format!(
            "all of detector1 ({})",
            DETECTOR1_STEPS.map(|(s, _)| s).join(" -> ")
        )
    } else if ready.is_empty() {
        "nothing left in the steps sloper implements".to_string()
    } else {
        let stage = all[next].0;
        format!("{stage}: {}", ready.join(" -> "))
    };
    rep.put("ready_for", ready_text);
    Ok(())
}

fn describe_reference(r: &mut FitsReader, rep: &mut Report) -> anyhow::Result<()> {
    rep.put_opt("reftype", r.key::<String>(0, "REFTYPE")?);
    rep.put_opt("datamodel", r.key::<String>(0, "DATAMODL")?);
    let inst = [
        r.key::<String>(0, "INSTRUME")?,
        r.key::<String>(0, "DETECTOR")?,
    ];
    let inst: Vec<String> = inst.into_iter().flatten().collect();
    if !inst.is_empty() {
        rep.put("instrument", inst.join(" "));
    }
    match r.key::<String>(0, "SUBARRAY")? {
        Some(sub) => {
            let k = |r: &mut FitsReader, key: &str| -> anyhow::Result<String> {
                Ok(r.key::<i64>(0, key)?
                    .map_or("?".to_string(), |v| v.to_string()))
            };
            let (x0, y0, nx, ny) = (
                k(r, "SUBSTRT1")?,
                k(r, "SUBSTRT2")?,
                k(r, "SUBSIZE1")?,
                k(r, "SUBSIZE2")?,
            );
            rep.put(
                "subarray",
                format!("{sub}: {nx} x {ny} (cols x rows) at column {x0}, row {y0} (1-based)"),
            );
        }
        None => rep.put(
            "subarray",
            "none (full frame assumed when the arrays are 2048 x 2048)",
        ),
    }
    let keys = [
        "READPATT", "NFRAMES", "GROUPGAP", "NGROUPS", "NINTS", "AVDRKCUR", "GAINFACT", "FILTER",
        "PUPIL", "EXP_TYPE", "PIXAR_SR", "PIXAR_A2", "PEDIGREE", "USEAFTER", "AUTHOR", "DESCRIP",
    ];
    for key in keys {
        if let Some(v) = r.key::<String>(0, key).ok().flatten() {
            rep.put(&key.to_lowercase(), v);
        } else if let Some(v) = r.key::<f64>(0, key).ok().flatten() {
            if v.fract() == 0.0 && v.abs() < 1e15 {
                rep.put(&key.to_lowercase(), v as i64);
            } else {
                rep.put(&key.to_lowercase(), v);
            }
        }
    }
    Ok(())
}

fn hdu_val(h: &HduSummary) -> Val {
    let mut f: Vec<(String, Val)> = vec![
        ("index".into(), h.index.into()),
        ("name".into(), h.name.clone().into()),
    ];
    match h.kind {
        HduKind::Image => {
            f.push(("type".into(), "image".into()));
            if !h.shape.is_empty() {
                f.push(("dtype".into(), h.dtype().unwrap_or("?").into()));
                f.push((
                    "shape".into(),
                    Val::List(h.shape.iter().map(|&n| n.into()).collect()),
                ));
            }
        }
        HduKind::BinaryTable | HduKind::AsciiTable => {
            f.push(("type".into(), "table".into()));
            f.push(("rows".into(), h.shape[0].into()));
            f.push(("columns".into(), h.shape[1].into()));
        }
    }
    Val::Obj(f)
}

fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {} ({n} bytes)", UNITS[u])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn tiny(rel: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/oracle/tiny")
            .join(rel)
    }
    const BASE: &str = "jw01234001001_01101_00001_nrcalong";

    fn text(r: &Report, k: &str) -> String {
        text_value(r.get(k).unwrap_or_else(|| panic!("no field {k}")))
    }

    #[test]
    fn uncal_summary() {
        let r = describe(&tiny(&format!("{BASE}_uncal.fits"))).unwrap();
        assert!(text(&r, "kind").starts_with("raw exposure (uncal), Level1bModel"));
        assert_eq!(
            text(&r, "instrument"),
            "NIRCAM NRCALONG (module A, channel LONG)"
        );
        assert_eq!(text(&r, "exp_type"), "NRC_TSGRISM (time series)");
        assert!(
            text(&r, "subarray").starts_with("GENERIC: 32 x 32 (cols x rows) at column 1, row 1")
        );
        assert_eq!(
            text(&r, "readout"),
            "RAPID: NINTS 2, NGROUPS 5, NFRAMES 1, GROUPGAP 0, FRMDIVSR 1"
        );
        assert_eq!(
            text(&r, "shape"),
            "(nints 2, ngroups 5, ny 32, nx 32) uint16"
        );
        assert_eq!(text(&r, "segment"), "whole exposure: integrations 1..=2");
        assert_eq!(text(&r, "tables"), "INT_TIMES (2 rows), GROUP (10 rows)");
        assert!(text(&r, "ready_for").starts_with("all of detector1 (group_scale -> dq_init"));
        assert!(text(&r, "data").starts_with("SCI 20.0 KiB (20480 bytes) at byte 11520"));
        let json = r.to_json();
        assert!(json.starts_with("{\"file\": "), "{json}");
        assert!(
            json.contains("\"name\": \"INT_TIMES\", \"type\": \"table\", \"rows\": 2"),
            "{json}"
        );
    }

    #[test]
    fn ramp_is_ready_for_ramp_fitting() {
        let r = describe(&tiny(&format!("golden/{BASE}_ramp.fits"))).unwrap();
        assert!(text(&r, "kind").starts_with("calibrated ramp"));
        assert!(text(&r, "steps_done").contains("jump complete"));
        assert_eq!(text(&r, "ready_for"), "detector1: ramp_fit -> gain_scale");
    }

    #[test]
    fn rateints_and_reference() {
        let r = describe(&tiny(&format!("golden/{BASE}_rateints.fits"))).unwrap();
        assert!(text(&r, "kind").starts_with("per-integration count rates (rateints), CubeModel"));
        assert_eq!(text(&r, "bunit"), "DN/s");
        assert!(
            text(&r, "ready_for").starts_with("image2/tso3: assign_wcs -> flat_field -> photom")
        );
        let d = describe(&tiny("ref_dark.fits")).unwrap();
        assert_eq!(text(&d, "reftype"), "DARK");
        assert_eq!(text(&d, "nframes"), "1");
        assert_eq!(text(&d, "ngroups"), "5");
        assert!(text(&d, "hdus").contains("SCI"));
        let ipc = describe(&tiny("ref_ipc.fits")).unwrap();
        assert!(text(&ipc, "subarray").starts_with("none"));
    }
}
