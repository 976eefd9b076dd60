//! Side reference signal (spec §8b.2 step 2): a running median down the four left and the four
//! right reference columns of the detector, reflected at the top and bottom, then the left and
//! right medians combined per detector row.
//!
//! Window geometry, as the official code has it: `create_reflected` pads `pad = L'/2` rows at
//! each end, where L' is the smoothing length bumped to the next odd number, but
//! `median_filter` then takes `L` rows (the *unbumped* length) starting at row `r − pad`. So an
//! odd L gives the symmetric window `r − pad ..= r + pad`, while an even L gives the asymmetric
//! window `r − L/2 ..= r + L/2 − 1` (one row fewer after the centre row than before it).

use super::clipmean::{np_median, Sample};
use super::geometry::FULL;

/// Reference columns per side block.
pub const SIDE_WIDTH: usize = 4;

/// Detector row whose pixels stand at window position `r + k − pad` after the official
/// `create_reflected` padding: row −k is row k and row 2047 + k is row 2047 − k (the edge row is
/// not repeated).
fn reflected_row(r: usize, k: usize, pad: usize) -> usize {
    let v = (r + k) as isize - pad as isize;
    let last = (FULL - 1) as isize;
    let folded = if v < 0 {
        -v
    } else if v > last {
        2 * last - v
    } else {
        v
    };
    folded as usize
}

/// `NIRDataset.median_filter` for detector row `r` of one side block: the median of the good
/// pixels in the `window` rows starting at `r − pad` (all four columns), NaN when there are
/// none. `block[row * 4 + k]` holds the already offset-corrected value of column k, `None` where
/// the pixel is DO_NOT_USE (or outside the subarray, which the embedding marks DO_NOT_USE).
pub fn running_median<T: Sample>(
    block: &[Option<T>],
    r: usize,
    window: &SideWindow,
    scratch: &mut Vec<T>,
) -> f64 {
    scratch.clear();
    for k in 0..window.rows {
        let row = reflected_row(r, k, window.pad);
        let cells = &block[row * SIDE_WIDTH..(row + 1) * SIDE_WIDTH];
        scratch.extend(cells.iter().flatten().copied());
    }
    if scratch.is_empty() {
        return f64::NAN;
    }
    np_median(scratch).to_f64()
}

/// Rows of the running-median window and the reflection padding, from `side_smoothing_length`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SideWindow {
    pub rows: usize,
    pub pad: usize,
}

impl SideWindow {
    /// `None` where the official padding fails (length below 2, or padding beyond the frame).
    pub fn new(smoothing_length: i64) -> Option<SideWindow> {
        let bumped = if smoothing_length % 2 == 0 {
            smoothing_length + 1
        } else {
            smoothing_length
        };
        let pad = bumped / 2;
        (smoothing_length >= 2 && pad < FULL as i64).then_some(SideWindow {
            rows: smoothing_length as usize,
            pad: pad as usize,
        })
    }
}

/// `NIRDataset.combine_with_nans`: 0 where both sides are NaN, the other side where one is, the
/// float64 mean otherwise.
pub fn combine(left: f64, right: f64) -> f64 {
    match (left.is_nan(), right.is_nan()) {
        (true, true) => 0.0,
        (true, false) => right,
        (false, true) => left,
        (false, false) => 0.5 * (left + right),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reflection_does_not_repeat_the_edge_row() {
        // half = 2: window of row 0 is rows 2, 1, 0, 1, 2; of row 2047: 2045, 2046, 2047, 2046, 2045.
        let w: Vec<usize> = (0..5).map(|k| reflected_row(0, k, 2)).collect();
        assert_eq!(w, [2, 1, 0, 1, 2]);
        let w: Vec<usize> = (0..5).map(|k| reflected_row(2047, k, 2)).collect();
        assert_eq!(w, [2045, 2046, 2047, 2046, 2045]);
    }

    #[test]
    fn running_median_counts_reflected_rows_twice() {
        let mut block = vec![None; FULL * SIDE_WIDTH];
        block[0] = Some(1.0f32);
        block[SIDE_WIDTH] = Some(5.0f32); // row 1, appears twice in the window of row 0
        let mut s = Vec::new();
        let w3 = SideWindow::new(3).unwrap();
        // values 5, 1, 5 → median 5
        assert_eq!(running_median(&block, 0, &w3, &mut s), 5.0);
        assert!(running_median(&block, 100, &w3, &mut s).is_nan());
        // Even length 2: pad 1, two rows r − 1 and r: rows 1 and 0 → (1 + 5) / 2.
        let w2 = SideWindow::new(2).unwrap();
        assert_eq!(w2, SideWindow { rows: 2, pad: 1 });
        assert_eq!(running_median(&block, 0, &w2, &mut s), 3.0);
        assert_eq!(SideWindow::new(6), Some(SideWindow { rows: 6, pad: 3 }));
        assert_eq!(SideWindow::new(1), None);
        assert_eq!(
            SideWindow::new(4095),
            Some(SideWindow {
                rows: 4095,
                pad: 2047
            })
        );
        assert_eq!(SideWindow::new(4096), None);
        assert_eq!(combine(f64::NAN, f64::NAN), 0.0);
        assert_eq!(combine(f64::NAN, 2.0), 2.0);
        assert_eq!(combine(1.0, 2.0), 1.5);
    }
}
