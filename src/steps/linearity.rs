//! linearity, classic path (spec §9): each non-saturated group value x becomes Σ c_k x^k, evaluated
//! by Horner's rule in float32 exactly as numpy does it (no fused multiply-add: Rust never
//! contracts `a * b + c` on its own). Groups flagged SATURATED keep their value; DO_NOT_USE and
//! A/D-floor groups are corrected like any other.
//!
//! Coefficients are prepared by `frames::refs` (benign identity polynomial and NO_LIN_CORR for
//! flagged, NaN or zero-linear-term pixels) and stored pixel-major, `ncoeff` values per pixel.

use frames::dq;

/// Evaluate the correction polynomial for one value: `((c[n-1]·x + c[n-2])·x + … + c[1])·x + c[0]`.
#[inline]
pub fn polynomial(x: f32, c: &[f32]) -> f32 {
    let n = c.len();
    let mut r = c[n - 1] * x;
    for j in (1..n - 1).rev() {
        r += c[j];
        r *= x;
    }
    r + c[0]
}

/// Correct one plane (or row run) of values; `coeffs` holds `ncoeff` values per pixel.
pub fn correct_plane(values: &mut [f32], gdq: &[u8], coeffs: &[f32], ncoeff: usize) {
    for ((v, &g), c) in values.iter_mut().zip(gdq).zip(coeffs.chunks_exact(ncoeff)) {
        if g & dq::G_SATURATED == 0 {
            *v = polynomial(*v, c);
        }
    }
}

/// ZEROFRAME: zero means "bad" and stays zero; other values are corrected.
pub fn correct_zeroframe(values: &mut [f32], coeffs: &[f32], ncoeff: usize) {
    for (v, c) in values.iter_mut().zip(coeffs.chunks_exact(ncoeff)) {
        if *v != 0.0 {
            *v = polynomial(*v, c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn horner_matches_numpy_order() {
        let c = [0.5f32, 1.01, 2.0e-6, -3.0e-11, 4.0e-16];
        let x = 30000.0f32;
        // numpy: r = c4*x; r += c3; r *= x; r += c2; r *= x; r += c1; r *= x; r += c0 (all f32)
        let mut r = c[4] * x;
        r += c[3];
        r *= x;
        r += c[2];
        r *= x;
        r += c[1];
        r *= x;
        r += c[0];
        assert_eq!(polynomial(x, &c).to_bits(), r.to_bits());
    }

    #[test]
    fn saturated_groups_are_left_alone() {
        let c = [0.0f32, 2.0, 0.0];
        let mut v = [1.0f32, 1.0];
        correct_plane(&mut v, &[0, dq::G_SATURATED], &[c, c].concat(), 3);
        assert_eq!(v, [2.0, 1.0]);
    }
}
