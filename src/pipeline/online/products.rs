//! Product headers and band writing for the online driver: the same keywords as the exact
//! driver writes (step status, references, PRIMECRS/EXTNCRS), plus `S1MODE = 'ONLINE'` in the
//! primary header because online jump flags are not the official (whole-exposure) ones.

use crate::pipeline::detector1::prepare::Prepared;
use crate::steps::jump::{self, JumpMode, JumpSetup};
use crate::steps::ramp_fit::FitValues;
use anyhow::Result;
use frames::write::{Card, KeyValue, ProductHeader, RateBand};
use ndarray::ArrayView2;
use std::path::Path;

/// Primary keyword that marks products of the online driver.
pub const MODE_KEY: &str = "S1MODE";

/// Header of the rate/rateints products (after ramp fitting and gain_scale).
pub fn final_header(
    input: &Path,
    prep: &Prepared,
    refpix_done: bool,
    jump_ran: bool,
) -> ProductHeader {
    let mut cal_steps = prep.cal_steps.clone();
    let status = |on: bool| if on { "COMPLETE" } else { "SKIPPED" }.to_string();
    cal_steps.push(("S_REFPIX".into(), status(refpix_done)));
    cal_steps.push(("S_JUMP".into(), status(jump_ran)));
    for k in ["S_CHGMIG", "S_CLNFNS", "S_PERSIS", "S_PCTFRM"] {
        cal_steps.push((k.into(), "SKIPPED".into()));
    }
    cal_steps.push(("S_RAMP".into(), "COMPLETE".into()));
    cal_steps.push(("S_GANSCL".into(), status(prep.gain_factor.is_some())));
    ProductHeader {
        input: input.to_path_buf(),
        cal_steps,
        ref_files: prep.ref_files.clone(),
        crds_ctx: None,
        crds_ver: None,
        primary_extra: vec![Card::with_comment(
            MODE_KEY,
            KeyValue::Str("ONLINE".into()),
            "sloper online driver: causal jump detection",
        )],
        sci_extra: vec![],
    }
}

/// PRIMECRS / EXTNCRS as the jump step writes them.
#[allow(clippy::too_many_arguments)]
pub fn jump_cards(
    setup: Option<&JumpSetup>,
    primary_total: u64,
    fully_dnu: usize,
    nints: usize,
    ngroups: usize,
    tgroup: f64,
    ny: usize,
    nx: usize,
) -> Vec<Card> {
    let mut extra = Vec::new();
    let Some(setup) = setup.filter(|s| s.mode != JumpMode::StepSkipped) else {
        return extra;
    };
    let number = if setup.detects() {
        primary_total as i64
    } else {
        jump::setup::NO_DETECTION_CR_COUNT
    };
    if let Some(v) =
        jump::setup::primary_cosmic_rays(number, fully_dnu, nints, ngroups, tgroup, ny, nx)
    {
        extra.push(Card::new("PRIMECRS", KeyValue::Float(v)));
    }
    if let Some(v) =
        jump::setup::extended_emission_events(0, fully_dnu, nints, ngroups, tgroup, ny, nx)
    {
        extra.push(Card::new("EXTNCRS", KeyValue::Float(v)));
    }
    extra
}

/// Split rate-like values into the product's arrays (gain_scale applied) and write them.
pub fn write_values(
    values: &[FitValues],
    rows: usize,
    nx: usize,
    gain_factor: Option<f64>,
    write: impl FnOnce(&RateBand) -> frames::Result<()>,
) -> Result<()> {
    let mut sci: Vec<f32> = values.iter().map(|v| v.sci).collect();
    let mut err: Vec<f32> = values.iter().map(|v| v.err).collect();
    let mut vp: Vec<f32> = values.iter().map(|v| v.var_poisson).collect();
    let mut vr: Vec<f32> = values.iter().map(|v| v.var_rnoise).collect();
    let dq: Vec<u32> = values.iter().map(|v| v.dq).collect();
    if let Some(f) = gain_factor {
        crate::steps::gain_scale::apply(f, &mut sci, &mut err, &mut vp, &mut vr);
    }
    let shape = (rows, nx);
    let bad = || {
        anyhow::anyhow!(
            "internal error: {} values are not a {rows}x{nx} band",
            values.len()
        )
    };
    let band = RateBand {
        sci: ArrayView2::from_shape(shape, sci.as_slice()).map_err(|_| bad())?,
        err: ArrayView2::from_shape(shape, err.as_slice()).map_err(|_| bad())?,
        dq: ArrayView2::from_shape(shape, dq.as_slice()).map_err(|_| bad())?,
        var_poisson: ArrayView2::from_shape(shape, vp.as_slice()).map_err(|_| bad())?,
        var_rnoise: ArrayView2::from_shape(shape, vr.as_slice()).map_err(|_| bad())?,
    };
    write(&band)?;
    Ok(())
}
