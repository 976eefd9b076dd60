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

/// Key of the float32 +∞: the key of every number is at most this, and every NaN key (see
/// [`f32_key`], [`abs_key`]) is above it.
pub const KEY_INF: i32 = 0x7f80_0000;

/// An `i32` whose order is the total order of the float (−∞ < … < −0 < +0 < … < +∞); every NaN
/// gets `i32::MAX` (above [`KEY_INF`]).
#[inline]
pub fn f32_key(x: f32) -> i32 {
    let b = x.to_bits() as i32;
    let k = b ^ (((b >> 31) as u32) >> 1) as i32;
    if x.is_nan() {
        i32::MAX
    } else {
        k
    }
}

/// The key of `|x|` (same order as [`f32_key`] on non-negative values): its bits; a NaN's are
/// above [`KEY_INF`] whatever its sign or payload.
#[inline]
pub fn abs_key(x: f32) -> i32 {
    (x.to_bits() & 0x7fff_ffff) as i32
}

/// The float of a key made by [`f32_key`] or [`abs_key`] (not of a NaN key).
#[inline]
pub fn key_value(k: i32) -> f32 {
    f32::from_bits((k ^ (((k >> 31) as u32) >> 1) as i32) as u32)
}

/// Lanes of the branch-free key scans (written lane-wise so they vectorise).
const LANES: usize = 8;

/// Over the usable keys (`<= KEY_INF`) of non-negative values ([`abs_key`]): their count,
/// smallest and largest (`i32::MAX` and -1 when there are none).
pub fn usable_span(keys: &[i32]) -> (usize, i32, i32) {
    // On non-negative floats the key order is the float order, and float min/max written as
    // `if a < b { a } else { b }` skip NaN (the unusable keys) and vectorise.
    let mut count = [0i32; LANES];
    let mut lo = [f32::INFINITY; LANES];
    let mut hi = [-1.0f32; LANES];
    let chunks = keys.chunks_exact(LANES);
    let rest = chunks.remainder();
    for c in chunks {
        for l in 0..LANES {
            let (k, v) = (c[l], f32::from_bits(c[l] as u32));
            count[l] += (k <= KEY_INF) as i32;
            lo[l] = if v < lo[l] { v } else { lo[l] };
            hi[l] = if v > hi[l] { v } else { hi[l] };
        }
    }
    let mut n: usize = count.iter().map(|&c| c as usize).sum();
    let mut lo = lo.iter().copied().fold(f32::INFINITY, f32::min);
    let mut hi = hi.iter().copied().fold(-1.0, f32::max);
    for &k in rest {
        if k <= KEY_INF {
            let v = f32::from_bits(k as u32);
            n += 1;
            lo = lo.min(v);
            hi = hi.max(v);
        }
    }
    if n == 0 {
        return (0, i32::MAX, -1);
    }
    (n, lo.to_bits() as i32, hi.to_bits() as i32)
}

/// For a key range `lo <= hi <= KEY_INF`: how many keys are inside `[lo, hi]`, below `lo`, and
/// equal to `hi`.
pub fn range_counts(keys: &[i32], lo: i32, hi: i32) -> (usize, usize, usize) {
    let mut inside = [0i32; LANES];
    let mut under = [0i32; LANES];
    let mut top = [0i32; LANES];
    let chunks = keys.chunks_exact(LANES);
    let rest = chunks.remainder();
    for c in chunks {
        for l in 0..LANES {
            let k = c[l];
            inside[l] += ((k >= lo) & (k <= hi)) as i32;
            under[l] += (k < lo) as i32;
            top[l] += (k == hi) as i32;
        }
    }
    let sum = |a: [i32; LANES]| a.iter().map(|&c| c as usize).sum::<usize>();
    let (mut inside, mut under, mut top) = (sum(inside), sum(under), sum(top));
    for &k in rest {
        inside += ((k >= lo) & (k <= hi)) as usize;
        under += (k < lo) as usize;
        top += (k == hi) as usize;
    }
    (inside, under, top)
}

/// Order statistics of the usable keys (`key <= KEY_INF`) of one array, served from a window of
/// consecutive ranks gathered once: a sample of [`MAX_NETWORK_LEN`] keys sorted by a network
/// gives two pivots around the wanted ranks, one branch-free pass gathers the keys between them
/// (and counts those below, the window's first rank). Each query is a selection inside the
/// window between the positions earlier queries fixed (a quickselect leaves every smaller key
/// before and every larger one after), so queries near earlier ones cost little. Ranks outside
/// the window (the pivots missed, or the queries moved far) gather every usable key instead.
/// Order statistics do not depend on how they are found, so the values are those of a sort.
#[derive(Debug, Clone, Default)]
pub struct RankWindow {
    band: Vec<i32>,
    /// Rank of the window's smallest key among the usable keys.
    offset: usize,
    len: usize,
    /// Positions of `band[..len]` holding their sorted value, ascending.
    fixed: Vec<usize>,
}

