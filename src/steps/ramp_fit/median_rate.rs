//! Per-integration median rate (spec §12.3). The pixel's median rate `mr` — the mean of these
//! over all integrations — only feeds the Poisson variance.

use frames::dq::{G_DO_NOT_USE, G_JUMP_DET};

use super::segments::Timing;
use super::FitConfig;
use crate::steps::sort_network::{batcher_pairs, MAX_PAIRS as BATCHER_CAPACITY};

/// This integration's contribution to the pixel's median-rate sum.
///
/// With NGROUPS == 1 the official code sums `x₀ / t1` over integrations as is (a saturated group
/// gives NaN, and NaN then poisons `mr`); otherwise the median of the first differences of
/// `x / TGROUP` (DO_NOT_USE groups and differences ending on a JUMP_DET group left out; if every
/// difference is out, the first rate value), or the single-group rate for the 0th-group and
/// ZEROFRAME specials — and NaN counts as 0.
///
/// `scratch` must hold at least NGROUPS values.
pub(crate) fn integration_median_rate(
    cfg: &FitConfig,
    data: &[f64],
    dq: &[u8],
    timing: Timing,
    scratch: &mut [f64],
) -> f64 {
    let n = cfg.ngroups;
    if n == 1 {
        return data[0] / cfg.one_group_time;
    }
    let rate = match timing {
        Timing::ZerothGroup => data[0] / cfg.one_group_time,
        Timing::ZeroFrame => data[0] / cfg.frame_time,
        Timing::Group => median_of_differences(cfg.group_time, &data[..n], &dq[..n], scratch),
    };
    if rate.is_nan() {
        0.0
    } else {
        rate
    }
}

/// Median of the usable first differences of `x / tgroup`: divide first, then subtract, as the
/// C code does (it matters in the last bit).
fn median_of_differences(tgroup: f64, data: &[f64], dq: &[u8], scratch: &mut [f64]) -> f64 {
    let n = data.len();
    let rate_at = |g: usize| {
        if dq[g] & G_DO_NOT_USE != 0 {
            f64::NAN
        } else {
            data[g] / tgroup
        }
    };
    let diffs = &mut scratch[..n - 1];
    let mut prev = rate_at(0);
    let first = prev;
    for k in 0..n - 1 {
        let next = rate_at(k + 1);
        diffs[k] = if dq[k + 1] & G_JUMP_DET != 0 {
            f64::NAN
        } else {
            next - prev
        };
        prev = next;
    }
    if diffs.iter().all(|d| d.is_nan()) && !first.is_nan() {
        diffs[0] = first;
    }
    // Median of the non-NaN differences. Up to 32 of them are gathered (without branches) and
    // go through the median network of their count.
    if diffs.len() <= MAX_FINITE_MEDIAN {
        let mut v = [0.0f64; MAX_FINITE_MEDIAN + 1];
        let mut valid = 0;
        for &d in diffs.iter() {
            v[valid] = d;
            valid += !d.is_nan() as usize;
        }
        return median_of_first(v, valid);
    }
    let mut valid = 0;
    for k in 0..diffs.len() {
        let d = diffs[k];
        if !d.is_nan() {
            diffs[valid] = d;
            valid += 1;
        }
    }
    diffs[..valid].sort_unstable_by(f64::total_cmp);
    match valid {
        0 => f64::NAN,
        v if v % 2 == 1 => diffs[v / 2],
        v => (diffs[v / 2] + diffs[v / 2 - 1]) / 2.0,
    }
}

/// Largest number of differences [`median_finite`] takes (clean ramps of up to 33 groups).
pub(crate) const MAX_FINITE_MEDIAN: usize = 32;

/// Capacity of a compile-time compare-exchange list (Batcher's network of 32 values has 191).
const MAX_PAIRS: usize = 192;

/// The compare-exchanges of Batcher's odd–even merge sort of `len` values that can change the
/// median positions (`len/2`, and `len/2 − 1` when `len` is even), in network order.
///
/// A pair is kept when one of its positions is read later (by a kept pair or as the result);
/// then both its positions are read. Dropped pairs only move values that nothing reads again,
/// so the median positions end up holding the same values as after the full sort.
const fn median_pairs(len: usize) -> ([(u8, u8); MAX_PAIRS], usize) {
    let (all, count) = batcher_pairs(len);
    let mut needed = [false; MAX_FINITE_MEDIAN + 1];
    if len > 0 {
        needed[len / 2] = true;
        if len.is_multiple_of(2) {
            needed[len / 2 - 1] = true;
        }
    }
    let mut keep = [false; BATCHER_CAPACITY];
    let mut kept = 0;
    let mut k = count;
    while k > 0 {
        k -= 1;
        let (a, b) = (all[k].0 as usize, all[k].1 as usize);
        if needed[a] || needed[b] {
            keep[k] = true;
            needed[a] = true;
            needed[b] = true;
            kept += 1;
        }
    }
    let mut out = [(0u8, 0u8); MAX_PAIRS];
    let mut n = 0;
    let mut k = 0;
    while k < count {
        if keep[k] {
            out[n] = all[k];
            n += 1;
        }
        k += 1;
    }
    assert!(n == kept);
    (out, n)
}

// The unrolled network below has 191 steps: enough for the longest list.
const _: () = assert!(median_pairs(MAX_FINITE_MEDIAN).1 <= 191);

/// The median network of the `N − 1` differences of an `N`-group ramp, as straight-line code.
pub(crate) struct DiffMedian<const N: usize>;

impl<const N: usize> DiffMedian<N> {
    const PAIRS: ([(u8, u8); MAX_PAIRS], usize) = median_pairs(N - 1);

    /// Median of `v[..N − 1]` (no NaN among them; `v[N − 1]` is not read): the middle value, or
    /// `(a + b) / 2` of the two middle ones, as numpy's median. Equal to the median of the full
    /// sort except possibly for the sign of a zero result, which cannot reach a product (the
    /// rates are summed onto +0 and otherwise only compared with 0).
    #[inline(always)]
    pub(crate) fn median(mut v: [f64; N]) -> f64 {
        let m = N - 1;
        seq_macro::seq!(K in 0..191 {
            if K < Self::PAIRS.1 {
                let (i, j) = (Self::PAIRS.0[K].0 as usize, Self::PAIRS.0[K].1 as usize);
                let (a, b) = (v[i], v[j]);
                // Plain comparisons: one minsd/maxsd each. Equal values (±0) may come out
                // either way round, which changes at most the sign of a zero.
                v[i] = if a < b { a } else { b };
                v[j] = if a > b { a } else { b };
            }
        });
        if m % 2 == 1 {
            v[m / 2]
        } else {
            (v[m / 2] + v[m / 2 - 1]) / 2.0
        }
    }
}

/// Median of `v[..m]` (`m <= 32`, none NaN; NaN for `m == 0`) by the network of `m` values.
pub(super) fn median_of_first(v: [f64; MAX_FINITE_MEDIAN + 1], m: usize) -> f64 {
    macro_rules! dispatch {
        ($($m:literal)*) => {
            match m {
                0 => f64::NAN,
                $($m => median_call::<{ $m + 1 }>(&v),)*
                _ => unreachable!("median_of_first: more than 32 values"),
            }
        };
    }
    dispatch!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32)
}

/// Median of `v[..N − 1]` by [`DiffMedian`], in a stack frame of its own.
#[inline(never)]
fn median_call<const N: usize>(v: &[f64; MAX_FINITE_MEDIAN + 1]) -> f64 {
    let a: [f64; N] = v[..N].try_into().expect("N <= 33");
    DiffMedian::<N>::median(a)
}
