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

// The unrolled sort has 191 steps: enough for the longest network.
const _: () = assert!(batcher_pairs(MAX_NETWORK_LEN).1 <= 191);

/// Capacity of a compile-time pair list (the 32-value network has 191 pairs).
pub(crate) const MAX_PAIRS: usize = 256;

/// Batcher's odd–even merge sort pairs for `len` values, computed at compile time (also pruned
/// to a median-only network by ramp fitting's median rate).
pub(crate) const fn batcher_pairs(len: usize) -> ([(u8, u8); MAX_PAIRS], usize) {
    let mut pairs = [(0u8, 0u8); MAX_PAIRS];
    let mut count = 0;
    let mut p = 1;
    while p < len {
        let mut k = p;
        while k > 0 {
            let mut j = k % p;
            while j + k < len {
                let mut i = 0;
                while i < k && i + j + k < len {
                    if (i + j) / (2 * p) == (i + j + k) / (2 * p) {
                        pairs[count] = ((i + j) as u8, (i + j + k) as u8);
                        count += 1;
                    }
                    i += 1;
                }
                j += 2 * k;
            }
            k /= 2;
        }
        p *= 2;
    }
    (pairs, count)
}

/// The network of `N` values as a constant, so each length gets straight-line code with the
/// values in registers.
struct Network<const N: usize>;

impl<const N: usize> Network<N> {
    const PAIRS: ([(u8, u8); MAX_PAIRS], usize) = batcher_pairs(N);

    /// Straight-line compare-exchanges: each step's pair is a constant, so the steps past the
    /// list's end vanish at compile time and the values stay in registers.
    #[inline]
    fn sort(v: &mut [i64; N]) {
        seq_macro::seq!(K in 0..191 {
            if K < Self::PAIRS.1 {
                let (i, j) = (Self::PAIRS.0[K].0 as usize, Self::PAIRS.0[K].1 as usize);
                let (a, b) = (v[i], v[j]);
                v[i] = a.min(b);
                v[j] = a.max(b);
            }
        });
    }

    /// Keys of `src` (NaN → [`MISSING_KEY`]), sorted; the sorted numbers are written back to
    /// `out[..valid]`.
    #[inline]
    fn sort_floats(src: &[f64], out: &mut [f64]) -> usize {
        let mut keys = [MISSING_KEY; N];
        let mut valid = 0;
        for (k, &x) in keys.iter_mut().zip(src) {
            if !x.is_nan() {
                *k = order_key(x);
                valid += 1;
            }
        }
        Self::sort(&mut keys);
        for (o, &k) in out.iter_mut().zip(&keys[..valid]) {
            *o = from_order_key(k);
        }
        valid
    }
}

/// Sorts the values of one run length (at most [`MAX_NETWORK_LEN`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SortNetwork {
    len: usize,
}

impl SortNetwork {
    /// The network for `len` values (`len <= MAX_NETWORK_LEN`), or `None` when longer.
    pub fn new(len: usize) -> Option<SortNetwork> {
        (len <= MAX_NETWORK_LEN).then_some(SortNetwork { len })
    }

    /// Number of values the network sorts.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the network sorts nothing.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Sorts `v[..len]` ascending; NaN values are moved past every number. Returns how many
    /// values are not NaN (they come first, sorted).
    #[inline]
    pub fn sort_nan_last(&self, v: &mut [f64; MAX_NETWORK_LEN]) -> usize {
        let mut src = [0.0f64; MAX_NETWORK_LEN];
        src[..self.len].copy_from_slice(&v[..self.len]);
        macro_rules! dispatch {
            ($($n:literal)*) => {
                match self.len {
                    $($n => Network::<$n>::sort_floats(&src[..$n], v),)*
                    _ => unreachable!("SortNetwork::new bounds the length"),
                }
            };
        }
        dispatch!(0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32)
    }
}

/// Sorts 32 integer keys ascending with the 32-value network (branch-free).
#[inline]
pub fn sort_keys_32(v: &mut [i64; MAX_NETWORK_LEN]) {
    Network::<MAX_NETWORK_LEN>::sort(v);
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
    fn sorts_keys_32() {
        let mut s = 3u64;
        for _ in 0..200 {
            let mut v = [0i64; MAX_NETWORK_LEN];
            for x in v.iter_mut() {
                *x = (lcg(&mut s) * 1e3) as i64 + (lcg(&mut s) as i64);
            }
            let mut want = v.to_vec();
            want.sort();
            sort_keys_32(&mut v);
            assert_eq!(&v[..], &want[..]);
        }
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
