//! The astrophysical scene on the subarray, in electrons per second.
//!
//! Like the oracle generator, brightness is first expressed as the fraction of the pixel's full
//! well reached at the last read of an integration, then converted to e-/s. Grism TSO: a smooth
//! background, a spectral trace at 40 % of the height, point sources (some saturating) and
//! isolated very bright pixels. Imaging: the same without the trace, plus a Gaussian star whose
//! flux the transit light curve scales per integration; field sources and bright pixels are kept
//! out of a 48x48 box around the star (tso_photometry's centroid box).

use super::config::Plan;
use super::detector::Pixel;
use super::rng::{domain, Stream};

/// Half-size of the star's keep-out box, pixels.
const KEEP_OUT: f64 = 24.0;

#[derive(Debug, Clone)]
pub struct Scene {
    /// Total astrophysical flux per subarray pixel (e-/s), the star out of transit included.
    pub flux_e: Vec<f32>,
    /// The star alone (imaging only), e-/s.
    pub star_e: Option<Vec<f32>>,
    pub n_sources: usize,
    pub n_bright: usize,
}

fn add_gaussian(frac: &mut [f64], ny: usize, nx: usize, cy: f64, cx: f64, peak: f64, sigma: f64) {
    let r = (7.0 * sigma).ceil();
    let y_lo = (cy - r).floor().max(0.0) as usize;
    let y_hi = ((cy + r).ceil() as isize).clamp(0, ny as isize) as usize;
    let x_lo = (cx - r).floor().max(0.0) as usize;
    let x_hi = ((cx + r).ceil() as isize).clamp(0, nx as isize) as usize;
    for y in y_lo..y_hi {
        for x in x_lo..x_hi {
            let r2 = (y as f64 - cy).powi(2) + (x as f64 - cx).powi(2);
            frac[y * nx + x] += peak * (-0.5 * r2 / (sigma * sigma)).exp();
        }
    }
}

pub fn build(plan: &Plan, det: &[Pixel]) -> Scene {
    let (ny, nx) = (plan.ny, plan.nx);
    let mut frac: Vec<f64> = (0..ny * nx)
        .map(|k| {
            let mut s = Stream::for_key(
                plan.seed,
                domain::SCENE_PIXEL,
                (k / nx) as u64,
                (k % nx) as u64,
                0,
            );
            s.uniform_in(0.002, 0.01)
        })
        .collect();
    let mut rng = Stream::for_key(plan.seed, domain::SCENE, 0, 0, 0);
    let imaging = plan.imaging();
    let (sx, sy) = (plan.star_x, plan.star_y);
    let outside_star =
        |y: f64, x: f64| !imaging || (y - sy).abs() >= KEEP_OUT || (x - sx).abs() >= KEEP_OUT;

    if !imaging && ny >= 16 {
        // Grism-like trace, brightest ~0.8 of the full well.
        let y0 = 0.4 * ny as f64;
        for y in 0..ny {
            let prof = (-0.5 * ((y as f64 - y0) / 2.5).powi(2)).exp();
            if prof < 1e-12 {
                continue;
            }
            for x in 0..nx {
                let spec = 0.15
                    + 0.65
                        * (-0.5 * ((x as f64 - 0.6 * nx as f64) / (0.25 * nx as f64)).powi(2))
                            .exp();
                frac[y * nx + x] += spec * prof;
            }
        }
    }
    let nsrc = (ny * nx / 4000).max(2);
    let mut placed = 0;
    for _ in 0..100 * nsrc {
        if placed == nsrc {
            break;
        }
        let cy = rng.uniform_in(0.0, ny as f64);
        let cx = rng.uniform_in(0.0, nx as f64);
        let peak = 10f64.powf(rng.uniform_in(-2.0, 0.7));
        if !outside_star(cy, cx) {
            continue;
        }
        add_gaussian(&mut frac, ny, nx, cy, cx, peak, 1.2);
        placed += 1;
    }
    let nbright = ((0.0005 * (ny * nx) as f64) as usize).max(3);
    let mut n_bright = 0;
    for _ in 0..nbright {
        let iy = rng.below(ny as u64) as usize;
        let ix = rng.below(nx as u64) as usize;
        let v = rng.uniform_in(1.0, 2.0 * plan.ngroups as f64);
        if outside_star(iy as f64, ix as f64) {
            frac[iy * nx + ix] += v;
            n_bright += 1;
        }
    }
    let mut star_frac = None;
    if imaging {
        let mut star = vec![0.0f64; ny * nx];
        add_gaussian(&mut star, ny, nx, sy, sx, plan.star_peak, plan.star_sigma);
        for (f, s) in frac.iter_mut().zip(&star) {
            *f += s;
        }
        star_frac = Some(star);
    }

    let t_last = plan.t_last();
    let to_flux = |k: usize, f: f64| -> f32 {
        let p = &det[k];
        if p.dead || p.refpix {
            0.0
        } else {
            let e = f * p.fullwell_e as f64 / t_last;
            (if p.low_qe { 0.3 * e } else { e }) as f32
        }
    };
    let flux_e = frac
        .iter()
        .enumerate()
        .map(|(k, &f)| to_flux(k, f))
        .collect();
    let star_e = star_frac.map(|s| s.iter().enumerate().map(|(k, &f)| to_flux(k, f)).collect());
    Scene {
        flux_e,
        star_e,
        n_sources: placed,
        n_bright,
    }
}
