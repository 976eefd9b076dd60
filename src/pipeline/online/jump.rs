//! Online jump detection: decide every jump of an integration when its last group has arrived,
//! from causal statistics only (this and earlier integrations; later ones only within the
//! bounded first window below).
//!
//! The official two-point-difference test (spec §11.3–11.6) compares each first difference with
//! a per-pixel statistic pooled over the **whole exposure** — the (clipped) median of all
//! differences of all integrations, or in sigma-clip mode a clipped median and standard
//! deviation across all integrations — so a jump in integration 0 depends on integration 99
//! (spec §11.9). Online, each pixel keeps instead a compact, fixed-size summary of its past:
//!
//! * **Iterative and single-pass modes** (fewer than 100 integrations): a reservoir holding the
//!   raw first differences (electrons, NaN where unusable) of the most recent integrations, at
//!   most `reservoir_diffs` values per pixel (a ring of whole integrations, oldest out). When
//!   integration `i` ends, the official per-pixel algorithm runs on the pooled sample
//!   "reservoir ∪ lookahead ∪ this integration's differences" with the official arithmetic —
//!   iterative: clipped median of |Δ|, σ = sqrt(|m| + rn²/NFRAMES), remove the largest outlier per round
//!   with the 4/5/6σ thresholds for the pooled number of usable differences; single pass:
//!   `|Δ − M|/σ > 4` — but only differences of integration `i` can be flagged (past ones were
//!   decided when their integration ended; they still take part in the statistics and are
//!   removed by the rounds exactly as officially). When the reservoir holds every earlier
//!   integration, the decisions for an integration are those the official step would make on
//!   the exposure truncated after it; in particular the last integration is decided exactly.
//! * **Sigma-clip mode** (100 or more integrations, TSO): running cross-integration statistics
//!   per pixel — count, mean and variance (Welford) of the differences accepted so far, pooled
//!   over the difference index. A difference is a jump when it lies strictly outside
//!   `mean ± 4·std` (the official clip bounds, with the clipped median replaced by the clipped
//!   running mean). Until a pixel has `MIN_CLIP_SAMPLES` accepted differences the iterative
//!   test on the integration's own differences decides instead.
//!
//! Then the official per-integration passes run unchanged (`jump::finish_band` with a
//! one-integration setup): four-neighbour flagging (with the pooled median and σ above in the
//! ratio), after-jump flagging, removal of JUMP_DET from unusable groups; in sigma-clip mode a
//! plane whose every pixel is JUMP_DET or DO_NOT_USE is cleared as officially.
//!
//! First window (iterative and single-pass modes): the first `first_window` integrations
//! (engine option, default 3) are decided together when the last of them has arrived, each with
//! the others' differences as lookahead in its pooled sample ([`Shape::decide_pixel`]'s
//! `ahead`); an exposure no longer than the window is decided on the whole exposure, i.e.
//! exactly.
//!
//! Delay: every other decision is taken when the integration's last group arrives, i.e. at most
//! NGROUPS − 1 groups after the group it concerns, and before the integration is fitted. State: `4 · reservoir_diffs` bytes per pixel (iterative/single-pass) or
//! 12 bytes per pixel (sigma-clip), independent of NINTS, in memory-mapped scratch files that
//! are touched one band of pixels at a time (not resident).

use super::store::MappedArray;
use crate::steps::jump::stats::{clipped_median, nanmedian_f64};
use crate::steps::jump::twopoint::{MARK_AFTER_BIG, MARK_AFTER_VERY_BIG, MARK_NEIGHBOR_RANGE};
use crate::steps::jump::{JumpMode, JumpSetup};
use anyhow::Result;
use frames::dq;
use std::path::Path;

/// Accepted differences a pixel needs before its running sigma-clip statistics decide.
pub const MIN_CLIP_SAMPLES: u32 = 20;

/// Default reservoir bound (differences per pixel) for the iterative and single-pass modes.
/// Measured on simulated 50 × 8-group exposures (precision of the flags against the official
/// ones): 97.7 % with 16, 98.6 % with 32, ~99.1 % with 64, 99.4 % with every integration; the
/// detection time per integration grows about linearly with it.
pub const DEFAULT_RESERVOIR_DIFFS: usize = 64;

