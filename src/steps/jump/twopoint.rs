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
use super::stats::{
    abs_key, clipped_median, f32_key, key_value, median_from_pair, median_of_keys, range_counts,
    usable_span, RankWindow, KEY_INF,
};

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
    /// First differences in the pixel's flat layout (float32): entry `t` is group `t + 1` minus
    /// group `t`, so the difference ending at group slot `s` is entry `s - 1`. Entries that
    /// would cross from one integration into the next are NaN, as are unusable differences;
    /// `groups_per_pixel - 1` entries.
    flat: Vec<f32>,
    /// Order keys of `flat`: [`abs_key`] of |Δ| in iterative mode, [`f32_key`] of Δ for the
    /// pooled median.
    keys: Vec<i32>,
    /// Order statistics of `keys`.
    window: RankWindow,
    /// First differences Δ[i, k] (float64, NaN where unusable), `i * (ngroups-1) + k`: only
    /// for sigma clipping and the reference iterative search.
    diffs: Vec<f64>,
    /// |Δ| with detected jumps removed (reference iterative search).
    abs_diffs: Vec<f64>,
    /// Selection / sorting buffer.
    sort: Vec<f64>,
}

impl PixelScratch {
    pub fn new(nints: usize, ngroups: usize) -> Self {
        let nd = nints * ngroups.saturating_sub(1);
        let flat = (nints * ngroups).saturating_sub(1);
        PixelScratch {
            nints,
            ngroups,
            flat: Vec::with_capacity(flat),
            keys: Vec::with_capacity(flat),
            window: RankWindow::default(),
            diffs: Vec::with_capacity(nd),
            abs_diffs: Vec::with_capacity(nd),
            sort: Vec::with_capacity(nd),
        }
    }

    /// Whether this scratch was made for the exposure geometry of `setup`.
    pub fn fits(&self, setup: &JumpSetup) -> bool {
        self.nints == setup.nints && self.ngroups == setup.ngroups
    }

