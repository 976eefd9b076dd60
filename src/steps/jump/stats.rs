//! Order statistics with numpy's and astropy's exact rounding.
//!
//! numpy's `median`/`nanmedian` return the middle element for an odd count and `(a + b) / 2` of
//! the two middle elements for an even count (a sum of two then a division, in the array's
//! dtype). The value does not depend on the selection algorithm, so Rust's `select_nth_unstable`
//! gives identical results. astropy's fast sigma clipping is different: its mean and standard
//! deviation are summed in the order the Wirth selection leaves the buffer in, so [`wirth_kth`]
//! reproduces that selection step by step.

use crate::steps::sort_network::{SortNetwork, MAX_NETWORK_LEN};

/// Median of `buf` (no NaN inside; reordered in place), or NaN if `buf` is empty; numpy's f64
/// rule: middle element, or `(lower + upper) / 2`.
pub fn median_f64(buf: &mut [f64]) -> f64 {
    let n = buf.len();
    if n == 0 {
        return f64::NAN;
    }
    if n >= SAMPLED_MIN {
        if let Some(m) = sampled_median(buf) {
            return m;
        }
    }
    let h = n / 2;
    let (lower, upper, _) = buf.select_nth_unstable_by(h, f64::total_cmp);
    let upper = *upper;
    if n % 2 == 1 {
        return upper;
    }
    let below = lower.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (below + upper) / 2.0
}

/// From this many values on, [`median_f64`] first tries [`sampled_median`].
const SAMPLED_MIN: usize = 256;

