//! The compact per-(pixel, integration) record an online driver keeps until the exposure ends.
//!
//! The Poisson variance of a segment depends on the pixel's mean median rate, known only after
//! the last integration; everything else about it (length, how a 1-group segment is timed) is
//! fixed when the integration is fitted. A record is those facts, as `u16` words:
//!
//! ```text
//! word 0      : number of fitted segments (bits 0..14) | timing kind of 1-group segments << 14
//! word 1..=n  : segment lengths in ramp order
//! ```
//!
//! A typical integration (no jump) is 2 words = 4 bytes; an integration that contributes nothing
//! to the variances (all groups unusable, saturated in group 0, ...) is 1 word. Records of one
//! pixel's integrations are simply concatenated in integration order.

use super::segments::Timing;

/// Segment lengths and counts must fit in 14 bits.
pub const MAX_GROUPS: usize = (1 << 14) - 1;

const COUNT_MASK: u16 = (1 << 14) - 1;

fn timing_code(t: Timing) -> u16 {
    match t {
        Timing::Group => 0,
        Timing::ZerothGroup => 1,
        Timing::ZeroFrame => 2,
    }
}

/// Appends one integration's record to `out`.
pub(crate) fn push(out: &mut Vec<u16>, timing: Timing, lens: impl ExactSizeIterator<Item = usize>) {
    out.push(lens.len() as u16 | timing_code(timing) << 14);
    out.extend(lens.map(|l| l as u16));
}

/// One decoded record.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Record<'a> {
    pub timing: Timing,
    pub lens: &'a [u16],
}

/// Splits the first record off a concatenated record stream; `None` if the stream is empty or cut.
pub(crate) fn split_first(stream: &[u16]) -> Option<(Record<'_>, &[u16])> {
    let (&head, rest) = stream.split_first()?;
    let n = (head & COUNT_MASK) as usize;
    let timing = match head >> 14 {
        0 => Timing::Group,
        1 => Timing::ZerothGroup,
        2 => Timing::ZeroFrame,
        _ => return None,
    };
    if rest.len() < n {
        return None;
    }
    let (lens, rest) = rest.split_at(n);
    Some((Record { timing, lens }, rest))
}

/// Number of `u16` words of the record at the start of `stream` (for drivers that index).
pub fn record_len(stream: &[u16]) -> Option<usize> {
    split_first(stream).map(|(r, _)| 1 + r.lens.len())
}
