//! Bounded nonlinear least squares by the trust-region reflective method, step for step as
//! scipy's `least_squares(method="trf", tr_solver="exact", x_scale=1)` with a forward-difference
//! Jacobian (`jac="2-point"`, relative step `diff_step`), because tso_photometry's PSF widths are
//! whatever that solver returns when it stops — and with fluxes in Jy the gradient is tiny, so
//! it stops on `gtol` after a few steps, well before the exact minimum. Reproducing its
//! iterations (Coleman–Li scaling, the exact trust-region subproblem on an SVD, reflective
//! steps at the bounds, the radius updates and the three stopping tests) reproduces its answer;
//! a different optimiser converging properly would differ by ~1e-4.
//!
//! Small dense problems only (a handful of parameters): the SVD is a one-sided Jacobi.

const EPS: f64 = f64::EPSILON;

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn norm(a: &[f64]) -> f64 {
    dot(a, a).sqrt()
}

fn in_bounds(x: &[f64], lb: &[f64], ub: &[f64]) -> bool {
    x.iter().zip(lb).zip(ub).all(|((x, l), u)| x >= l && x <= u)
}

/// scipy `make_strictly_feasible`.
fn make_strictly_feasible(x: &[f64], lb: &[f64], ub: &[f64], rstep: f64) -> Vec<f64> {
    let mut out = x.to_vec();
    for i in 0..x.len() {
        let active = if rstep == 0.0 {
            if x[i] <= lb[i] {
                -1
            } else if x[i] >= ub[i] {
                1
            } else {
                0
            }
        } else {
            let (ld, ud) = (x[i] - lb[i], ub[i] - x[i]);
            let lt = rstep * 1f64.max(lb[i].abs());
            let ut = rstep * 1f64.max(ub[i].abs());
            if lb[i].is_finite() && ld <= ud.min(lt) {
                -1
            } else if ub[i].is_finite() && ud <= ld.min(ut) {
                1
            } else {
                0
            }
        };
        if rstep == 0.0 {
            if active == -1 {
                out[i] = next_toward(lb[i], ub[i]);
            } else if active == 1 {
                out[i] = next_toward(ub[i], lb[i]);
            }
        } else if active == -1 {
            out[i] = lb[i] + rstep * 1f64.max(lb[i].abs());
        } else if active == 1 {
            out[i] = ub[i] - rstep * 1f64.max(ub[i].abs());
        }
        if out[i] < lb[i] || out[i] > ub[i] {
            out[i] = 0.5 * (lb[i] + ub[i]);
        }
    }
    out
}

/// `np.nextafter(a, b)`.
fn next_toward(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        return f64::NAN;
    }
    if a == b {
        return b;
    }
    if a == 0.0 {
        let tiny = f64::from_bits(1);
        return if b > 0.0 { tiny } else { -tiny };
    }
    let bits = a.to_bits();
    let up = (b > a) == (a > 0.0);
    f64::from_bits(if up { bits + 1 } else { bits - 1 })
}

/// Coleman–Li scaling vector and its derivative.
fn cl_scaling(x: &[f64], g: &[f64], lb: &[f64], ub: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let n = x.len();
    let (mut v, mut dv) = (vec![1.0; n], vec![0.0; n]);
    for i in 0..n {
        if g[i] < 0.0 && ub[i].is_finite() {
            v[i] = ub[i] - x[i];
            dv[i] = -1.0;
        }
        if g[i] > 0.0 && lb[i].is_finite() {
            v[i] = x[i] - lb[i];
            dv[i] = 1.0;
        }
    }
    (v, dv)
}

/// Plane rotation of columns `p < q` (stored as rows of `cols`).
fn rotate(cols: &mut [Vec<f64>], p: usize, q: usize, c: f64, s: f64) {
    let (a, b) = cols.split_at_mut(q);
    for (x, y) in a[p].iter_mut().zip(b[0].iter_mut()) {
        let (xv, yv) = (*x, *y);
        *x = c * xv - s * yv;
        *y = s * xv + c * yv;
    }
}

