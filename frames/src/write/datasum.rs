//! The FITS data-unit checksum (DATASUM), accumulated as pixel data are written.
//!
//! DATASUM is the 32-bit ones'-complement sum of the data unit read as big-endian 32-bit words
//! (FITS checksum convention; cfitsio `ffcsum`). Ones'-complement addition is commutative and
//! associative, so the sum of a data unit written rectangle by rectangle, in any order, is the
//! sum of the rectangles' sums — provided every byte is written exactly once (the caller checks
//! coverage and falls back to cfitsio's read-back otherwise). Zero fill contributes nothing.
//! Summing while writing saves reading every product back at the end (2 GB of rateints at 200
//! integrations).

/// Running ones'-complement sum of bytes at known offsets of a data unit.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct DataSum {
    /// Plain sum of word contributions, folded (end-around carry) after every `add`.
    acc: u64,
}

impl DataSum {
    /// Add `bytes`, which sit at byte `offset` of the data unit.
    pub(crate) fn add(&mut self, offset: u64, bytes: &[u8]) {
        let mut sum = 0u64;
        let lead = ((4 - (offset % 4) as usize) % 4).min(bytes.len());
        let (head, rest) = bytes.split_at(lead);
        for (k, &b) in head.iter().enumerate() {
            sum += (b as u64) << (8 * (3 - ((offset as usize + k) % 4)));
        }
        let words = rest.chunks_exact(4);
        let tail = words.remainder();
        // At most 2^32 words before a u64 overflows: sum in blocks, folding between them.
        for block in rest[..rest.len() - tail.len()].chunks(1 << 30) {
            let s: u64 = block
                .chunks_exact(4)
                .map(|w| u32::from_be_bytes([w[0], w[1], w[2], w[3]]) as u64)
                .sum();
            sum = fold(sum) + fold(s);
        }
        for (k, &b) in tail.iter().enumerate() {
            sum += (b as u64) << (8 * (3 - k % 4));
        }
        self.acc = fold(fold(self.acc) + fold(sum));
    }

    /// Add another running sum (of other bytes of the same data unit).
    pub(crate) fn add_sum(&mut self, other: DataSum) {
        self.acc = fold(fold(self.acc) + fold(other.acc));
    }

    /// The 32-bit DATASUM value.
    pub(crate) fn value(&self) -> u32 {
        fold(self.acc) as u32
    }
}

/// Fold the carries above bit 31 back into the low word until none is left (end-around carry).
fn fold(mut x: u64) -> u64 {
    while x >> 32 != 0 {
        x = (x & 0xFFFF_FFFF) + (x >> 32);
    }
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    /// cfitsio's `ffcsum` on whole 2880-byte blocks (16-bit halves, crossed carries), written
    /// plainly as the reference.
    fn ffcsum_reference(data: &[u8]) -> u32 {
        let mut sum: u64 = 0;
        for block in data.chunks(2880) {
            let mut padded = block.to_vec();
            padded.resize(2880, 0);
            let (mut hi, mut lo) = (sum >> 16, sum & 0xFFFF);
            for w in padded.chunks_exact(4) {
                hi += u16::from_be_bytes([w[0], w[1]]) as u64;
                lo += u16::from_be_bytes([w[2], w[3]]) as u64;
            }
            let (mut hc, mut lc) = (hi >> 16, lo >> 16);
            while hc | lc != 0 {
                hi = (hi & 0xFFFF) + lc;
                lo = (lo & 0xFFFF) + hc;
                hc = hi >> 16;
                lc = lo >> 16;
            }
            sum = (hi << 16) + lo;
        }
        sum as u32
    }

    fn bytes(n: usize, seed: u64) -> Vec<u8> {
        let mut x = seed | 1;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect()
    }

    #[test]
    fn whole_unit_matches_cfitsio() {
        for (n, seed) in [(0, 1), (4, 2), (2880, 3), (10_000, 4), (123_457, 5)] {
            let d = bytes(n, seed);
            let mut s = DataSum::default();
            s.add(0, &d);
            assert_eq!(s.value(), ffcsum_reference(&d), "n = {n}");
        }
        // All bits set: the ones'-complement "-0" stays 0xFFFFFFFF, as in cfitsio.
        let d = vec![0xFF; 2880 * 3];
        let mut s = DataSum::default();
        s.add(0, &d);
        assert_eq!(s.value(), ffcsum_reference(&d));
    }

    #[test]
    fn pieces_in_any_order_at_any_alignment_sum_to_the_whole() {
        let d = bytes(50_001, 9);
        let cuts = [0, 1, 3, 7, 8, 4097, 4100, 20_000, 20_003, 33_333, 50_001];
        let mut pieces: Vec<(usize, usize)> = cuts.windows(2).map(|w| (w[0], w[1])).collect();
        pieces.reverse();
        pieces.swap(1, 5);
        let mut s = DataSum::default();
        for (a, b) in pieces {
            s.add(a as u64, &d[a..b]);
        }
        assert_eq!(s.value(), ffcsum_reference(&d));
    }
}
