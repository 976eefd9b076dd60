//! saturation (spec §7; stcal `flag_saturated_pixels`): flag groups at or above the per-pixel
//! threshold (and every later group), A/D-floor groups, "diluted" saturation hidden by frame
//! averaging, and saturation that shows only from the second group. Runs on group-scaled raw DN,
//! before superbias.
//!
//! The kernel works on one integration of a rectangular tile of pixels stored plane-major
//! (`[group][row][col]`). Box dilation looks `n_pix_grow_sat` pixels around each saturated pixel;
//! at the tile border it is truncated, which is exact at the frame border, and elsewhere the
//! driver gives the tile a halo at least `n_pix_grow_sat` wide and discards the halo's flags.

// Several arrays are indexed in lock-step per pixel; explicit indices read clearer here.
#![allow(clippy::needless_range_loop)]

use frames::dq;

/// Step parameters with the official names and defaults.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SaturationParams {
    pub n_pix_grow_sat: usize,
    pub use_readpatt: bool,
}

impl Default for SaturationParams {
    fn default() -> Self {
        SaturationParams {
            n_pix_grow_sat: 1,
            use_readpatt: true,
        }
    }
}

/// The frame-averaging ("read pattern") quantities the diluted and second-group checks use,
/// derived from NFRAMES only (the official step ignores GROUPGAP here).
#[derive(Debug, Clone, PartialEq)]
pub struct ReadPattern {
    /// `mean(rp[g]) / rp[g][-1]` per group (float64, as numpy computes it).
    pub dilution: Vec<f64>,
    /// `mean(rp[0])`.
    pub mean_first: f64,
    /// `rp[2][-1]` (last frame number of the third group).
    pub last_of_third: f64,
    /// `len(rp[1])` = NFRAMES.
    pub nframes: usize,
}

impl ReadPattern {
    /// Frame numbers of group g are `g·N+1 … g·N+N` (1-based).
    pub fn new(nframes: usize, ngroups: usize) -> ReadPattern {
        let n = nframes as f64;
        let mean_of = |g: usize| {
            // numpy mean of a list of ints: pairwise sum of float64 then divide; for these small
            // exact integers the sum is exact.
            let first = (g * nframes + 1) as f64;
            let last = (g * nframes + nframes) as f64;
            (first + last) * n / 2.0 / n
        };
        let dilution = (0..ngroups)
            .map(|g| mean_of(g) / ((g * nframes + nframes) as f64))
            .collect();
        ReadPattern {
            dilution,
            mean_first: mean_of(0),
            last_of_third: (2 * nframes + nframes) as f64,
            nframes,
        }
    }
}

/// Per-pixel threshold prepared from the SATURATION reference: `threshold` is 65536 where the
/// pixel is not checked (`nosat`: NO_SAT_CHECK in the reference DQ or a NaN threshold).
pub struct Thresholds<'a> {
    pub threshold: &'a [f32],
    pub nosat: &'a [bool],
    /// Superbias (not NaN-cleaned, as the official step passes it), for the second-group test.
    pub bias: Option<&'a [f32]>,
}

/// Tile geometry: `rows × cols` pixels per plane, `ngroups` planes per integration.
#[derive(Debug, Clone, Copy)]
pub struct Tile {
    pub rows: usize,
    pub cols: usize,
    pub ngroups: usize,
}

impl Tile {
    fn npix(&self) -> usize {
        self.rows * self.cols
    }
}