/// Thin SVD of an `m x n` matrix (row-major, m >= n) by one-sided Jacobi: `(U, s, V)` with
/// `s` descending, `U` m x n, `V` n x n (columns are right singular vectors).
fn svd(a: &[Vec<f64>], n: usize) -> (Vec<Vec<f64>>, Vec<f64>, Vec<Vec<f64>>) {
    let m = a.len();
    let mut u: Vec<Vec<f64>> = (0..n).map(|j| (0..m).map(|i| a[i][j]).collect()).collect();
    let mut v: Vec<Vec<f64>> = (0..n)
        .map(|j| (0..n).map(|i| if i == j { 1.0 } else { 0.0 }).collect())
        .collect();
    for _sweep in 0..60 {
        let mut off = 0.0f64;
        for p in 0..n {
            for q in p + 1..n {
                let alpha = dot(&u[p], &u[p]);
                let beta = dot(&u[q], &u[q]);
                let gamma = dot(&u[p], &u[q]);
                if gamma == 0.0 {
                    continue;
                }
                off = off.max(gamma.abs() / (alpha * beta).sqrt());
                let zeta = (beta - alpha) / (2.0 * gamma);
                let t = zeta.signum() / (zeta.abs() + (1.0 + zeta * zeta).sqrt());
                let t = if zeta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (1.0 + t * t).sqrt();
                let s = c * t;
                rotate(&mut u, p, q, c, s);
                rotate(&mut v, p, q, c, s);
            }
        }
        if off < 1e-15 {
            break;
        }
    }
    let mut sv: Vec<(f64, usize)> = (0..n).map(|j| (norm(&u[j]), j)).collect();
    sv.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap_or(std::cmp::Ordering::Equal));
    let s: Vec<f64> = sv.iter().map(|x| x.0).collect();
    // U columns (as rows of `uu`: uu[k] = k-th left singular vector), V columns.
    let uu: Vec<Vec<f64>> = sv
        .iter()
        .map(|&(sk, j)| {
            u[j].iter()
                .map(|x| if sk > 0.0 { x / sk } else { 0.0 })
                .collect()
        })
        .collect();
    let vv: Vec<Vec<f64>> = sv.iter().map(|&(_, j)| v[j].clone()).collect();
    (uu, s, vv)
}

/// scipy `solve_lsq_trust_region` (exact subproblem via the SVD). `uf` = Uᵀf, `vcols[k]` the
/// k-th right singular vector.
fn solve_tr(
    n: usize,
    m: usize,
    uf: &[f64],
    s: &[f64],
    vcols: &[Vec<f64>],
    delta: f64,
    initial_alpha: f64,
) -> (Vec<f64>, f64) {
    let vdot = |w: &[f64]| -> Vec<f64> {
        (0..n)
            .map(|i| (0..n).map(|k| vcols[k][i] * w[k]).sum())
            .collect()
    };
    let suf: Vec<f64> = (0..n).map(|i| s[i] * uf[i]).collect();
    let full_rank = if m >= n {
        s[n - 1] > EPS * m as f64 * s[0]
    } else {
        false
    };
    if full_rank {
        let w: Vec<f64> = (0..n).map(|i| uf[i] / s[i]).collect();
        let p: Vec<f64> = vdot(&w).iter().map(|x| -x).collect();
        if norm(&p) <= delta {
            return (p, 0.0);
        }
    }
    let phi_d = |alpha: f64| -> (f64, f64) {
        let denom: Vec<f64> = (0..n).map(|i| s[i] * s[i] + alpha).collect();
        let q: Vec<f64> = (0..n).map(|i| suf[i] / denom[i]).collect();
        let p_norm = norm(&q);
        let phi = p_norm - delta;
        let dsum: f64 = (0..n).map(|i| suf[i] * suf[i] / denom[i].powi(3)).sum();
        (phi, -dsum / p_norm)
    };
    let mut alpha_upper = norm(&suf) / delta;
    let mut alpha_lower = if full_rank {
        let (phi, dphi) = phi_d(0.0);
        -phi / dphi
    } else {
        0.0
    };
    let mut alpha = if !full_rank && initial_alpha == 0.0 {
        (0.001 * alpha_upper).max((alpha_lower * alpha_upper).sqrt())
    } else {
        initial_alpha
    };
    for _ in 0..10 {
        if alpha < alpha_lower || alpha > alpha_upper {
            alpha = (0.001 * alpha_upper).max((alpha_lower * alpha_upper).sqrt());
        }
        let (phi, dphi) = phi_d(alpha);
        if phi < 0.0 {
            alpha_upper = alpha;
        }
        let ratio = phi / dphi;
        alpha_lower = alpha_lower.max(alpha - ratio);
        alpha -= (phi + delta) * ratio / delta;
        if phi.abs() < 0.01 * delta {
            break;
        }
    }
    let w: Vec<f64> = (0..n).map(|i| suf[i] / (s[i] * s[i] + alpha)).collect();
    let mut p: Vec<f64> = vdot(&w).iter().map(|x| -x).collect();
    let pn = norm(&p);
    for x in &mut p {
        *x *= delta / pn;
    }
    (p, alpha)
}

