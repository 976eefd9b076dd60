//! Snowball flagging (`expand_large_events`; spec §11.7 step 4; stcal `flag_large_events`,
//! `make_snowballs`, `extend_saturation`, `extend_ellipses`, `find_ellipses`).
//!
//! Frame-level, per (integration, group ≥ 1): connected regions (8-connectivity, as skimage
//! `label`) of newly saturated pixels (this group and the next) and of JUMP_DET pixels are fitted
//! with ellipses from their image moments (skimage `regionprops`). A jump ellipse is a snowball
//! if it lies near the frame edge or contains the centre of a new-saturation ellipse. Large
//! saturated cores are expanded and *overwritten* to exactly SATURATED in this and every later
//! group, snowballs are expanded and OR-ed with JUMP_DET (skipping saturated pixels), and the
//! cores are flagged JUMP_DET in the first groups of the next integration.
//!
//! Numerics follow the Python code: Python `round` (ties to even), numpy `remainder`, glibc
//! `sin`/`cos`/`atan2`/`sqrt` (numpy's float64 sin/cos and `math.atan2` agree with them), and the
//! LAPACK `dsyevd` → `dsterf` → `dlae2` path numpy's `eigvalsh` takes for the 2×2 inertia tensor.
//! The central moments follow skimage's two contractions: over rows by plain sums, then over
//! columns as a BLAS dot product (fused multiply-adds), with the offsets squared by `pow`.
//! Host dependence of the official result: on AVX-512 hosts numpy's array `power` runs Intel SVML,
//! whose `pow(x, 2)` is not always the C library's value; then the moments, and so the axes and
//! angle, of about 4 % of irregular regions differ in their last bits from the same code on
//! other hosts. sloper reproduces the C-library (non-AVX-512) result; the flags only differ if such
//! a last-bit change crosses a rounding or threshold boundary.

use frames::dq;

use super::exposure::CubeShape;
use super::params::JumpError;
use super::setup::SnowballSetup;

/// Ellipse fitted to a region, in stcal's tuple order `((cen_x, cen_y), (minor-1, major-1), deg)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RegionEllipse {
    /// Centroid column.
    pub cen_x: f64,
    /// Centroid row.
    pub cen_y: f64,
    /// `axis_minor_length - 1`.
    pub axis_a: f64,
    /// `axis_major_length - 1`.
    pub axis_b: f64,
    /// `degrees(orientation)`.
    pub angle_deg: f64,
}

/// Ellipses of the 8-connected regions of `mask` (`ny x nx`, row-major) whose filled area is at
/// least `min_area`, in skimage label order: stcal `find_ellipses` / `_sk_filter_areas`.
pub fn find_ellipses(mask: &[bool], ny: usize, nx: usize, min_area: f64) -> Vec<RegionEllipse> {
    assert_eq!(mask.len(), ny * nx, "mask is not ny x nx");
    Labeler::new(ny, nx).ellipses(mask, min_area)
}

/// Snowball flagging over a whole exposure cube (`[int][group][row][col]`); returns the number of
/// snowballs. Equivalent to running [`flag_integration`] on every integration in order and then
/// [`apply_persistence`] from each integration to the next.
pub fn flag_large_events(
    setup: &SnowballSetup,
    shape: CubeShape,
    gdq: &mut [u8],
) -> Result<u64, JumpError> {
    if gdq.len() != shape.len() {
        return Err(JumpError::Shape(format!(
            "snowball GROUPDQ has {} values, expected {}",
            gdq.len(),
            shape.len()
        )));
    }
    let cube_len = shape.ngroups * shape.frame();
    let mut persist_prev = vec![0u8; shape.frame()];
    let mut persist = vec![0u8; shape.frame()];
    let mut total = 0;
    for (i, cube) in gdq.chunks_exact_mut(cube_len).enumerate() {
        persist.fill(0);
        total += flag_integration(setup, shape.ngroups, shape.ny, shape.nx, cube, &mut persist);
        if i > 0 {
            apply_persistence(setup, shape.ngroups, shape.frame(), cube, &persist_prev);
        }
        std::mem::swap(&mut persist, &mut persist_prev);
    }
    Ok(total)
}

