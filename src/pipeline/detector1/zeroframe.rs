//! The ZEROFRAME of an exposure (the first frame of every integration, `ZEROFRAME` HDU) through
//! Stage 1, for the ramp fit's suppress_one_group=false special cases (spec §12.2) and the
//! `_ramp` product, and for the steps' own saved ramps (`--steps.<step>.save_results`), which
//! carry the ZEROFRAME HDU as it stands after their step ([`ZeroFrameStage`]).
//!
//! jwst 3.0.0 corrects it only when `ZEROFRAM = T` and then with four steps, a 0 meaning "bad"
//! throughout: saturation (0 where the value is ≥ the threshold, grown by n_pix_grow_sat, or ≤ 0;
//! spec §7), superbias (zeros kept; §8), refpix (run again on the ZEROFRAME as a one-group ramp,
//! zeros kept; §8b.4) and linearity (zeros kept; §9). group_scale, ipc and dark_current leave it
//! alone, and so do dq_init and jump (jwst 3.0.0's saved per-step files, checked with the
//! official pipeline: fixtures/step_saves_zeroframe). The ramp fit reads the ZEROFRAME whenever the file has the HDU (`hasattr`), so with
//! `ZEROFRAM = F` it sees the raw values.
//!
//! Streaming: the refpix summaries of every integration's ZEROFRAME are made in pass A (after
//! the groups' ones, in the same vector); pass B recomputes the corrected values of a tile from
//! the map — saturation growth needs the read margin around the tile, every other step is per
//! pixel.

use super::exact::TileRect;
use super::prepare::Prepared;
use crate::steps::refpix::{Frame, FrameRows, GroupCorrection, RefpixPlan};
use crate::steps::saturation::{self, SaturationParams, SaturationScratch, Thresholds, Tile};
use crate::steps::{linearity, superbias};
use anyhow::Result;
use frames::raw::RawExposure;
use rayon::prelude::*;

/// How an exposure's ZEROFRAME reaches the products.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZeroFrameUse {
    /// `ZEROFRAM = T` and the HDU is present: corrected by the four steps.
    Corrected,
    /// The HDU is present with `ZEROFRAM = F`: no step touches it, the fit reads it as is.
    Raw,
}

/// Whether and how `raw`'s ZEROFRAME is used (None: the file has no ZEROFRAME HDU).
pub fn usage(raw: &RawExposure) -> Option<ZeroFrameUse> {
    if !raw.has_zeroframe() {
        return None;
    }
    Some(if raw.meta().zero_frame {
        ZeroFrameUse::Corrected
    } else {
        ZeroFrameUse::Raw
    })
}

/// Saturation check of a ZEROFRAME area (`rows × cols` values starting at frame row `y0`,
/// column `x0`): the reference threshold of the same area, flagged values zeroed.
#[allow(clippy::too_many_arguments)]
fn saturate(
    prep: &Prepared,
    sat: Option<SaturationParams>,
    y0: usize,
    x0: usize,
    rows: usize,
    cols: usize,
    z: &mut [f32],
    scratch: &mut SaturationScratch,
) -> Result<()> {
    let (Some(s), Some(sp)) = (&prep.saturation, sat) else {
        return Ok(());
    };
    let threshold = s.threshold.rect(y0..y0 + rows, x0..x0 + cols)?;
    let nosat = vec![false; rows * cols];
    let thr = Thresholds {
        threshold: &threshold,
        nosat: &nosat,
        bias: None,
    };
    let tile = Tile {
        rows,
        cols,
        ngroups: 1,
    };
    saturation::flag_zeroframe(tile, z, &thr, &sp, scratch);
    Ok(())
}

/// Superbias of a rectangle of whole-frame rows/columns.
fn subtract_bias(prep: &Prepared, y0: usize, x0: usize, cols: usize, z: &mut [f32]) -> Result<()> {
    if let Some(b) = &prep.superbias {
        let rows = z.len() / cols.max(1);
        let bias = b.rect(y0..y0 + rows, x0..x0 + cols)?;
        for (row, b) in z.chunks_exact_mut(cols).zip(bias.chunks_exact(cols)) {
            superbias::subtract_zeroframe(row, b);
        }
    }
    Ok(())
}

/// Pass A: the refpix summary of every integration's ZEROFRAME (saturation and superbias
/// applied), in integration order. Each integration's whole frame is held while it is
/// summarised (one frame per thread).
pub fn refpix_summaries(
    raw: &RawExposure,
    prep: &Prepared,
    sat: Option<SaturationParams>,
    plan: &RefpixPlan,
) -> Result<Vec<GroupCorrection>> {
    let (ny, nx) = (raw.ny(), raw.nx());
    (0..raw.nints())
        .into_par_iter()
        .map(|i| -> Result<GroupCorrection> {
            let mut z = vec![0f32; ny * nx];
            raw.read_zeroframe_band_f32(i, 0, ny, &mut z)?;
            saturate(
                prep,
                sat,
                0,
                0,
                ny,
                nx,
                &mut z,
                &mut SaturationScratch::default(),
            )?;
            subtract_bias(prep, 0, 0, nx, &mut z)?;
            let mut rows = FrameRows {
                data: &z,
                ncols: nx,
            };
            Ok(plan.summarize(Frame::ZeroFrame { integration: i }, &mut rows)?)
        })
        .collect()
}

