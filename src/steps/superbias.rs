//! superbias (spec §8): subtract the bias level of each pixel from every group. NaN bias values
//! have already been replaced by 0 when the reference was prepared, so this is a plain float32
//! subtraction, applied to saturated and DO_NOT_USE groups alike.

/// Subtract `bias[k]` from `values[k]` for one plane (or one row run) of pixels.
#[inline]
pub fn subtract_plane(values: &mut [f32], bias: &[f32]) {
    for (v, &b) in values.iter_mut().zip(bias) {
        *v -= b;
    }
}

/// ZEROFRAME rule: a zero means "bad" and stays zero; everything else is bias-subtracted.
#[inline]
pub fn subtract_zeroframe(values: &mut [f32], bias: &[f32]) {
    for (v, &b) in values.iter_mut().zip(bias) {
        if *v != 0.0 {
            *v -= b;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subtracts_and_keeps_zero_frame_zeros() {
        let mut v = [12000.5f32, 0.0];
        subtract_plane(&mut v, &[11999.25, 5.0]);
        assert_eq!(v, [1.25, -5.0]);
        let mut z = [12000.5f32, 0.0];
        subtract_zeroframe(&mut z, &[11999.25, 5.0]);
        assert_eq!(z, [1.25, 0.0]);
    }
}
