//! tso_photometry's source centroiding (`jwst/tso_photometry/tso_photometry.py`,
//! `_fit_source`, `_psf_fit_gaussian_prf`), with photutils 3.0.0's `centroid_sources`
//! (centre of mass, `centroid_com`) and `PSFPhotometry` + `GaussianPRF` re-derived:
//!
//! * background of an integration: `np.nanmedian` of the image outside a circle of
//!   `radius_inner` around the guess (float32);
//! * centroid: in a `box × box` cutout placed as astropy's `overlap_slices` does
//!   (`ceil(pos − box/2)`, trimmed at the edges), masked pixels (DQ bit 0 or NaN) and non-finite
//!   values set to 0, then `Σx·I / ΣI` in float64 with numpy's pairwise sums; NaN when
//!   `|ΣI| < 1e-30`, when the guess is outside the image or the cutout fully masked, or when the
//!   result leaves the image;
//! * PSF: pixel-integrated Gaussian fitted by least squares to the unmasked pixels of the
//!   `fit_box × fit_box` cutout around the centroid, centre fixed, flux in [0, ∞), FWHMs in
//!   [0, fit_box], starting from flux = the cutout sum and FWHM = fit_box/2. The official fit is
//!   scipy's trust-region reflective solver (tolerances 1e-7/1e-8); this one is a bounded
//!   Levenberg–Marquardt iterated to convergence, so both land on the same least-squares
//!   minimum to within the official solver's tolerance.
//!
//! Integrations reach the centroiding one at a time: the first pass (search box at the planned
//! position) runs as each one arrives; the second pass and the photometry need the median of
//! the first-pass centroids, so each integration keeps a small [`PlaneCache`] — a cutout around
//! the planned position and a rank window of its sorted pixel values — from which the second
//! pass and the photometry are evaluated exactly at the end of the stream.

use super::aperture::Pixels;
use super::numeric::{median_f32_in_place, pairwise_sum};

/// `GAUSSIAN_FWHM_TO_SIGMA` = 1 / (2 √(2 ln 2)).
pub const FWHM_TO_SIGMA: f64 = 0.42466090014400953;

/// A window of one integration: data (unit-converted float32), error and mask (DQ bit 0 set or
/// data NaN) of pixels `[y0, y0+h) × [x0, x0+w)` of a `ny × nx` frame.
#[derive(Debug, Clone)]
pub struct Cutout {
    pub ny: usize,
    pub nx: usize,
    pub y0: usize,
    pub x0: usize,
    pub h: usize,
    pub w: usize,
    pub data: Vec<f32>,
    pub err: Vec<f32>,
    pub mask: Vec<bool>,
}

impl Cutout {
    /// Copy the window `[y0, y1) × [x0, x1)` (clipped to the frame) out of full-frame arrays.
    pub fn take(
        ny: usize,
        nx: usize,
        data: &[f32],
        err: &[f32],
        dq: &[u32],
        (y0, y1): (usize, usize),
        (x0, x1): (usize, usize),
    ) -> Cutout {
        let (y1, x1) = (y1.min(ny), x1.min(nx));
        let (h, w) = (y1.saturating_sub(y0), x1.saturating_sub(x0));
        let mut c = Cutout {
            ny,
            nx,
            y0,
            x0,
            h,
            w,
            data: Vec::with_capacity(h * w),
            err: Vec::with_capacity(h * w),
            mask: Vec::with_capacity(h * w),
        };
        for y in y0..y1 {
            let row = y * nx;
            for x in x0..x1 {
                let d = data[row + x];
                c.data.push(d);
                c.err.push(err[row + x]);
                c.mask.push(dq[row + x] & 1 != 0 || d.is_nan());
            }
        }
        c
    }

    #[inline]
    fn idx(&self, y: usize, x: usize) -> usize {
        (y - self.y0) * self.w + (x - self.x0)
    }

    /// Whether every pixel of the frame window `[y0, y1) × [x0, x1)` is held.
    pub fn holds_rect(&self, y0: usize, y1: usize, x0: usize, x1: usize) -> bool {
        y0 >= self.y0 && x0 >= self.x0 && y1 <= self.y0 + self.h && x1 <= self.x0 + self.w
    }

    pub fn masked(&self, y: usize, x: usize) -> bool {
        self.mask[self.idx(y, x)]
    }
}