/// From this many keys on, [`RankWindow`] samples pivots; fewer are gathered whole.
const WINDOW_SAMPLED_MIN: usize = 128;
/// Sample positions either side of the wanted ranks' place in the sample.
const WINDOW_SPREAD: usize = 5;

impl RankWindow {
    /// Gathers the keys in `[lo, hi]` into the window; returns how many keys are below `lo`.
    fn gather_between(&mut self, keys: &[i32], lo: i32, hi: i32) -> usize {
        self.band.resize(keys.len(), 0);
        let band = &mut self.band[..keys.len()];
        let (mut below, mut k) = (0usize, 0usize);
        for &x in keys {
            band[k] = x;
            k += ((x >= lo) & (x <= hi)) as usize;
            below += (x < lo) as usize;
        }
        self.len = k;
        self.fixed.clear();
        below
    }

    /// Gathers a window holding the usable ranks `want_lo..=want_hi` (which must exist).
    fn gather(&mut self, keys: &[i32], want_lo: usize, want_hi: usize) {
        let n = keys.len();
        if n >= WINDOW_SAMPLED_MIN {
            let mut sample = [0i64; MAX_NETWORK_LEN];
            for (k, s) in sample.iter_mut().enumerate() {
                *s = keys[(2 * k + 1) * n / (2 * MAX_NETWORK_LEN)] as i64;
            }
            crate::steps::sort_network::sort_keys_32(&mut sample);
            // Sample k sits near rank (k + 1/2) n / 32 of all keys (unusable ones are last).
            let place = |r: usize| r * MAX_NETWORK_LEN / n;
            let lo = match place(want_lo).checked_sub(WINDOW_SPREAD) {
                Some(i) => sample[i] as i32,
                None => i32::MIN,
            };
            let hi = match sample.get(place(want_hi) + WINDOW_SPREAD) {
                Some(&k) => (k as i32).min(KEY_INF),
                None => KEY_INF,
            };
            let below = self.gather_between(keys, lo, hi);
            if below <= want_lo && want_hi < below + self.len {
                self.offset = below;
                return;
            }
        }
        self.offset = self.gather_between(keys, i32::MIN, KEY_INF);
    }

    /// The key at `band` position `at` (`< len`) in sorted order.
    fn select(&mut self, at: usize) -> i32 {
        let slot = self.fixed.partition_point(|&p| p < at);
        if self.fixed.get(slot) == Some(&at) {
            return self.band[at];
        }
        let start = if slot == 0 {
            0
        } else {
            self.fixed[slot - 1] + 1
        };
        let end = self.fixed.get(slot).copied().unwrap_or(self.len);
        let (_, &mut key, _) = self.band[start..end].select_nth_unstable(at - start);
        self.fixed.insert(slot, at);
        key
    }

    /// First query on `keys`: the usable keys of ranks `k1 <= k2` (`k2 < ` the usable count,
    /// `k2 - k1 <= 1`), e.g. the two middle ones of a median.
    pub fn first_pair(&mut self, keys: &[i32], k1: usize, k2: usize) -> (i32, i32) {
        debug_assert!(k1 <= k2 && k2 - k1 <= 1);
        self.gather(keys, k1, k2);
        let upper = self.select(k2 - self.offset);
        let lower = if k1 < k2 {
            self.select(k1 - self.offset)
        } else {
            upper
        };
        (lower, upper)
    }

    /// The usable key of rank `k` (`k <` the usable count) of the same `keys` as the first query.
    pub fn rank(&mut self, keys: &[i32], k: usize) -> i32 {
        if k < self.offset || k >= self.offset + self.len {
            self.offset = self.gather_between(keys, i32::MIN, KEY_INF);
        }
        self.select(k - self.offset)
    }
}

/// numpy's median of the values of the usable keys of ranks `k1`, `k2` (equal for an odd
/// count): the value, or `(lower + upper) / 2` in float64.
#[inline]
pub fn median_from_pair((lower, upper): (i32, i32)) -> f64 {
    let upper_v = key_value(upper) as f64;
    if lower == upper {
        upper_v
    } else {
        (key_value(lower) as f64 + upper_v) / 2.0
    }
}

