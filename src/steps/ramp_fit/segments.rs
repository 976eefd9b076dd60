//! Per-integration preparation (working GROUPDQ, group statistics, 0th-group / ZEROFRAME
//! specials) and the split of a ramp into fit segments (spec §12.2, §12.4).

use frames::dq::{G_DO_NOT_USE, G_JUMP_DET, G_PERSISTENCE, G_SATURATED};

use super::FitConfig;

/// A run of groups fitted together: `start..start + len` (group indices in the integration).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Segment {
    pub start: usize,
    pub len: usize,
}

/// How a length-1 segment is timed (every longer segment uses TGROUP).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Timing {
    /// Group time: the default.
    #[default]
    Group,
    /// Only group 0 good (suppress_one_group off): `(NFRAMES+1)·TFRAME/2`.
    ZerothGroup,
    /// ZEROFRAME replaced group 0 (suppress_one_group off): TFRAME.
    ZeroFrame,
}

impl Timing {
    pub fn seconds(self, cfg: &FitConfig) -> f64 {
        match self {
            Timing::Group => cfg.group_time,
            Timing::ZerothGroup => cfg.one_group_time,
            Timing::ZeroFrame => cfg.frame_time,
        }
    }
}

/// Group counts of one integration, taken on the working GROUPDQ before any ZEROFRAME edit
/// (the C code's `integ_gdq_stats`, with its ZEROFRAME adjustments applied afterwards).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct GroupStats {
    /// Groups with GROUPDQ exactly 0 (PERSISTENCE makes a group "not good" here).
    pub good: usize,
    /// Groups with DO_NOT_USE or SATURATED. Signed: the ZEROFRAME special decrements it even
    /// when no group was DO_NOT_USE/SATURATED (e.g. all PERSISTENCE), as the C `int` does.
    pub dnu_or_sat: i64,
    pub saturated: usize,
    pub jump: bool,
    pub persistence: bool,
    pub chargeloss: bool,
}

/// Builds the working group flags and values of one integration into `dq` / `data` and returns
/// its statistics and timing kind.
///
/// `orig` receives the flags after firstgroup/lastgroup only (the copy the CHARGELOSS pass
/// reads); `dq` additionally has suppress_one_group applied, and group 0 replaced when the
/// ZEROFRAME special fires. Saturated groups read as NaN.
pub(crate) fn prepare_integration(
    cfg: &FitConfig,
    ramp: &[f32],
    gdq: &[u8],
    zeroframe: Option<f32>,
    orig: &mut [u8],
    dq: &mut [u8],
    data: &mut [f64],
) -> (GroupStats, Timing) {
    let n = cfg.ngroups;
    // The common case, a clean ramp with every group kept: nothing to flag or count.
    if n >= 2 && cfg.keep == (0..n) && gdq[..n].iter().all(|&q| q == 0) {
        orig[..n].fill(0);
        dq[..n].fill(0);
        for (d, &r) in data[..n].iter_mut().zip(&ramp[..n]) {
            *d = r as f64;
        }
        let st = GroupStats {
            good: n,
            ..GroupStats::default()
        };
        return (st, Timing::Group);
    }
    for g in 0..n {
        let outside = !cfg.keep.contains(&g);
        orig[g] = if outside {
            gdq[g] | G_DO_NOT_USE
        } else {
            gdq[g]
        };
    }
    dq[..n].copy_from_slice(&orig[..n]);
    // suppress_one_group: exactly one group free of everything but PERSISTENCE → the whole
    // integration becomes DO_NOT_USE (stcal `suppress_one_good_group_ramps`).
    if cfg.suppress_one_group && dq[..n].iter().filter(|&&q| q & !G_PERSISTENCE == 0).count() == 1 {
        dq[..n].iter_mut().for_each(|q| *q |= G_DO_NOT_USE);
    }

    let mut st = GroupStats::default();
    for g in 0..n {
        let q = dq[g];
        st.jump |= q & G_JUMP_DET != 0;
        st.persistence |= q & G_PERSISTENCE != 0;
        st.chargeloss |= q & frames::dq::G_CHARGELOSS != 0;
        if q == 0 {
            st.good += 1;
        }
        if q & (G_DO_NOT_USE | G_SATURATED) != 0 {
            st.dnu_or_sat += 1;
        }
        if q & G_SATURATED != 0 {
            st.saturated += 1;
            data[g] = f64::NAN;
        } else {
            data[g] = ramp[g] as f64;
        }
    }

    let mut timing = Timing::Group;
    if !cfg.suppress_one_group {
        if st.good == 1 && dq[0] == 0 {
            timing = Timing::ZerothGroup;
        } else if st.good == 0 {
            if let Some(z) = zeroframe {
                // 0 marks a bad ZEROFRAME value; NaN is "not 0" and is used as is.
                if z != 0.0 {
                    data[0] = z as f64;
                    dq[0] = 0;
                    st.good = 1;
                    st.dnu_or_sat -= 1;
                    if st.saturated == n {
                        st.saturated -= 1;
                    }
                    timing = Timing::ZeroFrame;
                }
            }
        }
    }
    (st, timing)
}