/// Default bound of the whole reservoir's scratch file (see `OnlineOptions::reservoir_bytes`):
/// 256 × 2048 frames keep 64 differences per pixel, full frames 8.
pub const DEFAULT_RESERVOIR_BYTES: usize = 128 << 20;

/// Per-pixel running state of the online detector (fixed size per pixel, in memory-mapped
/// scratch files touched band by band: see [`super::store`]).
pub struct OnlineJump {
    mode: JumpMode,
    npix: usize,
    ngroups: usize,
    /// Integrations the reservoir holds (0 in sigma-clip mode).
    slots: usize,
    /// Integrations pushed so far.
    pushed: usize,
    /// `[pixel][slot][diff]` raw differences in electrons (f32, NaN = unusable).
    reservoir: MappedArray<f32>,
    /// Sigma-clip mode: `[pixel]` (count, mean, M2) of accepted differences.
    clip_count: MappedArray<u32>,
    clip_mean: MappedArray<f32>,
    clip_m2: MappedArray<f32>,
}

/// Per-thread buffers for one pixel (sized once; no allocation per pixel).
#[derive(Default)]
pub struct JumpScratch {
    diffs: Vec<f64>,
    sample: Vec<f64>,
    abs: Vec<f64>,
    sort: Vec<f64>,
}

impl OnlineJump {
    /// `reservoir_diffs` bounds the per-pixel reservoir (rounded down to whole integrations,
    /// at least one integration). The state lives in scratch files under `dir`.
    pub fn new(setup: &JumpSetup, npix: usize, reservoir_diffs: usize, dir: &Path) -> Result<Self> {
        let ndiff = setup.ngroups.saturating_sub(1).max(1);
        let sigma_clip = matches!(setup.mode, JumpMode::SigmaClip { .. });
        let slots = if sigma_clip || !setup.detects() {
            0
        } else {
            (reservoir_diffs / ndiff)
                .max(1)
                .min(setup.nints.saturating_sub(1))
        };
        let clip = if sigma_clip { npix } else { 0 };
        Ok(OnlineJump {
            mode: setup.mode,
            npix,
            ngroups: setup.ngroups,
            slots,
            pushed: 0,
            reservoir: MappedArray::create(dir, "jump_reservoir", npix * slots * ndiff)?,
            clip_count: MappedArray::create(dir, "jump_clip_count", clip)?,
            clip_mean: MappedArray::create(dir, "jump_clip_mean", clip)?,
            clip_m2: MappedArray::create(dir, "jump_clip_m2", clip)?,
        })
    }

    /// Bytes of running state per pixel (in the scratch files).
    pub fn bytes_per_pixel(&self) -> usize {
        4 * self.slots * self.ngroups.saturating_sub(1)
            + if self.clip_count.is_empty() { 0 } else { 12 }
    }

    /// Integrations of history the reservoir holds (iterative / single-pass modes).
    pub fn reservoir_integrations(&self) -> usize {
        self.slots
    }

    /// The state of pixels `p0..p0 + n`.
    pub fn band(&mut self, p0: usize, n: usize) -> PixelState<'_> {
        let per = self.slots * self.ngroups.saturating_sub(1);
        let clip = !self.clip_count.is_empty();
        let c = if clip { p0..p0 + n } else { 0..0 };
        PixelState {
            reservoir: self.reservoir.slice_mut(p0 * per..(p0 + n) * per),
            count: self.clip_count.slice_mut(c.clone()),
            mean: self.clip_mean.slice_mut(c.clone()),
            m2: self.clip_m2.slice_mut(c),
        }
    }

    /// Drop the pages of pixels `p0..p0 + n` from memory (after [`OnlineJump::band`]).
    pub fn release(&self, p0: usize, n: usize) {
        let per = self.slots * self.ngroups.saturating_sub(1);
        self.reservoir.release(p0 * per..(p0 + n) * per);
        if !self.clip_count.is_empty() {
            self.clip_count.release(p0..p0 + n);
            self.clip_mean.release(p0..p0 + n);
            self.clip_m2.release(p0..p0 + n);
        }
    }

    /// Pixels covered.
    pub fn pixels(&self) -> usize {
        self.npix
    }

    /// Call once after every pixel of an integration has been decided.
    pub fn integration_done(&mut self) {
        self.pushed += 1;
    }

    /// The read-only facts [`Shape::decide_pixel`] needs (copied, so the per-pixel state can
    /// be borrowed mutably in chunks at the same time).
    pub fn shape(&self) -> Shape {
        Shape {
            mode: self.mode,
            ngroups: self.ngroups,
            slots: self.slots,
            pushed: self.pushed,
        }
    }
}