impl Pixels for Cutout {
    fn full_shape(&self) -> (usize, usize) {
        (self.ny, self.nx)
    }
    fn holds(&self, y: usize, x: usize) -> bool {
        y >= self.y0 && x >= self.x0 && y < self.y0 + self.h && x < self.x0 + self.w
    }
    fn data(&self, y: usize, x: usize) -> f32 {
        self.data[self.idx(y, x)]
    }
    fn err(&self, y: usize, x: usize) -> f32 {
        self.err[self.idx(y, x)]
    }
}

/// Enough of an integration's sorted non-NaN values to take the median of "everything but a
/// small circle" exactly, for any circle of at most `margin` pixels: the values ranked
/// `[lo, lo + len)` around the middle, and the total count.
#[derive(Debug, Clone)]
pub struct RankWindow {
    pub count: usize,
    pub lo: usize,
    pub values: Vec<f32>,
}

impl RankWindow {
    /// Build from all values of an integration (NaN ignored), keeping `margin` ranks on each
    /// side of the middle. `scratch` is reused.
    pub fn new(values: &[f32], margin: usize, scratch: &mut Vec<f32>) -> RankWindow {
        scratch.clear();
        scratch.extend(values.iter().copied().filter(|v| !v.is_nan()));
        let n = scratch.len();
        let mid = n / 2;
        let lo = mid.saturating_sub(margin + 1);
        let hi = (mid + margin + 2).min(n);
        let cmp = |a: &f32, b: &f32| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal);
        let mut values = Vec::new();
        if n > 0 {
            if lo > 0 {
                scratch.select_nth_unstable_by(lo, cmp);
            }
            let rest = &mut scratch[lo..];
            let k = hi - lo;
            if k < rest.len() {
                rest.select_nth_unstable_by(k, cmp);
            }
            values = rest[..k].to_vec();
            values.sort_by(cmp);
        }
        RankWindow {
            count: n,
            lo,
            values,
        }
    }

    /// `np.nanmedian` of the integration without the (non-NaN) values `excluded`; `None` if the
    /// window is too narrow for that many exclusions.
    pub fn median_excluding(&self, excluded: &[f32]) -> Option<f32> {
        let mut win = self.values.clone();
        let mut below = self.lo;
        for &x in excluded {
            if x.is_nan() {
                continue;
            }
            if let Some(i) = win.iter().position(|&v| v == x) {
                win.remove(i);
            } else if win.first().is_none_or(|&f| x < f) {
                below = below.checked_sub(1)?;
            } else if win.last().is_some_and(|&l| x > l) {
                // removed above the window: nothing to track
            } else {
                return None;
            }
        }
        let n = self
            .count
            .checked_sub(excluded.iter().filter(|x| !x.is_nan()).count())?;
        if n == 0 {
            return Some(f32::NAN);
        }
        let k2 = n / 2;
        let get = |k: usize| -> Option<f32> {
            let i = k.checked_sub(below)?;
            win.get(i).copied()
        };
        if n % 2 == 1 {
            get(k2)
        } else {
            Some((get(k2 - 1)? + get(k2)?) / 2.0)
        }
    }
}

/// `np.nanmedian(image[~source_mask])` directly on a full frame.
pub fn background_full(
    data: &[f32],
    ny: usize,
    nx: usize,
    xc: f64,
    yc: f64,
    radius: f64,
    scratch: &mut Vec<f32>,
) -> f32 {
    scratch.clear();
    let r2 = radius * radius;
    for y in 0..ny {
        for x in 0..nx {
            let (dx, dy) = (x as f64 - xc, y as f64 - yc);
            if dx * dx + dy * dy < r2 {
                continue;
            }
            let v = data[y * nx + x];
            if !v.is_nan() {
                scratch.push(v);
            }
        }
    }
    median_f32_in_place(scratch)
}

/// Pixels inside the source circle (`(x−xc)² + (y−yc)² < r²`) of a frame, as (y, x).
pub fn circle_pixels(ny: usize, nx: usize, xc: f64, yc: f64, r: f64) -> Vec<(usize, usize)> {
    let mut v = Vec::new();
    let r2 = r * r;
    let (y0, y1) = (
        ((yc - r).floor().max(0.0)) as usize,
        ((yc + r).ceil() + 1.0).max(0.0) as usize,
    );
    let (x0, x1) = (
        ((xc - r).floor().max(0.0)) as usize,
        ((xc + r).ceil() + 1.0).max(0.0) as usize,
    );
    for y in y0..y1.min(ny) {
        for x in x0..x1.min(nx) {
            let (dx, dy) = (x as f64 - xc, y as f64 - yc);
            if dx * dx + dy * dy < r2 {
                v.push((y, x));
            }
        }
    }
    v
}

