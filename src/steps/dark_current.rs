//! dark_current (spec §10): subtract the dark signal accumulated by each science group. The
//! reference is already averaged/selected to the science readout (frames::refs does that, since
//! it is a property of the reference and the readout pattern), so the kernel is a float32
//! subtraction applied to every group, saturated or not, group 0 included.

/// Subtract one science group's dark plane from the matching plane of values.
#[inline]
pub fn subtract_plane(values: &mut [f32], dark: &[f32]) {
    for (v, &d) in values.iter_mut().zip(dark) {
        *v -= d;
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn subtracts_every_value() {
        let mut v = [10.0f32, f32::NAN, -1.0];
        super::subtract_plane(&mut v, &[0.5, 1.0, 0.0]);
        assert_eq!(v[0], 9.5);
        assert!(v[1].is_nan());
        assert_eq!(v[2], -1.0);
    }
}
