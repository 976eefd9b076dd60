//! `jwst.lib.pipe_utils.match_nans_and_flags` for one integration plane: a pixel is invalid when
//! any of SCI, ERR, VAR_RNOISE, VAR_POISSON, VAR_FLAT is NaN or its DQ has DO_NOT_USE; invalid
//! pixels get DO_NOT_USE and NaN in every one of those arrays. flat_field, photom and
//! outlier_detection all end with it, so DO_NOT_USE and NaN always agree in their products.

use frames::dq;
use stream::plane::RatePlane;

/// Pixels per block of the scans: the validity test of a block is one branch-free,
/// vectorisable reduction; only blocks with an invalid pixel are looked at again.
pub const BLOCK: usize = 256;

/// Make pixel `i` invalid everywhere: DO_NOT_USE and NaN in every array (VAR_FLAT included
/// when present).
#[inline]
pub fn invalidate(p: &mut RatePlane, i: usize) {
    p.dq[i] |= dq::DO_NOT_USE;
    p.sci[i] = f32::NAN;
    p.err[i] = f32::NAN;
    p.var_rnoise[i] = f32::NAN;
    p.var_poisson[i] = f32::NAN;
    if let Some(v) = p.var_flat.as_mut() {
        v[i] = f32::NAN;
    }
}

/// Indices `base..base + len` for which `bad` holds, appended to `out`, given that the block
/// test `any` found at least one (callers check `any` first: the common case is none).
#[inline]
pub fn push_bad(base: usize, len: usize, bad: impl Fn(usize) -> bool, out: &mut Vec<usize>) {
    out.extend((base..base + len).filter(|&i| bad(i)));
}

/// The pixels the rule makes invalid: any of SCI, ERR, VAR_RNOISE, VAR_POISSON, VAR_FLAT NaN,
/// or DO_NOT_USE set.
pub fn invalid_pixels(p: &RatePlane) -> Vec<usize> {
    let n = p.pixels();
    let (s, e, vr, vp, d) = (
        &p.sci[..n],
        &p.err[..n],
        &p.var_rnoise[..n],
        &p.var_poisson[..n],
        &p.dq[..n],
    );
    let mut bad = Vec::new();
    match p.var_flat.as_deref() {
        Some(vf) => {
            let vf = &vf[..n];
            let test = |i: usize| {
                s[i].is_nan()
                    | e[i].is_nan()
                    | vr[i].is_nan()
                    | vp[i].is_nan()
                    | vf[i].is_nan()
                    | (d[i] & dq::DO_NOT_USE != 0)
            };
            for base in (0..n).step_by(BLOCK) {
                let len = BLOCK.min(n - base);
                if (base..base + len).fold(false, |a, i| a | test(i)) {
                    push_bad(base, len, test, &mut bad);
                }
            }
        }
        None => {
            let test = |i: usize| {
                s[i].is_nan()
                    | e[i].is_nan()
                    | vr[i].is_nan()
                    | vp[i].is_nan()
                    | (d[i] & dq::DO_NOT_USE != 0)
            };
            for base in (0..n).step_by(BLOCK) {
                let len = BLOCK.min(n - base);
                if (base..base + len).fold(false, |a, i| a | test(i)) {
                    push_bad(base, len, test, &mut bad);
                }
            }
        }
    }
    bad
}

/// Apply the rule to every pixel of `p` (VAR_FLAT only when present).
pub fn match_nans_and_flags(p: &mut RatePlane) {
    for i in invalid_pixels(p) {
        invalidate(p, i);
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