/// ½‖J s‖² + ½ sᵀ diag s + sᵀ g.
fn evaluate_quadratic(j: &[Vec<f64>], g: &[f64], s: &[f64], diag: &[f64]) -> f64 {
    let js: Vec<f64> = j.iter().map(|row| dot(row, s)).collect();
    let mut q = dot(&js, &js);
    q += (0..s.len()).map(|i| s[i] * diag[i] * s[i]).sum::<f64>();
    0.5 * q + dot(s, g)
}

/// Coefficients of the 1-D quadratic along `s` from `s0`.
fn build_quadratic_1d(
    j: &[Vec<f64>],
    g: &[f64],
    s: &[f64],
    diag: &[f64],
    s0: Option<&[f64]>,
) -> (f64, f64, f64) {
    let v: Vec<f64> = j.iter().map(|row| dot(row, s)).collect();
    let mut a = dot(&v, &v);
    a += (0..s.len()).map(|i| s[i] * diag[i] * s[i]).sum::<f64>();
    a *= 0.5;
    let mut b = dot(g, s);
    let mut c = 0.0;
    if let Some(s0) = s0 {
        let u: Vec<f64> = j.iter().map(|row| dot(row, s0)).collect();
        b += dot(&u, &v);
        c = 0.5 * dot(&u, &u) + dot(g, s0);
        b += (0..s.len()).map(|i| s0[i] * diag[i] * s[i]).sum::<f64>();
        c += 0.5 * (0..s.len()).map(|i| s0[i] * diag[i] * s0[i]).sum::<f64>();
    }
    (a, b, c)
}

fn minimize_quadratic_1d(a: f64, b: f64, lb: f64, ub: f64, c: f64) -> (f64, f64) {
    let mut t = vec![lb, ub];
    if a != 0.0 {
        let e = -0.5 * b / a;
        if lb < e && e < ub {
            t.push(e);
        }
    }
    let mut best = (t[0], t[0] * (a * t[0] + b) + c);
    for &ti in &t[1..] {
        let y = ti * (a * ti + b) + c;
        if y < best.1 {
            best = (ti, y);
        }
    }
    best
}

/// Smallest step along `s` to a bound, and which components hit it (sign of `s`).
fn step_size_to_bound(x: &[f64], s: &[f64], lb: &[f64], ub: &[f64]) -> (f64, Vec<f64>) {
    let steps: Vec<f64> = (0..x.len())
        .map(|i| {
            if s[i] != 0.0 {
                ((lb[i] - x[i]) / s[i]).max((ub[i] - x[i]) / s[i])
            } else {
                f64::INFINITY
            }
        })
        .collect();
    let min = steps.iter().copied().fold(f64::INFINITY, f64::min);
    let hits = (0..x.len())
        .map(|i| {
            if steps[i] == min {
                s[i].signum() * (s[i] != 0.0) as i32 as f64
            } else {
                0.0
            }
        })
        .collect();
    (min, hits)
}

fn intersect_trust_region(x: &[f64], s: &[f64], delta: f64) -> Option<(f64, f64)> {
    let a = dot(s, s);
    if a == 0.0 {
        return None;
    }
    let b = dot(x, s);
    let c = dot(x, x) - delta * delta;
    if c > 0.0 {
        return None;
    }
    let d = (b * b - a * c).sqrt();
    let q = -(b + d.copysign(b));
    let (t1, t2) = (q / a, c / q);
    Some(if t1 < t2 { (t1, t2) } else { (t2, t1) })
}