/// astropy `overlap_slices(large, (b, b), (y, x), mode)` bounds along one axis:
/// `start = ceil(pos − b/2)`, clipped to `[0, n)`; `None` when no overlap.
pub fn box_bounds(pos: f64, b: usize, n: usize) -> Option<(usize, usize)> {
    let start = (pos - b as f64 / 2.0).ceil() as i64;
    let stop = start + b as i64;
    if stop <= 0 || start >= n as i64 {
        return None;
    }
    Some((start.max(0) as usize, stop.min(n as i64) as usize))
}

/// The image a centroid pass sees: `data − background` with the pass's mask.
pub struct Subtracted<'a> {
    pub cut: &'a Cutout,
    pub background: f32,
}

impl Subtracted<'_> {
    fn value(&self, y: usize, x: usize) -> f32 {
        self.cut.data(y, x) - self.background
    }
}

/// Result of a centroid attempt: `None` = a pixel needed is not in the cutout.
pub type Centroid = Option<(f64, f64)>;

/// `centroid_sources(..., centroid_func=centroid_com)` for one position + `_fit_source`'s range
/// check. Returns NaNs on the official failure cases.
pub fn centroid_com(img: &Subtracted, xpos: f64, ypos: f64, b: usize) -> Centroid {
    let c = img.cut;
    let nan = Some((f64::NAN, f64::NAN));
    if !(xpos >= 0.0 && ypos >= 0.0 && xpos <= (c.nx - 1) as f64 && ypos <= (c.ny - 1) as f64) {
        return nan;
    }
    let (Some((y0, y1)), Some((x0, x1))) = (box_bounds(ypos, b, c.ny), box_bounds(xpos, b, c.nx))
    else {
        return nan;
    };
    if !c.holds_rect(y0, y1, x0, x1) {
        return None;
    }
    let (h, w) = (y1 - y0, x1 - x0);
    let mut vals = Vec::with_capacity(h * w);
    let mut any = false;
    for y in y0..y1 {
        for x in x0..x1 {
            if c.masked(y, x) {
                vals.push(0.0);
            } else {
                any = true;
                let v = img.value(y, x) as f64;
                vals.push(if v.is_finite() { v } else { 0.0 });
            }
        }
    }
    if !any {
        return nan;
    }
    let total = pairwise_sum(&vals);
    if total.abs() < 1e-30 {
        return nan;
    }
    let xs: Vec<f64> = (0..h * w).map(|i| (i % w) as f64 * vals[i]).collect();
    let ys: Vec<f64> = (0..h * w).map(|i| (i / w) as f64 * vals[i]).collect();
    let xc = pairwise_sum(&xs) / total + x0 as f64;
    let yc = pairwise_sum(&ys) / total + y0 as f64;
    if xc < 0.0 || xc >= c.nx as f64 || yc < 0.0 || yc >= c.ny as f64 {
        return nan;
    }
    Some((xc, yc))
}

/// The Gaussian PRF fit result: (sigma_x, sigma_y, flux); NaNs when the fit cannot run.
pub type PsfFit = Option<(f64, f64, f64)>;

/// Pixel-integrated Gaussian and its derivatives along one axis:
/// `E(u) = erf((u+½)/(√2σ)) − erf((u−½)/(√2σ))` with `σ = fwhm·FWHM_TO_SIGMA`.
fn axis_term(u: f64, fwhm: f64) -> (f64, f64) {
    let s = fwhm * FWHM_TO_SIGMA;
    let k = std::f64::consts::SQRT_2 * s;
    let (a, b) = ((u + 0.5) / k, (u - 0.5) / k);
    let e = libm::erf(a) - libm::erf(b);
    // d/dfwhm: d erf(t)/dt = 2/√π e^{−t²}; dt/dfwhm = −t/fwhm.
    let g = 2.0 / std::f64::consts::PI.sqrt();
    let d = g * (-(a * a)).exp() * (-a / fwhm) - g * (-(b * b)).exp() * (-b / fwhm);
    (e, d)
}

