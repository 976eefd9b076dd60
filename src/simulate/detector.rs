//! Static detector properties of one pixel, as a pure function of the seed and the pixel's
//! full-frame position.
//!
//! Because nothing depends on the subarray, a full-frame reference set and a subarray reference
//! set made with the same seed agree pixel for pixel: the cut-out the pipeline takes from the
//! full-frame refs is exactly what a matching subarray ref holds. The distributions are those of
//! the oracle's `make_synthetic.py` (NIRCam long-wave numbers).

use frames::dq;

use super::config::{FULL, NREF};
use super::rng::{domain, Stream};

/// Number of linearity coefficients (c0..c4; c0 is always 0).
pub const NCOEFF: usize = 5;

/// Everything the references and the ramp generator need to know about one pixel.
#[derive(Debug, Clone, Copy)]
pub struct Pixel {
    /// e-/DN.
    pub gain: f32,
    /// CDS read noise in DN (the READNOISE reference value); one frame has `readnoise / sqrt 2`.
    pub readnoise: f32,
    /// Bias level in DN (the SUPERBIAS value unless `bias_nan`).
    pub bias: f32,
    /// Full well in electrons.
    pub fullwell_e: f32,
    /// Linearity correction `L(M) = sum c_k M^k`, as stored (float32) in the LINEARITY ref.
    pub coeffs: [f32; NCOEFF],
    /// Saturation threshold in raw DN (bias included).
    pub sat_thresh: f32,
    /// MASK DQ value.
    pub mask: u32,
    /// Dark current in e-/s.
    pub dark_e: f32,
    pub refpix: bool,
    pub dead: bool,
    pub low_qe: bool,
    /// Pixels whose reference data are NaN (with the matching DQ flag) or flagged unreliable.
    pub bias_nan: bool,
    pub lin_nan: bool,
    pub sat_nan: bool,
    pub dark_unreliable: bool,
}

/// Is full-frame pixel (fy, fx) in the 4-pixel reference border?
pub fn is_refpix(fy: usize, fx: usize) -> bool {
    let science = NREF..FULL - NREF;
    !science.contains(&fx) || !science.contains(&fy)
}

/// `L(m)` in float64 from float32 coefficients (c0 = 0).
#[inline]
pub fn lin_eval(c: &[f32; NCOEFF], m: f64) -> f64 {
    let (c1, c2, c3, c4) = (c[1] as f64, c[2] as f64, c[3] as f64, c[4] as f64);
    c[0] as f64 + m * (c1 + m * (c2 + m * (c3 + m * c4)))
}

/// Solve `L(m) = t`, starting from `m0`.
///
/// `L` is increasing and convex on the working range (all coefficients positive). One Halley
/// step (one division, cubic convergence) is taken first: after a step of size `d` the remaining
/// error is about `(L''^2/(4 L'^2) + L'''/(6 L')) d^3 < 1e-10 d^3` DN here, so when `|d| <= 20`
/// DN (the ramp generator starts from a linear extrapolation of the previous reads, a few DN
/// from the root) the result is exact to ~1e-6 DN. Otherwise (first reads, cosmic rays,
/// saturation onset) Newton steps follow until a step is below 1e-3 DN, after which the error is
/// below `L''/(2 L') d^2 < 1e-11` DN. Either way far below the 1 DN quantisation of the raw data.
#[inline]
pub fn lin_inverse(c: &[f32; NCOEFF], t: f64, m0: f64) -> f64 {
    let (c1, c2, c3, c4) = (c[1] as f64, c[2] as f64, c[3] as f64, c[4] as f64);
    let (d2, d3, d4) = (2.0 * c2, 3.0 * c3, 4.0 * c4);
    let (e3, e4) = (6.0 * c3, 12.0 * c4);
    let t = t - c[0] as f64;
    let f = |m: f64| m * (c1 + m * (c2 + m * (c3 + m * c4))) - t;
    let fp = |m: f64| c1 + m * (d2 + m * (d3 + m * d4));
    let (f0, fp0, fpp0) = (f(m0), fp(m0), d2 + m0 * (e3 + m0 * e4));
    let halley = f0 * fp0 / (fp0 * fp0 - 0.5 * f0 * fpp0);
    let mut m = m0 - halley;
    if halley.abs() <= 20.0 {
        return m;
    }
    for _ in 0..60 {
        let step = f(m) / fp(m);
        m -= step;
        if step.abs() <= 1e-3 {
            break;
        }
    }
    m
}

