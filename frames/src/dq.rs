//! JWST data-quality bit flags (stdatamodels `dqflags`), shared by PIXELDQ (u32) and GROUPDQ (u8).
//!
//! Group flags use only bits 0–7, so every group flag also fits in a `u8`; the `G_*` aliases are
//! the same values typed for GROUPDQ.

pub const GOOD: u32 = 0;
pub const DO_NOT_USE: u32 = 1 << 0;
pub const SATURATED: u32 = 1 << 1;
pub const JUMP_DET: u32 = 1 << 2;
pub const DROPOUT: u32 = 1 << 3;
pub const OUTLIER: u32 = 1 << 4;
pub const PERSISTENCE: u32 = 1 << 5;
pub const AD_FLOOR: u32 = 1 << 6;
pub const CHARGELOSS: u32 = 1 << 7;
pub const RESERVED: u32 = 1 << 8;
pub const NON_SCIENCE: u32 = 1 << 9;
pub const DEAD: u32 = 1 << 10;
pub const HOT: u32 = 1 << 11;
pub const WARM: u32 = 1 << 12;
pub const LOW_QE: u32 = 1 << 13;
pub const RC: u32 = 1 << 14;
pub const TELEGRAPH: u32 = 1 << 15;
pub const NONLINEAR: u32 = 1 << 16;
pub const BAD_REF_PIXEL: u32 = 1 << 17;
pub const NO_FLAT_FIELD: u32 = 1 << 18;
pub const NO_GAIN_VALUE: u32 = 1 << 19;
pub const NO_LIN_CORR: u32 = 1 << 20;
pub const NO_SAT_CHECK: u32 = 1 << 21;
pub const UNRELIABLE_BIAS: u32 = 1 << 22;
pub const UNRELIABLE_DARK: u32 = 1 << 23;
pub const UNRELIABLE_SLOPE: u32 = 1 << 24;
pub const UNRELIABLE_FLAT: u32 = 1 << 25;
pub const OPEN: u32 = 1 << 26;
pub const ADJ_OPEN: u32 = 1 << 27;
pub const FLUX_ESTIMATED: u32 = 1 << 28;
pub const MSA_FAILED_OPEN: u32 = 1 << 29;
pub const OTHER_BAD_PIXEL: u32 = 1 << 30;
pub const REFERENCE_PIXEL: u32 = 1 << 31;

/// Group-flag (u8) versions of the bits GROUPDQ can carry.
pub const G_DO_NOT_USE: u8 = DO_NOT_USE as u8;
pub const G_SATURATED: u8 = SATURATED as u8;
pub const G_JUMP_DET: u8 = JUMP_DET as u8;
pub const G_DROPOUT: u8 = DROPOUT as u8;
pub const G_PERSISTENCE: u8 = PERSISTENCE as u8;
pub const G_AD_FLOOR: u8 = AD_FLOOR as u8;
pub const G_CHARGELOSS: u8 = CHARGELOSS as u8;

/// (bit value, name) for every pixel flag, in bit order: the official DQ_DEF table content.
pub const ALL: [(u32, &str); 32] = [
    (DO_NOT_USE, "DO_NOT_USE"),
    (SATURATED, "SATURATED"),
    (JUMP_DET, "JUMP_DET"),
    (DROPOUT, "DROPOUT"),
    (OUTLIER, "OUTLIER"),
    (PERSISTENCE, "PERSISTENCE"),
    (AD_FLOOR, "AD_FLOOR"),
    (CHARGELOSS, "CHARGELOSS"),
    (RESERVED, "RESERVED"),
    (NON_SCIENCE, "NON_SCIENCE"),
    (DEAD, "DEAD"),
    (HOT, "HOT"),
    (WARM, "WARM"),
    (LOW_QE, "LOW_QE"),
    (RC, "RC"),
    (TELEGRAPH, "TELEGRAPH"),
    (NONLINEAR, "NONLINEAR"),
    (BAD_REF_PIXEL, "BAD_REF_PIXEL"),
    (NO_FLAT_FIELD, "NO_FLAT_FIELD"),
    (NO_GAIN_VALUE, "NO_GAIN_VALUE"),
    (NO_LIN_CORR, "NO_LIN_CORR"),
    (NO_SAT_CHECK, "NO_SAT_CHECK"),
    (UNRELIABLE_BIAS, "UNRELIABLE_BIAS"),
    (UNRELIABLE_DARK, "UNRELIABLE_DARK"),
    (UNRELIABLE_SLOPE, "UNRELIABLE_SLOPE"),
    (UNRELIABLE_FLAT, "UNRELIABLE_FLAT"),
    (OPEN, "OPEN"),
    (ADJ_OPEN, "ADJ_OPEN"),
    (FLUX_ESTIMATED, "FLUX_ESTIMATED"),
    (MSA_FAILED_OPEN, "MSA_FAILED_OPEN"),
    (OTHER_BAD_PIXEL, "OTHER_BAD_PIXEL"),
    (REFERENCE_PIXEL, "REFERENCE_PIXEL"),
];

/// Value of a flag by its official name (case-insensitive), e.g. for `good_bits` strings.
pub fn by_name(name: &str) -> Option<u32> {
    let upper = name.trim().to_ascii_uppercase();
    if upper == "GOOD" {
        return Some(GOOD);
    }
    ALL.iter().find(|(_, n)| *n == upper).map(|(v, _)| *v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_are_in_order_and_distinct() {
        for (i, (v, _)) in ALL.iter().enumerate() {
            assert_eq!(*v, 1u32 << i);
        }
        assert_eq!(by_name("jump_det"), Some(4));
        assert_eq!(by_name("REFERENCE_PIXEL"), Some(2147483648));
        assert_eq!(by_name("nope"), None);
    }
}
