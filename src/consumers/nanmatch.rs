//! `jwst.lib.pipe_utils.match_nans_and_flags` for one integration plane: a pixel is invalid when
//! any of SCI, ERR, VAR_RNOISE, VAR_POISSON, VAR_FLAT is NaN or its DQ has DO_NOT_USE; invalid
//! pixels get DO_NOT_USE and NaN in every one of those arrays. flat_field, photom and
//! outlier_detection all end with it, so DO_NOT_USE and NaN always agree in their products.

use frames::dq;
use stream::plane::RatePlane;

/// Apply the rule to every pixel of `p` (VAR_FLAT only when present).
pub fn match_nans_and_flags(p: &mut RatePlane) {
    let n = p.pixels();
    let no_flat = vec![];
    let vf: &[f32] = p.var_flat.as_deref().unwrap_or(&no_flat);
    // First find the invalid pixels with a branch-free scan (the common case is none or few),
    // then fix them.
    let mut bad = Vec::new();
    for i in 0..n {
        let invalid = p.sci[i].is_nan()
            | p.err[i].is_nan()
            | p.var_rnoise[i].is_nan()
            | p.var_poisson[i].is_nan()
            | vf.get(i).is_some_and(|v| v.is_nan())
            | (p.dq[i] & dq::DO_NOT_USE != 0);
        if invalid {
            bad.push(i);
        }
    }
    for i in bad {
        {
            p.dq[i] |= dq::DO_NOT_USE;
            p.sci[i] = f32::NAN;
            p.err[i] = f32::NAN;
            p.var_rnoise[i] = f32::NAN;
            p.var_poisson[i] = f32::NAN;
            if let Some(v) = p.var_flat.as_mut() {
                v[i] = f32::NAN;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nan_and_flag_agree() {
        let mut p = RatePlane::zeros(0, 1, 3);
        p.var_flat = Some(vec![0.0; 3]);
        p.err[0] = f32::NAN;
        p.dq[1] = dq::DO_NOT_USE | dq::SATURATED;
        match_nans_and_flags(&mut p);
        assert_eq!(
            p.dq,
            vec![dq::DO_NOT_USE, dq::DO_NOT_USE | dq::SATURATED, 0]
        );
        assert!(p.sci[0].is_nan() && p.var_flat.as_ref().unwrap()[1].is_nan());
        assert_eq!(p.sci[2], 0.0);
    }
}