/// See [`OnlineJump::shape`].
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    mode: JumpMode,
    ngroups: usize,
    slots: usize,
    pushed: usize,
}

impl Shape {
    /// Decide the jumps of one pixel's integration. `values`/`gdq`: the integration's NGROUPS
    /// calibrated values and flags (JUMP_DET is OR-ed into `gdq`); `marks` (NGROUPS) receives
    /// the neighbour / after-jump facts for `jump::finish_band`. `state` is the pixel's slice
    /// of the running state (from [`OnlineJump::chunks`], `p` the pixel within that chunk).
    #[allow(clippy::too_many_arguments)]
    pub fn decide_pixel(
        &self,
        setup: &JumpSetup,
        state: &mut PixelState<'_>,
        p: usize,
        values: &[f32],
        gdq: &mut [u8],
        marks: &mut [u8],
        ahead: &[(&[f32], &[u8])],
        gain: f32,
        readnoise: f32,
        s: &mut JumpScratch,
    ) {
        marks.fill(0);
        if !setup.detects() {
            return;
        }
        let ng = self.ngroups;
        // Electrons (f32), NaN where unusable; differences in f32, widened (as officially).
        fn diffs_of(values: &[f32], gdq: &[u8], gain: f32, out: &mut Vec<f64>) {
            out.clear();
            let electrons = |g: usize| {
                if gdq[g] & (dq::G_DO_NOT_USE | dq::G_SATURATED) != 0 {
                    f32::NAN
                } else {
                    values[g] * gain
                }
            };
            let mut prev = electrons(0);
            for g in 1..values.len() {
                let cur = electrons(g);
                out.push((cur - prev) as f64);
                prev = cur;
            }
        }
        diffs_of(values, gdq, gain, &mut s.diffs);
        let rn_e = readnoise * gain;
        let rn2_per_nframes = (rn_e * rn_e) as f64 / setup.nframes as f64;
        let ndiff = ng - 1;

        // Pooled sample: stored history first (and the later integrations' differences when
        // the decision waits for them), then this integration.
        s.sample.clear();
        let mut held = self.pushed.min(self.slots);
        if held > 0 {
            let per = self.slots * ndiff;
            let mine = &state.reservoir[p * per..(p + 1) * per];
            s.sample
                .extend(mine[..held * ndiff].iter().map(|&d| d as f64));
        }
        for &(v, q) in ahead {
            diffs_of(v, q, gain, &mut s.abs);
            s.sample.extend_from_slice(&s.abs);
            held += 1;
        }
        let history = s.sample.len();
        s.sample.extend_from_slice(&s.diffs);
        // The official thresholds depend on how many usable differences the pixel has in the
        // whole exposure. Integrations not in the sample (future ones, and past ones that left
        // the reservoir) are counted as having as many as this one.
        let usable_now = s.diffs.iter().filter(|d| !d.is_nan()).count();
        let unseen = setup.nints.saturating_sub(held + 1);
        let expected_extra = unseen * usable_now;

        let (median, sigma);
        match self.mode {
            JumpMode::Iterative => {
                iterative(
                    setup,
                    gdq,
                    &s.sample,
                    history,
                    expected_extra,
                    rn2_per_nframes,
                    &mut s.abs,
                    &mut s.sort,
                );
                median = nanmedian_f64(&s.sample, &mut s.sort);
                sigma = sigma_from(median, rn2_per_nframes);
            }
            JumpMode::SinglePass => {
                median = nanmedian_f64(&s.sample, &mut s.sort);
                sigma = sigma_from(median, rn2_per_nframes);
                for (k, &d) in s.diffs.iter().enumerate() {
                    if d.is_finite() && (d - median).abs() / sigma > setup.rejection_threshold {
                        gdq[k + 1] |= dq::G_JUMP_DET;
                    }
                }
            }
            JumpMode::SigmaClip { .. } => {
                let count = state.count[p];
                if count >= MIN_CLIP_SAMPLES {
                    let mean = state.mean[p] as f64;
                    let std = (state.m2[p] as f64 / count as f64).sqrt();
                    let (lo, hi) = (
                        mean - setup.rejection_threshold * std,
                        mean + setup.rejection_threshold * std,
                    );
                    for (k, &d) in s.diffs.iter().enumerate() {
                        let q = gdq[k + 1];
                        if d.is_finite()
                            && (d < lo || d > hi)
                            && q & (dq::G_SATURATED | dq::G_DO_NOT_USE) == 0
                        {
                            gdq[k + 1] |= dq::G_JUMP_DET;
                        }
                    }
                    median = mean;
                } else {
                    iterative(
                        setup,
                        gdq,
                        &s.diffs,
                        0,
                        expected_extra,
                        rn2_per_nframes,
                        &mut s.abs,
                        &mut s.sort,
                    );
                    median = if count > 0 {
                        state.mean[p] as f64
                    } else {
                        nanmedian_f64(&s.diffs, &mut s.sort)
                    };
                }
                sigma = sigma_from(median, rn2_per_nframes);
                // Accepted differences join the running statistics (Welford).
                for (k, &d) in s.diffs.iter().enumerate() {
                    if d.is_finite() && gdq[k + 1] & dq::G_JUMP_DET == 0 {
                        let n = state.count[p] + 1;
                        let mean = state.mean[p] as f64;
                        let delta = d - mean;
                        let new_mean = mean + delta / n as f64;
                        state.m2[p] = (state.m2[p] as f64 + delta * (d - new_mean)) as f32;
                        state.mean[p] = new_mean as f32;
                        state.count[p] = n;
                    }
                }
            }
            JumpMode::StepSkipped | JumpMode::NoDetection => return,
        }

        // Facts for the neighbour and after-jump passes, from the pooled statistics.
        let after = setup.after_jump;
        for (k, &d) in s.diffs.iter().enumerate() {
            let mut m = 0u8;
            if setup.flag_4_neighbors {
                let r = (d - median).abs() / sigma;
                if r < setup.max_jump_to_flag_neighbors && r > setup.min_jump_to_flag_neighbors {
                    m |= MARK_NEIGHBOR_RANGE;
                }
            }
            if after.active() {
                let excess = d - median;
                if excess >= after.e1 as f64 {
                    m |= MARK_AFTER_BIG;
                }
                if excess >= after.e2 as f64 {
                    m |= MARK_AFTER_VERY_BIG;
                }
            }
            marks[k + 1] = m;
        }

        // Remember this integration's raw differences (ring of whole integrations).
        if self.slots > 0 {
            let per = self.slots * ndiff;
            let slot = self.pushed % self.slots;
            let mine = &mut state.reservoir[p * per..(p + 1) * per];
            // Keep the ring in time order: shift when full so `held` values stay oldest-first.
            if self.pushed >= self.slots {
                mine.copy_within(ndiff.., 0);
                for (r, &d) in mine[(self.slots - 1) * ndiff..].iter_mut().zip(&s.diffs) {
                    *r = d as f32;
                }
            } else {
                for (r, &d) in mine[slot * ndiff..(slot + 1) * ndiff]
                    .iter_mut()
                    .zip(&s.diffs)
                {
                    *r = d as f32;
                }
            }
        }
    }
}

