//! dq_init (spec §6): the MASK reference seeds PIXELDQ, and its DO_NOT_USE bit marks every group
//! of the pixel in GROUPDQ.

use frames::dq;

/// PIXELDQ contribution of the mask (optionally OR-ed with a user-supplied DQ array).
#[inline]
pub fn pixel_dq(mask: u32, user_dq: u32) -> u32 {
    mask | user_dq
}

/// The GROUPDQ bits every group of a pixel starts with: DO_NOT_USE if the mask has it.
#[inline]
pub fn group_seed(mask: u32) -> u8 {
    (mask & dq::DO_NOT_USE) as u8
}

/// OR the mask seed into one plane of group flags (`gdq` and `mask` cover the same pixels).
pub fn seed_plane(gdq: &mut [u8], mask: &[u32]) {
    for (g, &m) in gdq.iter_mut().zip(mask) {
        *g |= group_seed(m);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_do_not_use_reaches_groups() {
        let mask = [0, dq::DO_NOT_USE | dq::DEAD, dq::WARM, dq::REFERENCE_PIXEL];
        let mut gdq = [0u8, 0, 4, 0];
        seed_plane(&mut gdq, &mask);
        assert_eq!(gdq, [0, 1, 4, 0]);
        assert_eq!(pixel_dq(dq::WARM, dq::HOT), dq::WARM | dq::HOT);
    }
}
