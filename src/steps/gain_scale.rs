//! gain_scale (spec §13): multiply rate products by GAINFACT when the gain reference has one.

/// Scale one product's arrays in place: SCI and ERR times the factor, the variances times its
/// square. numpy applies a Python-float factor in float32 (NEP 50), and `f**2` is taken in
/// double before that cast, so both roundings are reproduced. Slices may be any length.
pub fn apply(
    factor: f64,
    sci: &mut [f32],
    err: &mut [f32],
    var_poisson: &mut [f32],
    var_rnoise: &mut [f32],
) {
    let f = factor as f32;
    let f2 = (factor * factor) as f32;
    for v in sci.iter_mut().chain(err.iter_mut()) {
        *v *= f;
    }
    for v in var_poisson.iter_mut().chain(var_rnoise.iter_mut()) {
        *v *= f2;
    }
}
