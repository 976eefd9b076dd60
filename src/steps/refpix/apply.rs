//! Subtracting a [`GroupCorrection`] from a band of DMS rows with the official rounding.

use super::geometry::AMP_WIDTH;
use super::{Frame, GroupCorrection, Precision, RefpixPlan};

/// One pixel: subtract the amplifier/parity offset, then `side_gain · side`.
///
/// Float32 mode: numpy subtracts the offset from the float32 group (float32 arithmetic, or
/// float64 rounded to float32 when the offset is a float64 scalar; both equal rounding the exact
/// float64 difference), then computes `group - side_gain * sidegroup` in float64 and the result
/// is stored as float32. Float64 mode: both subtractions on the float64 buffer, one rounding when
/// the group is stored back. A missing offset or side signal is 0, which changes nothing.
#[inline]
fn corrected(v: f32, offset: f64, side: f64, precision: Precision) -> f32 {
    match precision {
        Precision::Float32 => {
            let after_offset = (v as f64 - offset) as f32;
            (after_offset as f64 - side) as f32
        }
        Precision::Float64 => ((v as f64 - offset) - side) as f32,
    }
}

impl RefpixPlan {
    /// Correct rows `y0 .. y0 + rows.len() / SUBSIZE1` of the frame `correction` was computed
    /// for, in place. Bands may come in any order and size. For a ZEROFRAME, pixels that were
    /// exactly 0 ("no data") are left at +0, as the official step resets them.
    ///
    /// Panics if `rows` is not a whole number of rows inside the frame (a driver bug).
    pub fn apply_band(&self, correction: &GroupCorrection, y0: usize, rows: &mut [f32]) {
        let ncols = self.embedding().ncols;
        self.apply_rect(correction, y0, 0, ncols, rows);
    }

    /// Correct the rectangle of `rows.len() / width` rows starting at row `y0` and of `width`
    /// columns starting at column `x0` (row-major, `width` values per row), in place. The
    /// arithmetic per pixel is exactly [`Self::apply_band`]'s, so a driver that cuts the frame
    /// into tiles gets the same values.
    ///
    /// Panics if the rectangle does not fit inside the frame (a driver bug).
    pub fn apply_rect(
        &self,
        correction: &GroupCorrection,
        y0: usize,
        x0: usize,
        width: usize,
        rows: &mut [f32],
    ) {
        let emb = self.embedding();
        let ncols = emb.ncols;
        assert!(
            width > 0
                && x0 + width <= ncols
                && rows.chunks_exact(width).remainder().is_empty()
                && y0 + rows.len() / width <= emb.nrows,
            "refpix rectangle of {} values ({width} wide) at row {y0}, column {x0} does not fit a {}×{ncols} frame",
            rows.len(),
            emb.nrows
        );
        if !self.changes_data() {
            return;
        }
        let precision = correction.precision;
        let zero_frame = matches!(correction.frame, Frame::ZeroFrame { .. });
        let gain = self.side_gain();
        let side_at = |line: usize| {
            if correction.side.is_empty() {
                0.0
            } else {
                gain * correction.side[line]
            }
        };
        let offset_at = |c: usize| correction.offsets[c / AMP_WIDTH][c % 2];
        let finish = |v: f32, out: f32| if zero_frame && v == 0.0 { 0.0 } else { out };

        if emb.orientation.transposed() {
            // Amplifiers are bands of DMS rows; the side signal varies along the row.
            let side: Vec<f64> = (x0..x0 + width).map(side_at).collect();
            for (k, row) in rows.chunks_exact_mut(width).enumerate() {
                let offset = offset_at(self.amp_axis()[y0 + k]);
                for (v, &s) in row.iter_mut().zip(&side) {
                    *v = finish(*v, corrected(*v, offset, s, precision));
                }
            }
        } else {
            // Amplifiers are bands of DMS columns; the side signal is one value per row.
            let offsets: Vec<f64> = self.amp_axis()[x0..x0 + width]
                .iter()
                .map(|&c| offset_at(c))
                .collect();
            for (k, row) in rows.chunks_exact_mut(width).enumerate() {
                let s = side_at(y0 + k);
                for (v, &offset) in row.iter_mut().zip(&offsets) {
                    *v = finish(*v, corrected(*v, offset, s, precision));
                }
            }
        }
    }
}
