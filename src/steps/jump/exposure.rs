//! Whole-exposure, in-memory composition of the jump kernels: the official `JumpStep` on arrays in
//! the FITS/numpy layout (`[int][group][row][col]`). It walks the frame in row bands with a
//! one-row halo exactly as a streaming driver does, so it doubles as the reference for band
//! drivers (the result must not depend on `band_rows`) and serves small exposures directly.

use super::band::{detect_band, finish_band, PLANE_CLEAR_MASK};
use super::neighbors::BandGeometry;
use super::params::{JumpError, JumpParams};
use super::setup::{
    accumulate_all_have, count_per_integration, flag_bad_gain, JumpMode, JumpSetup,
    NO_DETECTION_CR_COUNT,
};
use super::snowball;
use super::stats::nanmedian_f32;
use super::twopoint::PixelScratch;
use frames::dq;

/// Geometry of an exposure cube.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CubeShape {
    pub nints: usize,
    pub ngroups: usize,
    pub ny: usize,
    pub nx: usize,
}

impl CubeShape {
    pub fn frame(&self) -> usize {
        self.ny * self.nx
    }
    pub fn len(&self) -> usize {
        self.nints * self.ngroups * self.frame()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What the step reports besides the DQ arrays.
#[derive(Debug, Clone, PartialEq)]
pub struct ExposureOutcome {
    pub mode: JumpMode,
    /// stcal's `total_primary_crs` (-99 when detection was skipped for too few groups).
    pub number_crs: i64,
    /// Snowballs found (0 unless `expand_large_events`).
    pub number_extended_events: u64,
}

/// Run the jump step on a whole exposure held in memory.
///
/// `sci` (DN, float32), `gdq` (GROUPDQ, updated) are `[int][group][row][col]`; `pdq`
/// (PIXELDQ, updated), `gain`, `readnoise` (CDS, DN) are `[row][col]`. `band_rows` (>= 1) is the
/// number of rows processed together.
#[allow(clippy::too_many_arguments)]
pub fn detect_jumps_exposure(
    params: &JumpParams,
    nframes: u32,
    tgroup: f64,
    shape: CubeShape,
    sci: &[f32],
    gdq: &mut [u8],
    pdq: &mut [u32],
    gain: &[f32],
    readnoise: &[f32],
    band_rows: usize,
) -> Result<ExposureOutcome, JumpError> {
    let CubeShape {
        nints,
        ngroups,
        ny,
        nx,
    } = shape;
    let frame = shape.frame();
    if sci.len() != shape.len()
        || gdq.len() != shape.len()
        || pdq.len() != frame
        || gain.len() != frame
        || readnoise.len() != frame
        || band_rows == 0
    {
        return Err(JumpError::Shape(format!(
            "arrays do not match {nints}x{ngroups}x{ny}x{nx} (sci {}, groupdq {}, pixeldq {}, gain {}, readnoise {}, band rows {band_rows})",
            sci.len(),
            gdq.len(),
            pdq.len(),
            gain.len(),
            readnoise.len()
        )));
    }
    params.validate()?;
    if ngroups <= 2 {
        return Ok(ExposureOutcome {
            mode: JumpMode::StepSkipped,
            number_crs: 0,
            number_extended_events: 0,
        });
    }

    flag_bad_gain(pdq, gain);
    let median_gain = nanmedian_f32(gain, &mut Vec::with_capacity(frame));
    let gpp = nints * ngroups;
    let fully_dnu: Vec<usize> = {
        let all: Vec<bool> = (0..gpp)
            .map(|plane| {
                gdq[plane * frame..(plane + 1) * frame]
                    .iter()
                    .all(|&q| q & dq::G_DO_NOT_USE != 0)
            })
            .collect();
        count_per_integration(&all, ngroups)
    };
    let setup = JumpSetup::new(
        params,
        nints,
        ngroups,
        nframes,
        tgroup,
        &fully_dnu,
        median_gain,
    )?;

    let mut bands = BandBuffers::new(&setup, nx, band_rows);
    let mut primary = 0u64;
    if setup.detects() {
        // Sigma-clip mode needs the frame-level "plane all JUMP_DET or DO_NOT_USE" test first.
        let planes = if matches!(setup.mode, JumpMode::SigmaClip { .. }) {
            let mut all = vec![true; gpp];
            for start in (0..ny).step_by(band_rows) {
                let geo = bands.load(&setup, shape, start, sci, gdq, gain, readnoise);
                detect_band(
                    &setup,
                    &geo,
                    &bands.values,
                    &mut bands.gdq,
                    &mut bands.marks,
                    &bands.gain,
                    &bands.readnoise,
                    &mut bands.scratch,
                );
                let interior = geo.interior_pixels();
                accumulate_all_have(
                    &bands.gdq[interior.start * gpp..interior.end * gpp],
                    gpp,
                    PLANE_CLEAR_MASK,
                    &mut all,
                );
            }
            Some(all)
        } else {
            None
        };
        // Bands are written back only after all are processed: their halos read the input.
        let mut out = gdq.to_vec();
        for start in (0..ny).step_by(band_rows) {
            let geo = bands.load(&setup, shape, start, sci, gdq, gain, readnoise);
            detect_band(
                &setup,
                &geo,
                &bands.values,
                &mut bands.gdq,
                &mut bands.marks,
                &bands.gain,
                &bands.readnoise,
                &mut bands.scratch,
            );
            primary += finish_band(
                &setup,
                &geo,
                &mut bands.gdq,
                &mut bands.marks,
                planes.as_deref(),
            );
            bands.store_interior(&setup, shape, start, &geo, &mut out);
        }
        gdq.copy_from_slice(&out);
    } else {
        // No detection: only the removal of JUMP_DET from unusable groups.
        super::after_jump::clear_jump_on_unusable(gdq);
    }

    let mut extended = 0;
    if let Some(sb) = setup.snowball.as_ref() {
        extended = snowball::flag_large_events(sb, shape, gdq)?;
    }
    let number_crs = if setup.mode == JumpMode::NoDetection {
        NO_DETECTION_CR_COUNT
    } else {
        primary as i64
    };
    Ok(ExposureOutcome {
        mode: setup.mode,
        number_crs,
        number_extended_events: extended,
    })
}

/// Pixel-major copies of one band (with halo) and the per-pixel scratch.
struct BandBuffers {
    band_rows: usize,
    values: Vec<f32>,
    gdq: Vec<u8>,
    marks: Vec<u8>,
    gain: Vec<f32>,
    readnoise: Vec<f32>,
    scratch: PixelScratch,
}

impl BandBuffers {
    fn new(setup: &JumpSetup, nx: usize, band_rows: usize) -> Self {
        let cap = (band_rows + 2) * nx;
        let gpp = setup.groups_per_pixel();
        BandBuffers {
            band_rows,
            values: Vec::with_capacity(cap * gpp),
            gdq: Vec::with_capacity(cap * gpp),
            marks: Vec::with_capacity(cap * gpp),
            gain: Vec::with_capacity(cap),
            readnoise: Vec::with_capacity(cap),
            scratch: PixelScratch::new(setup.nints, setup.ngroups),
        }
    }

    /// Copy rows `start .. start + band_rows` (plus halo rows) into pixel-major buffers.
    #[allow(clippy::too_many_arguments)]
    fn load(
        &mut self,
        setup: &JumpSetup,
        shape: CubeShape,
        start: usize,
        sci: &[f32],
        gdq: &[u8],
        gain: &[f32],
        readnoise: &[f32],
    ) -> BandGeometry {
        let end = (start + self.band_rows).min(shape.ny);
        let first = start.saturating_sub(1);
        let last = (end + 1).min(shape.ny);
        let geo = BandGeometry {
            nx: shape.nx,
            rows: last - first,
            interior: start - first..end - first,
        };
        let gpp = setup.groups_per_pixel();
        let frame = shape.frame();
        let pixels = first * shape.nx..last * shape.nx;
        self.values.clear();
        self.gdq.clear();
        for p in pixels.clone() {
            for plane in 0..gpp {
                self.values.push(sci[plane * frame + p]);
                self.gdq.push(gdq[plane * frame + p]);
            }
        }
        self.marks.clear();
        self.marks.resize(self.gdq.len(), 0);
        self.gain.clear();
        self.gain.extend_from_slice(&gain[pixels.clone()]);
        self.readnoise.clear();
        self.readnoise.extend_from_slice(&readnoise[pixels]);
        geo
    }

    /// Write the interior rows of the band's GROUPDQ back into the cube.
    fn store_interior(
        &self,
        setup: &JumpSetup,
        shape: CubeShape,
        start: usize,
        geo: &BandGeometry,
        out: &mut [u8],
    ) {
        let gpp = setup.groups_per_pixel();
        let frame = shape.frame();
        let first_pixel = start * shape.nx;
        for (n, p) in geo.interior_pixels().enumerate() {
            let q = &self.gdq[p * gpp..(p + 1) * gpp];
            for (plane, &v) in q.iter().enumerate() {
                out[plane * frame + first_pixel + n] = v;
            }
        }
    }
}
