//! Fast path for the common integration: every GROUPDQ 0, every group kept, finite values,
//! 3 to [`MAX_CLEAN_GROUPS`] groups.
//!
//! Such an integration is one segment covering the whole ramp, timed by TGROUP, with no jump,
//! saturation, persistence or CHARGELOSS bookkeeping. The general path (preparation, median rate,
//! segment search, weighted fit) then reduces to one pass over the values, written here for each
//! NGROUPS as a constant so it is straight-line code: the same arithmetic operations in the
//! same order as the general path, so the results are the same bits (the one freedom taken is
//! the order-statistic selection of the median rate, see [`DiffMedian`]). The per-pixel values it
//! needs are computed once per pixel in [`CleanMemo`]. `fast_paths_agree_with_the_general_path`
//! (unit tests) compares both paths on random ramps.

use super::fit::{weight_power, PixelFit};
use super::median_rate::DiffMedian;
use super::segments::Timing;
use super::FitConfig;

/// Longest ramp the fast path takes (its median rate uses a 32-difference network).
pub(crate) const MAX_CLEAN_GROUPS: usize = 33;
const _: () = assert!(MAX_CLEAN_GROUPS == super::median_rate::MAX_FINITE_MEDIAN + 1);

/// Per-pixel constants of the fast path (cleared when [`super::fit::PixelMemo`] changes pixel).
#[derive(Debug, Clone, Default)]
pub(crate) struct CleanMemo {
    ready: bool,
    /// `rn·rn`, as the SNR of the weighted fit computes it.
    rn2: f64,
    /// Read-noise variance of the whole-ramp segment and its inverse.
    var_r: f64,
    inv_var_r: f64,
    /// The integration's VAR_RNOISE: `1/inv_var_r`, 0 at or above the large-variance cap.
    var_rnoise: f64,
    /// `1/var_rnoise` (the CHARGELOSS pass's sum adds it when `var_rnoise > 0`).
    inv_var_rnoise: f64,
    /// Weighted-fit sums of the whole ramp, by weight power.
    sums: [PowerSums; 6],
}

/// The data-independent sums of the whole-ramp weighted fit for one weight power (the values of
/// [`super::fit::WeightSums`], with the per-group weights `w` and `x·w` side by side).
#[derive(Debug, Clone)]
struct PowerSums {
    ready: bool,
    sw: f64,
    sx: f64,
    inv_den: f64,
    /// `[w, x·w]` by group.
    wx: [[f64; 2]; MAX_CLEAN_GROUPS],
}

impl Default for PowerSums {
    fn default() -> Self {
        PowerSums {
            ready: false,
            sw: 0.0,
            sx: 0.0,
            inv_den: 0.0,
            wx: [[0.0; 2]; MAX_CLEAN_GROUPS],
        }
    }
}

impl PowerSums {
    /// The same operations in the same order as [`super::fit::WeightSums::compute`] with start 0.
    fn compute(&mut self, cfg: &FitConfig, pf: &PixelFit, len: usize, power: usize) {
        let (mut sw, mut sx, mut sxx) = (0.0f64, 0.0f64, 0.0f64);
        for (j, o) in self.wx[..len].iter_mut().enumerate() {
            let w = cfg.weights.get(len, power, j) as f64 * pf.invrn2;
            let x = j as f64;
            let xw = x * w;
            sw += w;
            sx += xw;
            sxx += x * xw;
            *o = [w, xw];
        }
        self.sw = sw;
        self.sx = sx;
        self.inv_den = 1.0 / (sw * sxx - sx * sx);
        self.ready = true;
    }
}

impl CleanMemo {
    /// Forgets the pixel (the weights scale with its read noise).
    pub fn clear(&mut self) {
        self.ready = false;
        for s in &mut self.sums {
            s.ready = false;
        }
    }

    fn prepare(&mut self, pf: &PixelFit, var_r: (f64, f64)) {
        self.rn2 = pf.rn * pf.rn;
        (self.var_r, self.inv_var_r) = var_r;
        // As the general path: Σ 1/var_r over the one segment, starting from 0.
        let inv_sum = 0.0 + self.inv_var_r;
        let mut v = 1.0 / inv_sum;
        if v >= super::combine::LARGE_VARIANCE {
            v = 0.0;
        }
        self.var_rnoise = v;
        self.inv_var_rnoise = 1.0 / v;
        self.ready = true;
    }
}

/// What the fast path computed for one integration.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CleanFit {
    /// This integration's median rate (the pixel's median-rate sum adds it).
    pub median_rate: f64,
    /// Σ slope/var_r over the segments (one), from 0.
    pub slope_num: f64,
    /// Σ 1/var_r over the segments, from 0.
    pub inv_var_r: f64,
    /// `1/inv_var_r` capped (see [`CleanMemo`]).
    pub var_rnoise: f64,
    /// `1/var_rnoise`.
    pub inv_var_rnoise: f64,
}