thread_local! {
    /// The values between the sampled pivots ([`sampled_median`]), reused from call to call.
    static MIDDLE: std::cell::RefCell<Vec<f64>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The median by sampling (Floyd–Rivest style): 32 evenly spaced values, sorted by a network,
/// give two pivots that almost surely bracket the median; one branch-free pass counts the values
/// below the lower pivot and gathers those between the pivots (about a third), and the median
/// is selected among those. `None` when the pivots missed (the caller selects over everything).
/// The result is the same order statistic as a full selection, so the same value.
fn sampled_median(buf: &[f64]) -> Option<f64> {
    static NETWORK: std::sync::OnceLock<SortNetwork> = std::sync::OnceLock::new();
    let net = NETWORK.get_or_init(|| SortNetwork::new(MAX_NETWORK_LEN).expect("32 fits"));
    let n = buf.len();
    let (h, even) = (n / 2, n.is_multiple_of(2));
    let mut sample = [0.0f64; MAX_NETWORK_LEN];
    for (k, s) in sample.iter_mut().enumerate() {
        *s = buf[(2 * k + 1) * n / (2 * MAX_NETWORK_LEN)];
    }
    net.sort_nan_last(&mut sample);
    const SPREAD: usize = 6;
    let (lo, hi) = (
        sample[MAX_NETWORK_LEN / 2 - SPREAD],
        sample[MAX_NETWORK_LEN / 2 - 1 + SPREAD],
    );
    MIDDLE.with(|cell| {
        let mut mid = cell.borrow_mut();
        mid.resize(n, 0.0);
        let (mut below, mut k) = (0usize, 0usize);
        for &x in buf {
            mid[k] = x;
            k += ((x >= lo) & (x <= hi)) as usize;
            below += (x < lo) as usize;
        }
        // Needed ranks: h, and h - 1 for an even count; both must fall among the gathered.
        let first = if even { h - 1 } else { h };
        if below > first || below + k <= h {
            return None;
        }
        let (lower, upper, _) = mid[..k].select_nth_unstable_by(h - below, f64::total_cmp);
        let upper = *upper;
        if !even {
            return Some(upper);
        }
        let lower_max = lower.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        Some((lower_max + upper) / 2.0)
    })
}

/// numpy `nanmedian` of a float32 array with axis=None (e.g. of the gain image): NaNs dropped;
/// for an even count the two middle values are added and halved in float32, as `np.mean` does
/// for float32 input. All-NaN (or empty) gives NaN. `scratch` is cleared and reused.
pub fn nanmedian_f32(values: &[f32], scratch: &mut Vec<f32>) -> f32 {
    scratch.clear();
    scratch.extend(values.iter().copied().filter(|v| !v.is_nan()));
    let n = scratch.len();
    if n == 0 {
        return f32::NAN;
    }
    let h = n / 2;
    let (lower, upper, _) = scratch.select_nth_unstable_by(h, f32::total_cmp);
    let upper = *upper;
    if n % 2 == 1 {
        return upper;
    }
    let below = lower.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    (below + upper) / 2.0
}

/// Copy the non-NaN values of `values` into `buf` (cleared first) and return their median
/// (numpy `nanmedian` over all of `values`).
pub fn nanmedian_f64(values: &[f64], buf: &mut Vec<f64>) -> f64 {
    buf.clear();
    buf.extend(values.iter().copied().filter(|v| !v.is_nan()));
    median_f64(buf)
}

/// stcal `calc_med_first_diffs` for one pixel: the "clipped" median of |first differences| used
/// by the iterative search. With n usable (non-NaN) values: n >= 4 drops every value equal to
/// the maximum and takes the median of the rest; n == 3 takes the plain median; n == 2 the
/// minimum; fewer gives NaN.
pub fn clipped_median(values: &[f64], buf: &mut Vec<f64>) -> f64 {
    buf.clear();
    let mut max = f64::NEG_INFINITY;
    for &v in values {
        if !v.is_nan() {
            buf.push(v);
            max = if v > max { v } else { max };
        }
    }
    match buf.len() {
        0 | 1 => f64::NAN,
        2 => buf[0].min(buf[1]),
        3 => median_f64(buf),
        _ => {
            buf.retain(|&v| v != max);
            median_f64(buf)
        }
    }
}

/// k-th smallest element by N. Wirth's partitioning selection, leaving `a` in exactly the order
/// the astropy C implementation (`kth_smallest` in `wirth_select.c`) leaves it. That order matters
/// because astropy sums the mean and variance over the buffer afterwards.
pub fn wirth_kth(a: &mut [f64], k: usize) -> f64 {
    debug_assert!(k < a.len());
    let k = k as isize;
    let mut left: isize = 0;
    let mut right: isize = a.len() as isize - 1;
    while left < right {
        let pivot = a[k as usize];
        let mut i = left;
        let mut j = right;
        loop {
            while a[i as usize] < pivot {
                i += 1;
            }
            while pivot < a[j as usize] {
                j -= 1;
            }
            if i <= j {
                a.swap(i as usize, j as usize);
                i += 1;
                j -= 1;
            }
            if i > j {
                break;
            }
        }
        if j < k {
            left = i;
        }
        if k < i {
            right = j;
        }
    }
    a[k as usize]
}

/// astropy's `wirth_median`: for an even count the upper middle element is selected first and
/// the lower second (the order the compiled library calls them in, which fixes the final buffer
/// permutation), then `0.5 * (lower + upper)`.
pub fn wirth_median(a: &mut [f64]) -> f64 {
    let n = a.len();
    if n.is_multiple_of(2) {
        let upper = wirth_kth(a, n / 2);
        let lower = wirth_kth(a, n / 2 - 1);
        0.5 * (lower + upper)
    } else {
        wirth_kth(a, (n - 1) / 2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_match_numpy_rules() {
        assert!(median_f64(&mut []).is_nan());
        assert_eq!(median_f64(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median_f64(&mut [4.0, 1.0, 3.0, 2.0]), 2.5);
        // Large inputs take the sampled path: same value as sorting, with and without ties,
        // sorted, reversed and skewed inputs (where the sample can miss and the full selection
        // answers).
        let mut state = 11u64;
        let mut next = |m: u64| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 33) % m) as f64
        };
        for n in [256usize, 257, 300, 630, 631, 1000, 4097] {
            for kind in 0..5 {
                let mut v: Vec<f64> = (0..n)
                    .map(|i| match kind {
                        0 => next(1 << 20),
                        1 => next(7),
                        2 => i as f64,
                        3 => -(i as f64),
                        _ => {
                            if i < n / 3 {
                                0.0
                            } else {
                                next(1000) + 1.0
                            }
                        }
                    })
                    .collect();
                let mut sorted = v.clone();
                sorted.sort_by(f64::total_cmp);
                let want = if n % 2 == 1 {
                    sorted[n / 2]
                } else {
                    (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
                };
                assert_eq!(median_f64(&mut v), want, "n {n} kind {kind}");
            }
        }
        let mut s = Vec::new();
        assert_eq!(nanmedian_f32(&[1.7, 2.3, f32::NAN, 1.9], &mut s), 1.9);
        assert!(nanmedian_f32(&[f32::NAN], &mut s).is_nan());
        // float32 halving: (1.1f32 + 1.2f32) / 2 in float32
        assert_eq!(nanmedian_f32(&[1.2, 1.1], &mut s), (1.1f32 + 1.2f32) / 2.0);
    }

    #[test]
    fn clipped_median_cases() {
        let mut b = Vec::new();
        let nan = f64::NAN;
        assert!(clipped_median(&[1.0, nan], &mut b).is_nan());
        assert_eq!(clipped_median(&[5.0, 2.0, nan], &mut b), 2.0);
        assert_eq!(clipped_median(&[5.0, 2.0, 3.0], &mut b), 3.0);
        // n = 5: both 9s dropped, median of 1, 2, 3
        assert_eq!(clipped_median(&[9.0, 1.0, 9.0, 2.0, 3.0], &mut b), 2.0);
        // all equal: everything dropped
        assert!(clipped_median(&[4.0, 4.0, 4.0, 4.0], &mut b).is_nan());
    }

    #[test]
    fn wirth_selects_order_statistics() {
        let data = [5.0, -1.0, 3.5, 3.5, 8.0, 0.0, 2.0, 7.0];
        let mut sorted = data.to_vec();
        sorted.sort_by(f64::total_cmp);
        for (k, &expected) in sorted.iter().enumerate() {
            let mut a = data.to_vec();
            assert_eq!(wirth_kth(&mut a, k), expected);
        }
        let mut a = data.to_vec();
        assert_eq!(wirth_median(&mut a), 0.5 * (sorted[3] + sorted[4]));
    }
}
