//! Four-neighbour flagging (spec §11.7 step 1; stcal `flag_four_neighbors`): a detected jump whose
//! pooled ratio `|Δ - M| / σ` lies strictly between `min_jump_to_flag_neighbors` and
//! `max_jump_to_flag_neighbors` also flags its up/down/left/right neighbours in the same group,
//! where those are neither SATURATED nor DO_NOT_USE. Purely spatial within one (int, group), so
//! a row band needs one halo row above and below (whose detection has run) to be exact.

use std::ops::Range;

use frames::dq;
use rayon::prelude::*;

use super::setup::JumpSetup;
use super::twopoint::{MARK_NEIGHBOR_CENTRE, MARK_NEIGHBOR_RANGE};

/// A band of whole rows held pixel-major: pixel `p = row_in_band * nx + col`, its groups at
/// `p * nints*ngroups ..`. `interior` are the rows this band owns; rows outside it (at most one
/// above and one below) are halo rows of neighbouring bands, or absent at the frame edge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BandGeometry {
    pub nx: usize,
    pub rows: usize,
    pub interior: Range<usize>,
}

impl BandGeometry {
    /// A band of `rows` rows with no halo (e.g. the whole frame).
    pub fn whole(nx: usize, rows: usize) -> Self {
        BandGeometry {
            nx,
            rows,
            interior: 0..rows,
        }
    }

    pub fn pixels(&self) -> usize {
        self.nx * self.rows
    }

    /// Pixel indices (within the band) of the interior rows.
    pub fn interior_pixels(&self) -> Range<usize> {
        self.interior.start * self.nx..self.interior.end * self.nx
    }
}

/// Flag the four neighbours of qualifying jumps in the interior rows of a band.
///
/// `gdq`/`marks` cover every row of the band (interior and halo) after [`detect_pixel`] (and, in
/// sigma-clip mode, after the plane clearing). Marks of all rows gain [`MARK_NEIGHBOR_CENTRE`];
/// only interior rows of `gdq` are updated.
///
/// [`detect_pixel`]: super::twopoint::detect_pixel
pub fn flag_four_neighbors(
    setup: &JumpSetup,
    band: &BandGeometry,
    gdq: &mut [u8],
    marks: &mut [u8],
) {
    if !setup.flag_4_neighbors || !setup.detects() {
        return;
    }
    let gpp = setup.groups_per_pixel();
    debug_assert_eq!(gdq.len(), band.pixels() * gpp);
    debug_assert_eq!(marks.len(), band.pixels() * gpp);

    // Centres: in range and flagged by detection (not by this pass). Most pixels hold none, so
    // note per pixel whether it holds any and skip pixels with no centre within reach. Rows are
    // independent in both passes (the second reads only marks), so rayon splits them.
    let nx = band.nx;
    let mut has_centre = vec![false; band.pixels()];
    marks
        .par_chunks_mut(gpp * nx)
        .zip(gdq.par_chunks(gpp * nx))
        .zip(has_centre.par_chunks_mut(nx))
        .for_each(|((ms, qs), hs)| {
            for ((ms, qs), h) in ms.chunks_exact_mut(gpp).zip(qs.chunks_exact(gpp)).zip(hs) {
                let mut any = 0u8;
                for (m, &q) in ms.iter_mut().zip(qs) {
                    let c = (*m & MARK_NEIGHBOR_RANGE != 0) & (q & dq::G_JUMP_DET != 0);
                    *m |= c as u8 * MARK_NEIGHBOR_CENTRE;
                    any |= c as u8;
                }
                *h = any != 0;
            }
        });

    let marks: &[u8] = marks;
    let interior = band.interior.clone();
    let rows = band.rows;
    gdq.par_chunks_mut(gpp * nx)
        .enumerate()
        .filter(|(row, _)| interior.contains(row))
        .for_each(|(row, qrow)| {
            for col in 0..nx {
                let pix = row * nx + col;
                let near = has_centre[pix]
                    || (row > 0 && has_centre[pix - nx])
                    || (row + 1 < rows && has_centre[pix + nx])
                    || (col > 0 && has_centre[pix - 1])
                    || (col + 1 < nx && has_centre[pix + 1]);
                if !near {
                    continue;
                }
                // The pixel's own marks stand in for a missing neighbour (OR-ing them twice
                // changes nothing). Group-0 slots never hold a centre (no difference ends
                // there), so every slot can be tested alike, without a branch.
                let marks_of = |p: usize| &marks[p * gpp..(p + 1) * gpp];
                let own = marks_of(pix);
                let up = if row > 0 { marks_of(pix - nx) } else { own };
                let down = if row + 1 < rows {
                    marks_of(pix + nx)
                } else {
                    own
                };
                let left = if col > 0 { marks_of(pix - 1) } else { own };
                let right = if col + 1 < nx { marks_of(pix + 1) } else { own };
                let q = &mut qrow[col * gpp..(col + 1) * gpp];
                for slot in 0..gpp {
                    let m = own[slot] | up[slot] | down[slot] | left[slot] | right[slot];
                    let hit = (m & MARK_NEIGHBOR_CENTRE != 0)
                        & (q[slot] & (dq::G_SATURATED | dq::G_DO_NOT_USE) == 0);
                    q[slot] |= hit as u8 * dq::G_JUMP_DET;
                }
            }
        });
}
