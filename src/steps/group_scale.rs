//! group_scale (spec §5): undo on-board frame averaging that divided by FRMDIVSR instead of
//! NFRAMES. Purely per pixel and group.

/// The factor FRMDIVSR/NFRAMES, or `None` when the official step would be SKIPPED: NFRAMES equal
/// to FRMDIVSR, or FRMDIVSR absent (whatever NFRAMES is: a power of two needs no correction and
/// otherwise the step has no divisor to use).
///
/// The official step computes the factor as a Python float and multiplies the float32 cube by it;
/// under numpy ≥ 2 promotion rules a Python float is "weak", so the product is float32 with the
/// factor rounded to float32 first. We return that float32 factor.
pub fn factor(nframes: usize, frame_divisor: Option<usize>) -> Option<f32> {
    let divisor = frame_divisor?;
    if divisor == nframes || nframes == 0 {
        return None;
    }
    Some((divisor as f64 / nframes as f64) as f32)
}

/// Rescale a run of group values in place.
#[inline]
pub fn apply(values: &mut [f32], factor: f32) {
    for v in values {
        *v *= factor;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skip_rules() {
        assert_eq!(factor(2, Some(2)), None);
        assert_eq!(factor(4, None), None);
        assert_eq!(factor(3, None), None);
        assert_eq!(factor(2, Some(4)), Some(2.0));
        assert_eq!(factor(3, Some(4)), Some((4.0f64 / 3.0) as f32));
    }

    #[test]
    fn multiplies_in_f32() {
        let f = factor(3, Some(4)).unwrap();
        let mut v = [3.0f32, 65535.0];
        apply(&mut v, f);
        assert_eq!(v, [3.0f32 * f, 65535.0f32 * f]);
    }
}
