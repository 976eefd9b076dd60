//! Exposure-level set-up of the jump step (spec §11.1–11.2; jwst `JumpStep._setup_jump_data`,
//! stcal `detect_jumps_data`, `find_crs`, `groups_all_set_dnu`, `check_group_counts`,
//! `check_sigma_clip_groups`): which detection mode runs, the after-jump thresholds in electrons,
//! and the time-to-groups conversions. Everything here depends on whole-frame summaries the
//! driver collects (fully DO_NOT_USE groups, the gain median), never on pixel data.

use frames::dq;

use super::params::{JumpError, JumpParams};

/// How the two-point-difference detection runs for a whole exposure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JumpMode {
    /// NGROUPS <= 2: the official step returns at once (`S_JUMP = SKIPPED`); neither GROUPDQ nor
    /// PIXELDQ changes and no keyword is written.
    StepSkipped,
    /// Too few usable groups for any method: no detection, no neighbour or after-jump flags.
    /// The bad-gain PIXELDQ flags, the JUMP_DET clean-up and snowballs still run, and stcal
    /// reports -99 primary cosmic rays ([`NO_DETECTION_CR_COUNT`]).
    NoDetection,
    /// Iterative search for the largest outlier, one per pixel per round (spec §11.4).
    Iterative,
    /// One pass against the pooled median with `rejection_threshold` (spec §11.5).
    SinglePass,
    /// astropy sigma clipping (spec §11.6): across integrations for each difference when
    /// `across_ints_only`, else across all differences of all integrations of the pixel.
    SigmaClip { across_ints_only: bool },
}

/// The primary-CR count stcal returns when it skips detection (`find_crs` returns -99).
pub const NO_DETECTION_CR_COUNT: i64 = -99;

/// The minimum number of usable groups serial stcal requires (it overrides `minimum_groups`).
const SERIAL_MINIMUM_GROUPS: i64 = 3;

/// Choose the mode from the exposure geometry and, per integration, the number of groups in
/// which every pixel of the frame has DO_NOT_USE (`fully_dnu_groups_per_int`, length nints).
pub fn select_mode(
    params: &JumpParams,
    nints: usize,
    ngroups: usize,
    fully_dnu_groups_per_int: &[usize],
) -> JumpMode {
    if ngroups <= 2 {
        return JumpMode::StepSkipped;
    }
    let nints_i = nints as i64;
    let ngroups_i = ngroups as i64;
    let max_flagged = fully_dnu_groups_per_int.iter().copied().max().unwrap_or(0) as i64;
    let total_flagged: i64 = fully_dnu_groups_per_int.iter().map(|&n| n as i64).sum();
    let min_usable_groups = ngroups_i - max_flagged;
    let total_groups = nints_i * ngroups_i - total_flagged;
    let min_usable_diffs = min_usable_groups - 1;

    // With only_use_ints the clip runs across integrations, so nints is what must be large;
    // otherwise it is the number of usable groups of the whole exposure.
    let sigclip_population = if params.only_use_ints {
        nints_i
    } else {
        total_groups
    };
    let sigclip_ok = sigclip_population >= params.minimum_sigclip_groups;
    if sigclip_ok {
        return JumpMode::SigmaClip {
            across_ints_only: params.only_use_ints,
        };
    }
    if min_usable_groups < SERIAL_MINIMUM_GROUPS {
        return JumpMode::NoDetection;
    }
    if min_usable_diffs >= params.min_diffs_single_pass {
        JumpMode::SinglePass
    } else {
        JumpMode::Iterative
    }
}

/// Python's float floor division `a // b` (CPython `float_floor_div`): it is not always
/// `floor(a / b)` (e.g. `1 // 0.1 == 9.0`), and the step converts times to group counts with it.
pub fn py_floordiv(a: f64, b: f64) -> f64 {
    let rem = a % b; // C fmod
    let mut div = (a - rem) / b;
    if rem != 0.0 && ((b < 0.0) != (rem < 0.0)) {
        div -= 1.0;
    }
    if div != 0.0 {
        let mut floordiv = div.floor();
        if div - floordiv > 0.5 {
            floordiv += 1.0;
        }
        floordiv
    } else {
        0.0f64.copysign(a / b)
    }
}

