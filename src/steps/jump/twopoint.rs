//! Per-pixel two-point-difference detection (spec §11.3–11.6; stcal `twopoint_difference.py`).
//!
//! [`detect_pixel`] takes one pixel's whole exposure (every group of every integration: the
//! pooled median and, in iterative mode, the global maximum span all integrations) and sets
//! JUMP_DET in its GROUPDQ exactly as the official code does for the exposure's mode. It also
//! writes, per difference, the facts the later band-level passes need (see the `MARK_*` bits),
//! so neither the pixel values nor the float64 differences have to be kept.
//!
//! Arithmetic mirrors numpy's dtypes: `SCI * gain` and `readnoise * gain` in float32, differences
//! subtracted in float32 and widened to float64, medians, sigma and ratios in float64. The
//! iterative search has two extra precision quirks (spec §11.4): after the first round the
//! clipped median is stored in float32, and `|Δ| - median` is always rounded to float32.

use frames::dq;

use super::setup::{JumpMode, JumpSetup};
use super::sigma_clip;
use super::stats::{clipped_median, nanmedian_f64};

/// Mark bit: `min_jump_to_flag_neighbors < |Δ - M| / σ < max_jump_to_flag_neighbors` for the
/// difference ending at this group (only computed when `flag_4_neighbors`).
pub const MARK_NEIGHBOR_RANGE: u8 = 1 << 0;
/// Mark bit: `Δ - M >= e1` (after-jump "big" jump), only computed when after-jump is active.
pub const MARK_AFTER_BIG: u8 = 1 << 1;
/// Mark bit: `Δ - M >= e2` (after-jump "very big" jump).
pub const MARK_AFTER_VERY_BIG: u8 = 1 << 2;
/// Mark bit set by the neighbour pass: in range and JUMP_DET after detection, so the four
/// neighbours get flagged.
pub const MARK_NEIGHBOR_CENTRE: u8 = 1 << 3;

/// Working buffers for one pixel, allocated once per exposure geometry and reused for every
/// pixel (no allocation per pixel).
#[derive(Debug, Clone)]
pub struct PixelScratch {
    nints: usize,
    ngroups: usize,
    /// First differences Δ[i, k] (float64, NaN where unusable), `i * (ngroups-1) + k`.
    diffs: Vec<f64>,
    /// |Δ| with detected jumps removed (iterative mode).
    abs_diffs: Vec<f64>,
    /// Selection / sorting buffer.
    sort: Vec<f64>,
}

impl PixelScratch {
    pub fn new(nints: usize, ngroups: usize) -> Self {
        let nd = nints * ngroups.saturating_sub(1);
        PixelScratch {
            nints,
            ngroups,
            diffs: Vec::with_capacity(nd),
            abs_diffs: Vec::with_capacity(nd),
            sort: Vec::with_capacity(nd),
        }
    }

    /// Whether this scratch was made for the exposure geometry of `setup`.
    pub fn fits(&self, setup: &JumpSetup) -> bool {
        self.nints == setup.nints && self.ngroups == setup.ngroups
    }
}

/// Pooled statistics of one pixel (spec §11.3): `M` = nanmedian of every first difference of
/// every integration, `σ = sqrt(|M| + rn² / NFRAMES)` (NaN when 0, so pixels with no noise and
/// no signal are never flagged).
#[derive(Debug, Clone, Copy)]
struct Pooled {
    median: f64,
    sigma: f64,
}