/// Snowballs of one integration (`cube`: `[group][row][col]`, updated). `persist` (one frame,
/// zeroed by the caller) receives JUMP_DET at the unexpanded saturated cores, for
/// [`apply_persistence`] on the next integration. Returns the number of snowballs.
pub fn flag_integration(
    setup: &SnowballSetup,
    ngroups: usize,
    ny: usize,
    nx: usize,
    cube: &mut [u8],
    persist: &mut [u8],
) -> u64 {
    let frame = ny * nx;
    let mut labels = Labeler::new(ny, nx);
    let mut mask = vec![false; frame];
    let mut next_sat_ellipses = Vec::new();
    let mut total = 0;
    for group in 1..ngroups {
        let plane = |g: usize| g * frame..(g + 1) * frame;
        let (cur, prev) = (plane(group), plane(group - 1));
        let sat = |q: u8| q & dq::G_SATURATED != 0;

        for (m, (&c, &p)) in mask
            .iter_mut()
            .zip(cube[cur.clone()].iter().zip(&cube[prev]))
        {
            *m = sat(c) && !sat(p);
        }
        let sat_ellipses = labels.ellipses(&mask, setup.min_sat_area);
        // At the last group stcal reuses the previous group's next-group ellipses, but only
        // consults them before the last group, so they are not recomputed here.
        if group + 1 < ngroups {
            let next = plane(group + 1);
            for (m, (&n, &c)) in mask
                .iter_mut()
                .zip(cube[next].iter().zip(&cube[cur.clone()]))
            {
                *m = sat(n) && !sat(c);
            }
            next_sat_ellipses = labels.ellipses(&mask, setup.min_sat_area);
        }
        for (m, &c) in mask.iter_mut().zip(&cube[cur.clone()]) {
            *m = c & dq::G_JUMP_DET != 0;
        }
        let jump_ellipses = labels.ellipses(&mask, setup.min_jump_area);

        let snowballs = if setup.sat_required_snowball {
            let snowballs = classify(
                setup,
                ny,
                group + 1 < ngroups,
                &jump_ellipses,
                &sat_ellipses,
                &next_sat_ellipses,
            );
            extend_saturation(setup, ngroups, ny, nx, group, &sat_ellipses, cube, persist);
            snowballs
        } else {
            jump_ellipses
        };
        total += snowballs.len() as u64;
        for e in &snowballs {
            let (a1, a2) = expanded_axes(e, setup.expand_factor, setup.max_extended_width);
            let plane = &mut cube[cur.clone()];
            draw_ellipse_subim(
                e.cen_x,
                e.cen_y,
                (a1 * 2) as f64,
                (a2 * 2) as f64,
                e.angle_deg,
                ny,
                nx,
                |p| {
                    if plane[p] & dq::G_SATURATED == 0 {
                        plane[p] |= dq::G_JUMP_DET;
                    }
                },
            );
        }
    }
    total
}

/// Flag JUMP_DET in groups `1 .. min(persist_grps_flagged, ngroups)` of an integration where the
/// previous integration's `persist` mask has it (no SATURATED/DO_NOT_USE check, as upstream).
pub fn apply_persistence(
    setup: &SnowballSetup,
    ngroups: usize,
    frame: usize,
    cube: &mut [u8],
    persist_prev: &[u8],
) {
    if !setup.mask_persist_next_int || setup.persist_grps_flagged < 1 {
        return;
    }
    let last = (setup.persist_grps_flagged as usize).min(ngroups);
    for g in 1..last {
        for (q, &p) in cube[g * frame..(g + 1) * frame]
            .iter_mut()
            .zip(persist_prev)
        {
            *q |= p;
        }
    }
}

/// stcal `make_snowballs` classification: near the edge (`edge_size` from either side, measured
/// against the number of rows for both axes, as upstream), or a new-saturation centre of this
/// group (or, before the last group, of the next) inside the jump ellipse. Duplicates (equal
/// ellipses) are kept once, as stcal's `jump not in snowballs` test does.
fn classify(
    setup: &SnowballSetup,
    ny: usize,
    has_next: bool,
    jumps: &[RegionEllipse],
    sats: &[RegionEllipse],
    next_sats: &[RegionEllipse],
) -> Vec<RegionEllipse> {
    let low = setup.edge_size as f64;
    let high = (ny as i64 - setup.edge_size).max(0) as f64;
    let mut snowballs: Vec<RegionEllipse> = Vec::new();
    for j in jumps {
        let near_edge = j.cen_x < low || j.cen_y < low || j.cen_x > high || j.cen_y > high;
        if near_edge {
            snowballs.push(*j);
            continue;
        }
        let inside = |s: &RegionEllipse| point_inside_ellipse(s.cen_x, s.cen_y, j);
        let hit = sats.iter().any(inside) || (has_next && next_sats.iter().any(inside));
        if hit && !snowballs.contains(j) {
            snowballs.push(*j);
        }
    }
    snowballs
}

