//! Counter-based random streams and the fast samplers the simulator needs.
//!
//! Every random quantity is drawn from a short stream whose key is a pure function of
//! `(seed, domain, a, b, c)` (for example `(seed, FRAME_NOISE, integration, frame, row)`). Work can
//! therefore be split across any number of threads, in any order, and the output stays
//! byte-identical: no stream is ever shared between two units of work.
//!
//! The generator is wyrand (one 64x64->128 multiply per draw): small, fast and statistically sound
//! for simulation. It is written here rather than taken from a crate so that the streams, and hence
//! every simulated file, never change under a dependency upgrade.

use rand::RngCore;
use rand_distr::{Distribution, StandardNormal};

/// Stream domains: one per kind of random quantity, so that no two kinds share a stream.
pub mod domain {
    /// Static per-pixel detector properties, keyed by full-frame (row, column).
    pub const PIXEL: u64 = 1;
    /// Scene pixel background, keyed by subarray (row, column).
    pub const SCENE_PIXEL: u64 = 2;
    /// Scene objects (sources, bright pixels): one stream.
    pub const SCENE: u64 = 3;
    /// Photon and read noise of one (integration, frame, row).
    pub const FRAME_NOISE: u64 = 4;
    /// Amplifier / column-parity drift of one (integration, frame).
    pub const DRIFT: u64 = 5;
    /// Cosmic-ray list of one integration.
    pub const COSMIC_RAYS: u64 = 6;
    /// Flat-field response of one pixel (the FLAT reference), keyed by full-frame (row, column).
    pub const FLAT: u64 = 7;
}

/// SplitMix64 finaliser: a bijective avalanche mix of 64 bits.
#[inline]
pub fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The key of the stream for `(seed, domain, a, b, c)`; chaining the mix keeps all five inputs
/// significant (a plain XOR would make `(a, b)` and `(b, a)` collide).
#[inline]
pub fn stream_key(seed: u64, domain: u64, a: u64, b: u64, c: u64) -> u64 {
    mix64(mix64(mix64(mix64(seed ^ mix64(domain)) ^ a) ^ b) ^ c)
}

/// wyrand: a 64-bit state advanced by a Weyl constant, output by a folded 128-bit multiply.
#[derive(Debug, Clone)]
pub struct Stream {
    state: u64,
}

impl Stream {
    pub fn new(key: u64) -> Self {
        Self { state: key }
    }

    /// The stream for `(seed, domain, a, b, c)`.
    pub fn for_key(seed: u64, domain: u64, a: u64, b: u64, c: u64) -> Self {
        Self::new(stream_key(seed, domain, a, b, c))
    }

    #[inline]
    pub fn next_word(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0xA076_1D64_78BD_642F);
        let t = (self.state as u128).wrapping_mul((self.state ^ 0xE703_7ED1_A0B4_28DB) as u128);
        ((t >> 64) as u64) ^ (t as u64)
    }

    /// Uniform in [0, 1) with 53 random bits.
    #[inline]
    pub fn uniform(&mut self) -> f64 {
        (self.next_word() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in (0, 1]: safe under `ln`.
    #[inline]
    pub fn uniform_pos(&mut self) -> f64 {
        ((self.next_word() >> 11) + 1) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    #[inline]
    pub fn uniform_in(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.uniform()
    }

    /// Uniform integer in [0, n) (Lemire's multiply-shift; the tiny bias is irrelevant here).
    #[inline]
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_word() as u128 * n as u128) >> 64) as u64
    }

    /// Standard normal deviate (ziggurat, via rand_distr).
    #[inline]
    pub fn normal(&mut self) -> f64 {
        StandardNormal.sample(self)
    }

    /// Gamma(2, scale): the sum of two unit exponentials, scaled.
    pub fn gamma2(&mut self, scale: f64) -> f64 {
        -scale * (self.uniform_pos().ln() + self.uniform_pos().ln())
    }

    /// Poisson deviate of mean `lambda`.
    ///
    /// Exact (sequential inversion) below [`POISSON_NORMAL_ABOVE`]; above it the normal
    /// approximation `round(lambda + sqrt(lambda) z)`, whose mean is exact and whose variance is
    /// `lambda + 1/12`. Only the skewness (1/sqrt(lambda), 0.32 at 10 counts per frame) is lost,
    /// and the ramp fit sees sums over many frames, whose skewness shrinks as 1/sqrt(frames); it
    /// costs one normal draw instead of ~lambda uniforms (background pixels collect 10-100 e- per
    /// frame, so this is the common path).
    #[inline]
    pub fn poisson(&mut self, lambda: f64) -> f64 {
        self.poisson_with_sqrt(lambda, lambda.sqrt())
    }

    /// [`Stream::poisson`] with `sqrt(lambda)` supplied (the ramp generator precomputes it).
    #[inline]
    pub fn poisson_with_sqrt(&mut self, lambda: f64, sqrt_lambda: f64) -> f64 {
        if lambda < POISSON_NORMAL_ABOVE {
            if lambda <= 0.0 {
                0.0
            } else {
                self.poisson_small(lambda)
            }
        } else {
            // Round half up by truncation of a non-negative value: `f64::round` is a libm call
            // on the baseline x86-64 target, this is one instruction.
            (lambda + sqrt_lambda * self.normal() + 0.5).max(0.0) as u64 as f64
        }
    }

    fn poisson_small(&mut self, lambda: f64) -> f64 {
        let u = self.uniform();
        let mut p = (-lambda).exp();
        let mut cdf = p;
        let mut k = 0.0;
        // The cap only guards against a u within rounding of 1; the tail beyond it is < 1e-16.
        while u > cdf && k < 1000.0 {
            k += 1.0;
            p *= lambda / k;
            cdf += p;
        }
        k
    }
}

/// Mean counts above which [`Stream::poisson`] uses the normal approximation.
pub const POISSON_NORMAL_ABOVE: f64 = 10.0;

impl RngCore for Stream {
    fn next_u32(&mut self) -> u32 {
        (self.next_word() >> 32) as u32
    }

    fn next_u64(&mut self) -> u64 {
        self.next_word()
    }

    fn fill_bytes(&mut self, dst: &mut [u8]) {
        for chunk in dst.chunks_mut(8) {
            let v = self.next_word().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_differ_by_every_key_part() {
        let base = stream_key(1, 2, 3, 4, 5);
        assert_ne!(base, stream_key(2, 2, 3, 4, 5));
        assert_ne!(base, stream_key(1, 3, 3, 4, 5));
        assert_ne!(base, stream_key(1, 2, 4, 3, 5));
        assert_ne!(base, stream_key(1, 2, 3, 4, 6));
    }

    #[test]
    fn poisson_and_normal_moments() {
        let mut s = Stream::new(42);
        for &lam in &[0.7, 5.0, 9.9, 10.1, 31.0, 400.0] {
            let n = 200_000;
            let xs: Vec<f64> = (0..n).map(|_| s.poisson(lam)).collect();
            let mean = xs.iter().sum::<f64>() / n as f64;
            let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
            assert!(
                (mean - lam).abs() < 5.0 * (lam / n as f64).sqrt(),
                "{lam}: mean {mean}"
            );
            assert!((var / lam - 1.0).abs() < 0.03, "{lam}: var {var}");
        }
        let zs: Vec<f64> = (0..200_000).map(|_| s.normal()).collect();
        let m = zs.iter().sum::<f64>() / zs.len() as f64;
        let v = zs.iter().map(|z| (z - m).powi(2)).sum::<f64>() / zs.len() as f64;
        assert!(m.abs() < 0.01 && (v - 1.0).abs() < 0.01);
    }
}