/// Run the detection of `setup.mode` on one pixel.
///
/// - `values`: the pixel's DN (after all pre-jump corrections), `i * ngroups + g`.
/// - `gdq`: its GROUPDQ, same layout; JUMP_DET is OR-ed in.
/// - `marks`: output, same layout; slot `i * ngroups + k + 1` describes difference `k` of
///   integration `i` (slot `g = 0` stays 0). Used by [`super::neighbors`] and
///   [`super::after_jump`].
/// - `gain` (e⁻/DN) and `readnoise` (CDS noise, DN) of the pixel.
pub fn detect_pixel(
    setup: &JumpSetup,
    values: &[f32],
    gdq: &mut [u8],
    marks: &mut [u8],
    gain: f32,
    readnoise: f32,
    scratch: &mut PixelScratch,
) {
    let ngroups = setup.ngroups;
    let gpp = setup.groups_per_pixel();
    debug_assert!(values.len() == gpp && gdq.len() == gpp && marks.len() == gpp);
    debug_assert!(scratch.fits(setup));
    marks.fill(0);
    if !setup.detects() {
        return;
    }

    // Electrons, NaN where DO_NOT_USE or SATURATED; differences in float32, widened.
    let ndiff = ngroups - 1;
    scratch.diffs.resize(setup.nints * ndiff, 0.0);
    for ((v, q), out) in values
        .chunks_exact(ngroups)
        .zip(gdq.chunks_exact(ngroups))
        .zip(scratch.diffs.chunks_exact_mut(ndiff.max(1)))
    {
        let electrons = |g: usize| {
            if q[g] & (dq::G_DO_NOT_USE | dq::G_SATURATED) != 0 {
                f32::NAN
            } else {
                v[g] * gain
            }
        };
        let mut prev = electrons(0);
        for (g, d) in (1..ngroups).zip(out.iter_mut()) {
            let cur = electrons(g);
            *d = (cur - prev) as f64;
            prev = cur;
        }
    }

    let rn_e = readnoise * gain;
    let rn2 = rn_e * rn_e;
    let rn2_per_nframes = rn2 as f64 / setup.nframes as f64;
    let pooled_of = |diffs: &[f64], sort: &mut Vec<f64>| {
        let median = nanmedian_f64(diffs, sort);
        Pooled {
            median,
            sigma: sigma_from(median, rn2_per_nframes),
        }
    };

    let mut pooled = None;
    match setup.mode {
        JumpMode::Iterative => iterative(setup, gdq, rn2_per_nframes, scratch),
        JumpMode::SinglePass => {
            let p = pooled_of(&scratch.diffs, &mut scratch.sort);
            single_pass(setup, gdq, p, &scratch.diffs);
            pooled = Some(p);
        }
        JumpMode::SigmaClip { across_ints_only } => sigma_clip::detect(
            setup,
            gdq,
            &scratch.diffs,
            across_ints_only,
            &mut scratch.sort,
        ),
        JumpMode::StepSkipped | JumpMode::NoDetection => unreachable!("checked by detects()"),
    }

    // The marks are read only where this pixel's own detection set JUMP_DET (four-neighbour
    // centres) or, with after-jump flagging on, wherever JUMP_DET ends up. Most pixels have no
    // jump: skip the pooled median for them (the marks stay 0, which is never read).
    let needed = setup.after_jump.active()
        || (setup.flag_4_neighbors && gdq.iter().any(|&q| q & dq::G_JUMP_DET != 0));
    if needed {
        let p = match pooled {
            Some(p) => p,
            None => pooled_of(&scratch.diffs, &mut scratch.sort),
        };
        write_marks(setup, marks, p, &scratch.diffs);
    }
}

/// `sqrt(|m| * dt + rn² / (0.5 * 2 * NFRAMES)) / dt` with dt = 1, NaN instead of 0.
fn sigma_from(median: f64, rn2_per_nframes: f64) -> f64 {
    let s = (median.abs() + rn2_per_nframes).sqrt();
    if s == 0.0 {
        f64::NAN
    } else {
        s
    }
}

/// Group slot (in the pixel's `i * ngroups + g` layout) of the group a difference ends at.
#[inline]
fn slot_of_diff(j: usize, ngroups: usize) -> usize {
    let ndiff = ngroups - 1;
    (j / ndiff) * ngroups + j % ndiff + 1
}

/// Single pass (≥ `min_diffs_single_pass` usable differences): every finite difference more than
/// `rejection_threshold` σ from the pooled median is a jump.
fn single_pass(setup: &JumpSetup, gdq: &mut [u8], pooled: Pooled, diffs: &[f64]) {
    for (j, &d) in diffs.iter().enumerate() {
        if d.is_finite() && (d - pooled.median).abs() / pooled.sigma > setup.rejection_threshold {
            gdq[slot_of_diff(j, setup.ngroups)] |= dq::G_JUMP_DET;
        }
    }
}

