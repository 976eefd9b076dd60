//! Where every pixel of a subarray sits on the 2048×2048 detector, in the frame the official
//! step works in (spec §8b.1–8b.3).
//!
//! The official code embeds a subarray into a 2048×2048 array at (SUBSTRT2−1, SUBSTRT1−1) in DMS
//! orientation and then flips/transposes the whole array into detector orientation with
//! `reffile_utils.science_detector_frame_transform`. We never build that array: every mapping is
//! an index computation, so a driver can keep DMS rows and we still pick the same pixels, the same
//! amplifier, the same column parity and the same order of values as numpy does.

use frames::dq;

/// Side of the detector (both axes).
pub const FULL: usize = 2048;
/// Columns per amplifier in detector orientation (amplifiers A–D side by side).
pub const AMP_WIDTH: usize = 512;
/// Width of the reference-pixel border of the full frame.
pub const BORDER: usize = 4;

/// FASTAXIS / SLOWAXIS of one exposure.
///
/// `|fast| == 1`: detector rows are DMS rows (reversed when `slow < 0`) and detector columns are
/// DMS columns (reversed when `fast < 0`). `|fast| == 2` (NIRSpec, NIRISS): the frame is
/// transposed, detector rows are DMS columns (reversed when `slow < 0`) and detector columns are
/// DMS rows (reversed when `fast < 0`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Orientation {
    fast: i32,
    slow: i32,
}

impl Orientation {
    /// `None` unless both keywords are ±1 or ±2 (the official slicing fails on anything else).
    pub fn new(fast: i32, slow: i32) -> Option<Orientation> {
        let ok = |a: i32| matches!(a.abs(), 1 | 2);
        (ok(fast) && ok(slow)).then_some(Orientation { fast, slow })
    }

    /// Whether detector rows run along DMS columns (|FASTAXIS| = 2).
    pub fn transposed(self) -> bool {
        self.fast.abs() == 2
    }

    /// Full-frame DMS (row, column) → detector (row, column).
    pub fn to_detector(self, y: usize, x: usize) -> (usize, usize) {
        let flip = |v: usize, sign: i32| if sign > 0 { v } else { FULL - 1 - v };
        if self.transposed() {
            (flip(x, self.slow), flip(y, self.fast))
        } else {
            (flip(y, self.slow), flip(x, self.fast))
        }
    }

    /// Detector (row, column) → full-frame DMS (row, column); the inverse of [`Self::to_detector`].
    pub fn to_dms(self, r: usize, c: usize) -> (usize, usize) {
        let flip = |v: usize, sign: i32| if sign > 0 { v } else { FULL - 1 - v };
        if self.transposed() {
            (flip(c, self.fast), flip(r, self.slow))
        } else {
            (flip(r, self.slow), flip(c, self.fast))
        }
    }
}

/// A frame of `nrows × ncols` DMS pixels placed at (`row0`, `col0`) of the full DMS frame.
/// Full-frame data are the special case (0, 0, 2048, 2048).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Embedding {
    pub row0: usize,
    pub col0: usize,
    pub nrows: usize,
    pub ncols: usize,
    pub orientation: Orientation,
}

impl Embedding {
    /// Detector (row, column) of subarray pixel (y, x).
    pub fn to_detector(&self, y: usize, x: usize) -> (usize, usize) {
        self.orientation.to_detector(self.row0 + y, self.col0 + x)
    }

    /// Subarray pixel at detector (row, column), or `None` outside the subarray.
    pub fn to_subarray(&self, r: usize, c: usize) -> Option<(usize, usize)> {
        let (y, x) = self.orientation.to_dms(r, c);
        let inside = (self.row0..self.row0 + self.nrows).contains(&y)
            && (self.col0..self.col0 + self.ncols).contains(&x);
        inside.then(|| (y - self.row0, x - self.col0))
    }
}

/// The PIXELDQ the official step sees in detector orientation: the subarray's own PIXELDQ inside
/// the subarray, `DO_NOT_USE | REFERENCE_PIXEL` on the full-frame border outside it, 0 elsewhere,
/// plus REFERENCE_PIXEL on the first and last four DMS columns of NIRSpec's edgeless subarrays
/// (SUB32, SUB512, SUB512S), which have no physical reference pixels.
pub struct DetectorDq<'a> {
    pub embedding: Embedding,
    pub pixeldq: &'a [u32],
    pub edgeless: bool,
}

impl DetectorDq<'_> {
    /// Flags of the pixel at detector (row, column).
    pub fn at(&self, r: usize, c: usize) -> u32 {
        match self.embedding.to_subarray(r, c) {
            Some((y, x)) => {
                let ncols = self.embedding.ncols;
                let mut flags = self.pixeldq[y * ncols + x];
                if self.edgeless && (x < BORDER || x + BORDER >= ncols) {
                    flags |= dq::REFERENCE_PIXEL;
                }
                flags
            }
            None => {
                // The border is the same set of pixels in DMS and detector orientation.
                let on_border = |v: usize| !(BORDER..FULL - BORDER).contains(&v);
                if on_border(r) || on_border(c) {
                    dq::DO_NOT_USE | dq::REFERENCE_PIXEL
                } else {
                    0
                }
            }
        }
    }

    /// Whether the pixel may serve as a reference value (no DO_NOT_USE).
    pub fn usable(&self, r: usize, c: usize) -> bool {
        self.at(r, c) & dq::DO_NOT_USE == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orientation_round_trips_and_matches_numpy_slicing() {
        for (fast, slow) in [
            (1, 2),
            (-1, 2),
            (1, -2),
            (-1, -2),
            (2, 1),
            (-2, -1),
            (2, -1),
        ] {
            let o = Orientation::new(fast, slow).unwrap();
            for (y, x) in [(0, 0), (3, 2047), (2047, 5), (1000, 17)] {
                let (r, c) = o.to_detector(y, x);
                assert_eq!(o.to_dms(r, c), (y, x));
            }
        }
        // NRCALONG (-1, 2): columns reversed.
        assert_eq!(
            Orientation::new(-1, 2).unwrap().to_detector(5, 0),
            (5, 2047)
        );
        // NRS1 (2, 1): plain transpose.
        assert_eq!(Orientation::new(2, 1).unwrap().to_detector(5, 9), (9, 5));
        // NRS2 (-2, -1): transpose, both reversed.
        assert_eq!(
            Orientation::new(-2, -1).unwrap().to_detector(5, 9),
            (2038, 2042)
        );
        assert!(Orientation::new(0, 2).is_none());
        assert!(Orientation::new(1, 3).is_none());
    }

    #[test]
    fn embedded_dq_has_the_official_border() {
        let o = Orientation::new(1, 2).unwrap();
        let emb = Embedding {
            row0: 10,
            col0: 0,
            nrows: 2,
            ncols: 12,
            orientation: o,
        };
        let pdq = [0u32; 24];
        let d = DetectorDq {
            embedding: emb,
            pixeldq: &pdq,
            edgeless: true,
        };
        assert_eq!(d.at(0, 100), dq::DO_NOT_USE | dq::REFERENCE_PIXEL);
        assert_eq!(d.at(100, 100), 0);
        assert_eq!(d.at(10, 0), dq::REFERENCE_PIXEL); // inside, edgeless first columns
        assert_eq!(d.at(10, 4), 0);
        assert_eq!(d.at(11, 8), dq::REFERENCE_PIXEL);
        assert_eq!(d.at(11, 7), 0);
    }
}
