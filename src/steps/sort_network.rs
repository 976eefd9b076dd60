//! Branch-free sorting of short runs of `f64` (a per-pixel handful of differences).
//!
//! Insertion sort on a few values is dominated by mispredicted branches: the data decide every
//! step. A sorting network performs a fixed list of compare-exchanges whatever the values, each a
//! `min`/`max` pair the compiler emits without branches. The network is Batcher's odd–even merge
//! sort, generated for the exact length (pairs that would touch positions past the end are left
//! out, which equals sorting a copy padded with +∞). Floats are sorted as integer keys with the
//! same total order, so each compare-exchange is a pair of conditional moves.
//!
//! The order statistics of the result are those of any correct sort, so medians taken from it
//! match numpy's and the C code's bit for bit (equal values are interchangeable; the sign of a zero
//! median cannot reach any product, see the callers).

/// Largest length a network is built for; longer runs use the standard library's sort.
pub const MAX_NETWORK_LEN: usize = 32;

/// A fixed list of compare-exchanges that sorts `len` values ascending.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SortNetwork {
    len: usize,
    pairs: Vec<(u8, u8)>,
}

impl SortNetwork {
    /// The network for `len` values (`len <= MAX_NETWORK_LEN`), or `None` when longer.
    pub fn new(len: usize) -> Option<SortNetwork> {
        if len > MAX_NETWORK_LEN {
            return None;
        }
        let mut pairs = Vec::new();
        let mut p = 1;
        while p < len {
            let mut k = p;
            while k > 0 {
                let mut j = k % p;
                while j + k < len {
                    for i in 0..k.min(len - j - k) {
                        if (i + j) / (2 * p) == (i + j + k) / (2 * p) {
                            pairs.push(((i + j) as u8, (i + j + k) as u8));
                        }
                    }
                    j += 2 * k;
                }
                k /= 2;
            }
            p *= 2;
        }
        Some(SortNetwork { len, pairs })
    }

    /// Number of values the network sorts.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the network sorts nothing.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Sorts `v[..len]` ascending (integer compare-exchanges become conditional moves).
    #[inline]
    pub fn sort_keys(&self, v: &mut [i64; MAX_NETWORK_LEN]) {
        for &(i, j) in &self.pairs {
            let (i, j) = (
                i as usize & (MAX_NETWORK_LEN - 1),
                j as usize & (MAX_NETWORK_LEN - 1),
            );
            let (a, b) = (v[i], v[j]);
            v[i] = a.min(b);
            v[j] = a.max(b);
        }
    }

    /// Sorts `v[..len]` ascending; NaN values are moved past every number. Returns how many
    /// values are not NaN (they come first, sorted).
    #[inline]
    pub fn sort_nan_last(&self, v: &mut [f64; MAX_NETWORK_LEN]) -> usize {
        let mut keys = [MISSING_KEY; MAX_NETWORK_LEN];
        let mut valid = 0;
        for (k, x) in keys.iter_mut().zip(&v[..self.len]) {
            if !x.is_nan() {
                *k = order_key(*x);
                valid += 1;
            }
        }
        self.sort_keys(&mut keys);
        for (x, &k) in v.iter_mut().zip(&keys[..valid]) {
            *x = from_order_key(k);
        }
        valid
    }
}

/// Key of a missing value: after every number's key.
const MISSING_KEY: i64 = i64::MAX;

/// An integer whose order is the total order of the float (−∞ < … < −0 < +0 < … < +∞); NaN is
/// never given one.
#[inline]
fn order_key(x: f64) -> i64 {
    let b = x.to_bits() as i64;
    b ^ (((b >> 63) as u64) >> 1) as i64
}

#[inline]
fn from_order_key(k: i64) -> f64 {
    f64::from_bits((k ^ (((k >> 63) as u64) >> 1) as i64) as u64)
}

/// numpy's median of the first `count` values of a sorted run: the middle one, or the mean of
/// the two middle ones as `(a + b) / 2`; NaN for none.
#[inline]
pub fn median_of_sorted(sorted: &[f64], count: usize) -> f64 {
    match count {
        0 => f64::NAN,
        c if c % 2 == 1 => sorted[c / 2],
        c => (sorted[c / 2] + sorted[c / 2 - 1]) / 2.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lcg(state: &mut u64) -> f64 {
        *state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        // Few distinct values, so ties are common.
        ((*state >> 33) % 17) as f64 - 8.0
    }

    #[test]
    fn sorts_every_zero_one_input_up_to_14() {
        // The zero-one principle: a network that sorts every 0/1 input sorts everything.
        for len in 0..=14usize {
            let net = SortNetwork::new(len).unwrap();
            for bits in 0u32..(1 << len) {
                let mut v = [f64::NAN; MAX_NETWORK_LEN];
                for (k, x) in v.iter_mut().take(len).enumerate() {
                    *x = ((bits >> k) & 1) as f64;
                }
                assert_eq!(net.sort_nan_last(&mut v), len);
                assert!(
                    v[..len].windows(2).all(|w| w[0] <= w[1]),
                    "len {len} bits {bits:b}"
                );
            }
        }
    }

    #[test]
    fn sorts_random_runs_of_every_length() {
        let mut s = 7u64;
        for len in 0..=MAX_NETWORK_LEN {
            let net = SortNetwork::new(len).unwrap();
            for _ in 0..200 {
                let mut v = [f64::NAN; MAX_NETWORK_LEN];
                for x in v.iter_mut().take(len) {
                    *x = lcg(&mut s);
                }
                let mut want = v[..len].to_vec();
                want.sort_by(f64::total_cmp);
                assert_eq!(net.sort_nan_last(&mut v), len);
                assert_eq!(&v[..len], &want[..], "len {len}");
            }
        }
        assert!(SortNetwork::new(MAX_NETWORK_LEN + 1).is_none());
    }

    #[test]
    fn nan_goes_last_and_floats_keep_their_order() {
        let net = SortNetwork::new(9).unwrap();
        let mut v = [0.0; MAX_NETWORK_LEN];
        let vals = [
            3.0,
            f64::NAN,
            -1.0,
            2.0,
            f64::NAN,
            0.5,
            f64::INFINITY,
            -4.0,
            -0.0,
        ];
        v[..9].copy_from_slice(&vals);
        assert_eq!(net.sort_nan_last(&mut v), 7);
        assert_eq!(&v[..7], &[-4.0, -1.0, -0.0, 0.5, 2.0, 3.0, f64::INFINITY]);
        assert!(v[2].is_sign_negative());
        v[..7].copy_from_slice(&[-4.0, -1.0, 0.5, 2.0, 2.0, 3.0, 7.0]);
        assert_eq!(median_of_sorted(&v, 7), 2.0);
        assert_eq!(median_of_sorted(&v, 6), 1.25);
        assert_eq!(median_of_sorted(&v, 4), -0.25);
        assert!(median_of_sorted(&v, 0).is_nan());
    }
}