    /// `diffs` (the compact float64 layout) from `flat`.
    fn fill_compact_diffs(&mut self) {
        let ngroups = self.ngroups;
        let ndiff = ngroups - 1;
        self.diffs.clear();
        for i in 0..self.nints {
            let t0 = i * ngroups;
            self.diffs
                .extend(self.flat[t0..t0 + ndiff].iter().map(|&d| d as f64));
        }
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

    // Electrons, NaN where DO_NOT_USE or SATURATED; differences in float32 (widened to float64
    // where used, which is exact), over the flat layout so the loop vectorises.
    let unusable = |q: u8| q & (dq::G_DO_NOT_USE | dq::G_SATURATED) != 0;
    let electrons = |v: f32, q: u8| if unusable(q) { f32::NAN } else { v * gain };
    let nflat = gpp - 1;
    let PixelScratch {
        flat, keys, window, ..
    } = scratch;
    flat.resize(nflat, 0.0);
    keys.resize(nflat, 0);
    for ((((d, k), v), q), (v1, q1)) in flat
        .iter_mut()
        .zip(keys.iter_mut())
        .zip(values)
        .zip(gdq.iter())
        .zip(values[1..].iter().zip(&gdq[1..]))
    {
        let diff = electrons(*v1, *q1) - electrons(*v, *q);
        *d = diff;
        *k = abs_key(diff);
    }
    // Entries that span two integrations are no differences.
    for t in (ngroups - 1..nflat).step_by(ngroups) {
        flat[t] = f32::NAN;
        keys[t] = abs_key(f32::NAN);
    }

    let rn_e = readnoise * gain;
    let rn2 = rn_e * rn_e;
    let rn2_per_nframes = rn2 as f64 / setup.nframes as f64;
    let pooled_of = |flat: &[f32], keys: &mut Vec<i32>, window: &mut RankWindow| {
        keys.clear();
        keys.extend(flat.iter().map(|&d| f32_key(d)));
        let usable = keys.iter().filter(|&&k| k <= KEY_INF).count();
        let median = median_of_keys(keys, usable, window);
        Pooled {
            median,
            sigma: sigma_from(median, rn2_per_nframes),
        }
    };

    let mut pooled = None;
    match setup.mode {
        JumpMode::Iterative => {
            if iterative(setup, gdq, rn2_per_nframes, keys, window).is_none() {
                scratch.fill_compact_diffs();
                iterative_reference(setup, gdq, rn2_per_nframes, scratch);
            }
        }
        JumpMode::SinglePass => {
            let p = pooled_of(flat, keys, window);
            single_pass(setup, gdq, p, flat);
            pooled = Some(p);
        }
        JumpMode::SigmaClip { across_ints_only } => {
            scratch.fill_compact_diffs();
            sigma_clip::detect(
                setup,
                gdq,
                &scratch.diffs,
                across_ints_only,
                &mut scratch.sort,
            )
        }
        JumpMode::StepSkipped | JumpMode::NoDetection => unreachable!("checked by detects()"),
    }

    // The marks are read only where this pixel's own detection set JUMP_DET (four-neighbour
    // centres) or, with after-jump flagging on, wherever JUMP_DET ends up. Most pixels have no
    // jump: skip the pooled median for them (the marks stay 0, which is never read).
    let needed = setup.after_jump.active()
        || (setup.flag_4_neighbors && gdq.iter().any(|&q| q & dq::G_JUMP_DET != 0));
    if needed {
        let PixelScratch {
            flat, keys, window, ..
        } = scratch;
        let p = match pooled {
            Some(p) => p,
            None => pooled_of(flat, keys, window),
        };
        write_marks(setup, marks, p, flat);
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
/// `rejection_threshold` σ from the pooled median is a jump. `flat` as in [`PixelScratch`].
fn single_pass(setup: &JumpSetup, gdq: &mut [u8], pooled: Pooled, flat: &[f32]) {
    for (q, &d) in gdq[1..].iter_mut().zip(flat) {
        let d = d as f64;
        if d.is_finite() && (d - pooled.median).abs() / pooled.sigma > setup.rejection_threshold {
            *q |= dq::G_JUMP_DET;
        }
    }
}

/// Iterative search, straight from the spec (stcal `iterative_jump` / `get_cr_locs` /
/// `calc_med_first_diffs`): each round computes the clipped median of |Δ| over the whole exposure, and if the largest ratio
/// exceeds the threshold for the number of usable differences, flags every difference equal to
/// that largest ratio and removes it; stops at the first round that flags nothing.
///
/// stcal keeps a per-integration candidate test (`max over k of ratio[i, k] > threshold`) and
/// flags `ratio == global max` only in candidate integrations; any integration holding the
/// global max has that max as its own, so this is the same as testing the global max once.
fn iterative_reference(
    setup: &JumpSetup,
    gdq: &mut [u8],
    rn2_per_nframes: f64,
    scratch: &mut PixelScratch,
) {
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

/// Iterative search (spec §11.4) on the keys of |Δ| ([`abs_key`]), giving the same flags as
/// [`iterative_reference`] by reasoning about order instead of recomputing every round.
///
/// Each round flags the usable values `a` whose `e(a) = |float32(a - m)|` equals the largest;
/// `e` only grows with `|a - m|` (rounding to float32 is monotonic), so the flagged values are
/// the top and/or bottom of the remaining ones in sorted order, and equal values go together.
/// What remains is therefore always the usable values inside a key range `[lo, hi]`, and the
/// clipped median (drop the values equal to the maximum `hi`, median of the rest) is an order
/// statistic of all usable values, at ranks shifted by the count below `lo`. Those come from
/// one gathered [`RankWindow`]; each round is then two branch-free passes over the keys (the
/// new range, then its counts), and the flags are set once at the end from the final range.
///
/// `keys` are in the flat layout of [`PixelScratch`]. Returns whether anything was flagged, or
/// `None`, having changed nothing, when a difference is infinite (`a - m` can then be NaN and
/// the order argument fails): the caller runs [`iterative_reference`].
fn iterative(
    setup: &JumpSetup,
    gdq: &mut [u8],
    rn2_per_nframes: f64,
    keys: &[i32],
    window: &mut RankWindow,
) -> Option<bool> {
    // Usable count, range and the count at the maximum.
    let (n, mut lo, mut hi) = usable_span(keys);
    if n < 2 {
        return Some(false);
    }
    if hi == KEY_INF {
        return None;
    }
    let mut at_hi = range_counts(keys, lo, hi).2;
    // Usable keys below `lo` (removed from the bottom) and inside [lo, hi].
    let mut below = 0usize;
    let mut remaining = n;
    let mut flagged = false;

    for round in 0..keys.len() {
        let threshold = match remaining {
            0 | 1 => break,
            2 => setup.three_group_rejection_threshold,
            3 => setup.four_group_rejection_threshold,
            _ => setup.rejection_threshold,
        };
        // Clipped median (stcal `calc_med_first_diffs`) of the remaining values.
        let clipped = match remaining {
            2 => key_value(lo) as f64,
            3 => {
                let k = if round == 0 {
                    window.first_pair(keys, below + 1, below + 1).1
                } else {
                    window.rank(keys, below + 1)
                };
                key_value(k) as f64
            }
            _ => {
                let rest = remaining - at_hi;
                if rest == 0 {
                    f64::NAN
                } else {
                    let (k1, k2) = (below + (rest - 1) / 2, below + rest / 2);
                    let pair = if round == 0 {
                        window.first_pair(keys, k1, k2)
                    } else {
                        (window.rank(keys, k1), window.rank(keys, k2))
                    };
                    median_from_pair(pair)
                }
            }
        };
        // Round 1 keeps the float64 median; later rounds store it into a float32 array.
        let median = if round == 0 {
            clipped
        } else {
            clipped as f32 as f64
        };
        if median.is_nan() {
            break; // every ratio NaN
        }
        let sigma = sigma_from(median, rn2_per_nframes);
        let e_abs = |k: i32| ((key_value(k) as f64 - median) as f32).abs();
        // The largest |e| is at one end (see above); ratio = |e| / σ as in
        // `iterative_reference`.
        let max_e = e_abs(lo).max(e_abs(hi));
        let max_ratio = max_e as f64 / sigma;
        if max_ratio.is_nan() || max_ratio <= threshold {
            break;
        }
        // The values left: inside [lo, hi] with a smaller |e|.
        let (mut new_lo, mut new_hi) = (i32::MAX, -1i32);
        for &k in keys {
            let keep = (k >= lo) & (k <= hi) & (e_abs(k) != max_e);
            new_hi = new_hi.max(if keep { k } else { -1 });
            new_lo = new_lo.min(if keep { k } else { i32::MAX });
        }
        flagged = true;
        (lo, hi) = (new_lo, new_hi);
        if hi < 0 {
            remaining = 0;
            break;
        }
        let (inside, under, top) = range_counts(keys, lo, hi);
        (remaining, below, at_hi) = (inside, under, top);
    }
    let _ = remaining;

    if flagged {
        for (q, &k) in gdq[1..].iter_mut().zip(keys) {
            let removed = (k <= KEY_INF) & ((k < lo) | (k > hi));
            *q |= dq::G_JUMP_DET * removed as u8;
        }
    }
    Some(flagged)
}

/// Per-difference facts for the neighbour and after-jump passes, from the pooled statistics
/// (also in sigma-clip mode, where they play no part in detection). `flat` as in
/// [`PixelScratch`]; its NaN entries (unusable, or spanning two integrations) give no mark.
fn write_marks(setup: &JumpSetup, marks: &mut [u8], pooled: Pooled, flat: &[f32]) {
    let after = setup.after_jump;
    let after_active = after.active();
    let (e1, e2) = (after.e1 as f64, after.e2 as f64);
    for (mark, &d) in marks[1..].iter_mut().zip(flat) {
        let d = d as f64;
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
        *mark = m;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::steps::jump::params::JumpParams;
    use crate::steps::jump::stats::nanmedian_f64;

    /// The test draws (the crate's seeded `rand` generator and `rand_distr`'s normal).
    struct Rng(rand::rngs::StdRng);

    impl Rng {
        fn seeded(seed: u64) -> Rng {
            Rng(rand::SeedableRng::seed_from_u64(seed))
        }
        fn uniform(&mut self) -> f64 {
            rand::Rng::random(&mut self.0)
        }
        fn below(&mut self, n: usize) -> usize {
            rand::Rng::random_range(&mut self.0, 0..n)
        }
        fn normal(&mut self) -> f64 {
            rand_distr::Distribution::sample(&rand_distr::StandardNormal, &mut self.0)
        }
        fn pick<T: Copy>(&mut self, from: &[T]) -> T {
            from[self.below(from.len())]
        }
    }

    /// The pixel as the spec states it: compact float64 differences, the round-by-round
    /// iterative search ([`iterative_reference`]) or the single pass against `nanmedian`, and
    /// the marks from the pooled `nanmedian`.
    fn reference(
        setup: &JumpSetup,
        values: &[f32],
        gdq: &mut [u8],
        marks: &mut [u8],
        gain: f32,
        readnoise: f32,
    ) {
        let (ngroups, ndiff) = (setup.ngroups, setup.ngroups - 1);
        let mut scratch = PixelScratch::new(setup.nints, ngroups);
        let e = |i: usize, g: usize| {
            let s = i * ngroups + g;
            if gdq[s] & (dq::G_DO_NOT_USE | dq::G_SATURATED) != 0 {
                f32::NAN
            } else {
                values[s] * gain
            }
        };
        for i in 0..setup.nints {
            for k in 0..ndiff {
                scratch.diffs.push((e(i, k + 1) - e(i, k)) as f64);
            }
        }
        let rn_e = readnoise * gain;
        let rn2_per_nframes = (rn_e * rn_e) as f64 / setup.nframes as f64;
        let mut sort = Vec::new();
        let median = nanmedian_f64(&scratch.diffs, &mut sort);
        let pooled = Pooled {
            median,
            sigma: sigma_from(median, rn2_per_nframes),
        };
        match setup.mode {
            JumpMode::Iterative => iterative_reference(setup, gdq, rn2_per_nframes, &mut scratch),
            JumpMode::SinglePass => {
                for (j, &d) in scratch.diffs.iter().enumerate() {
                    if d.is_finite()
                        && (d - pooled.median).abs() / pooled.sigma > setup.rejection_threshold
                    {
                        gdq[slot_of_diff(j, ngroups)] |= dq::G_JUMP_DET;
                    }
                }
            }
            _ => unreachable!(),
        }
        marks.fill(0);
        let needed = setup.after_jump.active()
            || (setup.flag_4_neighbors && gdq.iter().any(|&q| q & dq::G_JUMP_DET != 0));
        if !needed {
            return;
        }
        let (e1, e2) = (setup.after_jump.e1 as f64, setup.after_jump.e2 as f64);
        for (j, &d) in scratch.diffs.iter().enumerate() {
            let mut m = 0;
            if setup.flag_4_neighbors {
                let r = (d - pooled.median).abs() / pooled.sigma;
                if r < setup.max_jump_to_flag_neighbors && r > setup.min_jump_to_flag_neighbors {
                    m |= MARK_NEIGHBOR_RANGE;
                }
            }
            if setup.after_jump.active() {
                if d - pooled.median >= e1 {
                    m |= MARK_AFTER_BIG;
                }
                if d - pooled.median >= e2 {
                    m |= MARK_AFTER_VERY_BIG;
                }
            }
            marks[slot_of_diff(j, ngroups)] = m;
        }
    }

    /// A random pixel: a ramp with noise, cosmic-ray steps up and down, coarse quantisation
    /// (ties), flat stretches, DO_NOT_USE / SATURATED groups, saturating tails and rare
    /// non-finite values.
    fn random_pixel(rng: &mut Rng, nints: usize, ngroups: usize) -> (Vec<f32>, Vec<u8>) {
        let gpp = nints * ngroups;
        let signal = rng.pick(&[0.0, 0.3, 5.0, 40.0, 300.0, 5000.0, -20.0]);
        let noise = rng.pick(&[0.0, 0.5, 3.0, 15.0, 60.0]);
        let quantum = rng.pick(&[0.0, 0.0, 1.0, 4.0, 0.125, 64.0]);
        let cr_rate = rng.pick(&[0.0, 0.005, 0.02, 0.1, 0.4]);
        let flag_rate = rng.pick(&[0.0, 0.0, 0.02, 0.2, 0.7]);
        let sat_rate = rng.pick(&[0.0, 0.0, 0.05, 0.3]);
        let odd_rate = rng.pick(&[0.0, 0.0, 0.0, 0.002, 0.02]);
        let mut values = vec![0.0f32; gpp];
        let mut gdq = vec![0u8; gpp];
        for i in 0..nints {
            let mut level = rng.normal() * 100.0;
            let sat_from = if rng.uniform() < sat_rate {
                rng.below(ngroups + 1)
            } else {
                ngroups
            };
            for g in 0..ngroups {
                level += signal + noise * rng.normal();
                if rng.uniform() < cr_rate {
                    let step = rng.pick(&[30.0, 200.0, 3000.0, 1e5]);
                    level += if rng.uniform() < 0.2 { -step } else { step };
                }
                let mut v = level;
                if quantum > 0.0 {
                    v = (v / quantum).round() * quantum;
                }
                let s = i * ngroups + g;
                values[s] = v as f32;
                if rng.uniform() < odd_rate {
                    values[s] = rng.pick(&[f32::INFINITY, f32::NEG_INFINITY, f32::NAN, 3e38]);
                }
                if rng.uniform() < flag_rate {
                    gdq[s] |= rng.pick(&[dq::G_DO_NOT_USE, dq::G_SATURATED, 4u8]);
                }
                if g >= sat_from {
                    gdq[s] |= dq::G_SATURATED;
                }
            }
        }
        (values, gdq)
    }

    fn setup_for(nints: usize, ngroups: usize, after_jump: bool, nframes: u32) -> JumpSetup {
        let params = JumpParams {
            after_jump_flag_dn1: if after_jump { 500.0 } else { 0.0 },
            after_jump_flag_time1: if after_jump { 30.0 } else { 0.0 },
            after_jump_flag_dn2: if after_jump { 4000.0 } else { 0.0 },
            after_jump_flag_time2: if after_jump { 60.0 } else { 0.0 },
            ..JumpParams::default()
        };
        JumpSetup::new(&params, nints, ngroups, nframes, 10.7, &vec![0; nints], 1.8).expect("setup")
    }

    /// Compare [`detect_pixel`] with [`reference`] on `count` random pixels of each geometry.
    fn compare(geometries: &[(usize, usize)], count: usize, seed: u64, want: JumpMode) {
        let mut rng = Rng::seeded(seed);
        let mut flagged_pixels = 0;
        for &(nints, ngroups) in geometries {
            for after_jump in [false, true] {
                let nframes = rng.pick(&[1, 4]);
                let setup = setup_for(nints, ngroups, after_jump, nframes);
                assert_eq!(setup.mode, want, "{nints} x {ngroups}");
                let mut scratch = PixelScratch::new(nints, ngroups);
                let gpp = nints * ngroups;
                for p in 0..count {
                    let (values, gdq) = random_pixel(&mut rng, nints, ngroups);
                    let gain = rng.pick(&[1.0, 2.3, 0.71, 0.0, f32::NAN]);
                    let readnoise = rng.pick(&[0.0, 4.0, 11.5, 40.0, f32::NAN]);
                    let (mut q_fast, mut q_ref) = (gdq.clone(), gdq.clone());
                    let (mut m_fast, mut m_ref) = (vec![7u8; gpp], vec![7u8; gpp]);
                    detect_pixel(
                        &setup,
                        &values,
                        &mut q_fast,
                        &mut m_fast,
                        gain,
                        readnoise,
                        &mut scratch,
                    );
                    reference(&setup, &values, &mut q_ref, &mut m_ref, gain, readnoise);
                    assert_eq!(
                        q_fast, q_ref,
                        "GROUPDQ: {nints} x {ngroups}, pixel {p}, gain {gain}, rn {readnoise}"
                    );
                    assert_eq!(m_fast, m_ref, "marks: {nints} x {ngroups}, pixel {p}");
                    if q_fast != gdq {
                        flagged_pixels += 1;
                    }
                }
            }
        }
        // The inputs must exercise detection, not only the no-jump exit.
        let total = geometries.len() * 2 * count;
        assert!(
            flagged_pixels * 5 > total,
            "{flagged_pixels} of {total} pixels flagged"
        );
    }

    #[test]
    fn iterative_matches_the_reference_on_random_pixels() {
        compare(
            &[
                (1, 3),
                (1, 4),
                (1, 5),
                (2, 3),
                (3, 4),
                (1, 10),
                (4, 6),
                (10, 10),
                (20, 8),
                (70, 10),
            ],
            400,
            0x5eed,
            JumpMode::Iterative,
        );
    }

    #[test]
    fn single_pass_matches_the_reference_on_random_pixels() {
        compare(&[(1, 12), (3, 20)], 300, 0xfeed, JumpMode::SinglePass);
    }

    #[test]
    fn iterative_handles_many_rounds_and_ties() {
        // A pixel whose every other difference is a jump: the search runs for many rounds and
        // the remaining values move far from the first window; equal jumps go together.
        let (nints, ngroups) = (70, 10);
        let setup = setup_for(nints, ngroups, false, 1);
        let mut scratch = PixelScratch::new(nints, ngroups);
        let gpp = nints * ngroups;
        let mut rng = Rng::seeded(99);
        for case in 0..40 {
            let mut values = vec![0.0f32; gpp];
            for i in 0..nints {
                let mut level = 0.0;
                for g in 0..ngroups {
                    level += 20.0 + (rng.below(5) as f64);
                    if (i * ngroups + g) % (2 + case % 5) == 0 {
                        level += [500.0, 500.0, 1000.0 + rng.below(50) as f64][case % 3];
                    }
                    values[i * ngroups + g] = level as f32;
                }
            }
            let gdq = vec![0u8; gpp];
            let (mut q_fast, mut q_ref) = (gdq.clone(), gdq.clone());
            let (mut m_fast, mut m_ref) = (vec![0u8; gpp], vec![0u8; gpp]);
            detect_pixel(
                &setup,
                &values,
                &mut q_fast,
                &mut m_fast,
                1.0,
                5.0,
                &mut scratch,
            );
            reference(&setup, &values, &mut q_ref, &mut m_ref, 1.0, 5.0);
            assert_eq!(q_fast, q_ref, "case {case}");
            assert_eq!(m_fast, m_ref, "case {case}");
            assert!(
                q_fast.iter().filter(|&&q| q != 0).count() > 20,
                "case {case}"
            );
        }
    }
}
