//! The statistics of the official step, reproduced operation by operation: numpy's float32/float64
//! `mean`, `std` and `median`, scipy's `sigmaclip` loop and the `Dataset.sigma_clip` wrapper.
//!
//! Why so literal: a clipped mean that differs by one ulp shifts a whole amplifier's columns, so
//! the summation order matters. numpy reduces a contiguous array with `add.reduce`, which starts
//! from the identity 0 and adds a *pairwise* sum (blocks of at most 128 values summed with eight
//! interleaved accumulators, larger arrays split in two halves rounded down to a multiple of 8).
//! Divisions by the count happen in float64 and are cast back to the array type, as
//! `ret.dtype.type(ret / rcount)` does (rcount is a numpy integer, which promotes to float64).

use std::ops::{Add, Mul, Sub};

/// The two array types the official step computes in: float32 for the first processed group and
/// for every path without side correction, float64 once the side correction has turned the
/// step's group buffer into float64 (see `Precision`).
pub trait Sample:
    Copy + PartialOrd + Add<Output = Self> + Sub<Output = Self> + Mul<Output = Self>
{
    const ZERO: Self;
    /// Cast from float64 with round-to-nearest-even (numpy `astype` / `dtype.type(...)`).
    fn from_f64(v: f64) -> Self;
    fn to_f64(self) -> f64;
    fn sqrt(self) -> Self;
    fn is_nan(self) -> bool;
    /// The numpy scalar type a mean of this type has.
    fn to_ref(self) -> RefValue;
}

impl Sample for f32 {
    const ZERO: f32 = 0.0;
    fn from_f64(v: f64) -> f32 {
        v as f32
    }
    fn to_f64(self) -> f64 {
        self as f64
    }
    fn sqrt(self) -> f32 {
        f32::sqrt(self)
    }
    fn is_nan(self) -> bool {
        f32::is_nan(self)
    }
    fn to_ref(self) -> RefValue {
        RefValue::F32(self)
    }
}

impl Sample for f64 {
    const ZERO: f64 = 0.0;
    fn from_f64(v: f64) -> f64 {
        v
    }
    fn to_f64(self) -> f64 {
        self
    }
    fn sqrt(self) -> f64 {
        f64::sqrt(self)
    }
    fn is_nan(self) -> bool {
        f64::is_nan(self)
    }
    fn to_ref(self) -> RefValue {
        RefValue::F64(self)
    }
}

/// A reference level as the official code holds it: a numpy float32 or float64 scalar. The type
/// matters when two levels are averaged (`0.5 * (a + b)` stays float32 only if both are float32)
/// and is kept so tests can compare with the official values exactly.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RefValue {
    F32(f32),
    F64(f64),
}

impl RefValue {
    /// The value as float64 (exact).
    pub fn value(self) -> f64 {
        match self {
            RefValue::F32(v) => v as f64,
            RefValue::F64(v) => v,
        }
    }

    /// `NIRDataset.average_with_none`: the mean of top and bottom, or whichever exists.
    pub fn average(a: Option<RefValue>, b: Option<RefValue>) -> Option<RefValue> {
        match (a, b) {
            (None, None) => None,
            (Some(v), None) | (None, Some(v)) => Some(v),
            // Python `0.5 * (a + b)`: float32 + float32 is float32 and the weak Python float
            // keeps it float32 (NEP 50); any float64 operand makes it float64.
            (Some(RefValue::F32(a)), Some(RefValue::F32(b))) => Some(RefValue::F32(0.5 * (a + b))),
            (Some(a), Some(b)) => Some(RefValue::F64(0.5 * (a.value() + b.value()))),
        }
    }
}