/// scipy trf `select_step`: the trust-region step, its reflection at a bound, or the
/// scaled gradient step, whichever lowers the model most. Returns (step, step_h, reduction).
#[allow(clippy::too_many_arguments)]
fn select_step(
    x: &[f64],
    j_h: &[Vec<f64>],
    diag_h: &[f64],
    g_h: &[f64],
    mut p: Vec<f64>,
    mut p_h: Vec<f64>,
    d: &[f64],
    delta: f64,
    lb: &[f64],
    ub: &[f64],
    theta: f64,
) -> (Vec<f64>, Vec<f64>, f64) {
    let n = x.len();
    let xp: Vec<f64> = (0..n).map(|i| x[i] + p[i]).collect();
    if in_bounds(&xp, lb, ub) {
        let v = evaluate_quadratic(j_h, g_h, &p_h, diag_h);
        return (p, p_h, -v);
    }
    let (p_stride, hits) = step_size_to_bound(x, &p, lb, ub);
    let mut r_h = p_h.clone();
    for i in 0..n {
        if hits[i] != 0.0 {
            r_h[i] *= -1.0;
        }
    }
    let mut r: Vec<f64> = (0..n).map(|i| d[i] * r_h[i]).collect();
    for i in 0..n {
        p[i] *= p_stride;
        p_h[i] *= p_stride;
    }
    let x_on_bound: Vec<f64> = (0..n).map(|i| x[i] + p[i]).collect();
    let to_tr = intersect_trust_region(&p_h, &r_h, delta).map_or(0.0, |t| t.1);
    let (to_bound, _) = step_size_to_bound(&x_on_bound, &r, lb, ub);
    let r_stride = to_bound.min(to_tr);
    let (r_stride_l, r_stride_u) = if r_stride > 0.0 {
        let l = (1.0 - theta) * p_stride / r_stride;
        let u = if r_stride == to_bound {
            theta * to_bound
        } else {
            to_tr
        };
        (l, u)
    } else {
        (0.0, -1.0)
    };
    let r_value = if r_stride_l <= r_stride_u {
        let (a, b, c) = build_quadratic_1d(j_h, g_h, &r_h, diag_h, Some(&p_h));
        let (rs, rv) = minimize_quadratic_1d(a, b, r_stride_l, r_stride_u, c);
        for i in 0..n {
            r_h[i] = r_h[i] * rs + p_h[i];
            r[i] = r_h[i] * d[i];
        }
        rv
    } else {
        f64::INFINITY
    };
    for i in 0..n {
        p[i] *= theta;
        p_h[i] *= theta;
    }
    let p_value = evaluate_quadratic(j_h, g_h, &p_h, diag_h);
    let mut ag_h: Vec<f64> = g_h.iter().map(|v| -v).collect();
    let mut ag: Vec<f64> = (0..n).map(|i| d[i] * ag_h[i]).collect();
    let to_tr = delta / norm(&ag_h);
    let (to_bound, _) = step_size_to_bound(x, &ag, lb, ub);
    let ag_stride = if to_bound < to_tr {
        theta * to_bound
    } else {
        to_tr
    };
    let (a, b, _) = build_quadratic_1d(j_h, g_h, &ag_h, diag_h, None);
    let (ag_stride, ag_value) = minimize_quadratic_1d(a, b, 0.0, ag_stride, 0.0);
    for i in 0..n {
        ag_h[i] *= ag_stride;
        ag[i] *= ag_stride;
    }
    if p_value < r_value && p_value < ag_value {
        (p, p_h, -p_value)
    } else if r_value < p_value && r_value < ag_value {
        (r, r_h, -r_value)
    } else {
        (ag, ag_h, -ag_value)
    }
}

/// Options of the solve (scipy names).
#[derive(Debug, Clone, Copy)]
pub struct TrfOptions {
    pub ftol: f64,
    pub xtol: f64,
    pub gtol: f64,
    pub max_nfev: usize,
    /// Relative finite-difference step (`diff_step`).
    pub diff_step: f64,
}

/// Result: the parameters and scipy's termination status (0 = max_nfev, 1 = gtol, 2 = ftol,
/// 3 = xtol, 4 = ftol and xtol).
#[derive(Debug, Clone)]
pub struct TrfResult {
    pub x: Vec<f64>,
    pub status: i32,
    pub nfev: usize,
}