/// numpy `nanmedian` (float64) of the values of `keys` ([`f32_key`] or [`abs_key`] of float32
/// values), of which `usable` are not NaN; NaN for none.
pub fn median_of_keys(keys: &[i32], usable: usize, window: &mut RankWindow) -> f64 {
    if usable == 0 {
        return f64::NAN;
    }
    median_from_pair(window.first_pair(keys, (usable - 1) / 2, usable / 2))
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
    fn keys_follow_the_float_order() {
        let vals = [
            f32::NEG_INFINITY,
            -3.5,
            -1e-40,
            -0.0,
            0.0,
            1e-40,
            2.0,
            3e38,
            f32::INFINITY,
        ];
        for w in vals.windows(2) {
            assert!(f32_key(w[0]) < f32_key(w[1]), "{} {}", w[0], w[1]);
            assert_eq!(key_value(f32_key(w[0])).to_bits(), w[0].to_bits());
        }
        assert_eq!(f32_key(f32::INFINITY), KEY_INF);
        assert!(f32_key(f32::NAN) > KEY_INF && f32_key(-f32::NAN) > KEY_INF);
        assert!(abs_key(f32::NAN) > KEY_INF && abs_key(-f32::NAN) > KEY_INF);
        assert_eq!(abs_key(-2.0), f32_key(2.0));
        assert_eq!(abs_key(-0.0), f32_key(0.0));
    }

    #[test]
    fn key_scans_match_plain_loops() {
        let mut state = 5u64;
        let mut next = |m: u64| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) % m
        };
        for len in 0..70 {
            for _ in 0..20 {
                let keys: Vec<i32> = (0..len)
                    .map(|_| match next(6) {
                        0 => abs_key(f32::NAN),
                        1 => abs_key(-(next(5) as f32)),
                        _ => abs_key(next(40) as f32 * 0.25),
                    })
                    .collect();
                let usable: Vec<i32> = keys.iter().copied().filter(|&k| k <= KEY_INF).collect();
                let (n, lo, hi) = usable_span(&keys);
                assert_eq!(n, usable.len());
                assert_eq!(lo, usable.iter().copied().min().unwrap_or(i32::MAX));
                assert_eq!(hi, usable.iter().copied().max().unwrap_or(-1));
                if n > 0 {
                    let (a, b) = (usable[0].min(usable[n - 1]), usable[0].max(usable[n - 1]));
                    let want = (
                        keys.iter().filter(|&&k| k >= a && k <= b).count(),
                        keys.iter().filter(|&&k| k < a).count(),
                        keys.iter().filter(|&&k| k == b).count(),
                    );
                    assert_eq!(range_counts(&keys, a, b), want);
                }
            }
        }
    }

    #[test]
    fn rank_window_gives_sorted_order_statistics() {
        let mut state = 17u64;
        let mut next = |m: u64| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) % m
        };
        let mut window = RankWindow::default();
        for &len in &[1usize, 2, 5, 31, 127, 128, 300, 630, 699, 2000] {
            for kind in 0..6 {
                let keys: Vec<i32> = (0..len)
                    .map(|i| {
                        let v = match kind {
                            0 => next(1 << 20) as f32,
                            1 => next(4) as f32,
                            2 => i as f32,
                            3 => (len - i) as f32,
                            4 if next(3) == 0 => f32::NAN,
                            5 if i < len / 2 => f32::NAN,
                            _ => next(1000) as f32 - 500.0,
                        };
                        f32_key(v)
                    })
                    .collect();
                let mut sorted: Vec<i32> = keys.iter().copied().filter(|&k| k <= KEY_INF).collect();
                sorted.sort();
                let n = sorted.len();
                if n == 0 {
                    assert!(median_of_keys(&keys, 0, &mut window).is_nan());
                    continue;
                }
                let (k1, k2) = ((n - 1) / 2, n / 2);
                assert_eq!(window.first_pair(&keys, k1, k2), (sorted[k1], sorted[k2]));
                // Wandering queries, near and far, repeated.
                let mut k = k1;
                for step in 0..40 {
                    k = match step % 7 {
                        0 => next(n as u64) as usize,
                        1 | 2 => k.saturating_sub(1),
                        _ => (k + 1).min(n - 1),
                    };
                    assert_eq!(window.rank(&keys, k), sorted[k], "len {len} kind {kind}");
                }
                let floats: Vec<f64> = keys
                    .iter()
                    .map(|&k| {
                        if k <= KEY_INF {
                            key_value(k) as f64
                        } else {
                            f64::NAN
                        }
                    })
                    .collect();
                let mut buf = Vec::new();
                assert_eq!(
                    median_of_keys(&keys, n, &mut window),
                    nanmedian_f64(&floats, &mut buf)
                );
            }
        }
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
