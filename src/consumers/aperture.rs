//! Circular aperture photometry as photutils 3.0.0 computes it for jwst's tso_photometry:
//! `CircularAperture`/`CircularAnnulus` with the exact pixel-overlap weights
//! (`geometry/circular_overlap.pyx`), and `ApertureStats.sum`, `sum_err`, `sum_aper_area`.
//!
//! The overlap of a circle centred on the origin with one pixel is computed exactly by cutting
//! the pixel at the axes into quadrant-aligned rectangles, each the area under the circle
//! (rectangle part + triangles + circular segments). The floating-point operations follow the
//! same order as the Cython original so weights agree to the last bit, and sums use numpy's
//! pairwise order over the unmasked pixels in C order.

use super::numeric::pairwise_sum;

/// `floor_sqrt`: square root of a value that is non-negative on paper (negative rounding
/// residue -> 0).
fn floor_sqrt(x: f64) -> f64 {
    if x > 0.0 {
        x.sqrt()
    } else {
        0.0
    }
}

fn distance(x1: f64, y1: f64, x2: f64, y2: f64) -> f64 {
    ((x2 - x1) * (x2 - x1) + (y2 - y1) * (y2 - y1)).sqrt()
}

/// Area of the circular segment of radius `r` between two points on the circle.
fn area_arc(x1: f64, y1: f64, x2: f64, y2: f64, r: f64) -> f64 {
    let a = distance(x1, y1, x2, y2);
    let theta = 2.0 * (0.5 * a / r).asin();
    0.5 * r * r * (theta - theta.sin())
}

fn area_triangle(x1: f64, y1: f64, x2: f64, y2: f64, x3: f64, y3: f64) -> f64 {
    0.5 * (x1 * (y2 - y3) + x2 * (y3 - y1) + x3 * (y1 - y2)).abs()
}

/// Overlap of the circle with a rectangle lying in the first quadrant (xmin, ymin >= 0).
fn overlap_core(xmin: f64, ymin: f64, xmax: f64, ymax: f64, r: f64) -> f64 {
    if xmin * xmin + ymin * ymin > r * r {
        0.0
    } else if xmax * xmax + ymax * ymax < r * r {
        (xmax - xmin) * (ymax - ymin)
    } else {
        let d1 = floor_sqrt(xmax * xmax + ymin * ymin);
        let d2 = floor_sqrt(xmin * xmin + ymax * ymax);
        if d1 < r && d2 < r {
            let (x1, y1) = (floor_sqrt(r * r - ymax * ymax), ymax);
            let (x2, y2) = (xmax, floor_sqrt(r * r - xmax * xmax));
            (xmax - xmin) * (ymax - ymin) - area_triangle(x1, y1, x2, y2, xmax, ymax)
                + area_arc(x1, y1, x2, y2, r)
        } else if d1 < r {
            let (x1, y1) = (xmin, floor_sqrt(r * r - xmin * xmin));
            let (x2, y2) = (xmax, floor_sqrt(r * r - xmax * xmax));
            area_arc(x1, y1, x2, y2, r)
                + area_triangle(x1, y1, x1, ymin, xmax, ymin)
                + area_triangle(x1, y1, x2, ymin, x2, y2)
        } else if d2 < r {
            let (x1, y1) = (floor_sqrt(r * r - ymin * ymin), ymin);
            let (x2, y2) = (floor_sqrt(r * r - ymax * ymax), ymax);
            area_arc(x1, y1, x2, y2, r)
                + area_triangle(x1, y1, xmin, y1, xmin, ymax)
                + area_triangle(x1, y1, xmin, y2, x2, y2)
        } else {
            let (x1, y1) = (floor_sqrt(r * r - ymin * ymin), ymin);
            let (x2, y2) = (xmin, floor_sqrt(r * r - xmin * xmin));
            area_arc(x1, y1, x2, y2, r) + area_triangle(x1, y1, x2, y2, xmin, ymin)
        }
    }
}