/// `int(time // tgroup)`: the number of groups covered by `time` seconds.
pub fn groups_for_time(time: f64, tgroup: f64) -> Result<i64, JumpError> {
    if !(tgroup.is_finite() && tgroup != 0.0) {
        return Err(JumpError::InvalidParameter {
            name: "TGROUP",
            value: tgroup.to_string(),
            problem: "group time must be finite and non-zero",
        });
    }
    let q = py_floordiv(time, tgroup);
    if !q.is_finite() {
        return Err(JumpError::InvalidParameter {
            name: "time",
            value: time.to_string(),
            problem: "cannot be converted to a number of groups",
        });
    }
    Ok(q as i64)
}

/// After-jump flagging (spec §11.7 step 2), in electrons and groups.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AfterJump {
    /// `after_jump_flag_dn1 * nanmedian(gain)`, computed in float32 as numpy does (a Python
    /// float times a float32 scalar is float32).
    pub e1: f32,
    pub e2: f32,
    /// Groups flagged after a big / very big jump: `int(time // TGROUP)`.
    pub n1: i64,
    pub n2: i64,
}

impl AfterJump {
    /// Thresholds in electrons from DN thresholds and the frame's gain median.
    pub fn new(params: &JumpParams, median_gain: f32, n1: i64, n2: i64) -> Self {
        AfterJump {
            e1: params.after_jump_flag_dn1 as f32 * median_gain,
            e2: params.after_jump_flag_dn2 as f32 * median_gain,
            n1,
            n2,
        }
    }

    /// stcal runs the after-jump pass only if one of the two group counts is positive.
    pub fn active(&self) -> bool {
        self.n1 > 0 || self.n2 > 0
    }
}

/// Snowball (`expand_large_events`) settings after the step's own unit conversions.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SnowballSetup {
    pub min_sat_area: f64,
    pub min_jump_area: f64,
    pub expand_factor: f64,
    pub sat_required_snowball: bool,
    pub min_sat_radius_extend: f64,
    /// `sat_expand * 2` (the step doubles it).
    pub sat_expand: f64,
    pub edge_size: i64,
    /// `max_extended_radius * 2` (the step doubles it; stcal calls it `max_extended_width`).
    pub max_extended_width: f64,
    pub mask_persist_next_int: bool,
    /// `int(snowball_time_masked_next_int // TGROUP)`.
    pub persist_grps_flagged: i64,
}

/// Everything the per-pixel, band and frame kernels need, fixed for one exposure.
#[derive(Debug, Clone, PartialEq)]
pub struct JumpSetup {
    pub nints: usize,
    pub ngroups: usize,
    pub nframes: u32,
    pub mode: JumpMode,
    pub rejection_threshold: f64,
    /// Used when a pixel has exactly 2 usable differences (3 groups).
    pub three_group_rejection_threshold: f64,
    /// Used when a pixel has exactly 3 usable differences (4 groups).
    pub four_group_rejection_threshold: f64,
    pub flag_4_neighbors: bool,
    pub max_jump_to_flag_neighbors: f64,
    pub min_jump_to_flag_neighbors: f64,
    pub after_jump: AfterJump,
    /// `None` unless `expand_large_events`.
    pub snowball: Option<SnowballSetup>,
}