/// One chunk of pixels' running state.
pub struct PixelState<'a> {
    reservoir: &'a mut [f32],
    count: &'a mut [u32],
    mean: &'a mut [f32],
    m2: &'a mut [f32],
}

impl<'a> PixelState<'a> {
    /// Split into disjoint chunks of `pixels` pixels (`total` pixels in all), for parallel
    /// work.
    pub fn chunks(self, total: usize, pixels: usize) -> Vec<PixelState<'a>> {
        let pixels = pixels.max(1);
        let per = self.reservoir.len().checked_div(total).unwrap_or(0);
        let clip = !self.count.is_empty();
        let mut out = Vec::with_capacity(total.div_ceil(pixels));
        let (mut res, mut cc, mut cm, mut cv) = (self.reservoir, self.count, self.mean, self.m2);
        let mut start = 0;
        while start < total {
            let n = pixels.min(total - start);
            let nc = if clip { n } else { 0 };
            let (r, rr) = std::mem::take(&mut res).split_at_mut(n * per);
            let (a, ra) = std::mem::take(&mut cc).split_at_mut(nc);
            let (b, rb) = std::mem::take(&mut cm).split_at_mut(nc);
            let (c, rc) = std::mem::take(&mut cv).split_at_mut(nc);
            out.push(PixelState {
                reservoir: r,
                count: a,
                mean: b,
                m2: c,
            });
            res = rr;
            cc = ra;
            cm = rb;
            cv = rc;
            start += n;
        }
        out
    }
}