/// `_psf_fit_gaussian_prf` on the background-subtracted image at the centroid `(xc, yc)`.
pub fn psf_fit(img: &Subtracted, xc: f64, yc: f64, fb: usize) -> PsfFit {
    let c = img.cut;
    let nan = Some((f64::NAN, f64::NAN, f64::NAN));
    let (Some((y0, y1)), Some((x0, x1))) = (box_bounds(yc, fb, c.ny), box_bounds(xc, fb, c.nx))
    else {
        return nan;
    };
    if !c.holds_rect(y0, y1, x0, x1) {
        return None;
    }
    // Unmasked pixels of the fit box, C order; the initial flux is their float32 sum.
    let mut pts = Vec::new();
    let mut vals32 = Vec::new();
    for y in y0..y1 {
        for x in x0..x1 {
            if !c.masked(y, x) {
                let v = img.value(y, x);
                pts.push((x as f64 - xc, y as f64 - yc, v as f64));
                vals32.push(v);
            }
        }
    }
    if pts.is_empty() {
        return nan;
    }
    let flux0 = pairwise_sum(&vals32) as f64;
    if !flux0.is_finite() {
        return nan;
    }
    let fmax = fb as f64;
    // PSFPhotometry's fit: TRFLSQFitter (scipy trf, xtol = 1e-7, ftol = gtol = 1e-8,
    // diff_step = √eps, at most 100 evaluations) on `model − data`.
    let mut fun = |p: &[f64]| -> Vec<f64> {
        pts.iter()
            .map(|&(u, v, d)| p[0] / 4.0 * (axis_term(u, p[1]).0 * axis_term(v, p[2]).0) - d)
            .collect()
    };
    let opts = super::trf::TrfOptions {
        ftol: 1e-8,
        xtol: 1e-7,
        gtol: 1e-8,
        max_nfev: 100,
        diff_step: 1.4901161193847656e-08,
    };
    let Some(r) = super::trf::least_squares(
        &mut fun,
        &[flux0, fmax / 2.0, fmax / 2.0],
        &[0.0, 0.0, 0.0],
        &[f64::INFINITY, fmax, fmax],
        opts,
    ) else {
        // scipy refuses an initial flux below the bound (negative cutout sum): the official
        // step catches the error and reports NaN.
        return nan;
    };
    Some((r.x[1] * FWHM_TO_SIGMA, r.x[2] * FWHM_TO_SIGMA, r.x[0]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rank_window_median_matches_direct() {
        let vals: Vec<f32> = (0..101).map(|i| ((i * 37) % 101) as f32 * 0.5).collect();
        let mut s = Vec::new();
        let rw = RankWindow::new(&vals, 10, &mut s);
        let excl = [vals[3], vals[50], vals[77], vals[100]];
        let mut rest: Vec<f32> = vals.clone();
        for e in excl {
            let i = rest.iter().position(|&v| v == e).unwrap();
            rest.remove(i);
        }
        let want = median_f32_in_place(&mut rest);
        assert_eq!(rw.median_excluding(&excl), Some(want));
        assert_eq!(rw.median_excluding(&[]), Some(25.0));
    }

    #[test]
    fn box_like_overlap_slices() {
        assert_eq!(box_bounds(11.5, 11, 24), Some((6, 17)));
        assert_eq!(box_bounds(11.5, 41, 24), Some((0, 24)));
        assert_eq!(box_bounds(2.2, 11, 24), Some((0, 8)));
    }

    #[test]
    fn psf_fit_recovers_a_gaussian() {
        let (ny, nx) = (21, 21);
        let (xc, yc, fwhm, flux) = (10.2, 9.7, 3.0, 1000.0);
        let mut data = vec![0f32; ny * nx];
        for y in 0..ny {
            for x in 0..nx {
                data[y * nx + x] = (flux / 4.0
                    * axis_term(x as f64 - xc, fwhm).0
                    * axis_term(y as f64 - yc, fwhm).0) as f32;
            }
        }
        let cut = Cutout::take(ny, nx, &data, &data, &vec![0; ny * nx], (0, ny), (0, nx));
        let img = Subtracted {
            cut: &cut,
            background: 0.0,
        };
        let (sx, sy, f) = psf_fit(&img, xc, yc, 11).unwrap();
        // scipy's tolerances stop it near, not at, the minimum.
        assert!((sx / FWHM_TO_SIGMA - fwhm).abs() < 1e-3, "{sx}");
        assert!((sy / FWHM_TO_SIGMA - fwhm).abs() < 1e-3, "{sy}");
        assert!((f - flux).abs() < 0.1, "{f}");
        let (cx, cy) = centroid_com(&img, 10.0, 10.0, 11).unwrap();
        assert!(
            (cx - xc).abs() < 0.05 && (cy - yc).abs() < 0.05,
            "{cx} {cy}"
        );
    }
}