impl JumpSetup {
    /// Validate the parameters and fix the exposure-level quantities.
    ///
    /// `fully_dnu_groups_per_int[i]` counts the groups of integration `i` in which every pixel of
    /// the whole frame has DO_NOT_USE (input GROUPDQ); `median_gain` is [`nanmedian_f32`] of the
    /// whole gain image (as cut to the science frame).
    ///
    /// [`nanmedian_f32`]: super::stats::nanmedian_f32
    pub fn new(
        params: &JumpParams,
        nints: usize,
        ngroups: usize,
        nframes: u32,
        tgroup: f64,
        fully_dnu_groups_per_int: &[usize],
        median_gain: f32,
    ) -> Result<Self, JumpError> {
        params.validate()?;
        if nframes == 0 {
            return Err(JumpError::InvalidParameter {
                name: "NFRAMES",
                value: "0".into(),
                problem: "must be at least 1",
            });
        }
        if nints == 0 || ngroups == 0 || fully_dnu_groups_per_int.len() != nints {
            return Err(JumpError::Shape(format!(
                "exposure with {nints} integrations x {ngroups} groups and {} fully-DO_NOT_USE counts",
                fully_dnu_groups_per_int.len()
            )));
        }
        let n1 = groups_for_time(params.after_jump_flag_time1, tgroup)?;
        let n2 = groups_for_time(params.after_jump_flag_time2, tgroup)?;
        let snowball = if params.expand_large_events {
            Some(SnowballSetup {
                min_sat_area: params.min_sat_area,
                min_jump_area: params.min_jump_area,
                expand_factor: params.expand_factor,
                sat_required_snowball: params.sat_required_snowball,
                min_sat_radius_extend: params.min_sat_radius_extend,
                sat_expand: (params.sat_expand * 2) as f64,
                edge_size: params.edge_size,
                max_extended_width: (params.max_extended_radius * 2) as f64,
                mask_persist_next_int: params.mask_snowball_core_next_int,
                persist_grps_flagged: groups_for_time(
                    params.snowball_time_masked_next_int as f64,
                    tgroup,
                )?,
            })
        } else {
            None
        };
        Ok(JumpSetup {
            nints,
            ngroups,
            nframes,
            mode: select_mode(params, nints, ngroups, fully_dnu_groups_per_int),
            rejection_threshold: params.rejection_threshold,
            three_group_rejection_threshold: params.three_group_rejection_threshold,
            four_group_rejection_threshold: params.four_group_rejection_threshold,
            flag_4_neighbors: params.flag_4_neighbors,
            max_jump_to_flag_neighbors: params.max_jump_to_flag_neighbors,
            min_jump_to_flag_neighbors: params.min_jump_to_flag_neighbors,
            after_jump: AfterJump::new(params, median_gain, n1, n2),
            snowball,
        })
    }

    /// Values per pixel: `nints * ngroups`.
    pub fn groups_per_pixel(&self) -> usize {
        self.nints * self.ngroups
    }

    /// Whether detection (and with it neighbour and after-jump flagging) runs at all.
    pub fn detects(&self) -> bool {
        !matches!(self.mode, JumpMode::StepSkipped | JumpMode::NoDetection)
    }
}

/// PIXELDQ update of the step (`setup_pdq`): NO_GAIN_VALUE | DO_NOT_USE where the gain is <= 0 or
/// NaN. Runs in every mode except [`JumpMode::StepSkipped`].
pub fn flag_bad_gain(pixeldq: &mut [u32], gain: &[f32]) {
    for (pdq, &g) in pixeldq.iter_mut().zip(gain) {
        if g.is_nan() || g <= 0.0 {
            *pdq |= dq::NO_GAIN_VALUE | dq::DO_NOT_USE;
        }
    }
}

/// Per-(integration, group) "every pixel has one of `mask`" accumulator over pixel-major GROUPDQ
/// (`gdq[pix * nints*ngroups + i*ngroups + g]`). Start with `all` = true everywhere, feed every
/// pixel of the frame (in any number of calls), then read it: with `mask = DO_NOT_USE` it gives
/// the fully-DNU groups for [`select_mode`] ([`count_per_integration`]); with
/// `mask = JUMP_DET | DO_NOT_USE` after sigma-clip detection, the planes that
/// [`super::sigma_clip::clear_all_jump_planes`] clears.
pub fn accumulate_all_have(gdq: &[u8], groups_per_pixel: usize, mask: u8, all: &mut [bool]) {
    debug_assert_eq!(all.len(), groups_per_pixel);
    for pixel in gdq.chunks_exact(groups_per_pixel) {
        for (flag, &q) in all.iter_mut().zip(pixel) {
            *flag &= q & mask != 0;
        }
    }
}

/// Number of `true` planes per integration from an [`accumulate_all_have`] result.
pub fn count_per_integration(all: &[bool], ngroups: usize) -> Vec<usize> {
    all.chunks_exact(ngroups)
        .map(|int| int.iter().filter(|&&b| b).count())
        .collect()
}