/// Forward-difference Jacobian as scipy's `approx_derivative(method="2-point", rel_step,
/// bounds)`; rows are residuals.
fn jacobian(
    fun: &mut dyn FnMut(&[f64]) -> Vec<f64>,
    x: &[f64],
    f0: &[f64],
    rel: f64,
    lb: &[f64],
    ub: &[f64],
) -> Vec<Vec<f64>> {
    let n = x.len();
    let rstep = EPS.sqrt();
    let mut h: Vec<f64> = (0..n)
        .map(|i| {
            let sign = if x[i] >= 0.0 { 1.0 } else { -1.0 };
            let abs_step = rel * sign * x[i].abs();
            if (x[i] + abs_step) - x[i] == 0.0 {
                rstep * sign * 1f64.max(x[i].abs())
            } else {
                abs_step
            }
        })
        .collect();
    // _adjust_scheme_to_bounds, '1-sided', one step.
    if !(0..n).all(|i| lb[i] == f64::NEG_INFINITY && ub[i] == f64::INFINITY) {
        for i in 0..n {
            let (lower, upper) = (x[i] - lb[i], ub[i] - x[i]);
            let xi = x[i] + h[i];
            let violated = xi < lb[i] || xi > ub[i];
            let fitting = h[i].abs() <= lower.max(upper);
            if violated && fitting {
                h[i] *= -1.0;
            }
            if !fitting {
                h[i] = if upper >= lower { upper } else { -lower };
            }
        }
    }
    let m = f0.len();
    let mut jac = vec![vec![0.0; n]; m];
    for i in 0..n {
        let mut x1 = x.to_vec();
        x1[i] = x[i] + h[i];
        let dx = (x[i] + h[i]) - x[i];
        let f1 = fun(&x1);
        for r in 0..m {
            jac[r][i] = (f1[r] - f0[r]) / dx;
        }
    }
    jac
}