/// `sqrt(|m| + rn²/NFRAMES)`, NaN instead of 0 (as officially).
fn sigma_from(median: f64, rn2_per_nframes: f64) -> f64 {
    let s = (median.abs() + rn2_per_nframes).sqrt();
    if s == 0.0 {
        f64::NAN
    } else {
        s
    }
}

/// Estimate, from the sample at hand, the clipped median the official step will compute over
/// the whole exposure (`extra` more usable values than the sample holds). The official
/// statistic of N values is the median of all but the largest (N >= 4), the plain median
/// (N = 3) or the minimum (N = 2): an order statistic at the quantile `(N − 2) / (2(N − 1))`
/// (0.5 for N = 3, 0 for N = 2). The same quantile of the sample, interpolated between order
/// statistics, estimates it without the strong low bias that dropping the largest of a few
/// values would have.
fn expected_clipped_median(values: &[f64], extra: usize, sort: &mut Vec<f64>) -> f64 {
    sort.clear();
    sort.extend(values.iter().copied().filter(|v| !v.is_nan()));
    let n = sort.len();
    if n == 0 {
        return f64::NAN;
    }
    let total = (n + extra) as f64;
    let q = if total >= 4.0 {
        (total - 2.0) / (2.0 * (total - 1.0))
    } else if total >= 3.0 {
        0.5
    } else {
        0.0
    };
    let pos = q * (n - 1) as f64;
    let (i, f) = (pos.floor() as usize, pos - pos.floor());
    // Order statistics i and i + 1 by selection (linear time; the same values as sorting).
    let (_, &mut lo, right) = sort.select_nth_unstable_by(i, |a, b| a.total_cmp(b));
    let hi = if f > 0.0 {
        right.iter().copied().fold(f64::INFINITY, f64::min)
    } else {
        lo
    };
    if f > 0.0 {
        lo * (1.0 - f) + hi * f
    } else {
        lo
    }
}

/// The official iterative search over a pooled sample whose first `history` values belong to
/// earlier integrations: each round takes the clipped median of |Δ| over the whole sample,
/// and if the largest ratio exceeds the threshold for the number of usable differences, removes
/// every difference at that ratio; only differences of this integration are flagged.
/// `expected_extra` usable differences not in the sample count toward the threshold choice.
#[allow(clippy::too_many_arguments)]
fn iterative(
    setup: &JumpSetup,
    gdq: &mut [u8],
    sample: &[f64],
    history: usize,
    expected_extra: usize,
    rn2_per_nframes: f64,
    abs: &mut Vec<f64>,
    sort: &mut Vec<f64>,
) {
    abs.clear();
    abs.extend(sample.iter().map(|d| d.abs()));
    for round in 0..abs.len() {
        let clipped = if expected_extra == 0 {
            // The sample is the whole exposure so far and nothing more will come: the
            // official statistic itself.
            clipped_median(abs, sort)
        } else {
            expected_clipped_median(abs, expected_extra, sort)
        };
        // Round 1 keeps the float64 median; later rounds store it in a float32 array.
        let median = if round == 0 {
            clipped
        } else {
            clipped as f32 as f64
        };
        let sigma = sigma_from(median, rn2_per_nframes);
        let usable = abs.iter().filter(|a| !a.is_nan()).count();
        let threshold = match usable + expected_extra {
            0 | 1 => break,
            2 => setup.three_group_rejection_threshold,
            3 => setup.four_group_rejection_threshold,
            _ => setup.rejection_threshold,
        };
        let ratio = |a: f64| ((a - median) as f32).abs() as f64 / sigma;
        let mut max_ratio = f64::NAN;
        for &a in abs.iter() {
            let r = ratio(a);
            if !r.is_nan() && (max_ratio.is_nan() || r > max_ratio) {
                max_ratio = r;
            }
        }
        if max_ratio.is_nan() || max_ratio <= threshold {
            break;
        }
        for (j, a) in abs.iter_mut().enumerate() {
            if ratio(*a) == max_ratio {
                if j >= history {
                    gdq[j - history + 1] |= dq::G_JUMP_DET;
                }
                *a = f64::NAN;
            }
        }
    }
}