/// Splits one integration into fit segments (stcal `compute_integration_segments` +
/// `prune_segment_list`), appending them to `out`.
///
/// A segment is a maximal run of groups whose flags, PERSISTENCE removed, are 0. When the group
/// just before the run is a plain JUMP_DET group it becomes the segment's first point: the fit
/// then spans the jump-free difference that starts at the jump. Length-1 segments are dropped when
/// a longer one exists; if all are length 1 only the first is kept.
pub(crate) fn find_segments(dq: &[u8], out: &mut Vec<Segment>) {
    out.clear();
    let mut start: Option<usize> = None;
    for (g, &raw) in dq.iter().enumerate() {
        let q = raw & !G_PERSISTENCE;
        if q == 0 {
            if start.is_none() {
                let after_jump = g > 0 && dq[g - 1] & !G_PERSISTENCE == G_JUMP_DET;
                start = Some(if after_jump { g - 1 } else { g });
            }
        } else if let Some(s) = start.take() {
            out.push(Segment {
                start: s,
                len: g - s,
            });
        }
    }
    if let Some(s) = start {
        out.push(Segment {
            start: s,
            len: dq.len() - s,
        });
    }
    if out.len() > 1 {
        if out.iter().any(|s| s.len > 1) {
            out.retain(|s| s.len > 1);
        } else {
            out.truncate(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segs(dq: &[u8]) -> Vec<(usize, usize)> {
        let mut v = Vec::new();
        find_segments(dq, &mut v);
        v.iter().map(|s| (s.start, s.len)).collect()
    }

    #[test]
    fn jump_group_starts_the_next_segment() {
        assert_eq!(segs(&[0, 0, 0, 4, 0, 0]), vec![(0, 3), (3, 3)]);
        // Two consecutive jumps: only the second starts a segment.
        assert_eq!(segs(&[0, 0, 0, 4, 4, 0, 0]), vec![(0, 3), (4, 3)]);
        // A jump group with another bit is not used.
        assert_eq!(segs(&[0, 0, 0, 5, 0, 0]), vec![(0, 3), (4, 2)]);
        // PERSISTENCE is ignored, also on the jump group.
        assert_eq!(segs(&[0, 32, 0, 36, 0, 0]), vec![(0, 3), (3, 3)]);
        // A lone trailing jump group is unused.
        assert_eq!(segs(&[0, 0, 0, 0, 4]), vec![(0, 4)]);
    }

    #[test]
    fn length_one_rules() {
        assert_eq!(segs(&[0, 1, 0, 0, 1, 0]), vec![(2, 2)]);
        assert_eq!(segs(&[0, 1, 0, 1, 0]), vec![(0, 1)]);
        assert_eq!(segs(&[1, 1, 1]), vec![]);
        assert_eq!(segs(&[0]), vec![(0, 1)]);
    }
}
