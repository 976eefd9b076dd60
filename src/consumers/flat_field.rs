//! flat_field for imaging and TSO imaging (spec §14.1; `jwst/flatfield/flat_field.py`,
//! `apply_flat_field`), one integration plane at a time.
//!
//! The flat is prepared once ([`frames::refs::flat::FlatRef::prepare`]: NaN or zero flat ->
//! `DO_NOT_USE|NO_FLAT_FIELD`, NO_FLAT_FIELD -> DO_NOT_USE, flat = 1 where DO_NOT_USE); every
//! plane is then divided by it. All arithmetic is float32 in the official order, including its
//! quirk: VAR_FLAT uses the *already divided* SCI, `(SCI_out² / flat²) · flat_err²`.

use super::nanmatch::match_nans_and_flags;
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
    #[allow(clippy::needless_range_loop)] // eight arrays indexed in step
    pub fn apply(&self, p: &mut RatePlane) {
        let n = p.pixels();
        debug_assert_eq!(n, self.flat.len());
        let mut var_flat = p.var_flat.take().unwrap_or_else(|| vec![0.0; n]);
        for i in 0..n {
            let f = self.flat[i];
            let fsq = self.flat_sq[i];
            if !self.inverse {
                p.sci[i] /= f;
                let s = p.sci[i];
                var_flat[i] = s * s / fsq * self.err_sq[i];
                p.var_poisson[i] /= fsq;
                p.var_rnoise[i] /= fsq;
                p.err[i] = (p.var_poisson[i] + p.var_rnoise[i] + var_flat[i]).sqrt();
            } else {
                p.sci[i] *= f;
                var_flat[i] = 0.0;
                p.var_poisson[i] *= fsq;
                p.var_rnoise[i] *= fsq;
                p.err[i] = (p.var_poisson[i] + p.var_rnoise[i]).sqrt();
            }
            p.dq[i] |= self.dq[i];
        }
        p.var_flat = Some(var_flat);
        match_nans_and_flags(p);
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
}