/// stcal `point_inside_ellipse`.
fn point_inside_ellipse(px: f64, py: f64, e: &RegionEllipse) -> bool {
    let angle = (180.0 - e.angle_deg).to_radians();
    let (sin, cos) = (angle.sin(), angle.cos());
    let xc = px - e.cen_x;
    let yc = py - e.cen_y;
    let xct = xc * cos - yc * sin;
    let yct = xc * sin + yc * cos;
    let (major, minor) = if e.axis_b >= e.axis_a {
        (e.axis_b * 0.5, e.axis_a * 0.5)
    } else {
        (e.axis_a * 0.5, e.axis_b * 0.5)
    };
    libm_square(xct) / libm_square(major) + libm_square(yct) / libm_square(minor) <= 1.0
}

/// `x ** 2` as Python computes it for a float or numpy float64 scalar, and as numpy's `power`
/// does for arrays on hosts without AVX-512: the C library's `pow(x, 2.0)`, which is not always
/// the correctly rounded `x * x`. `black_box` keeps the compiler from rewriting it as `x * x`.
fn libm_square(x: f64) -> f64 {
    x.powf(std::hint::black_box(2.0))
}

/// stcal `extend_saturation`: saturated cores with minor axis > `min_sat_radius_extend` are drawn
/// with both axes + `sat_expand` (capped) and overwritten to exactly SATURATED in groups
/// `group..`; the unexpanded core goes into `persist` as JUMP_DET.
#[allow(clippy::too_many_arguments)]
fn extend_saturation(
    setup: &SnowballSetup,
    ngroups: usize,
    ny: usize,
    nx: usize,
    group: usize,
    sats: &[RegionEllipse],
    cube: &mut [u8],
    persist: &mut [u8],
) {
    let frame = ny * nx;
    for e in sats {
        let minor = e.axis_b.min(e.axis_a);
        // NaN axes never qualify, as in Python.
        if minor.partial_cmp(&setup.min_sat_radius_extend) != Some(std::cmp::Ordering::Greater) {
            continue;
        }
        let axis1 = (e.axis_a + setup.sat_expand).min(setup.max_extended_width);
        let axis2 = (e.axis_b + setup.sat_expand).min(setup.max_extended_width);
        draw_ellipse_subim(e.cen_x, e.cen_y, axis1, axis2, e.angle_deg, ny, nx, |p| {
            for g in group..ngroups {
                cube[g * frame + p] = dq::G_SATURATED;
            }
        });
        draw_ellipse_subim(
            e.cen_x,
            e.cen_y,
            e.axis_a,
            e.axis_b,
            e.angle_deg,
            ny,
            nx,
            |p| {
                persist[p] = dq::G_JUMP_DET;
            },
        );
    }
}

/// stcal `compute_axes` with `expand_by_ratio`: the minor axis grows by `expansion`, the other by
/// the same absolute amount, both capped; returns the rounded half axes.
fn expanded_axes(e: &RegionEllipse, expansion: f64, max_width: f64) -> (i64, i64) {
    let (a, b) = (e.axis_a, e.axis_b);
    let (axis1, axis2) = if b < a {
        (a + (expansion - 1.0) * b, b * expansion)
    } else {
        (a * expansion, b + (expansion - 1.0) * a)
    };
    (
        py_round(axis1.min(max_width) / 2.0),
        py_round(axis2.min(max_width) / 2.0),
    )
}

/// Python's `round(x)` for a float: nearest integer, ties to even.
fn py_round(x: f64) -> i64 {
    x.round_ties_even() as i64
}

/// numpy `remainder` (floor modulo; the result has the divisor's sign).
fn np_remainder(a: f64, b: f64) -> f64 {
    let m = a % b;
    if m != 0.0 {
        if (b < 0.0) != (m < 0.0) {
            m + b
        } else {
            m
        }
    } else {
        0.0f64.copysign(b)
    }
}