/// Flag one integration of a tile. `values` and `gdq` hold `ngroups` planes of `rows·cols`
/// pixels; `thr` covers the tile's pixels; `scratch` is reused between calls.
pub fn flag_integration(
    tile: Tile,
    values: &[f32],
    gdq: &mut [u8],
    thr: &Thresholds<'_>,
    params: &SaturationParams,
    read_pattern: Option<&ReadPattern>,
    scratch: &mut SaturationScratch,
) {
    let np = tile.npix();
    scratch.ever.clear();
    scratch.ever.resize(np, false);
    scratch.mask.resize(np, false);
    let n = params.n_pix_grow_sat;

    // Forward pass: sticky saturation, one-group A/D floor, then dilation of this group's SAT.
    for g in 0..tile.ngroups {
        let plane = &values[g * np..(g + 1) * np];
        let flags = &mut gdq[g * np..(g + 1) * np];
        // Branch-free (flags are OR-ed in by multiplying a 0/1), so the loop vectorises.
        for (((&v, &t), ever), f) in plane
            .iter()
            .zip(&thr.threshold[..np])
            .zip(scratch.ever.iter_mut())
            .zip(flags.iter_mut())
        {
            *ever |= v >= t;
            *f |= (*ever as u8 * dq::G_SATURATED)
                | ((v <= 0.0) as u8 * (dq::G_AD_FLOOR | dq::G_DO_NOT_USE));
        }
        if n > 0 {
            // Saturation is sticky, so the mask usually equals the previous group's: its
            // dilation is then the same too, and only OR-ed in again (one pass instead of the
            // two of the dilation; 70 x 10 x 256 x 2048: ~0.7 of 0.85 s).
            let mut any = false;
            let mut changed = g == 0;
            for (m, &f) in scratch.mask.iter_mut().zip(flags.iter()) {
                let sat = f & dq::G_SATURATED != 0;
                changed |= *m != sat;
                *m = sat;
                any |= sat;
            }
            // Growing an empty mask adds nothing: skip the two passes.
            if any {
                if changed {
                    scratch.grown.clear();
                    scratch.grown.resize(np, 0);
                    dilate_into(
                        tile,
                        &scratch.mask,
                        n,
                        &mut scratch.grown,
                        dq::G_SATURATED,
                        &mut scratch.dilated,
                    );
                }
                for (f, &grown) in flags.iter_mut().zip(&scratch.grown) {
                    *f |= grown;
                }
            }
        }
    }

    let Some(rp) = read_pattern else { return };

    // Backward pass: saturation diluted by frame averaging, flagged DO_NOT_USE (not cascaded).
    for g in (0..tile.ngroups.saturating_sub(1)).rev() {
        let f = rp.dilution[g];
        if f == 1.0 {
            continue;
        }
        let plane = &values[g * np..(g + 1) * np];
        let (head, tail) = gdq.split_at_mut((g + 1) * np);
        let this = &mut head[g * np..];
        let next = &tail[..np];
        let mut any = false;
        for k in 0..np {
            let factor = if thr.nosat[k] { 1.0 } else { f };
            let hit = (plane[k] as f64) >= (thr.threshold[k] as f64) * factor
                && this[k] & (dq::G_SATURATED | dq::G_DO_NOT_USE) == 0
                && next[k] & dq::G_SATURATED != 0;
            scratch.mask[k] = hit;
            any |= hit;
        }
        if !any {
            continue;
        }
        if n > 0 {
            dilate_into(
                tile,
                &scratch.mask,
                n,
                this,
                dq::G_DO_NOT_USE,
                &mut scratch.dilated,
            );
        } else {
            for k in 0..np {
                if scratch.mask[k] {
                    this[k] |= dq::G_DO_NOT_USE;
                }
            }
        }
    }

    // Saturation that only shows in the third group after a huge jump in the second.
    if tile.ngroups > 2 {
        let x0 = &values[..np];
        let x1 = &values[np..2 * np];
        let (g01, rest) = gdq.split_at_mut(2 * np);
        let dq1 = &mut g01[np..];
        let dq2 = &rest[..np];
        let len1 = rp.nframes as f32;
        for k in 0..np {
            let t = thr.threshold[k];
            let b = thr.bias.map_or(0.0f32, |b| b[k]);
            // numpy: (x0 - b) is float32; dividing by a float64 scalar promotes to float64.
            let projected = ((x0[k] - b) as f64 / rp.mean_first) * rp.last_of_third + b as f64;
            let quiet_start = projected < t as f64;
            let big_step = (x1[k] - x0[k]) > (t - x0[k]) / len1;
            let newly = dq2[k] & dq::G_SATURATED != 0 && dq1[k] & dq::G_SATURATED == 0;
            if quiet_start && big_step && newly {
                dq1[k] |= dq::G_DO_NOT_USE;
            }
        }
    }
}

