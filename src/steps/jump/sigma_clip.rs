//! Sigma-clip mode (spec §11.6; stcal `det_jump_sigma_clipping`), used when there are at least
//! `minimum_sigclip_groups` integrations (typical TSOs).
//!
//! stcal calls `astropy.stats.sigma_clip(Δ, sigma=rejection_threshold, axis=0)`, which astropy
//! routes to its C fast path (`_sigma_clip_fast`, `compute_sigma_clipped_bounds`): per slice,
//! the finite values are packed in order; each iteration takes the median (Wirth selection,
//! which permutes the buffer), the mean and the population standard deviation (plain sequential
//! sums over the permuted buffer), bounds `median ∓ σ·std`, and keeps the values inside the
//! bounds (inclusive), stopping when nothing is dropped, nothing is left, or after `maxiters = 5`.
//! Finally every value strictly outside the last bounds is clipped. [`clip_bounds`] reproduces
//! that bit for bit, including the summation order.

use frames::dq;

use super::setup::JumpSetup;
use super::stats::wirth_median;

/// astropy `sigma_clip` default.
pub const MAXITERS: u32 = 5;

/// Final `(lower, upper)` bounds of astropy's fast sigma clipping of the values in `buf` (all
/// finite; reordered in place). NaN bounds for an empty buffer (nothing gets clipped).
pub fn clip_bounds(buf: &mut [f64], sigma: f64, maxiters: u32) -> (f64, f64) {
    let mut count = buf.len();
    if count == 0 {
        return (f64::NAN, f64::NAN);
    }
    let mut iteration = 0;
    loop {
        let values = &mut buf[..count];
        let centre = wirth_median(values);
        let mut mean = 0.0;
        for &v in values.iter() {
            mean += v;
        }
        mean /= count as f64;
        let mut var = 0.0;
        for &v in values.iter() {
            var += (v - mean) * (v - mean);
        }
        let std = (var / count as f64).sqrt();
        let lower = centre - sigma * std;
        let upper = centre + sigma * std;

        // Pack the survivors to the front, keeping their order.
        let mut kept = 0;
        for i in 0..count {
            let v = buf[i];
            if v >= lower && v <= upper {
                buf[kept] = v;
                kept += 1;
            }
        }
        if kept == count || kept == 0 {
            return (lower, upper);
        }
        count = kept;
        iteration += 1;
        if iteration >= maxiters {
            return (lower, upper);
        }
    }
}

/// Whether astropy's final mask rejects `v` (strict comparison against the final bounds).
#[inline]
fn outside(v: f64, (lower, upper): (f64, f64)) -> bool {
    v < lower || v > upper
}

/// Sigma-clip detection for one pixel. `diffs` are its first differences `i * (ngroups-1) + k`
/// (float64, NaN where unusable). JUMP_DET goes to group k+1 where the difference is finite,
/// clipped, and that group is neither SATURATED nor DO_NOT_USE.
///
/// With `across_ints_only` each difference index k is clipped across the integrations;
/// otherwise (only_use_ints = False) all differences of all integrations are clipped together.
pub(crate) fn detect(
    setup: &JumpSetup,
    gdq: &mut [u8],
    diffs: &[f64],
    across_ints_only: bool,
    buf: &mut Vec<f64>,
) {
    let ngroups = setup.ngroups;
    let ndiff = ngroups - 1;
    let sigma = setup.rejection_threshold;
    let flag = |gdq: &mut [u8], i: usize, k: usize, bounds: (f64, f64)| {
        let d = diffs[i * ndiff + k];
        let slot = i * ngroups + k + 1;
        if d.is_finite()
            && outside(d, bounds)
            && gdq[slot] & (dq::G_SATURATED | dq::G_DO_NOT_USE) == 0
        {
            gdq[slot] |= dq::G_JUMP_DET;
        }
    };
    if across_ints_only {
        for k in 0..ndiff {
            buf.clear();
            buf.extend(
                (0..setup.nints)
                    .map(|i| diffs[i * ndiff + k])
                    .filter(|d| d.is_finite()),
            );
            let bounds = clip_bounds(buf, sigma, MAXITERS);
            for i in 0..setup.nints {
                flag(gdq, i, k, bounds);
            }
        }
    } else {
        buf.clear();
        buf.extend(diffs.iter().copied().filter(|d| d.is_finite()));
        let bounds = clip_bounds(buf, sigma, MAXITERS);
        for i in 0..setup.nints {
            for k in 0..ndiff {
                flag(gdq, i, k, bounds);
            }
        }
    }
}

/// Frame-level rule of sigma-clip mode: in every (integration, group) plane whose every pixel of
/// the *whole frame* has JUMP_DET or DO_NOT_USE after detection (`planes`, from
/// [`super::setup::accumulate_all_have`] with `JUMP_DET | DO_NOT_USE`), pixels whose GROUPDQ is
/// exactly JUMP_DET are reset to 0. Apply to every pixel (band rows and halo) before the
/// neighbour pass and before counting primary CRs.
pub fn clear_all_jump_planes(gdq: &mut [u8], planes: &[bool]) {
    let gpp = planes.len();
    if !planes.iter().any(|&p| p) {
        return;
    }
    for pixel in gdq.chunks_exact_mut(gpp) {
        for (q, &all) in pixel.iter_mut().zip(planes) {
            if all && *q == dq::G_JUMP_DET {
                *q = 0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clips_an_outlier() {
        let mut v: Vec<f64> = (0..20).map(|i| (i % 5) as f64).collect();
        v.push(100.0);
        let (lo, hi) = clip_bounds(&mut v, 4.0, MAXITERS);
        assert!(outside(100.0, (lo, hi)));
        assert!(!outside(4.0, (lo, hi)) && !outside(0.0, (lo, hi)));
        assert!(clip_bounds(&mut [], 4.0, 5).0.is_nan());
        // a single value: std 0, bounds collapse onto it, nothing clipped
        assert_eq!(clip_bounds(&mut [3.5], 4.0, 5), (3.5, 3.5));
    }
}
