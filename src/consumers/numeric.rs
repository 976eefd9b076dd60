//! The numpy reductions the Stage 2/3 steps use, with numpy's exact rounding.
//!
//! Parity to the last bit needs the same summation order and the same precision as numpy:
//! `np.sum` adds with pairwise summation (blocks of 8 accumulators up to 128 values, halves
//! above), in the array's own precision; `np.median` of float32 data averages the two middle
//! values in float32 (`np.median(..., out=float64)` averages them in float64 instead), and
//! `np.nanmedian` is the median of the finite-or-infinite (non-NaN) values.

/// Floating types numpy sums pairwise.
pub trait Float: Copy + PartialOrd + std::ops::Add<Output = Self> {
    const ZERO: Self;
    fn is_nan(self) -> bool;
}

impl Float for f32 {
    const ZERO: f32 = 0.0;
    fn is_nan(self) -> bool {
        f32::is_nan(self)
    }
}

impl Float for f64 {
    const ZERO: f64 = 0.0;
    fn is_nan(self) -> bool {
        f64::is_nan(self)
    }
}

/// numpy's pairwise summation (`np.sum` of a contiguous array, any shape, in C order): below 8
/// values a plain running sum; up to 128 values eight interleaved partial sums combined as
/// `((r0+r1)+(r2+r3))+((r4+r5)+(r6+r7))` plus the tail; above that, the two halves (the first
/// rounded down to a multiple of 8) summed recursively.
pub fn pairwise_sum<T: Float>(a: &[T]) -> T {
    let n = a.len();
    if n < 8 {
        let mut r = T::ZERO;
        for &v in a {
            r = r + v;
        }
        r
    } else if n <= 128 {
        let mut r = [a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]];
        let full = n - n % 8;
        let mut i = 8;
        while i < full {
            for (j, rj) in r.iter_mut().enumerate() {
                *rj = *rj + a[i + j];
            }
            i += 8;
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for &v in &a[full..] {
            res = res + v;
        }
        res
    } else {
        let mut n2 = n / 2;
        n2 -= n2 % 8;
        pairwise_sum(&a[..n2]) + pairwise_sum(&a[n2..])
    }
}

fn total_cmp_f32(a: &f32, b: &f32) -> std::cmp::Ordering {
    a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal)
}

/// `np.median` of float32 values that hold no NaN, reordering `v` in place: the middle value,
/// or `float32(a + b) / 2` of the two middle ones. Empty -> NaN.
pub fn median_f32_in_place(v: &mut [f32]) -> f32 {
    let n = v.len();
    if n == 0 {
        return f32::NAN;
    }
    let k = n / 2;
    let (lo, mid, _) = v.select_nth_unstable_by(k, total_cmp_f32);
    let hi = *mid;
    if n % 2 == 1 {
        hi
    } else {
        let below = lo.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        (below + hi) / 2.0
    }
}

/// `np.nanmedian` of float32 values: the median of the non-NaN ones (NaN when there are none).
/// `scratch` is reused to avoid allocations.
pub fn nanmedian_f32(values: impl Iterator<Item = f32>, scratch: &mut Vec<f32>) -> f32 {
    scratch.clear();
    scratch.extend(values.filter(|v| !v.is_nan()));
    median_f32_in_place(scratch)
}

/// `np.nanmedian` of float64 values (used for the median centroid).
pub fn nanmedian_f64(values: &[f64]) -> f64 {
    let mut v: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
    let n = v.len();
    if n == 0 {
        return f64::NAN;
    }
    let k = n / 2;
    let (lo, mid, _) = v.select_nth_unstable_by(k, |a, b| {
        a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal)
    });
    let hi = *mid;
    if n % 2 == 1 {
        hi
    } else {
        let below = lo.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (below + hi) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairwise_matches_numpy_orders() {
        // Values whose sum depends on the order: numpy gives these exact results
        // (np.sum(np.array(v))), checked against the pairwise definition by hand for n = 9.
        let v: Vec<f64> = (0..9).map(|i| if i == 0 { 1e16 } else { 1.0 }).collect();
        // r0 = 1e16 + 1 (=1e16), r1..r7 = 1 each; tail 1: ((1e16+1)+2)+(2+2) then +1.
        let want = ((1e16 + 1.0) + (1.0 + 1.0)) + ((1.0 + 1.0) + (1.0 + 1.0)) + 1.0;
        assert_eq!(pairwise_sum(&v), want);
        let small = [1.0f32, 2.0, 3.0];
        assert_eq!(pairwise_sum(&small), 6.0);
        assert_eq!(pairwise_sum::<f64>(&[]), 0.0);
    }

    #[test]
    fn medians() {
        let mut v = vec![3.0f32, 1.0, 2.0, 10.0];
        assert_eq!(median_f32_in_place(&mut v), 2.5);
        let mut s = Vec::new();
        assert_eq!(
            nanmedian_f32([f32::NAN, 1.0, 5.0, 2.0].into_iter(), &mut s),
            2.0
        );
        assert!(nanmedian_f32([f32::NAN].into_iter(), &mut s).is_nan());
        assert_eq!(nanmedian_f64(&[f64::NAN, 4.0, 1.0]), 2.5);
    }
}