/// ZEROFRAME check (one plane): SATURATED where z ≥ T, A/D floor where z ≤ 0, SAT dilated; every
/// flagged value is zeroed ("bad" for later steps).
pub fn flag_zeroframe(
    tile: Tile,
    z: &mut [f32],
    thr: &Thresholds<'_>,
    params: &SaturationParams,
    scratch: &mut SaturationScratch,
) {
    let np = tile.npix();
    let mut flags = vec![0u8; np];
    for k in 0..np {
        if z[k] >= thr.threshold[k] {
            flags[k] |= dq::G_SATURATED;
        }
        if z[k] <= 0.0 {
            flags[k] |= dq::G_AD_FLOOR | dq::G_DO_NOT_USE;
        }
    }
    if params.n_pix_grow_sat > 0 {
        scratch.mask.resize(np, false);
        for k in 0..np {
            scratch.mask[k] = flags[k] & dq::G_SATURATED != 0;
        }
        dilate_into(
            tile,
            &scratch.mask,
            params.n_pix_grow_sat,
            &mut flags,
            dq::G_SATURATED,
            &mut scratch.dilated,
        );
    }
    for k in 0..np {
        if flags[k] != 0 {
            z[k] = 0.0;
        }
    }
}

/// Reusable buffers so the per-tile kernel does not allocate.
#[derive(Debug, Default)]
pub struct SaturationScratch {
    ever: Vec<bool>,
    mask: Vec<bool>,
    dilated: Vec<u8>,
    /// The forward pass's last dilated SATURATED mask (0 or the bit), reused while the mask
    /// does not change from one group to the next.
    grown: Vec<u8>,
}