/// The properties of full-frame pixel (fy, fx) (0-based DMS row and column).
pub fn pixel(seed: u64, fy: usize, fx: usize) -> Pixel {
    let mut s = Stream::for_key(seed, domain::PIXEL, fy as u64, fx as u64, 0);
    let refpix = is_refpix(fy, fx);
    let sci = !refpix;

    let gain = (1.82 + 0.05 * s.normal()) as f32;
    let readnoise = (13.5 + 1.1 * s.normal()).max(7.0) as f32;
    // 12000 DN with smooth row/column structure plus per-pixel scatter.
    let bias = (12000.0
        + 400.0 * (fx as f64 / 300.0).sin()
        + 150.0 * (fy as f64 / 70.0).cos()
        + 250.0 * s.normal()) as f32;
    let fullwell_e = (95000.0 + 3000.0 * s.normal()) as f32;
    let coeffs = [
        0.0f32,
        (1.0 + 0.002 * s.normal()) as f32,
        (3.0e-6 * (1.0 + 0.1 * s.normal())) as f32,
        (1.0e-11 * (1.0 + 0.1 * s.normal())) as f32,
        (1.0e-16 * (1.0 + 0.1 * s.normal())) as f32,
    ];
    // Saturation threshold at 97 % of the full well, in raw DN (bias included).
    let t_97 = 0.97 * fullwell_e as f64 / gain as f64;
    let m_97 = lin_inverse(&coeffs, t_97, t_97);
    let sat_thresh = ((bias as f64 + m_97) as f32).min(65000.0);

    let u = s.uniform();
    let u2 = s.uniform();
    let class = |lo: f64, hi: f64| sci && u >= lo && u < hi;
    let dead = class(0.0, 0.001);
    let hot = class(0.001, 0.0015);
    let warm = class(0.0015, 0.0035);
    let low_qe = class(0.0035, 0.0045);
    let rc = class(0.0045, 0.0047);
    let nogain = class(0.0047, 0.0048);
    let mut mask = 0u32;
    if refpix {
        mask |= dq::REFERENCE_PIXEL;
    }
    if dead {
        mask |= dq::DEAD | dq::DO_NOT_USE;
    }
    if hot {
        mask |= dq::HOT | dq::DO_NOT_USE;
    }
    if warm {
        mask |= dq::WARM;
    }
    if low_qe {
        mask |= dq::LOW_QE;
    }
    if rc {
        mask |= dq::RC | dq::DO_NOT_USE;
    }
    if nogain {
        mask |= dq::NO_GAIN_VALUE | dq::DO_NOT_USE;
    }
    let class2 = |lo: f64, hi: f64| sci && u2 >= lo && u2 < hi;

    // Dark current: ~0.005 e-/s typical, warm 1-10, hot 50-500; none in reference or dead pixels.
    let typical = s.gamma2(0.0025);
    let spread = s.uniform();
    let dark_e = if refpix || dead {
        0.0
    } else if hot {
        50.0 + 450.0 * spread
    } else if warm {
        1.0 + 9.0 * spread
    } else {
        typical
    };

    Pixel {
        gain,
        readnoise,
        bias,
        fullwell_e,
        coeffs,
        sat_thresh,
        mask,
        dark_e: dark_e as f32,
        refpix,
        dead,
        low_qe,
        bias_nan: class2(0.0, 0.0002),
        lin_nan: class2(0.0002, 0.0004),
        sat_nan: class2(0.0004, 0.0006),
        dark_unreliable: class2(0.0006, 0.0008),
    }
}

/// The pixels of the full-frame rectangle starting at 0-based (y0, x0), `ny` x `nx`, row-major,
/// computed in parallel.
pub fn region(seed: u64, y0: usize, x0: usize, ny: usize, nx: usize) -> Vec<Pixel> {
    use rayon::prelude::*;
    let mut out = vec![pixel(seed, y0, x0); ny * nx];
    out.par_chunks_mut(nx).enumerate().for_each(|(y, row)| {
        for (x, p) in row.iter_mut().enumerate() {
            *p = pixel(seed, y0 + y, x0 + x);
        }
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inverse_is_exact() {
        let p = pixel(7, 100, 200);
        for &t in &[0.0, 10.0, 1234.5, 30000.0, 52000.0] {
            let m = lin_inverse(&p.coeffs, t, 0.0);
            assert!((lin_eval(&p.coeffs, m) - t).abs() < 1e-6, "t={t}");
            // From nearby starts, as the ramp generator uses it.
            for dm in [-20.0, -3.0, 0.5, 19.0, 400.0] {
                let m2 = lin_inverse(&p.coeffs, t, m + dm);
                assert!((m2 - m).abs() < 2e-6, "t={t} dm={dm}: {m2} vs {m}");
            }
        }
    }

    #[test]
    fn border_is_reference() {
        assert!(pixel(1, 0, 500).mask & dq::REFERENCE_PIXEL != 0);
        assert!(pixel(1, 500, 2045).refpix);
        assert!(!pixel(1, 4, 4).refpix);
    }
}
