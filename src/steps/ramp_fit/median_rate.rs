//! Per-integration median rate (spec §12.3). The pixel's median rate `mr` — the mean of these
//! over all integrations — only feeds the Poisson variance.

use frames::dq::{G_DO_NOT_USE, G_JUMP_DET};

use super::segments::Timing;
use super::FitConfig;
use crate::steps::sort_network::{median_of_sorted, SortNetwork, MAX_NETWORK_LEN};

/// This integration's contribution to the pixel's median-rate sum.
///
/// With NGROUPS == 1 the official code sums `x₀ / t1` over integrations as is (a saturated group
/// gives NaN, and NaN then poisons `mr`); otherwise the median of the first differences of
/// `x / TGROUP` (DO_NOT_USE groups and differences ending on a JUMP_DET group left out; if every
/// difference is out, the first rate value), or the single-group rate for the 0th-group and
/// ZEROFRAME specials — and NaN counts as 0.
///
/// `scratch` must hold at least NGROUPS values.
pub(crate) fn integration_median_rate(
    cfg: &FitConfig,
    data: &[f64],
    dq: &[u8],
    timing: Timing,
    scratch: &mut [f64],
) -> f64 {
    let n = cfg.ngroups;
    if n == 1 {
        return data[0] / cfg.one_group_time;
    }
    let rate = match timing {
        Timing::ZerothGroup => data[0] / cfg.one_group_time,
        Timing::ZeroFrame => data[0] / cfg.frame_time,
        Timing::Group => median_of_differences(
            cfg.group_time,
            cfg.diff_network.as_ref(),
            &data[..n],
            &dq[..n],
            scratch,
        ),
    };
    if rate.is_nan() {
        0.0
    } else {
        rate
    }
}

/// Median of the usable first differences of `x / tgroup`: divide first, then subtract, as the
/// C code does (it matters in the last bit).
fn median_of_differences(
    tgroup: f64,
    network: Option<&SortNetwork>,
    data: &[f64],
    dq: &[u8],
    scratch: &mut [f64],
) -> f64 {
    let n = data.len();
    let rate_at = |g: usize| {
        if dq[g] & G_DO_NOT_USE != 0 {
            f64::NAN
        } else {
            data[g] / tgroup
        }
    };
    let diffs = &mut scratch[..n - 1];
    let mut prev = rate_at(0);
    let first = prev;
    for k in 0..n - 1 {
        let next = rate_at(k + 1);
        diffs[k] = if dq[k + 1] & G_JUMP_DET != 0 {
            f64::NAN
        } else {
            next - prev
        };
        prev = next;
    }
    if diffs.iter().all(|d| d.is_nan()) && !first.is_nan() {
        diffs[0] = first;
    }
    // Median of the non-NaN differences. Up to 32 of them go through the branch-free network
    // (NaN sorts after every usable value).
    if let Some(net) = network {
        let mut v = [f64::NAN; MAX_NETWORK_LEN];
        v[..diffs.len()].copy_from_slice(diffs);
        let valid = net.sort_nan_last(&mut v);
        return median_of_sorted(&v, valid);
    }
    let mut valid = 0;
    for k in 0..diffs.len() {
        let d = diffs[k];
        if !d.is_nan() {
            diffs[valid] = d;
            valid += 1;
        }
    }
    diffs[..valid].sort_unstable_by(f64::total_cmp);
    match valid {
        0 => f64::NAN,
        v if v % 2 == 1 => diffs[v / 2],
        v => (diffs[v / 2] + diffs[v / 2 - 1]) / 2.0,
    }
}
