//! refpix (spec §8b): remove the bias drift of each group using the detector's reference pixels,
//! exactly as jwst 3.0.0 `RefPixStep` does for near-infrared, non-IRS2 data with the default
//! running-median algorithm.
//!
//! Every group is corrected from its own reference pixels only, so the work splits in three:
//!
//! 1. [`RefpixPlan::new`] once per exposure file: picks the path (4-amplifier full frame or
//!    subarray embedded in the 2048×2048 detector, 1-amplifier subarray, or no correction),
//!    works out which pixels are usable reference pixels and in which order numpy would visit
//!    them, and which DMS rows hold them ([`RefpixPlan::rows_needed`]).
//! 2. [`RefpixPlan::summarize`] once per group (and per ZEROFRAME): reads only those rows through a
//!    [`RowSource`] and returns a small [`GroupCorrection`]: the per-amplifier, per-column-parity
//!    offsets and, with side reference pixels, the per-row (or per-column) side signal.
//! 3. [`RefpixPlan::apply_band`] any number of times, on any band of rows, in any order: subtracts
//!    the correction in place with the official float32/float64 rounding.
//!
//! Numerical quirks reproduced (each matters at the last bit):
//! - numpy pairwise summation for float32 means and standard deviations, scipy's `sigmaclip`
//!   loop, the float64 branch for constant reference values, numpy's median ([`clipmean`]);
//! - the official step keeps one group buffer for the whole exposure. The side correction
//!   (`group - side_gain * sidegroup`) turns that buffer into float64, and every later group is
//!   copied into it. So on the 4-amplifier path with side pixels, only the very first group
//!   (integration 0, group 0 of the file) is computed in float32 (offset subtracted and rounded
//!   to float32, then the side signal subtracted in float64 and rounded again); every other group
//!   and every ZEROFRAME has its statistics, medians and both subtractions done in float64 with
//!   one final rounding ([`Precision`]).

mod apply;
pub mod clipmean;
pub mod geometry;
mod plan;
pub mod side;

pub use clipmean::RefValue;
pub use plan::RefpixPlan;

use frames::FramesError;

/// How the side reference signal is computed (`refpix_algorithm`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefpixAlgorithm {
    /// Running median of the side reference pixels (the default).
    Median,
    /// Simple Improved Reference Subtraction: a convolution kernel from a SIRSKERNEL reference,
    /// used by the official step only for NIR full-frame data. Not implemented.
    Sirs,
}

impl RefpixAlgorithm {
    /// The official option names, `"median"` and `"sirs"`.
    pub fn parse(name: &str) -> Option<RefpixAlgorithm> {
        match name {
            "median" => Some(RefpixAlgorithm::Median),
            "sirs" => Some(RefpixAlgorithm::Sirs),
            _ => None,
        }
    }
}

/// RefPixStep parameters with the official names and defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct RefpixParams {
    /// Separate reference levels for even- and odd-indexed detector columns.
    pub odd_even_columns: bool,
    /// Subtract the running median of the side reference columns from each row (4-amp path).
    pub use_side_ref_pixels: bool,
    /// Height of the running-median window; an even value is bumped by one, as officially.
    pub side_smoothing_length: i64,
    /// Factor applied to the side signal before it is subtracted.
    pub side_gain: f64,
    /// MIRI only; accepted and ignored for NIR data (the official NIR path forces it off).
    pub odd_even_rows: bool,
    /// IRS2 only; accepted and ignored for non-IRS2 data.
    pub ovr_corr_mitigation_ftr: f64,
    /// IRS2 only; accepted and ignored for non-IRS2 data.
    pub preserve_irs2_refpix: bool,
    /// IRS2 only; accepted and ignored for non-IRS2 data.
    pub irs2_mean_subtraction: bool,
    pub refpix_algorithm: RefpixAlgorithm,
    /// SIRS only.
    pub sigreject: f64,
    /// SIRS only.
    pub gaussmooth: f64,
    /// SIRS only.
    pub halfwidth: i64,
    /// Sigma-clipping limit (both sides) for the clipped means of the reference pixels.
    pub siglimit: f64,
}

impl Default for RefpixParams {
    fn default() -> Self {
        RefpixParams {
            odd_even_columns: true,
            use_side_ref_pixels: true,
            side_smoothing_length: 11,
            side_gain: 1.0,
            odd_even_rows: true,
            ovr_corr_mitigation_ftr: 3.0,
            preserve_irs2_refpix: false,
            irs2_mean_subtraction: false,
            refpix_algorithm: RefpixAlgorithm::Median,
            sigreject: 4.0,
            gaussmooth: 1.0,
            halfwidth: 30,
            siglimit: 3.0,
        }
    }
}

