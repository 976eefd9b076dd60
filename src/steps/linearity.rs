//! linearity, classic path (spec §9): each non-saturated group value x becomes Σ c_k x^k, evaluated
//! by Horner's rule in float32 exactly as numpy does it (no fused multiply-add: Rust never
//! contracts `a * b + c` on its own). Groups flagged SATURATED keep their value; DO_NOT_USE and
//! A/D-floor groups are corrected like any other.
//!
//! Read-level path (INV_COEFFS in the reference and NFRAMES > 1): each group is the mean of
//! NFRAMES reads, so the correction is applied to simulated reads instead
//! ([`correct_ramp_reads`]). It needs the k-th group of the ramp, near its end, to correct the
//! first: the exact driver applies it to each integration once all its groups are corrected up
//! to linearity.
//!
//! Coefficients are prepared by `frames::refs` (benign identity polynomial and NO_LIN_CORR for
//! flagged, NaN or zero-linear-term pixels) and stored pixel-major, `ncoeff` values per pixel.

use frames::dq;

/// Evaluate the correction polynomial for one value: `((c[n-1]·x + c[n-2])·x + … + c[1])·x + c[0]`.
#[inline]
pub fn polynomial(x: f32, c: &[f32]) -> f32 {
    let n = c.len();
    let mut r = c[n - 1] * x;
    for j in (1..n - 1).rev() {
        r += c[j];
        r *= x;
    }
    r + c[0]
}

/// Correct one plane (or row run) of values; `coeffs` holds `ncoeff` values per pixel.
pub fn correct_plane(values: &mut [f32], gdq: &[u8], coeffs: &[f32], ncoeff: usize) {
    for ((v, &g), c) in values.iter_mut().zip(gdq).zip(coeffs.chunks_exact(ncoeff)) {
        if g & dq::G_SATURATED == 0 {
            *v = polynomial(*v, c);
        }
    }
}

/// Plane-major coefficients of a run of pixels: `planes[k * npix + p]` is coefficient k of
/// pixel p. The same arithmetic as [`correct_plane`], laid out so it vectorises across pixels.
pub fn transpose_coeffs(coeffs: &[f32], ncoeff: usize) -> Vec<f32> {
    let npix = coeffs.len() / ncoeff;
    let mut planes = vec![0.0f32; coeffs.len()];
    for (p, c) in coeffs.chunks_exact(ncoeff).enumerate() {
        for (k, &v) in c.iter().enumerate() {
            planes[k * npix + p] = v;
        }
    }
    planes
}

/// [`correct_plane`] with plane-major coefficients ([`transpose_coeffs`]): Horner's rule run
/// across a block of pixels at a time, step by step in the same order, so each value gets the
/// same float32 roundings.
pub fn correct_plane_planar(values: &mut [f32], gdq: &[u8], planes: &[f32], ncoeff: usize) {
    const BLOCK: usize = 256;
    let npix = values.len();
    debug_assert_eq!(planes.len(), npix * ncoeff);
    let coeff = |k: usize, range: std::ops::Range<usize>| {
        &planes[k * npix + range.start..k * npix + range.end]
    };
    let mut r = [0.0f32; BLOCK];
    for start in (0..npix).step_by(BLOCK) {
        let end = (start + BLOCK).min(npix);
        let x = &mut values[start..end];
        let r = &mut r[..end - start];
        for ((r, &x), &c) in r
            .iter_mut()
            .zip(x.iter())
            .zip(coeff(ncoeff - 1, start..end))
        {
            *r = c * x;
        }
        for j in (1..ncoeff - 1).rev() {
            for ((r, &x), &c) in r.iter_mut().zip(x.iter()).zip(coeff(j, start..end)) {
                *r = (*r + c) * x;
            }
        }
        for (((x, &r), &c), &g) in x
            .iter_mut()
            .zip(r.iter())
            .zip(coeff(0, start..end))
            .zip(&gdq[start..end])
        {
            let corrected = r + c;
            *x = if g & dq::G_SATURATED == 0 {
                corrected
            } else {
                *x
            };
        }
    }
}

