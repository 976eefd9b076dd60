//! flat_field for imaging and TSO imaging (spec §14.1; `jwst/flatfield/flat_field.py`,
//! `apply_flat_field`), one integration plane at a time.
//!
//! The flat is prepared once ([`frames::refs::flat::FlatRef::prepare`]: NaN or zero flat ->
//! `DO_NOT_USE|NO_FLAT_FIELD`, NO_FLAT_FIELD -> DO_NOT_USE, flat = 1 where DO_NOT_USE); every
//! plane is then divided by it. All arithmetic is float32 in the official order, including its
//! quirk: VAR_FLAT uses the *already divided* SCI, `(SCI_out² / flat²) · flat_err²`.

use frames::refs::flat::FlatPrep;
use stream::plane::RatePlane;

/// A flat ready to apply to planes of its shape.
#[derive(Debug, Clone)]
pub struct FlatField {
    flat: Vec<f32>,
    flat_sq: Vec<f32>,
    err_sq: Vec<f32>,
    dq: Vec<u32>,
    inverse: bool,
}

impl FlatField {
    /// From the prepared reference (already cut to the science subarray). `inverse` multiplies
    /// instead of dividing and sets VAR_FLAT to 0, as the step's `inverse=True`.
    pub fn new(prep: &FlatPrep, inverse: bool) -> FlatField {
        let flat: Vec<f32> = prep.flat.iter().copied().collect();
        FlatField {
            flat_sq: flat.iter().map(|f| f * f).collect(),
            err_sq: prep.err.iter().map(|e| e * e).collect(),
            dq: prep.dq.iter().copied().collect(),
            flat,
            inverse,
        }
    }

    pub fn pixels(&self) -> usize {
        self.flat.len()
    }

