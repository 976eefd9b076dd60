//! Band-level composition of the per-pixel and spatial passes, in the official order:
//! detection → (sigma-clip plane clearing) → primary-CR count → four neighbours → after-jump →
//! removal of JUMP_DET from unusable groups.
//!
//! A driver calls [`detect_band`] on a band of rows plus a one-row halo above and below (where the
//! frame has them), then [`finish_band`], and keeps the interior rows of `gdq`. In sigma-clip mode
//! the plane clearing needs every pixel's detection first: run [`detect_band`] over all bands,
//! accumulating [`super::setup::accumulate_all_have`] over interior pixels with
//! `JUMP_DET | DO_NOT_USE`, then run both functions again (detection is deterministic) with the
//! resulting planes.

use frames::dq;

use super::after_jump::{clear_jump_on_unusable, count_jumps, flag_after_jumps};
use super::neighbors::{flag_four_neighbors, BandGeometry};
use super::setup::{JumpMode, JumpSetup};
use super::sigma_clip::clear_all_jump_planes;
use super::twopoint::{detect_pixel, PixelScratch};

/// Run [`detect_pixel`] on every pixel of the band (interior and halo rows).
///
/// `values`, `gdq`, `marks`: pixel-major, `band.pixels() * nints*ngroups`; `gain`, `readnoise`:
/// one per band pixel.
#[allow(clippy::too_many_arguments)]
pub fn detect_band(
    setup: &JumpSetup,
    band: &BandGeometry,
    values: &[f32],
    gdq: &mut [u8],
    marks: &mut [u8],
    gain: &[f32],
    readnoise: &[f32],
    scratch: &mut PixelScratch,
) {
    let gpp = setup.groups_per_pixel();
    debug_assert_eq!(values.len(), band.pixels() * gpp);
    debug_assert_eq!(gain.len(), band.pixels());
    debug_assert_eq!(readnoise.len(), band.pixels());
    let pixels = values
        .chunks_exact(gpp)
        .zip(gdq.chunks_exact_mut(gpp))
        .zip(marks.chunks_exact_mut(gpp))
        .zip(gain.iter().zip(readnoise));
    for (((v, q), m), (&g, &rn)) in pixels {
        detect_pixel(setup, v, q, m, g, rn, scratch);
    }
}

/// Everything after detection for one band; returns the number of JUMP_DET groups in the
/// interior rows after detection (the band's share of stcal's primary-CR count; meaningless in
/// [`JumpMode::NoDetection`], where stcal reports -99).
///
/// `planes` is the frame-level sigma-clip clearing mask (`nints*ngroups`), `None` in other
/// modes. On return the interior rows of `gdq` are final (before snowballs); halo rows are
/// scratch.
pub fn finish_band(
    setup: &JumpSetup,
    band: &BandGeometry,
    gdq: &mut [u8],
    marks: &mut [u8],
    planes: Option<&[bool]>,
) -> u64 {
    if setup.mode == JumpMode::StepSkipped {
        return 0;
    }
    let gpp = setup.groups_per_pixel();
    if let Some(planes) = planes {
        clear_all_jump_planes(gdq, planes);
    }
    let interior = band.interior_pixels();
    let interior_slots = interior.start * gpp..interior.end * gpp;
    let primary = count_jumps(&gdq[interior_slots.clone()]);

    flag_four_neighbors(setup, band, gdq, marks);
    for (q, m) in gdq[interior_slots.clone()]
        .chunks_exact_mut(gpp)
        .zip(marks[interior_slots.clone()].chunks_exact(gpp))
    {
        flag_after_jumps(setup, q, m);
    }
    clear_jump_on_unusable(&mut gdq[interior_slots]);
    primary
}

/// Whether a GROUPDQ value counts toward the sigma-clip "whole plane flagged" test.
pub const PLANE_CLEAR_MASK: u8 = dq::G_JUMP_DET | dq::G_DO_NOT_USE;