/// Exact overlap of the circle (radius `r`, centre at the origin) with one rectangle: split at
/// the axes and fold every piece into the first quadrant.
fn overlap_single_exact(xmin: f64, ymin: f64, xmax: f64, ymax: f64, r: f64) -> f64 {
    if 0.0 <= xmin {
        if 0.0 <= ymin {
            overlap_core(xmin, ymin, xmax, ymax, r)
        } else if 0.0 >= ymax {
            overlap_core(-ymax, xmin, -ymin, xmax, r)
        } else {
            overlap_single_exact(xmin, ymin, xmax, 0.0, r)
                + overlap_single_exact(xmin, 0.0, xmax, ymax, r)
        }
    } else if 0.0 >= xmax {
        if 0.0 <= ymin {
            overlap_core(-xmax, ymin, -xmin, ymax, r)
        } else if 0.0 >= ymax {
            overlap_core(-xmax, -ymax, -xmin, -ymin, r)
        } else {
            overlap_single_exact(xmin, ymin, xmax, 0.0, r)
                + overlap_single_exact(xmin, 0.0, xmax, ymax, r)
        }
    } else if 0.0 <= ymin || 0.0 >= ymax {
        overlap_single_exact(xmin, ymin, 0.0, ymax, r)
            + overlap_single_exact(0.0, ymin, xmax, ymax, r)
    } else {
        overlap_single_exact(xmin, ymin, 0.0, 0.0, r)
            + overlap_single_exact(0.0, ymin, xmax, 0.0, r)
            + overlap_single_exact(xmin, 0.0, 0.0, ymax, r)
            + overlap_single_exact(0.0, 0.0, xmax, ymax, r)
    }
}

/// `circular_overlap_grid(xmin, xmax, ymin, ymax, nx, ny, r, use_exact=1)`: fraction of each
/// grid cell inside the circle, (ny, nx) row-major.
pub fn circular_overlap_grid(
    xmin: f64,
    xmax: f64,
    ymin: f64,
    ymax: f64,
    nx: usize,
    ny: usize,
    r: f64,
) -> Vec<f64> {
    let mut frac = vec![0.0; nx * ny];
    let dx = (xmax - xmin) / nx as f64;
    let dy = (ymax - ymin) / ny as f64;
    let pixel_radius = 0.5 * (dx * dx + dy * dy).sqrt();
    let (bxmin, bxmax) = (-r - 0.5 * dx, r + 0.5 * dx);
    let (bymin, bymax) = (-r - 0.5 * dy, r + 0.5 * dy);
    for i in 0..nx {
        let pxmin = xmin + i as f64 * dx;
        let pxcen = pxmin + dx * 0.5;
        let pxmax = pxmin + dx;
        if !(pxmax > bxmin && pxmin < bxmax) {
            continue;
        }
        for j in 0..ny {
            let pymin = ymin + j as f64 * dy;
            let pycen = pymin + dy * 0.5;
            let pymax = pymin + dy;
            if !(pymax > bymin && pymin < bymax) {
                continue;
            }
            let d = (pxcen * pxcen + pycen * pycen).sqrt();
            if d < r - pixel_radius {
                frac[j * nx + i] = 1.0;
            } else if d < r + pixel_radius {
                frac[j * nx + i] = overlap_single_exact(pxmin, pymin, pxmax, pymax, r) / (dx * dy);
            }
        }
    }
    frac
}

/// A circular aperture or annulus at `(x, y)` (0-based pixel centres).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Aperture {
    Circle {
        x: f64,
        y: f64,
        r: f64,
    },
    Annulus {
        x: f64,
        y: f64,
        r_in: f64,
        r_out: f64,
    },
}

/// Integer pixel bounds (exclusive upper) of an aperture's minimal bounding box
/// (photutils `BoundingBox.from_float`).
#[derive(Debug, Clone, Copy)]
struct BBox {
    ixmin: i64,
    ixmax: i64,
    iymin: i64,
    iymax: i64,
}

fn bbox(x: f64, y: f64, ext: f64) -> BBox {
    BBox {
        ixmin: (x - ext + 0.5).floor() as i64,
        ixmax: (x + ext + 0.5).ceil() as i64,
        iymin: (y - ext + 0.5).floor() as i64,
        iymax: (y + ext + 0.5).ceil() as i64,
    }
}