    /// Flat-field one plane in place; adds VAR_FLAT and ends with `match_nans_and_flags`.
    ///
    /// The rule is applied block by block in the same pass: after the division a pixel is
    /// invalid exactly when SCI or ERR is NaN or DQ has DO_NOT_USE, because ERR =
    /// sqrt(VAR_POISSON + VAR_RNOISE + VAR_FLAT) is NaN whenever one of the variances is.
    pub fn apply(&self, p: &mut RatePlane) {
        use super::nanmatch::{invalidate, push_bad, BLOCK};
        let n = p.pixels();
        assert_eq!(n, self.flat.len(), "flat and plane sizes differ");
        // Every value is written below: a recycled buffer will do.
        let mut var_flat = p
            .var_flat
            .take()
            .unwrap_or_else(|| super::pool::take_f32(n));
        let mut bad = Vec::new();
        for base in (0..n).step_by(BLOCK) {
            let r = base..base + BLOCK.min(n - base);
            let sci = &mut p.sci[r.clone()];
            let err = &mut p.err[r.clone()];
            let vp = &mut p.var_poisson[r.clone()];
            let vr = &mut p.var_rnoise[r.clone()];
            let vf = &mut var_flat[r.clone()];
            let dqv = &mut p.dq[r.clone()];
            let (f, fsq, esq, fdq) = (
                &self.flat[r.clone()],
                &self.flat_sq[r.clone()],
                &self.err_sq[r.clone()],
                &self.dq[r.clone()],
            );
            let len = sci.len();
            if !self.inverse {
                for i in 0..len {
                    let s = sci[i] / f[i];
                    sci[i] = s;
                    vf[i] = s * s / fsq[i] * esq[i];
                    vp[i] /= fsq[i];
                    vr[i] /= fsq[i];
                    err[i] = (vp[i] + vr[i] + vf[i]).sqrt();
                    dqv[i] |= fdq[i];
                }
            } else {
                for i in 0..len {
                    sci[i] *= f[i];
                    vf[i] = 0.0;
                    vp[i] *= fsq[i];
                    vr[i] *= fsq[i];
                    err[i] = (vp[i] + vr[i]).sqrt();
                    dqv[i] |= fdq[i];
                }
            }
            let test = |i: usize| {
                sci[i].is_nan() | err[i].is_nan() | (dqv[i] & frames::dq::DO_NOT_USE != 0)
            };
            if (0..len).fold(false, |a, i| a | test(i)) {
                let mut local = Vec::new();
                push_bad(0, len, test, &mut local);
                bad.extend(local.into_iter().map(|i| base + i));
            }
        }
        p.var_flat = Some(var_flat);
        for i in bad {
            invalidate(p, i);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use frames::dq;
    use ndarray::Array2;

    #[test]
    fn divides_and_propagates_variance() {
        let prep = FlatPrep {
            flat: Array2::from_shape_vec((1, 2), vec![2.0, 1.0]).unwrap(),
            dq: Array2::from_shape_vec((1, 2), vec![0, dq::DO_NOT_USE | dq::NO_FLAT_FIELD])
                .unwrap(),
            err: Array2::from_shape_vec((1, 2), vec![0.5, 0.0]).unwrap(),
        };
        let ff = FlatField::new(&prep, false);
        let mut p = RatePlane::zeros(0, 1, 2);
        p.sci = vec![8.0, 3.0];
        p.var_poisson = vec![4.0, 1.0];
        p.var_rnoise = vec![8.0, 1.0];
        ff.apply(&mut p);
        assert_eq!(p.sci[0], 4.0);
        // VAR_FLAT = 4² / 2² · 0.5² = 1; VP = 1, VR = 2; ERR = sqrt(4).
        assert_eq!(p.var_flat.as_ref().unwrap()[0], 1.0);
        assert_eq!(
            (p.var_poisson[0], p.var_rnoise[0], p.err[0]),
            (1.0, 2.0, 2.0)
        );
        assert!(p.sci[1].is_nan());
        assert_eq!(p.dq[1], dq::DO_NOT_USE | dq::NO_FLAT_FIELD);
    }

    /// The blocked pass equals the plain per-pixel formulas followed by the whole-plane
    /// match_nans_and_flags, bit for bit, with NaN/inf inputs, DO_NOT_USE, both directions and
    /// a size that is not a multiple of the block.
    #[test]
    fn blocked_pass_equals_plain_formulas() {
        use super::super::nanmatch::match_nans_and_flags;
        let n = 3 * super::super::nanmatch::BLOCK + 17;
        let mut seed = 12345u64;
        let mut rnd = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) as f32 / (1u64 << 31) as f32
        };
        let special = [f32::NAN, f32::INFINITY, -f32::INFINITY, 0.0, -1.0];
        let pick = |r: f32, v: f32| {
            if r < 0.02 {
                special[(r * 250.0) as usize % 5]
            } else {
                v
            }
        };
        let mut flat = vec![0f32; n];
        let mut ferr = vec![0f32; n];
        let mut fdq = vec![0u32; n];
        for i in 0..n {
            flat[i] = pick(rnd(), 0.5 + rnd());
            ferr[i] = pick(rnd(), 0.01 * rnd());
            fdq[i] = if rnd() < 0.02 { dq::DO_NOT_USE } else { 0 };
        }
        let prep = FlatPrep {
            flat: Array2::from_shape_vec((1, n), flat.clone()).unwrap(),
            dq: Array2::from_shape_vec((1, n), fdq.clone()).unwrap(),
            err: Array2::from_shape_vec((1, n), ferr.clone()).unwrap(),
        };
        for inverse in [false, true] {
            let mut p = RatePlane::zeros(0, 1, n);
            for i in 0..n {
                p.sci[i] = pick(rnd(), 100.0 * rnd() - 10.0);
                p.err[i] = pick(rnd(), rnd());
                p.var_poisson[i] = pick(rnd(), rnd());
                p.var_rnoise[i] = pick(rnd(), rnd());
                p.dq[i] = if rnd() < 0.02 { dq::DO_NOT_USE } else { 0 };
            }
            let mut want = p.clone();
            let mut vf = vec![0f32; n];
            for i in 0..n {
                let (f, fsq, esq) = (flat[i], flat[i] * flat[i], ferr[i] * ferr[i]);
                if !inverse {
                    want.sci[i] /= f;
                    let s = want.sci[i];
                    vf[i] = s * s / fsq * esq;
                    want.var_poisson[i] /= fsq;
                    want.var_rnoise[i] /= fsq;
                    want.err[i] = (want.var_poisson[i] + want.var_rnoise[i] + vf[i]).sqrt();
                } else {
                    want.sci[i] *= f;
                    want.var_poisson[i] *= fsq;
                    want.var_rnoise[i] *= fsq;
                    want.err[i] = (want.var_poisson[i] + want.var_rnoise[i]).sqrt();
                }
                want.dq[i] |= fdq[i];
            }
            want.var_flat = Some(vf);
            match_nans_and_flags(&mut want);
            FlatField::new(&prep, inverse).apply(&mut p);
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(p.dq, want.dq, "inverse={inverse}");
            for (a, b) in [
                (&p.sci, &want.sci),
                (&p.err, &want.err),
                (&p.var_poisson, &want.var_poisson),
                (&p.var_rnoise, &want.var_rnoise),
                (
                    p.var_flat.as_ref().unwrap(),
                    want.var_flat.as_ref().unwrap(),
                ),
            ] {
                assert_eq!(bits(a), bits(b), "inverse={inverse}");
            }
        }
    }
}
