//! Per-pixel passes that follow detection and neighbour flagging (spec §11.7 steps 2–3):
//! after-jump flagging (stcal `transient_jumps` / `propagate_flags`), removal of JUMP_DET from
//! unusable groups (`detect_jumps_data`), and the primary-CR count.

use frames::dq;

use super::setup::JumpSetup;
use super::twopoint::{MARK_AFTER_BIG, MARK_AFTER_VERY_BIG};

/// Flag the groups after big jumps of one pixel (`gdq` and `marks` of the pixel, after the
/// neighbour pass): a group with JUMP_DET whose difference exceeded the pooled median by at least
/// e1 (e2) flags itself and the next n1 (n2) groups of the same integration, where those are
/// neither SATURATED nor DO_NOT_USE.
///
/// stcal propagates by repeated one-group shifts capped at `ngroups - 2` steps (or, for long
/// ramps with rare jumps, by slices of `n + 1` groups); since no source sits at group 0, both
/// reach exactly groups `g ..= min(g + n, ngroups - 1)`.
pub fn flag_after_jumps(setup: &JumpSetup, gdq: &mut [u8], marks: &[u8]) {
    let after = setup.after_jump;
    if !setup.detects() || !after.active() {
        return;
    }
    let ngroups = setup.ngroups;
    let reach = |n: i64| n.max(0) as usize;
    let (n1, n2) = (reach(after.n1), reach(after.n2));
    for (q, m) in gdq
        .chunks_exact_mut(ngroups)
        .zip(marks.chunks_exact(ngroups))
    {
        // One forward sweep: group g is tested as a source before it can be flagged itself, so
        // sources are exactly the JUMP_DET groups as they were before this pass.
        let mut flag_until: Option<usize> = None;
        for g in 1..ngroups {
            if q[g] & dq::G_JUMP_DET != 0 {
                let big = (m[g] & MARK_AFTER_BIG != 0).then_some(n1);
                let very_big = (m[g] & MARK_AFTER_VERY_BIG != 0).then_some(n2);
                if let Some(n) = big.max(very_big) {
                    let end = (g + n).min(ngroups - 1);
                    flag_until = Some(flag_until.map_or(end, |e| e.max(end)));
                }
            }
            match flag_until {
                Some(end) if g <= end => {
                    if q[g] & (dq::G_SATURATED | dq::G_DO_NOT_USE) == 0 {
                        q[g] |= dq::G_JUMP_DET;
                    }
                }
                _ => flag_until = None,
            }
        }
    }
}

/// Remove JUMP_DET from groups that are also DO_NOT_USE or SATURATED (every mode, also when
/// detection was skipped).
pub fn clear_jump_on_unusable(gdq: &mut [u8]) {
    for q in gdq {
        if *q & dq::G_JUMP_DET != 0 && *q & (dq::G_DO_NOT_USE | dq::G_SATURATED) != 0 {
            *q &= !dq::G_JUMP_DET;
        }
    }
}

/// Number of groups with JUMP_DET: stcal's primary-CR count when taken after detection (and the
/// sigma-clip plane clearing) but before neighbour and after-jump flagging.
pub fn count_jumps(gdq: &[u8]) -> u64 {
    gdq.iter().filter(|&&q| q & dq::G_JUMP_DET != 0).count() as u64
}
