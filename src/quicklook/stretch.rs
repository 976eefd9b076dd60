//! Robust asinh display stretch: the black point is the 1st percentile of the usable values,
//! the white point the 99.5th, and an asinh curve in between keeps faint structure visible
//! next to a bright trace or star. Percentiles, not min/max, so cosmic rays and hot pixels do
//! not flatten the image.

/// A fitted stretch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stretch {
    pub lo: f32,
    pub hi: f32,
    /// asinh softening: larger compresses bright values more.
    pub beta: f32,
}

fn percentile(sorted: &[f32], q: f64) -> f32 {
    if sorted.is_empty() {
        return 0.0;
    }
    let pos = q * (sorted.len() - 1) as f64;
    let (i, f) = (pos.floor() as usize, pos - pos.floor());
    let j = (i + 1).min(sorted.len() - 1);
    (sorted[i] as f64 * (1.0 - f) + sorted[j] as f64 * f) as f32
}

impl Stretch {
    /// Fit to the usable values of an image (any order; NaN must already be excluded).
    pub fn robust(values: &[f32]) -> Stretch {
        let mut v: Vec<f32> = values.iter().copied().filter(|x| x.is_finite()).collect();
        v.sort_by(|a, b| a.total_cmp(b));
        let lo = percentile(&v, 0.01);
        let mut hi = percentile(&v, 0.995);
        if hi <= lo {
            hi = lo + 1.0;
        }
        Stretch { lo, hi, beta: 10.0 }
    }

    /// Display level in [0, 1].
    pub fn apply(&self, x: f32) -> f32 {
        asinh_stretch(x, self.lo, self.hi, self.beta)
    }
}

/// `asinh(β·t) / asinh(β)` with `t = (x − lo)/(hi − lo)` clamped to [0, 1].
pub fn asinh_stretch(x: f32, lo: f32, hi: f32, beta: f32) -> f32 {
    let t = ((x - lo) / (hi - lo)).clamp(0.0, 1.0);
    (beta * t).asinh() / beta.asinh()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stretch_is_monotone_and_robust_to_outliers() {
        let mut v: Vec<f32> = (0..1000).map(|k| k as f32).collect();
        v.push(1e9); // a cosmic ray must not set the white point
        let s = Stretch::robust(&v);
        assert!((s.lo - 10.0).abs() < 1.0, "{s:?}");
        assert!(s.hi < 1000.0, "{s:?}");
        assert_eq!(s.apply(-5.0), 0.0);
        assert_eq!(s.apply(1e9), 1.0);
        let mut prev = -1.0;
        for k in 0..100 {
            let y = s.apply(10.0 * k as f32);
            assert!(y >= prev);
            prev = y;
        }
        // asinh lifts faint values above a linear ramp.
        assert!(s.apply(s.lo + 0.1 * (s.hi - s.lo)) > 0.25);
    }

    #[test]
    fn flat_images_do_not_divide_by_zero() {
        let s = Stretch::robust(&[3.0; 10]);
        assert!(s.apply(3.0).is_finite());
        let e = Stretch::robust(&[]);
        assert!(e.apply(1.0).is_finite());
    }
}