/// ZEROFRAME: zero means "bad" and stays zero; other values are corrected.
pub fn correct_zeroframe(values: &mut [f32], coeffs: &[f32], ncoeff: usize) {
    for (v, c) in values.iter_mut().zip(coeffs.chunks_exact(ncoeff)) {
        if *v != 0.0 {
            *v = polynomial(*v, c);
        }
    }
}

/// The read pattern of the read-level path (spec §9, §7): group g averages the frames
/// `g·N + 1 ..= g·N + N` (1-based, N = NFRAMES, GROUPGAP ignored as the official step does).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadPattern {
    pub nframes: usize,
}

impl ReadPattern {
    /// Frame number (1-based) of read j of group g.
    #[inline]
    fn read(&self, g: usize, j: usize) -> f64 {
        (g * self.nframes + j + 1) as f64
    }

    /// Mean frame number of group g: the sum of its frame numbers (exact in f64) divided by N.
    #[inline]
    fn mean(&self, g: usize) -> f64 {
        let sum: f64 = (0..self.nframes).map(|j| self.read(g, j)).sum();
        sum / self.nframes as f64
    }
}

/// Horner's rule in float64 with float32 coefficients, in numpy's order (what the read-level
/// path does with its float64 simulated reads): `r = c[n-1]·x; r += c[j]; r *= x; …; r += c[0]`.
#[inline]
pub fn polynomial_f64(x: f64, c: &[f32]) -> f64 {
    let n = c.len();
    let mut r = c[n - 1] as f64 * x;
    for j in (1..n - 1).rev() {
        r += c[j] as f64;
        r *= x;
    }
    r + c[0] as f64
}

/// Read-level linearity of one pixel's ramp of one integration (spec §9, stcal 1.20.0
/// `_linearity_correction_tile`, used when the reference has INV_COEFFS and NFRAMES > 1).
///
/// `x`/`q`: the ramp's values and GROUPDQ, one per group (at least 2 groups); `lin`/`inv`: the
/// pixel's prepared COEFFS and INV_COEFFS (benign where bad). With `nu` = (non-SATURATED groups)
/// − 1, at least 2, and `k = nu − 1`: the first and k-th groups are linearized (float32, left
/// alone where SATURATED) and give a rate per read in float64,
/// `rate = f64(Fk − F0) / (m_k − m_0)`. Every non-SATURATED group g is then replaced by the mean
/// over its reads of `lin(U_j)`, with the simulated reads `U_j = inv(F0 + rate·(r_j − m_0))`
/// shifted so that their mean is `x[g]` — all in float64, sums in read order, then rounded to
/// float32. SATURATED groups keep their value.
pub fn correct_ramp_reads(
    x: &mut [f32],
    q: &[u8],
    lin: &[f32],
    inv: &[f32],
    rp: ReadPattern,
    reads: &mut Vec<f64>,
) {
    let ngroups = x.len();
    debug_assert!(ngroups >= 2 && q.len() == ngroups);
    let sat = |g: usize| q[g] & dq::G_SATURATED != 0;
    let unsaturated = (0..ngroups).filter(|&g| !sat(g)).count();
    let nu = unsaturated.saturating_sub(1).max(2);
    let k = nu - 1;
    let lin_f32 = |g: usize| if sat(g) { x[g] } else { polynomial(x[g], lin) };
    let first = lin_f32(0);
    let last = lin_f32(k);
    let m0 = rp.mean(0);
    let rate = (last - first) as f64 / (rp.mean(k) - m0);
    let n = rp.nframes;
    reads.resize(n, 0.0);
    for (g, (xg, &qg)) in x.iter_mut().zip(q).enumerate() {
        if qg & dq::G_SATURATED != 0 {
            continue;
        }
        for (j, u) in reads.iter_mut().enumerate() {
            let linear = first as f64 + rate * (rp.read(g, j) - m0);
            *u = polynomial_f64(linear, inv);
        }
        let offset = *xg as f64 - sum_in_order(reads) / n as f64;
        for u in reads.iter_mut() {
            *u = polynomial_f64(*u + offset, lin);
        }
        *xg = (sum_in_order(reads) / n as f64) as f32;
    }
}

/// numpy's `sum(axis=0)` over the reads axis: one addition after another, in read order.
#[inline]
fn sum_in_order(v: &[f64]) -> f64 {
    let mut s = v[0];
    for &u in &v[1..] {
        s += u;
    }
    s
}