/// numpy's pairwise summation of one contiguous block (`@TYPE@_pairwise_sum`).
fn pairwise<T: Sample>(a: &[T]) -> T {
    const BLOCK: usize = 128;
    let n = a.len();
    if n < 8 {
        a.iter().fold(T::ZERO, |acc, &v| acc + v)
    } else if n <= BLOCK {
        let mut r = [T::ZERO; 8];
        r.copy_from_slice(&a[..8]);
        let whole = n - n % 8;
        for chunk in a[8..whole].chunks_exact(8) {
            for (acc, &v) in r.iter_mut().zip(chunk) {
                *acc = *acc + v;
            }
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for &v in &a[whole..] {
            res = res + v;
        }
        res
    } else {
        let half = n / 2;
        let split = half - half % 8;
        pairwise(&a[..split]) + pairwise(&a[split..])
    }
}

/// `np.add.reduce` of a contiguous array: identity 0 plus the pairwise sum.
pub fn np_sum<T: Sample>(a: &[T]) -> T {
    T::ZERO + pairwise(a)
}

/// `np.mean` (NaN for an empty array, as numpy returns).
pub fn np_mean<T: Sample>(a: &[T]) -> T {
    T::from_f64(np_sum(a).to_f64() / a.len() as f64)
}

/// `np.std` with ddof = 0: mean, squared deviations in the array type, pairwise sum, divide,
/// square root in the array type. `scratch` avoids an allocation per call.
pub fn np_std<T: Sample>(a: &[T], scratch: &mut Vec<T>) -> T {
    let mean = np_mean(a);
    scratch.clear();
    scratch.extend(a.iter().map(|&v| {
        let d = v - mean;
        d * d
    }));
    let var = T::from_f64(np_sum(scratch).to_f64() / a.len() as f64);
    var.sqrt()
}

/// `np.median` of a 1-D array: NaN if any value is NaN, otherwise `np.mean` of the middle one or
/// two values of the sorted data (which is how numpy coerces the type, and why an even count
/// averages the two middle values in the array type).
pub fn np_median<T: Sample>(values: &mut [T]) -> T {
    if values.iter().any(|v| v.is_nan()) {
        return T::from_f64(f64::NAN);
    }
    values.sort_unstable_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    let n = values.len();
    let middle = if n % 2 == 1 {
        &values[n / 2..n / 2 + 1]
    } else {
        &values[n / 2 - 1..n / 2 + 1]
    };
    np_mean(middle)
}

/// `scipy.stats.sigmaclip(c, low, high).clipped`: repeat {std, mean, keep `lower ≤ v ≤ upper`}
/// until an iteration removes nothing. The bounds are computed in the array type
/// (`c_mean - c_std * low` with a weak Python float). A NaN makes every comparison false, so the
/// sample empties and the final mean is NaN, as in scipy.
pub fn sigmaclip<T: Sample>(values: &mut Vec<T>, low: f64, high: f64, scratch: &mut Vec<T>) {
    let (low, high) = (T::from_f64(low), T::from_f64(high));
    loop {
        let std = np_std(values, scratch);
        let mean = np_mean(values);
        let lower = mean - std * low;
        let upper = mean + std * high;
        let before = values.len();
        values.retain(|&v| v >= lower && v <= upper);
        if values.len() == before {
            break;
        }
    }
}

/// `Dataset.sigma_clip` on the already DO_NOT_USE-filtered values (in the official order):
/// `None` when there are none; the float64 mean when the float64 standard deviation is exactly
/// zero; otherwise the mean of the sigma-clipped sample in the array type.
///
/// The float64 standard deviation of float32/float64 samples is exactly zero if and only if all
/// values are equal and finite (a difference of two distinct such values squares to a normal
/// float64, and a NaN or an infinity makes it NaN), so that test is done directly. The float64
/// mean of n equal values v is v itself, except that numpy's identity start turns −0 into +0.
pub fn clipmean<T: Sample>(
    values: &mut Vec<T>,
    siglimit: f64,
    scratch: &mut Vec<T>,
) -> Option<RefValue> {
    let first = *values.first()?;
    let constant = first.to_f64().is_finite() && values.iter().all(|&v| v == first);
    if constant {
        return Some(RefValue::F64(first.to_f64() + 0.0));
    }
    sigmaclip(values, siglimit, siglimit, scratch);
    Some(np_mean(values).to_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairwise_sum_uses_blocks_of_eight() {
        // 9 values: eight accumulators, then the ninth added to the combined block.
        let a: Vec<f32> = (0..9).map(|i| 1.0e8 + i as f32).collect();
        let mut r = [0f32; 8];
        r.copy_from_slice(&a[..8]);
        let expect = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7])) + a[8];
        assert_eq!(np_sum(&a), expect);
    }

    #[test]
    fn median_even_count_averages_in_array_type() {
        let mut v = [3.0f32, 1.0, 2.0, 16777216.0];
        assert_eq!(np_median(&mut v), (2.0f32 + 3.0) / 2.0);
        let mut w = [1.0f32, f32::NAN, 2.0];
        assert!(np_median(&mut w).is_nan());
        let mut z = [-0.0f32];
        assert!(
            np_median(&mut z).is_sign_positive(),
            "numpy's mean adds to +0"
        );
    }

    #[test]
    fn clipmean_branches() {
        let mut s = Vec::new();
        assert_eq!(clipmean::<f32>(&mut vec![], 3.0, &mut s), None);
        assert_eq!(
            clipmean(&mut vec![2.5f32; 5], 3.0, &mut s),
            Some(RefValue::F64(2.5))
        );
        let mut v = vec![1.0f32, 2.0, f32::NAN];
        match clipmean(&mut v, 3.0, &mut s) {
            Some(RefValue::F32(m)) => assert!(m.is_nan()),
            other => panic!("{other:?}"),
        }
        // One far outlier among 20 values is removed.
        let mut v: Vec<f32> = (0..20).map(|i| 10.0 + (i % 3) as f32).collect();
        v.push(1000.0);
        assert_eq!(
            clipmean(&mut v, 3.0, &mut s),
            Some(RefValue::F32(np_mean(&v)))
        );
        assert_eq!(v.len(), 20);
    }

    #[test]
    fn average_keeps_numpy_types() {
        let a = Some(RefValue::F32(1.0));
        let b = Some(RefValue::F32(2.0));
        assert_eq!(RefValue::average(a, b), Some(RefValue::F32(1.5)));
        assert_eq!(
            RefValue::average(a, Some(RefValue::F64(2.0))),
            Some(RefValue::F64(1.5))
        );
        assert_eq!(RefValue::average(None, b), b);
        assert_eq!(RefValue::average(None, None), None);
    }
}