/// scipy `least_squares(fun, x0, bounds=(lb, ub), method="trf", jac="2-point", x_scale=1)`.
/// `None` when `x0` is outside the bounds (scipy raises).
pub fn least_squares(
    fun: &mut dyn FnMut(&[f64]) -> Vec<f64>,
    x0: &[f64],
    lb: &[f64],
    ub: &[f64],
    o: TrfOptions,
) -> Option<TrfResult> {
    let n = x0.len();
    if !in_bounds(x0, lb, ub) {
        return None;
    }
    let mut x = make_strictly_feasible(x0, lb, ub, 1e-10);
    let mut f = fun(&x);
    let m = f.len();
    let mut jac = jacobian(fun, &x, &f, o.diff_step, lb, ub);
    let mut nfev = 1usize;
    let mut cost = 0.5 * dot(&f, &f);
    let grad = |j: &[Vec<f64>], f: &[f64]| -> Vec<f64> {
        (0..n)
            .map(|c| (0..m).map(|r| j[r][c] * f[r]).sum())
            .collect()
    };
    let mut g = grad(&jac, &f);
    let (v0, _) = cl_scaling(&x, &g, lb, ub);
    let mut delta = norm(&(0..n).map(|i| x[i] / v0[i].sqrt()).collect::<Vec<_>>());
    if delta == 0.0 {
        delta = 1.0;
    }
    let mut alpha = 0.0f64;
    let mut status: Option<i32> = None;
    loop {
        let (v, dv) = cl_scaling(&x, &g, lb, ub);
        let g_norm = (0..n).map(|i| (g[i] * v[i]).abs()).fold(0.0, f64::max);
        if g_norm < o.gtol {
            status = Some(1);
        }
        if status.is_some() || nfev == o.max_nfev {
            break;
        }
        let d: Vec<f64> = v.iter().map(|v| v.sqrt()).collect();
        let diag_h: Vec<f64> = (0..n).map(|i| g[i] * dv[i]).collect();
        let g_h: Vec<f64> = (0..n).map(|i| d[i] * g[i]).collect();
        let j_h: Vec<Vec<f64>> = jac
            .iter()
            .map(|row| (0..n).map(|i| row[i] * d[i]).collect())
            .collect();
        let mut aug = j_h.clone();
        for i in 0..n {
            let mut row = vec![0.0; n];
            row[i] = diag_h[i].sqrt();
            aug.push(row);
        }
        let (u, s, vcols) = svd(&aug, n);
        let mut f_aug = f.clone();
        f_aug.extend(std::iter::repeat_n(0.0, n));
        let uf: Vec<f64> = u.iter().map(|col| dot(col, &f_aug)).collect();
        let theta = 0.995f64.max(1.0 - g_norm);
        let mut actual_reduction = -1.0;
        let mut accepted: Option<(Vec<f64>, Vec<f64>, f64)> = None;
        while actual_reduction <= 0.0 && nfev < o.max_nfev {
            let (p_h, a) = solve_tr(n, m, &uf, &s, &vcols, delta, alpha);
            alpha = a;
            let p: Vec<f64> = (0..n).map(|i| d[i] * p_h[i]).collect();
            let (step, step_h, predicted) =
                select_step(&x, &j_h, &diag_h, &g_h, p, p_h, &d, delta, lb, ub, theta);
            let xs: Vec<f64> = (0..n).map(|i| x[i] + step[i]).collect();
            let x_new = make_strictly_feasible(&xs, lb, ub, 0.0);
            let f_new = fun(&x_new);
            nfev += 1;
            let step_h_norm = norm(&step_h);
            if !f_new.iter().all(|v| v.is_finite()) {
                delta = 0.25 * step_h_norm;
                continue;
            }
            let cost_new = 0.5 * dot(&f_new, &f_new);
            actual_reduction = cost - cost_new;
            let ratio = if predicted > 0.0 {
                actual_reduction / predicted
            } else if predicted == 0.0 && actual_reduction == 0.0 {
                1.0
            } else {
                0.0
            };
            let delta_new = if ratio < 0.25 {
                0.25 * step_h_norm
            } else if ratio > 0.75 && step_h_norm > 0.95 * delta {
                delta * 2.0
            } else {
                delta
            };
            let step_norm = norm(&step);
            let ftol_ok = actual_reduction < o.ftol * cost && ratio > 0.25;
            let xtol_ok = step_norm < o.xtol * (o.xtol + norm(&x));
            status = match (ftol_ok, xtol_ok) {
                (true, true) => Some(4),
                (true, false) => Some(2),
                (false, true) => Some(3),
                _ => None,
            };
            accepted = Some((x_new, f_new, cost_new));
            if status.is_some() {
                break;
            }
            alpha *= delta / delta_new;
            delta = delta_new;
        }
        if actual_reduction > 0.0 {
            let (xn, fnew, cn) = accepted.expect("a step was evaluated");
            x = xn;
            f = fnew;
            cost = cn;
            jac = jacobian(fun, &x, &f, o.diff_step, lb, ub);
            g = grad(&jac, &f);
        }
    }
    Some(TrfResult {
        x,
        status: status.unwrap_or(0),
        nfev,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fits_an_exponential_within_bounds() {
        let ts: Vec<f64> = (0..20).map(|i| i as f64 * 0.25).collect();
        let ys: Vec<f64> = ts.iter().map(|t| 3.0 * (-0.7 * t).exp() + 0.5).collect();
        let mut fun = |p: &[f64]| -> Vec<f64> {
            ts.iter()
                .zip(&ys)
                .map(|(t, y)| p[0] * (-p[1] * t).exp() + p[2] - y)
                .collect()
        };
        let o = TrfOptions {
            ftol: 1e-12,
            xtol: 1e-12,
            gtol: 1e-12,
            max_nfev: 200,
            diff_step: 1.4901161193847656e-08,
        };
        let r = least_squares(
            &mut fun,
            &[1.0, 0.1, 0.0],
            &[0.0, 0.0, 0.0],
            &[10.0, 5.0, 1.0],
            o,
        )
        .unwrap();
        // scipy 1.17 on the same problem: x = [3.28911429, 0.448076554, 1e-10] (a stationary
        // point on the bound), status 2 (ftol), 27 evaluations.
        assert_eq!((r.status, r.nfev), (2, 27), "{r:?}");
        assert!((r.x[0] - 3.28911429).abs() < 1e-7, "{r:?}");
        assert!((r.x[1] - 0.448076554).abs() < 1e-8, "{r:?}");
        assert_eq!(r.x[2], 1e-10);
        assert!(least_squares(&mut fun, &[-1.0, 0.1, 0.0], &[0.0; 3], &[10.0; 3], o).is_none());
    }

    #[test]
    fn svd_reconstructs() {
        let a = vec![
            vec![1.0, 2.0, 0.5],
            vec![0.0, 1.0, 3.0],
            vec![4.0, 0.1, 1.0],
            vec![1.0, 1.0, 1.0],
        ];
        let (u, s, v) = svd(&a, 3);
        for i in 0..4 {
            for j in 0..3 {
                let r: f64 = (0..3).map(|k| u[k][i] * s[k] * v[k][j]).sum();
                assert!((r - a[i][j]).abs() < 1e-12);
            }
        }
        assert!(s[0] >= s[1] && s[1] >= s[2]);
    }
}