/// Pixels per block of the read-level path.
const BLOCK: usize = 64;

/// [`correct_ramp_reads`] on one integration of a run of pixels held plane-major
/// (`values[g * npix + p]`, the same for `gdq`), with pixel-major coefficients (`lin[p * ncoeff
/// ..]`, `inv[p * ninv ..]`). A block of pixels at a time, each step across the block (so it
/// vectorises), with the same operations in the same order per pixel: the same bits.
#[allow(clippy::too_many_arguments)]
pub fn correct_integration_reads(
    values: &mut [f32],
    gdq: &[u8],
    ngroups: usize,
    lin: &[f32],
    ncoeff: usize,
    inv: &[f32],
    ninv: usize,
    rp: ReadPattern,
) {
    let npix = values.len() / ngroups;
    debug_assert!(ngroups >= 2);
    debug_assert_eq!(values.len(), npix * ngroups);
    debug_assert_eq!(gdq.len(), values.len());
    debug_assert_eq!(lin.len(), npix * ncoeff);
    debug_assert_eq!(inv.len(), npix * ninv);
    let n = rp.nframes;
    let m0 = rp.mean(0);
    // Block scratch: coefficients plane-major in f64, per-pixel first value and rate, reads.
    let mut lc = vec![0f64; ncoeff * BLOCK];
    let mut ic = vec![0f64; ninv * BLOCK];
    let mut first = [0f32; BLOCK];
    let mut rate = [0f64; BLOCK];
    let mut offset = [0f64; BLOCK];
    let mut reads = vec![0f64; n * BLOCK];
    for p0 in (0..npix).step_by(BLOCK) {
        let b = BLOCK.min(npix - p0);
        let mut unsaturated = [0usize; BLOCK];
        for g in 0..ngroups {
            let flags = &gdq[g * npix + p0..g * npix + p0 + b];
            for (u, &q) in unsaturated.iter_mut().zip(flags) {
                *u += (q & dq::G_SATURATED == 0) as usize;
            }
        }
        for i in 0..b {
            let p = p0 + i;
            for (c, &v) in lin[p * ncoeff..(p + 1) * ncoeff].iter().enumerate() {
                lc[c * BLOCK + i] = v as f64;
            }
            for (c, &v) in inv[p * ninv..(p + 1) * ninv].iter().enumerate() {
                ic[c * BLOCK + i] = v as f64;
            }
            let sat = |g: usize| gdq[g * npix + p] & dq::G_SATURATED != 0;
            let k = unsaturated[i].saturating_sub(1).max(2) - 1;
            let c = &lin[p * ncoeff..(p + 1) * ncoeff];
            let lin_f32 = |g: usize| {
                let x = values[g * npix + p];
                if sat(g) {
                    x
                } else {
                    polynomial(x, c)
                }
            };
            first[i] = lin_f32(0);
            rate[i] = (lin_f32(k) - first[i]) as f64 / (rp.mean(k) - m0);
        }
        for g in 0..ngroups {
            // Simulated reads, unlinearized: U_j = inv(F0 + rate·(r_j − m_0)).
            for j in 0..n {
                let s = rp.read(g, j) - m0;
                let u = &mut reads[j * BLOCK..j * BLOCK + b];
                for ((u, &f), &r) in u.iter_mut().zip(&first[..b]).zip(&rate[..b]) {
                    *u = f as f64 + r * s;
                }
                horner_block(u, &ic, ninv);
            }
            // Shifted so that their mean is the group's value, then linearized.
            let row = &mut values[g * npix + p0..g * npix + p0 + b];
            mean_of_reads(&reads, n, b, &mut offset[..b]);
            for (o, &x) in offset[..b].iter_mut().zip(row.iter()) {
                *o = x as f64 - *o;
            }
            for j in 0..n {
                let u = &mut reads[j * BLOCK..j * BLOCK + b];
                for (u, &o) in u.iter_mut().zip(&offset[..b]) {
                    *u += o;
                }
                horner_block(u, &lc, ncoeff);
            }
            mean_of_reads(&reads, n, b, &mut offset[..b]);
            let flags = &gdq[g * npix + p0..g * npix + p0 + b];
            for ((x, &m), &q) in row.iter_mut().zip(&offset[..b]).zip(flags) {
                if q & dq::G_SATURATED == 0 {
                    *x = m as f32;
                }
            }
        }
    }
}