/// `meta.exposure.primary_cosmic_rays` (PRIMECRS, CRs per 1000 s per pixel), as `JumpStep`
/// computes it; `None` when the step writes no value.
///
/// `fully_dnu_groups_after` counts (int, group) planes whose every pixel has DO_NOT_USE in the
/// *output* GROUPDQ; `number_crs` is the primary count (or [`NO_DETECTION_CR_COUNT`]).
pub fn primary_cosmic_rays(
    number_crs: i64,
    fully_dnu_groups_after: usize,
    nints: usize,
    ngroups: usize,
    group_time: f64,
    nrows: usize,
    ncols: usize,
) -> Option<f64> {
    let total_groups = (nints * ngroups) as i64 - fully_dnu_groups_after as i64 - nints as i64;
    if total_groups < 1 {
        return None;
    }
    let total_time = group_time * total_groups as f64;
    let total_pixels = (nrows * ncols) as f64;
    Some((1000 * number_crs) as f64 / (total_time * total_pixels))
}

/// `meta.exposure.extended_emission_events` (EXTEMISS, events per 10⁶ s per pixel) from the
/// snowball count, with the same group total as [`primary_cosmic_rays`].
pub fn extended_emission_events(
    number_events: u64,
    fully_dnu_groups_after: usize,
    nints: usize,
    ngroups: usize,
    group_time: f64,
    nrows: usize,
    ncols: usize,
) -> Option<f64> {
    let total_groups = (nints * ngroups) as i64 - fully_dnu_groups_after as i64 - nints as i64;
    if total_groups < 1 {
        return None;
    }
    let total_time = group_time * total_groups as f64;
    let total_pixels = (nrows * ncols) as f64;
    Some(1e6 * number_events as f64 / (total_time * total_pixels))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_floor_division() {
        assert_eq!(py_floordiv(1.0, 0.1), 9.0);
        assert_eq!(py_floordiv(21.4, 10.7), 2.0);
        assert_eq!(py_floordiv(-1.0, 10.0), -1.0);
        assert_eq!(py_floordiv(0.0, 10.73677), 0.0);
        assert_eq!(py_floordiv(4000.0, 10.73677), 372.0);
        assert_eq!(groups_for_time(90.0, 10.73677), Ok(8));
        assert!(groups_for_time(1.0, 0.0).is_err());
    }

    #[test]
    fn mode_selection_follows_stcal() {
        let p = JumpParams::default();
        assert_eq!(select_mode(&p, 3, 2, &[0; 3]), JumpMode::StepSkipped);
        assert_eq!(select_mode(&p, 3, 5, &[0; 3]), JumpMode::Iterative);
        assert_eq!(select_mode(&p, 1, 11, &[0]), JumpMode::SinglePass);
        assert_eq!(select_mode(&p, 1, 11, &[1]), JumpMode::Iterative);
        assert_eq!(select_mode(&p, 2, 4, &[2, 0]), JumpMode::NoDetection);
        assert_eq!(
            select_mode(&p, 100, 3, &[0; 100]),
            JumpMode::SigmaClip {
                across_ints_only: true
            }
        );
        // sigma clipping does not care about fully flagged groups when clipping across ints
        let mut c = vec![0; 100];
        c[3] = 2;
        assert!(matches!(
            select_mode(&p, 100, 4, &c),
            JumpMode::SigmaClip { .. }
        ));
        let all = JumpParams {
            only_use_ints: false,
            ..Default::default()
        };
        assert_eq!(
            select_mode(&all, 4, 25, &[0; 4]),
            JumpMode::SigmaClip {
                across_ints_only: false
            }
        );
        assert_eq!(select_mode(&all, 4, 25, &[1; 4]), JumpMode::SinglePass);
    }

    #[test]
    fn after_jump_thresholds_in_float32() {
        let p = JumpParams {
            after_jump_flag_dn1: 1000.0,
            ..Default::default()
        };
        let a = AfterJump::new(&p, 1.9, 1, 0);
        assert_eq!(a.e1, 1900.0f32);
        assert!(a.active());
    }

    #[test]
    fn plane_accumulation() {
        // 2 pixels, 1 int x 3 groups
        let gdq = [1u8, 0, 5, 1, 1, 4];
        let mut all = vec![true; 3];
        accumulate_all_have(&gdq, 3, 1, &mut all);
        assert_eq!(all, vec![true, false, false]);
        assert_eq!(count_per_integration(&all, 3), vec![1]);
        let mut all = vec![true; 3];
        accumulate_all_have(&gdq, 3, 5, &mut all);
        assert_eq!(all, vec![true, false, true]);
    }
}