/// Iterative search (stcal `iterative_jump` / `get_cr_locs` / `calc_med_first_diffs`): each
/// round computes the clipped median of |Δ| over the whole exposure, and if the largest ratio
/// exceeds the threshold for the number of usable differences, flags every difference equal to
/// that largest ratio and removes it; stops at the first round that flags nothing.
///
/// stcal keeps a per-integration candidate test (`max over k of ratio[i, k] > threshold`) and
/// flags `ratio == global max` only in candidate integrations; any integration holding the
/// global max has that max as its own, so this is the same as testing the global max once.
fn iterative(setup: &JumpSetup, gdq: &mut [u8], rn2_per_nframes: f64, scratch: &mut PixelScratch) {
    let PixelScratch {
        diffs,
        abs_diffs,
        sort,
        ..
    } = scratch;
    abs_diffs.clear();
    abs_diffs.extend(diffs.iter().map(|d| d.abs()));
    let mut usable = abs_diffs.iter().filter(|a| !a.is_nan()).count();

    // At most one round per difference (stcal's loop bound); every flagging round removes one.
    for round in 0..abs_diffs.len() {
        let clipped = clipped_median(abs_diffs, sort);
        // Round 1 keeps the float64 median; later rounds store it into a float32 array.
        let median = if round == 0 {
            clipped
        } else {
            clipped as f32 as f64
        };
        let sigma = sigma_from(median, rn2_per_nframes);
        let threshold = match usable {
            0 | 1 => break,
            2 => setup.three_group_rejection_threshold,
            3 => setup.four_group_rejection_threshold,
            _ => setup.rejection_threshold,
        };
        // ratio = |e_jump| / σ with e_jump a float32 (as stcal stores it). Division by σ > 0
        // is monotonic, so the largest ratio is the largest |e_jump| divided once. It is also
        // injective on float32 numerators (distinct float32 values differ by far more than a
        // float64 rounding), so "ratio == largest ratio" is "|e_jump| == largest |e_jump|".
        let e_abs = |a: f64| ((a - median) as f32).abs();
        // Unusable differences give NaN; -1 stands in for them (every |e| is >= 0).
        let mut max_e = -1.0f32;
        for &a in abs_diffs.iter() {
            let e = e_abs(a);
            let e = if e.is_nan() { -1.0 } else { e };
            max_e = if e > max_e { e } else { max_e };
        }
        if max_e < 0.0 {
            break; // no usable ratio
        }
        let max_ratio = max_e as f64 / sigma;
        // A NaN ratio (σ NaN) never exceeds the threshold.
        if max_ratio.is_nan() || max_ratio <= threshold {
            break;
        }
        for (j, a) in abs_diffs.iter_mut().enumerate() {
            if e_abs(*a) == max_e {
                gdq[slot_of_diff(j, setup.ngroups)] |= dq::G_JUMP_DET;
                *a = f64::NAN;
                usable -= 1;
            }
        }
    }
}

/// Per-difference facts for the neighbour and after-jump passes, from the pooled statistics
/// (also in sigma-clip mode, where they play no part in detection).
fn write_marks(setup: &JumpSetup, marks: &mut [u8], pooled: Pooled, diffs: &[f64]) {
    let after = setup.after_jump;
    let after_active = after.active();
    let (e1, e2) = (after.e1 as f64, after.e2 as f64);
    for (j, &d) in diffs.iter().enumerate() {
        let mut m = 0u8;
        if setup.flag_4_neighbors {
            let r = (d - pooled.median).abs() / pooled.sigma;
            if r < setup.max_jump_to_flag_neighbors && r > setup.min_jump_to_flag_neighbors {
                m |= MARK_NEIGHBOR_RANGE;
            }
        }
        if after_active {
            let excess = d - pooled.median;
            if excess >= e1 {
                m |= MARK_AFTER_BIG;
            }
            if excess >= e2 {
                m |= MARK_AFTER_VERY_BIG;
            }
        }
        marks[slot_of_diff(j, setup.ngroups)] = m;
    }
}