/// [`polynomial_f64`] across a block: `x[i]` becomes Σ c_k x^k with `coeffs[k * BLOCK + i]`,
/// Horner step by step in numpy's order, a few lanes at a time kept in registers.
#[inline]
fn horner_block(x: &mut [f64], coeffs: &[f64], n: usize) {
    const LANES: usize = 8;
    let b = x.len();
    let mut i0 = 0;
    while i0 < b {
        let w = LANES.min(b - i0);
        if w == LANES {
            let xs: [f64; LANES] = x[i0..i0 + LANES].try_into().expect("lanes");
            let c = |k: usize| -> &[f64; LANES] {
                coeffs[k * BLOCK + i0..k * BLOCK + i0 + LANES]
                    .try_into()
                    .expect("lanes")
            };
            let mut r = [0f64; LANES];
            let top = c(n - 1);
            for l in 0..LANES {
                r[l] = top[l] * xs[l];
            }
            for k in (1..n - 1).rev() {
                let ck = c(k);
                for l in 0..LANES {
                    r[l] = (r[l] + ck[l]) * xs[l];
                }
            }
            let c0 = c(0);
            for l in 0..LANES {
                x[i0 + l] = r[l] + c0[l];
            }
        } else {
            for i in i0..b {
                let xi = x[i];
                let mut r = coeffs[(n - 1) * BLOCK + i] * xi;
                for k in (1..n - 1).rev() {
                    r = (r + coeffs[k * BLOCK + i]) * xi;
                }
                x[i] = r + coeffs[i];
            }
        }
        i0 += w;
    }
}