/// OR `bit` into `flags` over the (2n+1)² box around every set pixel of `mask` (box truncated at
/// the tile edge, equal to scipy's binary dilation with a square structuring element). Separable:
/// a horizontal then a vertical running OR.
fn dilate_into(tile: Tile, mask: &[bool], n: usize, flags: &mut [u8], bit: u8, tmp: &mut Vec<u8>) {
    let (rows, cols) = (tile.rows, tile.cols);
    tmp.resize(rows * cols, 0);
    // Horizontal pass, only on rows with a set pixel (saturation is usually a few small
    // patches): `tmp` row r is valid only where `row_any[r]`.
    let mut row_any = vec![false; rows];
    for (r, any) in row_any.iter_mut().enumerate() {
        let row = &mask[r * cols..(r + 1) * cols];
        if !row.contains(&true) {
            continue;
        }
        *any = true;
        let out = &mut tmp[r * cols..(r + 1) * cols];
        // out[c] = OR of row[c - n ..= c + n] (clipped): 2n + 1 shifted ORs of the whole row,
        // branch-free so they vectorise (a scalar test per pixel cost ~2 µs per row).
        for (o, &m) in out.iter_mut().zip(row) {
            *o = m as u8;
        }
        for d in 1..=n.min(cols.saturating_sub(1)) {
            // Left neighbours: out[c] |= row[c - d]; right neighbours: out[c] |= row[c + d].
            for (o, &m) in out[d..].iter_mut().zip(&row[..cols - d]) {
                *o |= m as u8;
            }
            for (o, &m) in out[..cols - d].iter_mut().zip(&row[d..]) {
                *o |= m as u8;
            }
        }
    }
    // Vertical pass: OR the horizontally grown rows within n of each row.
    for r in 0..rows {
        let lo = r.saturating_sub(n);
        let hi = (r + n + 1).min(rows);
        let out = &mut flags[r * cols..(r + 1) * cols];
        for rr in (lo..hi).filter(|&rr| row_any[rr]) {
            let grown = &tmp[rr * cols..(rr + 1) * cols];
            for (f, &g) in out.iter_mut().zip(grown) {
                *f |= g * bit;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(values: &[f32], tile: Tile, t: f32, rp: Option<&ReadPattern>) -> Vec<u8> {
        let np = tile.rows * tile.cols;
        let thr_v = vec![t; np];
        let nosat = vec![false; np];
        let thr = Thresholds {
            threshold: &thr_v,
            nosat: &nosat,
            bias: None,
        };
        let mut gdq = vec![0u8; values.len()];
        let mut s = SaturationScratch::default();
        flag_integration(
            tile,
            values,
            &mut gdq,
            &thr,
            &SaturationParams::default(),
            rp,
            &mut s,
        );
        gdq
    }

    #[test]
    fn sticky_saturation_and_box_growth() {
        // 3x3 tile, 3 groups; centre saturates in group 1 and drops below in group 2.
        let tile = Tile {
            rows: 3,
            cols: 3,
            ngroups: 3,
        };
        let mut v = vec![100.0f32; 27];
        v[9 + 4] = 5000.0;
        v[18 + 4] = 10.0;
        let g = run(&v, tile, 1000.0, None);
        assert!(g[..9].iter().all(|&f| f == 0));
        assert!(g[9..18].iter().all(|&f| f == dq::G_SATURATED));
        assert!(g[18..].iter().all(|&f| f == dq::G_SATURATED));
    }

    /// The forward pass (reusing a group's dilation while the mask stays the same) equals the
    /// definition: per group, SATURATED on every pixel within the box of a pixel saturated in
    /// this or an earlier group, and on no other pixel. Seeded values, growth 0–3, several
    /// calls on one scratch (stale contents from a previous tile must not leak).
    #[test]
    fn forward_growth_equals_the_definition() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let mut next = move || rng.random::<u64>();
        let mut scratch = SaturationScratch::default();
        for case in 0..42 {
            let (rows, cols, ngroups) = match case {
                // Same mask vector, other geometry: the first group must not reuse the
                // previous call's dilation.
                0 => (1, 4, 2),
                1 => (2, 2, 2),
                _ => (
                    1 + (next() % 7) as usize,
                    1 + (next() % 9) as usize,
                    1 + (next() % 6) as usize,
                ),
            };
            let n = if case < 2 { 1 } else { (case % 4) as usize };
            let tile = Tile {
                rows,
                cols,
                ngroups,
            };
            let np = rows * cols;
            // Ramps rising at random rates; ~1/6 of the pixels cross the threshold somewhere.
            let rates: Vec<f32> = if case < 2 {
                (0..np).map(|k| if k == 0 { 2000.0 } else { 1.0 }).collect()
            } else {
                (0..np).map(|_| (next() % 300) as f32).collect()
            };
            let mut values = vec![0f32; ngroups * np];
            for g in 0..ngroups {
                for k in 0..np {
                    values[g * np + k] = 1.0 + rates[k] * (g as f32 + 1.0);
                }
            }
            let thr_v = vec![1000.0f32; np];
            let nosat = vec![false; np];
            let thr = Thresholds {
                threshold: &thr_v,
                nosat: &nosat,
                bias: None,
            };
            let params = SaturationParams {
                n_pix_grow_sat: n,
                ..SaturationParams::default()
            };
            let mut gdq = vec![0u8; ngroups * np];
            flag_integration(tile, &values, &mut gdq, &thr, &params, None, &mut scratch);
            for g in 0..ngroups {
                for y in 0..rows {
                    for x in 0..cols {
                        let near = (y.saturating_sub(n)..(y + n + 1).min(rows)).any(|yy| {
                            (x.saturating_sub(n)..(x + n + 1).min(cols)).any(|xx| {
                                (0..=g).any(|gg| values[gg * np + yy * cols + xx] >= 1000.0)
                            })
                        });
                        let got = gdq[g * np + y * cols + x] & dq::G_SATURATED != 0;
                        assert_eq!(got, near, "case {case} group {g} pixel ({y}, {x})");
                    }
                }
            }
        }
    }

    #[test]
    fn ad_floor_is_per_group_and_not_grown() {
        let tile = Tile {
            rows: 1,
            cols: 3,
            ngroups: 2,
        };
        let v = [1.0f32, 0.0, 1.0, 1.0, 1.0, 1.0];
        let g = run(&v, tile, 1000.0, None);
        assert_eq!(g, vec![0, dq::G_AD_FLOOR | dq::G_DO_NOT_USE, 0, 0, 0, 0]);
    }

    #[test]
    fn diluted_saturation_flags_do_not_use() {
        // NFRAMES=4: dilution of group 0 = 2.5/4. Group 0 at 0.7 T, group 1 saturated.
        let rp = ReadPattern::new(4, 3);
        assert_eq!(rp.dilution[0], 0.625);
        let tile = Tile {
            rows: 1,
            cols: 1,
            ngroups: 3,
        };
        let g = run(&[700.0, 1200.0, 1300.0], tile, 1000.0, Some(&rp));
        assert_eq!(g, vec![dq::G_DO_NOT_USE, dq::G_SATURATED, dq::G_SATURATED]);
    }
}