/// stcal `ellipse_subim` + `_sk_ellipse` + skimage `draw.ellipse`: visit the frame pixels
/// (`row * nx + col`) of the ellipse centred on (`cen_x` = column, `cen_y` = row) with full axes
/// `axis1` (along x before rotation) and `axis2`, rotated by `alpha_deg`.
#[allow(clippy::too_many_arguments)]
fn draw_ellipse_subim(
    cen_x: f64,
    cen_y: f64,
    axis1: f64,
    axis2: f64,
    alpha_deg: f64,
    ny: usize,
    nx: usize,
    mut visit: impl FnMut(usize),
) {
    let col_c = py_round(cen_x);
    let row_c = py_round(cen_y);
    let half1 = py_round(axis1 / 2.0);
    let half2 = py_round(axis2 / 2.0);
    let reach = half1.max(half2) + 2;
    // Sub-image placement (stcal names: ix = columns, iy = rows).
    let ix1 = (col_c - reach).max(0);
    let ix2 = (col_c + reach + 1).min(nx as i64);
    let iy1 = (row_c - reach).max(0);
    let iy2 = (row_c + reach + 1).min(ny as i64);
    let (sub_rows, sub_cols) = (iy2 - iy1, ix2 - ix1);
    if half1 == 0 || half2 == 0 || sub_rows <= 0 || sub_cols <= 0 {
        return;
    }
    // skimage draw.ellipse(r, c, r_radius = half2, c_radius = half1, shape, rotation).
    let (r0, c0) = (row_c - iy1, col_c - ix1);
    let (r_rad, c_rad) = (half2, half1);
    let rotation = np_remainder(alpha_deg.to_radians(), std::f64::consts::PI);
    let (sin, cos) = (rotation.sin(), rotation.cos());
    let r_rad_rot = (r_rad as f64 * cos).abs() + c_rad as f64 * sin;
    let c_rad_rot = r_rad as f64 * sin + (c_rad as f64 * cos).abs();
    let ul_r = ((r0 as f64 - r_rad_rot).ceil() as i64).max(0);
    let ul_c = ((c0 as f64 - c_rad_rot).ceil() as i64).max(0);
    let lr_r = ((r0 as f64 + r_rad_rot).floor() as i64).min(sub_rows - 1);
    let lr_c = ((c0 as f64 + c_rad_rot).floor() as i64).min(sub_cols - 1);
    let (sr, sc) = ((r0 - ul_r) as f64, (c0 - ul_c) as f64);
    let (rr, cr) = (r_rad as f64, c_rad as f64);
    for r_i in 0..(lr_r - ul_r + 1).max(0) {
        let r = r_i as f64 - sr;
        for c_i in 0..(lr_c - ul_c + 1).max(0) {
            let c = c_i as f64 - sc;
            let u = (r * cos + c * sin) / rr;
            let v = (r * sin - c * cos) / cr;
            if u * u + v * v < 1.0 {
                let row = (iy1 + ul_r + r_i) as usize;
                let col = (ix1 + ul_c + c_i) as usize;
                visit(row * nx + col);
            }
        }
    }
}

/// Connected-component labelling (8-connectivity) and region ellipse fitting, with buffers reused
/// across planes.
struct Labeler {
    ny: usize,
    nx: usize,
    label: Vec<u32>,
    stack: Vec<usize>,
    pixels: Vec<usize>,
    filled: Vec<u8>,
}

impl Labeler {
    fn new(ny: usize, nx: usize) -> Self {
        Labeler {
            ny,
            nx,
            label: vec![0; ny * nx],
            stack: Vec::new(),
            pixels: Vec::new(),
            filled: Vec::new(),
        }
    }

    /// Ellipses of the regions of `mask` whose filled area is at least `min_area`, in skimage's
    /// label order (raster order of each region's first pixel).
    fn ellipses(&mut self, mask: &[bool], min_area: f64) -> Vec<RegionEllipse> {
        let (ny, nx) = (self.ny, self.nx);
        self.label.fill(0);
        let mut out = Vec::new();
        let mut next = 0u32;
        for start in 0..ny * nx {
            if !mask[start] || self.label[start] != 0 {
                continue;
            }
            next += 1;
            self.pixels.clear();
            self.stack.clear();
            self.stack.push(start);
            self.label[start] = next;
            while let Some(p) = self.stack.pop() {
                self.pixels.push(p);
                let (r, c) = ((p / nx) as i64, (p % nx) as i64);
                for dr in -1..=1 {
                    for dc in -1..=1 {
                        let (rr, cc) = (r + dr, c + dc);
                        if rr < 0 || cc < 0 || rr >= ny as i64 || cc >= nx as i64 {
                            continue;
                        }
                        let q = rr as usize * nx + cc as usize;
                        if mask[q] && self.label[q] == 0 {
                            self.label[q] = next;
                            self.stack.push(q);
                        }
                    }
                }
            }
            if let Some(e) = self.region_ellipse(next, min_area) {
                out.push(e);
            }
        }
        out
    }