/// Per pixel of a block, the mean of its `n` reads (`reads[j * BLOCK + i]`): summed in read
/// order, then divided by `n`.
#[inline]
fn mean_of_reads(reads: &[f64], n: usize, b: usize, out: &mut [f64]) {
    out.copy_from_slice(&reads[..b]);
    for j in 1..n {
        for (o, &u) in out.iter_mut().zip(&reads[j * BLOCK..j * BLOCK + b]) {
            *o += u;
        }
    }
    for o in out.iter_mut() {
        *o /= n as f64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn horner_matches_numpy_order() {
        let c = [0.5f32, 1.01, 2.0e-6, -3.0e-11, 4.0e-16];
        let x = 30000.0f32;
        // numpy: r = c4*x; r += c3; r *= x; r += c2; r *= x; r += c1; r *= x; r += c0 (all f32)
        let mut r = c[4] * x;
        r += c[3];
        r *= x;
        r += c[2];
        r *= x;
        r += c[1];
        r *= x;
        r += c[0];
        assert_eq!(polynomial(x, &c).to_bits(), r.to_bits());
    }

    #[test]
    fn saturated_groups_are_left_alone() {
        let c = [0.0f32, 2.0, 0.0];
        let mut v = [1.0f32, 1.0];
        correct_plane(&mut v, &[0, dq::G_SATURATED], &[c, c].concat(), 3);
        assert_eq!(v, [2.0, 1.0]);
    }

    #[test]
    fn planar_layout_gives_the_same_bits() {
        let npix = 700;
        let ncoeff = 5;
        let coeffs: Vec<f32> = (0..npix * ncoeff)
            .map(|i| match i % ncoeff {
                0 => (i % 13) as f32 * 0.25 - 1.0,
                1 => 1.0 + (i % 7) as f32 * 1e-3,
                2 => (i % 11) as f32 * 1e-6,
                3 => -((i % 5) as f32) * 1e-11,
                _ => (i % 3) as f32 * 1e-16,
            })
            .collect();
        let values: Vec<f32> = (0..npix).map(|p| (p * 97 % 40000) as f32 + 0.37).collect();
        let gdq: Vec<u8> = (0..npix)
            .map(|p| if p % 9 == 0 { dq::G_SATURATED } else { 0 })
            .collect();
        let mut a = values.clone();
        correct_plane(&mut a, &gdq, &coeffs, ncoeff);
        let mut b = values;
        correct_plane_planar(&mut b, &gdq, &transpose_coeffs(&coeffs, ncoeff), ncoeff);
        assert!(a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()));
    }
    /// The test ramps of `read_level_matches_stcal`: pixel p, group g.
    fn test_ramps(ngroups: usize, sat_from: &[Option<usize>]) -> (Vec<f32>, Vec<u8>) {
        let npix = sat_from.len();
        let mut x = vec![0f32; ngroups * npix];
        let mut q = vec![0u8; ngroups * npix];
        for (p, s) in sat_from.iter().enumerate() {
            for g in 0..ngroups {
                let gf = g as f64;
                x[g * npix + p] =
                    (1000.25 + (7000.5 + 333.125 * p as f64) * gf + 0.75 * gf * gf) as f32;
                if s.is_some_and(|s| g >= s) {
                    q[g * npix + p] |= dq::G_SATURATED;
                }
            }
        }
        (x, q)
    }

    /// Bits made by stcal 1.20.0 `linearity_correction_int` (read-level path) on the same ramps,
    /// COEFFS = [0.5, 1.0012, 3.1e-6, 1.05e-11, 0.9e-16], INV_COEFFS = [-0.4, 0.9988, -2.9e-6,
    /// 1.2e-11] (float32), read pattern `[[g·N + 1 ..= g·N + N]]`: saturation from groups
    /// none, 5, 3, 2, 1, 0 (the nu = max(#unsaturated − 1, 2) rule, a SATURATED k-th group, an
    /// all-saturated ramp) and a DO_NOT_USE group (corrected like any other).
    #[test]
    fn read_level_matches_stcal() {
        let lin = [0.5f32, 1.0012, 3.1e-6, 1.05e-11, 0.9e-16];
        let inv = [-0.4f32, 0.99880, -2.9e-6, 1.2e-11];
        #[rustfmt::skip]
        type Case<'a> = (usize, usize, &'a [Option<usize>], &'a [[u32; 6]]);
        let cases: [Case; 2] = [
            (
                6,
                2,
                &[None, Some(5), Some(3), Some(2), Some(1), Some(0), None],
                &[
                    [
                        0x447e28e7, 0x46008d33, 0x467670e1, 0x46b9038b, 0x46f9ef27, 0x471f2684,
                    ],
                    [
                        0x447e4f4d, 0x46060c4f, 0x4680fa2a, 0x46c21527, 0x47035532, 0x47133720,
                    ],
                    [
                        0x447e49d8, 0x460b8bd6, 0x4686c140, 0x46bb8e80, 0x46f77e80, 0x4719b8c0,
                    ],
                    [
                        0x447e905e, 0x461112ef, 0x4684d600, 0x46c35d40, 0x4700f3c0, 0x47203a60,
                    ],
                    [
                        0x447e9d2c, 0x4611d800, 0x468a0a80, 0x46cb2c00, 0x47062840, 0x4726bc00,
                    ],
                    [
                        0x447a1000, 0x46170c80, 0x468f3f00, 0x46d2fac0, 0x470b5cc0, 0x472d3da0,
                    ],
                    [
                        0x44802b0d, 0x4621c8dc, 0x469e30d5, 0x46f071ff, 0x47242750, 0x4753450a,
                    ],
                ],
            ),
            (
                6,
                8,
                &[None, Some(5), Some(3), Some(2), Some(1), Some(0)],
                &[
                    [
                        0x447f109c, 0x46009b8e, 0x46767f50, 0x46b90ae5, 0x46f9f6b9, 0x471f2a74,
                    ],
                    [
                        0x447f4306, 0x46061b6f, 0x468101cb, 0x46c21cf2, 0x4703593a, 0x47133720,
                    ],
                    [
                        0x447f3bdc, 0x460b9aec, 0x4686c8e5, 0x46bb8e80, 0x46f77e80, 0x4719b8c0,
                    ],
                    [
                        0x447f9876, 0x46112365, 0x4684d600, 0x46c35d40, 0x4700f3c0, 0x47203a60,
                    ],
                    [
                        0x447fa946, 0x4611d800, 0x468a0a80, 0x46cb2c00, 0x47062840, 0x4726bc00,
                    ],
                    [
                        0x447a1000, 0x46170c80, 0x468f3f00, 0x46d2fac0, 0x470b5cc0, 0x472d3da0,
                    ],
                ],
            ),
        ];
        for (ngroups, nframes, sat_from, want) in cases {
            let npix = sat_from.len();
            let (mut x, mut q) = test_ramps(ngroups, sat_from);
            if nframes == 2 {
                q[2 * npix + 6] |= dq::G_DO_NOT_USE;
            }
            let lin_pm: Vec<f32> = (0..npix).flat_map(|_| lin).collect();
            let inv_pm: Vec<f32> = (0..npix).flat_map(|_| inv).collect();
            let rp = ReadPattern { nframes };
            correct_integration_reads(&mut x, &q, ngroups, &lin_pm, 5, &inv_pm, 4, rp);
            for (p, w) in want.iter().enumerate() {
                let got: Vec<u32> = (0..ngroups).map(|g| x[g * npix + p].to_bits()).collect();
                assert_eq!(got, w.to_vec(), "NFRAMES {nframes}, pixel {p}");
            }
        }
    }

    /// Two groups (NFRAMES = 4): k is always group 1; stcal 1.20.0 bits.
    #[test]
    fn read_level_two_groups() {
        let lin = [0.5f32, 1.0012, 3.1e-6, 1.05e-11, 0.9e-16];
        let inv = [-0.4f32, 0.99880, -2.9e-6, 1.2e-11];
        let want = [
            [0x447e6723u32, 0x46009159],
            [0x447e81d4, 0x46023a80],
            [0x447a1000, 0x46076f00],
        ];
        let (x, q) = test_ramps(2, &[None, Some(1), Some(0)]);
        let mut reads = Vec::new();
        for (p, w) in want.iter().enumerate() {
            let mut r = [x[p], x[3 + p]];
            let rq = [q[p], q[3 + p]];
            correct_ramp_reads(
                &mut r,
                &rq,
                &lin,
                &inv,
                ReadPattern { nframes: 4 },
                &mut reads,
            );
            assert_eq!([r[0].to_bits(), r[1].to_bits()], *w, "pixel {p}");
        }
    }

    /// Exact inverse coefficients of an identity correction leave every group unchanged, and
    /// more pixels than one gather block give the same result as one pixel at a time.
    #[test]
    fn read_level_blocks_and_identity() {
        let (ngroups, npix) = (4, 150);
        let sat: Vec<Option<usize>> = (0..npix).map(|p| [None, Some(2), Some(1)][p % 3]).collect();
        let (x0, q) = test_ramps(ngroups, &sat);
        let ident: Vec<f32> = (0..npix).flat_map(|_| [0.0f32, 1.0]).collect();
        let mut x = x0.clone();
        let rp = ReadPattern { nframes: 2 };
        correct_integration_reads(&mut x, &q, ngroups, &ident, 2, &ident, 2, rp);
        assert_eq!(x, x0);
        let lin: Vec<f32> = (0..npix)
            .flat_map(|p| [0.0f32, 1.0 + p as f32 * 1e-4, 2.0e-6, 1.0e-11])
            .collect();
        let inv: Vec<f32> = (0..npix)
            .flat_map(|p| [0.0f32, 1.0 - p as f32 * 1e-4, -2.0e-6, 0.0])
            .collect();
        let mut a = x0.clone();
        correct_integration_reads(&mut a, &q, ngroups, &lin, 4, &inv, 4, rp);
        let mut reads = Vec::new();
        for p in 0..npix {
            let mut r: Vec<f32> = (0..ngroups).map(|g| x0[g * npix + p]).collect();
            let rq: Vec<u8> = (0..ngroups).map(|g| q[g * npix + p]).collect();
            let (l, i) = (&lin[p * 4..p * 4 + 4], &inv[p * 4..p * 4 + 4]);
            correct_ramp_reads(&mut r, &rq, l, i, rp, &mut reads);
            for g in 0..ngroups {
                assert_eq!(
                    a[g * npix + p].to_bits(),
                    r[g].to_bits(),
                    "pixel {p} group {g}"
                );
            }
        }
    }
}