/// Points of the correction chain where a copy of a tile's ZEROFRAME can be taken, for the
/// steps' own saved ramps (which carry the ZEROFRAME HDU as it stands after the step).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZeroFrameStage {
    /// As read (group_scale, dq_init; every step with `ZEROFRAM = F`).
    Raw = 0,
    /// After saturation (also ipc's: ipc leaves it alone).
    Saturation,
    /// After superbias.
    Superbias,
    /// After refpix.
    Refpix,
    /// After linearity (also dark_current's and jump's: they leave it alone).
    Linearity,
}

/// Number of [`ZeroFrameStage`] points.
pub const ZEROFRAME_STAGES: usize = 5;

/// Which [`ZeroFrameStage`] copies a run wants (indexed by the stage).
pub type StageRequest = [bool; ZEROFRAME_STAGES];

/// A tile's ZEROFRAME at the wanted stages: plane-major `[int][core row][core col]`.
#[derive(Debug, Default)]
pub struct ZeroFrameStages {
    pub values: [Option<Vec<f32>>; ZEROFRAME_STAGES],
}

/// What [`tile_stages`] gives.
pub struct TileZeroFrame {
    /// The values the ramp fit sees, pixel-major `[pixel][int]` (when asked for).
    pub fit: Option<Vec<f32>>,
    pub stages: ZeroFrameStages,
}

/// Pass B: the ZEROFRAME of the tile's core pixels as the ramp fit sees them (when `fit`),
/// pixel-major (`[pixel][integration]`, row-major over the core), and copies of it after each
/// wanted step (`stages`; with `ZEROFRAM = F` every stage holds the raw values). `refpix` is the
/// plan with its corrections when refpix runs: the ZEROFRAME ones follow the NINTS·NGROUPS
/// group ones.
#[allow(clippy::too_many_arguments)]
pub fn tile_stages(
    raw: &RawExposure,
    prep: &Prepared,
    sat: Option<SaturationParams>,
    refpix: Option<&(RefpixPlan, Vec<GroupCorrection>)>,
    usage: ZeroFrameUse,
    t: &TileRect,
    fit: bool,
    stages: &StageRequest,
) -> Result<TileZeroFrame> {
    let (nints, ngroups, nx) = (raw.nints(), raw.ngroups(), raw.nx());
    let (rows, cols) = (t.y1 - t.y0, t.x1 - t.x0);
    let ncore = rows * cols;
    let (rrows, rw) = (t.r1 - t.r0, t.rx1 - t.rx0);
    let corrected = usage == ZeroFrameUse::Corrected;
    let coeffs: Option<Vec<f32>> = match &prep.linearity {
        Some(l) if corrected => Some(l.coeffs.rect(t.y0..t.y1, t.x0..t.x1)?),
        _ => None,
    };
    let mut out = TileZeroFrame {
        fit: fit.then(|| vec![0f32; ncore * nints]),
        stages: ZeroFrameStages::default(),
    };
    for (slot, &wanted) in out.stages.values.iter_mut().zip(stages) {
        if wanted {
            *slot = Some(vec![0f32; ncore * nints]);
        }
    }
    let mut band = vec![0f32; rrows * nx];
    let mut area = vec![0f32; rrows * rw];
    let mut core = vec![0f32; ncore];
    let mut scratch = SaturationScratch::default();
    for i in 0..nints {
        let plane = i * ncore..(i + 1) * ncore;
        let mut keep = |stage: ZeroFrameStage, core: &[f32]| {
            if let Some(v) = &mut out.stages.values[stage as usize] {
                v[plane.clone()].copy_from_slice(core);
            }
        };
        raw.read_zeroframe_band_f32(i, t.r0, t.r1, &mut band)?;
        for (a, b) in area.chunks_exact_mut(rw).zip(band.chunks_exact(nx)) {
            a.copy_from_slice(&b[t.rx0..t.rx1]);
        }
        let core_of = |area: &[f32], core: &mut [f32]| {
            for (r, c) in core.chunks_exact_mut(cols).enumerate() {
                let src = (t.y0 - t.r0 + r) * rw + (t.x0 - t.rx0);
                c.copy_from_slice(&area[src..src + cols]);
            }
        };
        if stages[ZeroFrameStage::Raw as usize] {
            core_of(&area, &mut core);
            keep(ZeroFrameStage::Raw, &core);
        }
        if corrected {
            // Saturation growth reaches the read margin around the core; the rest is per pixel.
            saturate(prep, sat, t.r0, t.rx0, rrows, rw, &mut area, &mut scratch)?;
        }
        core_of(&area, &mut core);
        keep(ZeroFrameStage::Saturation, &core);
        if corrected {
            subtract_bias(prep, t.y0, t.x0, cols, &mut core)?;
        }
        keep(ZeroFrameStage::Superbias, &core);
        if let (true, Some((plan, corr))) = (corrected, refpix) {
            plan.apply_rect(&corr[nints * ngroups + i], t.y0, t.x0, cols, &mut core);
        }
        keep(ZeroFrameStage::Refpix, &core);
        if let (Some(c), Some(l)) = (&coeffs, &prep.linearity) {
            linearity::correct_zeroframe(&mut core, c, l.ncoeff);
        }
        keep(ZeroFrameStage::Linearity, &core);
        if let Some(f) = &mut out.fit {
            for (p, &v) in core.iter().enumerate() {
                f[p * nints + i] = v;
            }
        }
    }
    Ok(out)
}