/// The aperture's bounding box (photutils `BoundingBox.from_float`) and exact weights on it.
#[derive(Debug, Clone)]
pub struct ApertureMask {
    /// Inclusive-exclusive pixel bounds of the box.
    pub ixmin: i64,
    pub ixmax: i64,
    pub iymin: i64,
    pub iymax: i64,
    /// Weights on the box, row-major.
    pub weights: Vec<f64>,
}

impl Aperture {
    fn centre_and_extent(&self) -> (f64, f64, f64) {
        match *self {
            Aperture::Circle { x, y, r } => (x, y, r),
            Aperture::Annulus { x, y, r_out, .. } => (x, y, r_out),
        }
    }

    /// photutils `to_mask(method='exact')`.
    pub fn mask(&self) -> ApertureMask {
        let (x, y, ext) = self.centre_and_extent();
        let BBox {
            ixmin,
            ixmax,
            iymin,
            iymax,
        } = bbox(x, y, ext);
        let (nx, ny) = ((ixmax - ixmin) as usize, (iymax - iymin) as usize);
        let ex0 = ixmin as f64 - 0.5 - x;
        let ex1 = ixmax as f64 - 0.5 - x;
        let ey0 = iymin as f64 - 0.5 - y;
        let ey1 = iymax as f64 - 0.5 - y;
        let weights = match *self {
            Aperture::Circle { r, .. } => circular_overlap_grid(ex0, ex1, ey0, ey1, nx, ny, r),
            Aperture::Annulus { r_in, r_out, .. } => {
                let mut o = circular_overlap_grid(ex0, ex1, ey0, ey1, nx, ny, r_out);
                let i = circular_overlap_grid(ex0, ex1, ey0, ey1, nx, ny, r_in);
                for (a, b) in o.iter_mut().zip(i) {
                    *a -= b;
                }
                o
            }
        };
        ApertureMask {
            ixmin,
            ixmax,
            iymin,
            iymax,
            weights,
        }
    }
}

/// What tso_photometry reads from `ApertureStats`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ApertureSums {
    pub sum: f64,
    pub sum_err: f64,
    /// Weighted area of the unmasked pixels (NaN when every pixel is masked).
    pub sum_aper_area: f64,
}

/// A window of an image: pixels `[y0, y0+h) x [x0, x0+w)` of a full frame `full_ny x full_nx`.
/// Data and error as float32 (the arrays tso_photometry hands to photutils).
pub trait Pixels {
    fn full_shape(&self) -> (usize, usize);
    /// Whether pixel (y, x) of the full frame is held.
    fn holds(&self, y: usize, x: usize) -> bool;
    fn data(&self, y: usize, x: usize) -> f32;
    fn err(&self, y: usize, x: usize) -> f32;
}

/// `ApertureStats(data, aperture, error=err)` with the exact method: returns `None` when a
/// pixel it needs is not held by `px`.
pub fn aperture_sums<P: Pixels>(px: &P, ap: &Aperture) -> Option<ApertureSums> {
    let m = ap.mask();
    let (ny, nx) = px.full_shape();
    let (ny, nx) = (ny as i64, nx as i64);
    let bw = (m.ixmax - m.ixmin) as usize;
    // Overlap of the box with the image.
    let (x0, x1) = (m.ixmin.max(0), m.ixmax.min(nx));
    let (y0, y1) = (m.iymin.max(0), m.iymax.min(ny));
    if x0 >= x1 || y0 >= y1 {
        return Some(ApertureSums {
            sum: f64::NAN,
            sum_err: f64::NAN,
            sum_aper_area: f64::NAN,
        });
    }
    let mut data_vals = Vec::new();
    let mut var_vals = Vec::new();
    let mut weight_cut = Vec::new();
    let mut all_masked_center = true;
    for y in y0..y1 {
        for x in x0..x1 {
            if !px.holds(y as usize, x as usize) {
                return None;
            }
            let w = m.weights[(y - m.iymin) as usize * bw + (x - m.ixmin) as usize];
            let d = px.data(y as usize, x as usize) as f64;
            let data_mask = !d.is_finite();
            let mask = w == 0.0 || data_mask;
            weight_cut.push(if data_mask { 0.0 } else { w });
            // 'center' method mask: the pixel centre inside the aperture.
            let (cx, cy) = (x as f64, y as f64);
            if !data_mask && center_in(ap, cx, cy) {
                all_masked_center = false;
            }
            if !mask {
                data_vals.push(d * w);
                let e = px.err(y as usize, x as usize);
                let var = (e * e) as f64;
                var_vals.push(var * w);
            }
        }
    }
    let sum = if data_vals.is_empty() {
        f64::NAN
    } else {
        pairwise_sum(&data_vals)
    };
    let sum_err = if var_vals.is_empty() {
        f64::NAN
    } else {
        pairwise_sum(&var_vals).sqrt()
    };
    let area = if all_masked_center {
        f64::NAN
    } else {
        pairwise_sum(&weight_cut)
    };
    Some(ApertureSums {
        sum,
        sum_err,
        sum_aper_area: area,
    })
}