    /// skimage `regionprops` quantities of the region in `self.pixels` (label `id`).
    fn region_ellipse(&mut self, id: u32, min_area: f64) -> Option<RegionEllipse> {
        let nx = self.nx;
        let (mut r_min, mut r_max, mut c_min, mut c_max) = (usize::MAX, 0, usize::MAX, 0);
        for &p in &self.pixels {
            let (r, c) = (p / nx, p % nx);
            r_min = r_min.min(r);
            r_max = r_max.max(r);
            c_min = c_min.min(c);
            c_max = c_max.max(c);
        }
        let (h, w) = (r_max - r_min + 1, c_max - c_min + 1);
        let inside = |r: usize, c: usize| self.label[(r_min + r) * nx + c_min + c] == id;

        // area_filled: region plus the holes not 8-connected to the bounding-box border
        // (scipy binary_fill_holes with a 3x3 structure).
        const REGION: u8 = 1;
        const OUTSIDE: u8 = 2;
        self.filled.clear();
        self.filled.resize(h * w, 0);
        for r in 0..h {
            for c in 0..w {
                if inside(r, c) {
                    self.filled[r * w + c] = REGION;
                }
            }
        }
        self.stack.clear();
        for r in 0..h {
            for c in 0..w {
                let border = r == 0 || c == 0 || r + 1 == h || c + 1 == w;
                if border && self.filled[r * w + c] == 0 {
                    self.filled[r * w + c] = OUTSIDE;
                    self.stack.push(r * w + c);
                }
            }
        }
        while let Some(p) = self.stack.pop() {
            let (r, c) = ((p / w) as i64, (p % w) as i64);
            for dr in -1..=1 {
                for dc in -1..=1 {
                    let (rr, cc) = (r + dr, c + dc);
                    if rr < 0 || cc < 0 || rr >= h as i64 || cc >= w as i64 {
                        continue;
                    }
                    let q = rr as usize * w + cc as usize;
                    if self.filled[q] == 0 {
                        self.filled[q] = OUTSIDE;
                        self.stack.push(q);
                    }
                }
            }
        }
        let area_filled = self.filled.iter().filter(|&&v| v != OUTSIDE).count() as f64;
        if area_filled < min_area {
            return None;
        }

        let n = self.pixels.len() as f64;
        let (mut sum_r, mut sum_c) = (0.0f64, 0.0f64);
        // Raster order, as np.argwhere; integer sums are exact either way.
        for r in 0..h {
            for c in 0..w {
                if inside(r, c) {
                    sum_r += (r_min + r) as f64;
                    sum_c += (c_min + c) as f64;
                }
            }
        }
        let (cen_y, cen_x) = (sum_r / n, sum_c / n);

        // Central moments about the local centroid, contracted over rows (per column) first and
        // then over columns, as skimage's moments_central does.
        let (mut lr, mut lc) = (0.0f64, 0.0f64);
        for r in 0..h {
            for c in 0..w {
                if inside(r, c) {
                    lr += r as f64;
                    lc += c as f64;
                }
            }
        }
        let (cr, cc) = (lr / n, lc / n);
        let (mut mu00, mut mu20, mut mu02, mut mu11) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
        for c in 0..w {
            let (mut s0, mut s1, mut s2) = (0.0f64, 0.0f64, 0.0f64);
            for r in 0..h {
                if inside(r, c) {
                    let d = r as f64 - cr;
                    s0 += 1.0;
                    s1 += d;
                    s2 += libm_square(d);
                }
            }
            // The column contraction is a BLAS dot product, which accumulates with fused
            // multiply-adds (checked against numpy/OpenBLAS on the oracle host).
            let d = c as f64 - cc;
            mu00 += s0;
            mu20 += s2;
            mu02 = s0.mul_add(libm_square(d), mu02);
            mu11 = s1.mul_add(d, mu11);
        }
        let sum2 = mu20 + mu02;
        let a = (sum2 - mu20) / mu00;
        let c = (sum2 - mu02) / mu00;
        let b = -mu11 / mu00;
        let orientation = if a - c == 0.0 {
            if b < 0.0 {
                std::f64::consts::FRAC_PI_4
            } else {
                -std::f64::consts::FRAC_PI_4
            }
        } else {
            0.5 * (-2.0 * b).atan2(c - a)
        };
        let (small, large) = sym2_eigvals(a, b, c);
        let major = 4.0 * large.max(0.0).sqrt();
        let minor = 4.0 * small.max(0.0).sqrt();
        Some(RegionEllipse {
            cen_x,
            cen_y,
            axis_a: minor - 1.0,
            axis_b: major - 1.0,
            angle_deg: orientation.to_degrees(),
        })
    }
}