/// Fits a clean integration, or returns `None` when the fast path does not apply (a flag set,
/// a value not finite, NGROUPS outside 3..=33, or firstgroup/lastgroup in effect: the caller
/// then takes the general path). `select` must have chosen the pixel in `memo` before.
#[inline(never)]
pub(crate) fn fit_clean(
    cfg: &FitConfig,
    memo: &mut super::fit::PixelMemo,
    ramp: &[f32],
    gdq: &[u8],
) -> Option<CleanFit> {
    if !cfg.clean_path {
        return None;
    }
    macro_rules! dispatch {
        ($($n:literal)*) => {
            match cfg.ngroups {
                $($n => kernel_call::<$n>(cfg, memo, ramp, gdq),)*
                _ => None,
            }
        };
    }
    dispatch!(3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33)
}

/// [`kernel`] as a function of its own (one stack frame per NGROUPS, not 31 in one).
#[inline(never)]
fn kernel_call<const N: usize>(
    cfg: &FitConfig,
    memo: &mut super::fit::PixelMemo,
    ramp: &[f32],
    gdq: &[u8],
) -> Option<CleanFit> {
    kernel::<N>(cfg, memo, ramp, gdq)
}

/// The fast path for NGROUPS = `N` (see [`fit_clean`]).
#[inline(always)]
pub(super) fn kernel<const N: usize>(
    cfg: &FitConfig,
    memo: &mut super::fit::PixelMemo,
    ramp: &[f32],
    gdq: &[u8],
) -> Option<CleanFit> {
    let ramp: &[f32; N] = ramp.get(..N)?.try_into().ok()?;
    let gdq: &[u8; N] = gdq.get(..N)?.try_into().ok()?;
    // All flags 0 and all values finite (exponent bits not all ones), checked without branches.
    let mut flags = 0u8;
    let mut finite = true;
    for g in 0..N {
        flags |= gdq[g];
        finite &= ramp[g].to_bits() & 0x7f80_0000 != 0x7f80_0000;
    }
    if flags != 0 || !finite {
        return None;
    }
    let pf = memo.pf.expect("PixelMemo::select first");
    if !memo.clean.ready {
        let vr = memo.var_r(cfg, N, Timing::Group);
        memo.clean.prepare(&pf, vr);
    }

    let tg = cfg.group_time;
    let mut y = [0.0f64; N];
    let mut rate = [0.0f64; N];
    for g in 0..N {
        y[g] = ramp[g] as f64;
        rate[g] = y[g] / tg;
    }
    // Median rate: first differences of x/TGROUP (divide, then subtract).
    let mut diffs = [0.0f64; N];
    for k in 0..N - 1 {
        diffs[k] = rate[k + 1] - rate[k];
    }
    let mut median_rate = DiffMedian::<N>::median(diffs);
    if median_rate.is_nan() {
        median_rate = 0.0;
    }

    // Weighted fit of the whole ramp (segment start 0, length N).
    let c = &mut memo.clean;
    let power = fast_weight_power(y[N - 1] - y[0], pf.gain, c.rn2);
    let sums = &mut c.sums[power];
    if !sums.ready {
        sums.compute(cfg, &pf, N, power);
    }
    let wx: &[[f64; 2]; N] = sums.wx[..N].try_into().expect("N <= MAX_CLEAN_GROUPS");
    let (mut sy, mut sxy) = (0.0f64, 0.0f64);
    for g in 0..N {
        sy += y[g] * wx[g][0];
        sxy += y[g] * wx[g][1];
    }
    let num = sums.sw * sxy - sums.sx * sy;
    let slope = num * sums.inv_den / tg;

    Some(CleanFit {
        median_rate,
        slope_num: 0.0 + slope / c.var_r,
        inv_var_r: 0.0 + c.inv_var_r,
        var_rnoise: c.var_rnoise,
        inv_var_rnoise: c.inv_var_rnoise,
    })
}

/// [`weight_power`] without its square root and division in the usual case.
///
/// The power counts the thresholds `T` (5, 10, 20, 50, 100) with `snr >= T`, where
/// `snr = fl(a / fl(sqrt(d)))`, `a = span·gain > 0`, `d = rn² + a > 0`, lies within 2.3e-16 relative
/// of the real `a/√d`. Comparing `fl(a²)` with `fl(T²·d)·(1 ± 1e-12)` decides `a/√d` against `T`
/// with a margin far wider than every rounding involved (a few 1e-16), so each clear-cut answer
/// is also the exact code's answer; if any threshold is within the margin, or `a` or `d` is not
/// positive, the exact computation decides. With float32 inputs `a²` and `T²·d` neither
/// overflow nor leave the normal range (`|a|` lies between 1e-90 and 1e78).
#[inline(always)]
pub(crate) fn fast_weight_power(span: f64, gain: f64, rn2: f64) -> usize {
    const UP: f64 = 1.0 + 1.0e-12;
    const DOWN: f64 = 1.0 - 1.0e-12;
    let a = span * gain;
    let d = rn2 + a;
    if a > 0.0 && d > 0.0 {
        let a2 = a * a;
        let (mut above, mut below) = (0usize, 0usize);
        for t2 in [25.0, 100.0, 400.0, 2500.0, 10000.0] {
            let b = t2 * d;
            above += (a2 > b * UP) as usize;
            below += (a2 < b * DOWN) as usize;
        }
        if above + below == 5 {
            return above;
        }
    }
    weight_power(span, gain, rn2)
}