/// photutils' 'center' mask (`use_exact=0, subpixels=1`) at full-frame pixel (cx, cy): 1 when
/// the pixel centre is inside, computed as `circular_overlap_grid` does on the same edges.
fn center_in(ap: &Aperture, cx: f64, cy: f64) -> bool {
    let (xc, yc, ext) = ap.centre_and_extent();
    let m = bbox(xc, yc, ext);
    let frac = |r: f64| -> f64 {
        let (ix, iy) = (cx as i64, cy as i64);
        if ix < m.ixmin || ix >= m.ixmax || iy < m.iymin || iy >= m.iymax {
            return 0.0;
        }
        let xmin = m.ixmin as f64 - 0.5 - xc;
        let ymin = m.iymin as f64 - 0.5 - yc;
        let xmax = m.ixmax as f64 - 0.5 - xc;
        let ymax = m.iymax as f64 - 0.5 - yc;
        let (nx, ny) = ((m.ixmax - m.ixmin) as f64, (m.iymax - m.iymin) as f64);
        let (dx, dy) = ((xmax - xmin) / nx, (ymax - ymin) / ny);
        let pixel_radius = 0.5 * (dx * dx + dy * dy).sqrt();
        let pxmin = xmin + (ix - m.ixmin) as f64 * dx;
        let pymin = ymin + (iy - m.iymin) as f64 * dy;
        let (pxmax, pymax) = (pxmin + dx, pymin + dy);
        if !(pxmax > -r - 0.5 * dx && pxmin < r + 0.5 * dx) {
            return 0.0;
        }
        if !(pymax > -r - 0.5 * dy && pymin < r + 0.5 * dy) {
            return 0.0;
        }
        let (pxcen, pycen) = (pxmin + dx * 0.5, pymin + dy * 0.5);
        let d = (pxcen * pxcen + pycen * pycen).sqrt();
        if d < r - pixel_radius {
            1.0
        } else if d < r + pixel_radius {
            let x = pxmin - 0.5 * dx + dx;
            let y = pymin - 0.5 * dy + dy;
            if x * x + y * y < r * r {
                1.0
            } else {
                0.0
            }
        } else {
            0.0
        }
    };
    let w = match *ap {
        Aperture::Circle { r, .. } => frac(r),
        Aperture::Annulus { r_in, r_out, .. } => frac(r_out) - frac(r_in),
    };
    w != 0.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_circle_area() {
        let m = Aperture::Circle {
            x: 10.3,
            y: 7.6,
            r: 3.0,
        }
        .mask();
        let total: f64 = m.weights.iter().sum();
        assert!(
            (total - std::f64::consts::PI * 9.0).abs() < 1e-12,
            "{total}"
        );
        let a = Aperture::Annulus {
            x: 10.3,
            y: 7.6,
            r_in: 4.0,
            r_out: 5.0,
        }
        .mask();
        let total: f64 = a.weights.iter().sum();
        assert!(
            (total - std::f64::consts::PI * 9.0).abs() < 1e-12,
            "{total}"
        );
    }
}