/// Eigenvalues (ascending) of the symmetric 2×2 matrix [[a, b], [b, c]] as LAPACK `dsyevd`
/// computes them for numpy `eigvalsh` (UPLO='L', no eigenvectors): `dsytrd` leaves the matrix
/// as is, `dsterf` either splits on a negligible off-diagonal or squares it, picks QL or QR by
/// the diagonal magnitudes and calls `dlae2` on `sqrt(b²)`.
fn sym2_eigvals(a: f64, b: f64, c: f64) -> (f64, f64) {
    let eps = f64::EPSILON * 0.5; // dlamch('E')
    let eps2 = eps * eps;
    let sorted = |x: f64, y: f64| if x <= y { (x, y) } else { (y, x) };
    if b.abs() <= a.abs().sqrt() * c.abs().sqrt() * eps {
        return sorted(a, c);
    }
    let anorm = a.abs().max(c.abs()).max(b.abs());
    if anorm == 0.0 {
        return sorted(a, c);
    }
    let e2 = b * b;
    let (first, second) = if c.abs() < a.abs() { (c, a) } else { (a, c) };
    if e2.abs() <= eps2 * (first * second).abs() {
        return sorted(a, c);
    }
    let (rt1, rt2) = dlae2(first, e2.sqrt(), second);
    sorted(rt1, rt2)
}

/// LAPACK `dlae2`: eigenvalues of [[a, b], [b, c]], `rt1` of larger absolute value.
fn dlae2(a: f64, b: f64, c: f64) -> (f64, f64) {
    let sm = a + c;
    let df = a - c;
    let adf = df.abs();
    let tb = b + b;
    let ab = tb.abs();
    let (acmx, acmn) = if a.abs() > c.abs() { (a, c) } else { (c, a) };
    let rt = if adf > ab {
        let q = ab / adf;
        adf * (1.0 + q * q).sqrt()
    } else if adf < ab {
        let q = adf / ab;
        ab * (1.0 + q * q).sqrt()
    } else {
        ab * 2.0f64.sqrt()
    };
    if sm < 0.0 {
        let rt1 = 0.5 * (sm - rt);
        (rt1, (acmx / rt1) * acmn - (b / rt1) * b)
    } else if sm > 0.0 {
        let rt1 = 0.5 * (sm + rt);
        (rt1, (acmx / rt1) * acmn - (b / rt1) * b)
    } else {
        (0.5 * rt, -0.5 * rt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_rounding_and_remainder() {
        assert_eq!(py_round(2.5), 2);
        assert_eq!(py_round(3.5), 4);
        assert_eq!(py_round(-0.5), 0);
        assert_eq!(
            np_remainder(-1.0, std::f64::consts::PI),
            std::f64::consts::PI - 1.0
        );
        assert_eq!(np_remainder(1.0, std::f64::consts::PI), 1.0);
    }

    #[test]
    fn eigenvalues_of_2x2() {
        let (s, l) = sym2_eigvals(2.0, 1.0, 2.0);
        assert!((s - 1.0).abs() < 1e-15 && (l - 3.0).abs() < 1e-15);
        assert_eq!(sym2_eigvals(0.5, 0.0, 0.25), (0.25, 0.5));
    }

    #[test]
    fn skimage_ellipse_example() {
        // skimage docstring: ellipse(5, 6, 3, 5, rotation=deg2rad(30)) in a 10x12 image.
        // Our call: centre col 6 row 5, c_radius = half1 = 5, r_radius = half2 = 3.
        let mut img = [[0u8; 12]; 10];
        draw_ellipse_subim(6.0, 5.0, 10.0, 6.0, 30.0, 10, 12, |p| {
            img[p / 12][p % 12] = 1
        });
        let expected = [
            "000000000000",
            "000000000000",
            "000000111100",
            "000011111110",
            "000111111110",
            "001111111110",
            "001111111100",
            "001111111000",
            "000111100000",
            "000000000000",
        ];
        for (row, exp) in img.iter().zip(expected) {
            let s: String = row.iter().map(|&v| char::from(b'0' + v)).collect();
            assert_eq!(s, exp);
        }
    }
}