/// Which frame of the exposure file a correction is for. Integrations are counted from 0 within
/// the file (a segment file is processed on its own by the official pipeline too).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame {
    Group { integration: usize, group: usize },
    ZeroFrame { integration: usize },
}

/// What the official step records in `meta.cal_step.refpix`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefpixStatus {
    /// The correction ran (possibly with no usable reference pixels, which changes nothing).
    Complete,
    /// The step left the data alone; the reason is what the official step logs.
    Skipped(String),
}

/// The official correction path chosen for an exposure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefpixMode {
    /// Full frame, or a subarray with NOUTPUTS = 4 embedded in the full frame (spec §8b.2).
    FourAmp,
    /// Subarray with NOUTPUTS ≠ 4 (spec §8b.3).
    OneAmp,
    /// 1-amplifier subarray without usable reference pixels: no change (ZEROFRAME zeros still
    /// become +0).
    OneAmpNoReferencePixels,
    /// Step skipped (subarray outside the detector, MIRI subarray): data untouched.
    Skipped,
}

/// Arithmetic of one group, see the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    /// Offset subtracted and rounded to float32, side signal subtracted in float64 and rounded.
    Float32,
    /// Statistics on float64 values; offset and side signal subtracted in float64, one rounding.
    Float64,
}

/// The reference level(s) of one amplifier (4-amp path) or of the whole frame (1-amp path).
/// "Even"/"odd" name the 0-based detector column index parity: the official 4-amp code calls
/// the even-index set "odd" (1-based), its 1-amp code calls it "even".
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RefSignal {
    Split {
        even_index: Option<RefValue>,
        odd_index: Option<RefValue>,
    },
    Single(Option<RefValue>),
}

/// Everything needed to correct one group (or ZEROFRAME) of one integration; small enough to
/// keep for every group of an exposure.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupCorrection {
    frame: Frame,
    precision: Precision,
    signals: Vec<RefSignal>,
    offsets: [[f64; 2]; 4],
    side: Vec<f64>,
}

impl GroupCorrection {
    pub fn frame(&self) -> Frame {
        self.frame
    }
    pub fn precision(&self) -> Precision {
        self.precision
    }
    /// Reference levels: amplifiers A–D on the 4-amp path, one entry on the 1-amp path, none when
    /// nothing is corrected.
    pub fn signals(&self) -> &[RefSignal] {
        &self.signals
    }
    /// Offset subtracted from detector column `c`: `offsets()[c / 512][c % 2]` (0 where the
    /// official step subtracts nothing).
    pub fn offsets(&self) -> &[[f64; 2]; 4] {
        &self.offsets
    }
    /// Combined side signal (before `side_gain`), one value per subarray row (|FASTAXIS| = 1) or
    /// per subarray column (|FASTAXIS| = 2); empty when there is no side correction.
    pub fn side(&self) -> &[f64] {
        &self.side
    }
}

/// Gives the kernel the calibrated values (after group_scale and superbias, float32) of one DMS
/// row of the current group or ZEROFRAME.
pub trait RowSource {
    /// Fill `out` (one full row, SUBSIZE1 values) with row `y` (0-based) of the frame.
    fn read_row(&mut self, y: usize, out: &mut [f32]) -> Result<(), FramesError>;

    /// Set `values[slot]` to the value at column `x` of row `y` for every `(x, slot)` of `taps`
    /// (the reference pixels a summary needs). The default reads the whole row into `row`; a
    /// source that can reach single pixels cheaply overrides it (the side reference columns
    /// are 8 of a row's 2048 values).
    fn read_taps(
        &mut self,
        y: usize,
        taps: &[(u32, u32)],
        row: &mut [f32],
        values: &mut [f32],
    ) -> Result<(), FramesError> {
        self.read_row(y, row)?;
        for &(x, slot) in taps {
            values[slot as usize] = row[x as usize];
        }
        Ok(())
    }
}

impl<F> RowSource for F
where
    F: FnMut(usize, &mut [f32]) -> Result<(), FramesError>,
{
    fn read_row(&mut self, y: usize, out: &mut [f32]) -> Result<(), FramesError> {
        self(y, out)
    }
}

/// A frame held in memory, row-major, `ncols` values per row.
pub struct FrameRows<'a> {
    pub data: &'a [f32],
    pub ncols: usize,
}

impl RowSource for FrameRows<'_> {
    fn read_row(&mut self, y: usize, out: &mut [f32]) -> Result<(), FramesError> {
        out.copy_from_slice(&self.data[y * self.ncols..(y + 1) * self.ncols]);
        Ok(())
    }
}
