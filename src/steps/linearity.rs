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

/// Plane-major coefficients of a run of pixels: `planes[k * npix + p]` is coefficient k of
/// pixel p. The same arithmetic as [`correct_plane`], laid out so it vectorises across pixels.
pub fn transpose_coeffs(coeffs: &[f32], ncoeff: usize) -> Vec<f32> {
    let npix = coeffs.len() / ncoeff;
    let mut planes = vec![0.0f32; coeffs.len()];
    for (p, c) in coeffs.chunks_exact(ncoeff).enumerate() {
        for (k, &v) in c.iter().enumerate() {
            planes[k * npix + p] = v;
        }
    }
    planes
}

/// [`correct_plane`] with plane-major coefficients ([`transpose_coeffs`]): Horner's rule run
/// across a block of pixels at a time, step by step in the same order, so each value gets the
/// same float32 roundings.
pub fn correct_plane_planar(values: &mut [f32], gdq: &[u8], planes: &[f32], ncoeff: usize) {
    const BLOCK: usize = 256;
    let npix = values.len();
    debug_assert_eq!(planes.len(), npix * ncoeff);
    let coeff = |k: usize, range: std::ops::Range<usize>| {
        &planes[k * npix + range.start..k * npix + range.end]
    };
    let mut r = [0.0f32; BLOCK];
    for start in (0..npix).step_by(BLOCK) {
        let end = (start + BLOCK).min(npix);
        let x = &mut values[start..end];
        let r = &mut r[..end - start];
        for ((r, &x), &c) in r
            .iter_mut()
            .zip(x.iter())
            .zip(coeff(ncoeff - 1, start..end))
        {
            *r = c * x;
        }
        for j in (1..ncoeff - 1).rev() {
            for ((r, &x), &c) in r.iter_mut().zip(x.iter()).zip(coeff(j, start..end)) {
                *r = (*r + c) * x;
            }
        }
        for (((x, &r), &c), &g) in x
            .iter_mut()
            .zip(r.iter())
            .zip(coeff(0, start..end))
            .zip(&gdq[start..end])
        {
            let corrected = r + c;
            *x = if g & dq::G_SATURATED == 0 {
                corrected
            } else {
                *x
            };
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

    #[test]
    fn planar_layout_gives_the_same_bits() {
        let npix = 700;
        let ncoeff = 5;
        let coeffs: Vec<f32> = (0..npix * ncoeff)
            .map(|i| match i % ncoeff {
                0 => (i % 13) as f32 * 0.25 - 1.0,
                1 => 1.0 + (i % 7) as f32 * 1e-3,
                2 => (i % 11) as f32 * 1e-6,
                3 => -((i % 5) as f32) * 1e-11,
                _ => (i % 3) as f32 * 1e-16,
            })
            .collect();
        let values: Vec<f32> = (0..npix).map(|p| (p * 97 % 40000) as f32 + 0.37).collect();
        let gdq: Vec<u8> = (0..npix)
            .map(|p| if p % 9 == 0 { dq::G_SATURATED } else { 0 })
            .collect();
        let mut a = values.clone();
        correct_plane(&mut a, &gdq, &coeffs, ncoeff);
        let mut b = values;
        correct_plane_planar(&mut b, &gdq, &transpose_coeffs(&coeffs, ncoeff), ncoeff);
        assert!(a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()));
    }
}
