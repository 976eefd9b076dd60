//! The exact driver: band-major passes over the memory map, bit-identical to the official
//! pipeline (spec §16.2).
//!
//! * Pass A, frame-wise: for every (integration, group) the reference-pixel summary (a few
//!   offsets and a side vector, from the reference rows only) and the "is every pixel
//!   DO_NOT_USE" test jump's mode selection needs.
//! * Pass B, row bands: each band of rows is read for every integration and group straight from
//!   the map, with a halo of rows above and below (saturation growth, the IPC kernel and
//!   four-neighbour flagging look one or more rows away), corrected by the fused kernels (ipc,
//!   the one spatial correction, per group plane after saturation), then held
//!   pixel-major while jump and ramp fitting see each pixel's whole exposure. The band's rows of
//!   every product are written at once. Band height follows the memory budget, so peak memory
//!   does not grow with NINTS beyond one row's worth of reads.
//!
//! Rayon runs integrations (corrections) and pixels (jump, ramp fit) in parallel; every pixel's
//! arithmetic is independent of the split, so results are identical for any thread count.

use super::prepare::Prepared;
use super::snowballs::SnowStage;
use super::taps::{FlagTap, TapGeometry, TapInt, TapRequest, Taps, ValueTap};
use super::transpose::{sized_huge, transpose_row, TransposeGeometry};
use crate::steps::ipc::{IpcScratch, Rect as IpcRect};
use crate::steps::jump::{self, BandGeometry, JumpMode, JumpSetup, PixelScratch};
use crate::steps::ramp_fit::{ExposureParams, FitConfig, FitValues, PixelConsts, RampScratch};
use crate::steps::refpix::{
    Frame as RefFrame, GroupCorrection, RefpixParams, RefpixPlan, RefpixStatus,
};
use crate::steps::saturation::{self, SaturationParams, SaturationScratch, Thresholds, Tile};
use crate::steps::{dq_init, group_scale, linearity, superbias};
use anyhow::Result;
use frames::dq;
use frames::raw::RawExposure;
use rayon::prelude::*;
use std::time::Instant;
use stream::StageTimes;

/// Step parameters the engine needs beyond the prepared references.
pub struct EngineParams {
    pub saturation: Option<SaturationParams>,
    pub refpix: Option<RefpixParams>,
    pub jump: Option<jump::JumpParams>,
    pub ramp: ExposureParams,
    pub budget: stream::MemoryBudget,
    /// Intermediate ramps to copy out of the correction chain (per-step saves).
    pub taps: TapRequest,
    /// ZEROFRAME copies for the per-step saves.
    pub zeroframe_stages: super::zeroframe::StageRequest,
}

/// What pass A leaves for pass B.
pub struct PassA {
    pub refpix: Option<(RefpixPlan, Vec<GroupCorrection>)>,
    pub refpix_status: Option<RefpixStatus>,
    pub fully_dnu_per_int: Vec<usize>,
}

/// One tile of the products: rate and rateints values of the tile's core pixels.
pub struct BandProducts {
    pub y0: usize,
    pub x0: usize,
    pub rows: usize,
    pub cols: usize,
    pub rate: Vec<FitValues>,
    /// Per-integration results, pixel-major: `[pixel][int]`.
    pub ints: Vec<FitValues>,
    /// Calibrated ramp and GROUPDQ of the band's rows (only when the ramp product is wanted):
    /// plane-major `[int][group][row][col]`.
    pub ramp: Option<(Vec<f32>, Vec<u8>)>,
    /// Final PIXELDQ of the band's rows.
    pub pixeldq: Vec<u32>,
    /// The intermediate ramps asked for by [`EngineParams::taps`].
    pub taps: Taps,
    /// The ZEROFRAME of the core pixels as the ramp fit saw it, pixel-major `[pixel][int]`
    /// (None: the exposure has none).
    pub zeroframe: Option<Vec<f32>>,
    /// The ZEROFRAME copies asked for by [`EngineParams::zeroframe_stages`].
    pub zeroframe_stages: super::zeroframe::ZeroFrameStages,
    /// Whether some core pixel has an integration whose group 0 is not SATURATED. The official
    /// ramp fit returns no product at all when no pixel of the whole frame has one.
    pub any_unsaturated_start: bool,
}

/// Reads one calibrated row (group_scale, ipc and superbias applied) for refpix summaries.
/// ipc changes only science pixels; refpix reads reference pixels, which are science pixels
/// only when the mask flags REFERENCE_PIXEL inside the science area (1-amplifier subarrays):
/// then the rows the kernel reaches are read too.
fn calibrated_row(
    raw: &RawExposure,
    prep: &Prepared,
    int: usize,
    group: usize,
    y: usize,
    out: &mut [f32],
) -> Result<(), frames::FramesError> {
    match &prep.ipc {
        Some(ipc) => {
            let nx = prep.nx;
            let h = ipc.halo();
            let area = IpcRect {
                y0: y.saturating_sub(h),
                y1: (y + h + 1).min(prep.ny),
                x0: 0,
                x1: nx,
            };
            let mut band = vec![0f32; area.rows() * nx];
            raw.read_band_f32(int, group, area.y0, area.y1, &mut band)?;
            if let Some(f) = prep.group_scale {
                group_scale::apply(&mut band, f);
            }
            let target = IpcRect {
                y0: y,
                y1: y + 1,
                ..area
            };
            ipc.correct(&mut band, area, target, &mut IpcScratch::default());
            let r = y - area.y0;
            out.copy_from_slice(&band[r * nx..(r + 1) * nx]);
        }
        None => {
            raw.read_band_f32(int, group, y, y + 1, out)?;
            if let Some(f) = prep.group_scale {
                group_scale::apply(out, f);
            }
        }
    }
    if let Some(b) = &prep.superbias {
        superbias::subtract_plane(out, &b.rows(y..y + 1)?);
    }
    Ok(())
}

/// The calibrated rows of one raw frame for refpix summaries; reference pixels are decoded
/// one by one instead of whole rows.
struct CalibratedFrame<'a> {
    raw: &'a RawExposure,
    prep: &'a Prepared,
    int: usize,
    group: usize,
}

impl crate::steps::refpix::RowSource for CalibratedFrame<'_> {
    fn read_row(&mut self, y: usize, out: &mut [f32]) -> Result<(), frames::FramesError> {
        calibrated_row(self.raw, self.prep, self.int, self.group, y, out)
    }

    fn read_taps(
        &mut self,
        y: usize,
        taps: &[(u32, u32)],
        row: &mut [f32],
        values: &mut [f32],
    ) -> Result<(), frames::FramesError> {
        if let Some(ipc) = &self.prep.ipc {
            if taps.iter().any(|&(x, _)| ipc.is_science(y, x as usize)) {
                calibrated_row(self.raw, self.prep, self.int, self.group, y, row)?;
                for &(x, slot) in taps {
                    values[slot as usize] = row[x as usize];
                }
                return Ok(());
            }
        }
        let bytes = self.raw.band_bytes(self.int, self.group, y, y + 1)?;
        let bias_row = match &self.prep.superbias {
            Some(b) => Some(b.rows(y..y + 1)?),
            None => None,
        };
        for &(x, slot) in taps {
            let x = x as usize;
            // The same per-pixel operations as `calibrated_row`, on one value.
            let mut v = [0f32];
            frames::raw::decode_u16_offset_be_to_f32(&bytes[2 * x..2 * x + 2], &mut v);
            if let Some(f) = self.prep.group_scale {
                group_scale::apply(&mut v, f);
            }
            if let Some(b) = &bias_row {
                superbias::subtract_plane(&mut v, &b[x..x + 1]);
            }
            values[slot as usize] = v[0];
        }
        Ok(())
    }
}

/// Pass A.
pub fn pass_a(
    raw: &RawExposure,
    prep: &Prepared,
    params: &EngineParams,
    times: &mut StageTimes,
) -> Result<PassA> {
    let meta = raw.meta();
    let (nints, ngroups) = (raw.nints(), raw.ngroups());
    let t0 = Instant::now();
    let refpix = match &params.refpix {
        Some(rp) => {
            let plan = RefpixPlan::new(raw.path(), meta, &prep.pixeldq_refpix.whole()?, rp)?;
            Some(plan)
        }
        None => None,
    };
    let refpix_status = refpix.as_ref().map(|p| p.status());
    let refpix = match refpix {
        Some(plan) if plan.status() == RefpixStatus::Complete => {
            let frames: Vec<(usize, usize)> = (0..nints)
                .flat_map(|i| (0..ngroups).map(move |g| (i, g)))
                .collect();
            let corrections: Vec<GroupCorrection> = frames
                .par_iter()
                .map(|&(i, g)| {
                    let mut src = CalibratedFrame {
                        raw,
                        prep,
                        int: i,
                        group: g,
                    };
                    let c = plan.summarize(
                        RefFrame::Group {
                            integration: i,
                            group: g,
                        },
                        &mut src,
                    );
                    // Pass B reads these rows again much later: keep them out of our RSS.
                    raw.release_band(i, g, 0, raw.ny());
                    c
                })
                .collect::<Result<Vec<_>, _>>()?;
            // The ZEROFRAME's summaries follow the groups' (spec §8b.4).
            let mut corrections = corrections;
            if super::zeroframe::usage(raw) == Some(super::zeroframe::ZeroFrameUse::Corrected) {
                corrections.extend(super::zeroframe::refpix_summaries(
                    raw,
                    prep,
                    params.saturation,
                    &plan,
                )?);
            }
            Some((plan, corrections))
        }
        _ => None,
    };
    times.add("refpix summaries", t0.elapsed());

    let t0 = Instant::now();
    let fully_dnu_per_int = if params.jump.is_some() && ngroups > 2 {
        fully_dnu_counts(raw, prep, params)?
    } else {
        vec![0; nints]
    };
    times.add("jump setup", t0.elapsed());
    Ok(PassA {
        refpix,
        refpix_status,
        fully_dnu_per_int,
    })
}

/// For jump's mode selection: per integration, how many groups have DO_NOT_USE on every pixel of
/// the frame (after dq_init and saturation). A frame is proven not to be fully flagged by one
/// pixel that certainly lacks DO_NOT_USE; the proof almost always comes from the first pixel
/// scanned. Only when no pixel gives a proof is the integration's saturation computed exactly.
fn fully_dnu_counts(
    raw: &RawExposure,
    prep: &Prepared,
    params: &EngineParams,
) -> Result<Vec<usize>> {
    let (nints, ngroups, ny, nx) = (raw.nints(), raw.ngroups(), raw.ny(), raw.nx());
    let sat = prep.saturation.as_ref();
    let diluting = sat
        .and_then(|s| s.read_pattern.as_ref())
        .is_some_and(|rp| rp.nframes > 1);
    let grow = params.saturation.map_or(0, |p| p.n_pix_grow_sat);
    (0..nints)
        .into_par_iter()
        .map(|i| -> Result<usize> {
            let mut row = vec![0f32; nx];
            let mut count = 0;
            let mut exact: Option<Vec<bool>> = None;
            for g in 0..ngroups {
                let mut proven = false;
                'rows: for y in 0..ny {
                    raw.read_band_f32(i, g, y, y + 1, &mut row)?;
                    // Reads here are sparse (one row per frame, usually): drop the pages the
                    // kernel mapped around them (fault-around and readahead) at once.
                    let m = (512 << 10) / (2 * nx) + 1;
                    raw.release_band(i, g, y.saturating_sub(m), (y + m).min(ny));
                    if let Some(f) = prep.group_scale {
                        group_scale::apply(&mut row, f);
                    }
                    let mask_row = prep.mask.rows(y..y + 1)?;
                    for (x, &v) in row.iter().enumerate() {
                        if mask_row[x] & dq::DO_NOT_USE != 0 || (sat.is_some() && v <= 0.0) {
                            continue;
                        }
                        if !diluting || far_from_saturation(raw, prep, i, g, y, x, 2 * grow)? {
                            proven = true;
                            break 'rows;
                        }
                    }
                }
                if !proven {
                    // No certificate: compute the integration's saturation flags exactly.
                    if exact.is_none() {
                        exact = Some(exact_dnu_planes(raw, prep, params, i)?);
                    }
                    if exact.as_ref().is_some_and(|e| e[g]) {
                        count += 1;
                    }
                }
            }
            Ok(count)
        })
        .collect()
}

/// True when every pixel within `radius` of (y, x) stays below half its threshold up to group
/// g+1: then neither the diluted-saturation test nor the second-group test can flag (y, x).
#[allow(clippy::too_many_arguments)]
fn far_from_saturation(
    raw: &RawExposure,
    prep: &Prepared,
    i: usize,
    g: usize,
    y: usize,
    x: usize,
    radius: usize,
) -> Result<bool> {
    let (ny, nx) = (raw.ny(), raw.nx());
    let Some(sat) = &prep.saturation else {
        return Ok(true);
    };
    let (y0, y1) = (y.saturating_sub(radius), (y + radius + 1).min(ny));
    let (x0, x1) = (x.saturating_sub(radius), (x + radius + 1).min(nx));
    let mut rows = vec![0f32; (y1 - y0) * nx];
    let threshold = sat.threshold.rect(y0..y1, x0..x1)?;
    for j in 0..=(g + 1).min(raw.ngroups() - 1) {
        raw.read_band_f32(i, j, y0, y1, &mut rows)?;
        if let Some(f) = prep.group_scale {
            group_scale::apply(&mut rows, f);
        }
        for yy in y0..y1 {
            for xx in x0..x1 {
                let v = rows[(yy - y0) * nx + xx];
                if (v as f64) >= 0.5 * threshold[(yy - y0) * (x1 - x0) + xx - x0] as f64 {
                    return Ok(false);
                }
            }
        }
    }
    Ok(true)
}

/// Exact "every pixel DO_NOT_USE" per group of integration `i` (whole-frame saturation run).
fn exact_dnu_planes(
    raw: &RawExposure,
    prep: &Prepared,
    params: &EngineParams,
    i: usize,
) -> Result<Vec<bool>> {
    let (ngroups, ny, nx) = (raw.ngroups(), raw.ny(), raw.nx());
    let np = ny * nx;
    let mut vals = vec![0f32; ngroups * np];
    let mut gdq = vec![0u8; ngroups * np];
    let mask = prep.mask.whole()?;
    for g in 0..ngroups {
        raw.read_band_f32(i, g, 0, ny, &mut vals[g * np..(g + 1) * np])?;
        dq_init::seed_plane(&mut gdq[g * np..(g + 1) * np], &mask);
    }
    if let Some(f) = prep.group_scale {
        group_scale::apply(&mut vals, f);
    }
    if let (Some(sat), Some(sp)) = (&prep.saturation, &params.saturation) {
        let (threshold, nosat) = (sat.threshold.whole()?, sat.nosat.whole()?);
        let bias = sat.bias.as_ref().map(|b| b.whole()).transpose()?;
        let thr = Thresholds {
            threshold: &threshold,
            nosat: &nosat,
            bias: bias.as_deref(),
        };
        let tile = Tile {
            rows: ny,
            cols: nx,
            ngroups,
        };
        saturation::flag_integration(
            tile,
            &vals,
            &mut gdq,
            &thr,
            sp,
            sat.read_pattern.as_ref(),
            &mut SaturationScratch::default(),
        );
    }
    Ok((0..ngroups)
        .map(|g| {
            gdq[g * np..(g + 1) * np]
                .iter()
                .all(|&q| q & dq::G_DO_NOT_USE != 0)
        })
        .collect())
}

/// How many rows/columns a tile reads around its jump region: the saturation step's reach (the
/// jump region's saturation flags see saturated pixels that far away) or the IPC kernel's
/// reach (its corrected values see raw values that far away), whichever is larger. Both look
/// at raw values only (ipc runs after saturation and reads no flags), so the larger margin
/// serves both; everything after them is per pixel.
///
/// Saturation reaches n_pix_grow_sat pixels, or twice that when its diluted test runs
/// (use_readpatt with NFRAMES > 1): a pixel whose next group is SATURATED only through the
/// growth from a pixel n away becomes a DO_NOT_USE hit, and that flag is grown n again.
pub fn read_margin(params: &EngineParams, prep: &Prepared) -> usize {
    let grow = params.saturation.map_or(0, |p| p.n_pix_grow_sat);
    let diluted = params.saturation.is_some()
        && prep
            .saturation
            .as_ref()
            .and_then(|s| s.read_pattern.as_ref())
            .is_some_and(|rp| rp.nframes > 1);
    let reach = if diluted { 2 * grow } else { grow };
    reach.max(prep.ipc.as_ref().map_or(0, |i| i.halo()))
}

/// The geometry of one tile: core rows/columns (the pixels it owns), the jump region (core ± 1:
/// four-neighbour flagging looks one pixel away) and the read region (jump region ± the
/// [`read_margin`]). Regions are clipped at the frame edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TileRect {
    pub y0: usize,
    pub y1: usize,
    pub x0: usize,
    pub x1: usize,
    pub j0: usize,
    pub j1: usize,
    pub jx0: usize,
    pub jx1: usize,
    pub r0: usize,
    pub r1: usize,
    pub rx0: usize,
    pub rx1: usize,
}

impl TileRect {
    pub fn new(
        rows: std::ops::Range<usize>,
        cols: std::ops::Range<usize>,
        ny: usize,
        nx: usize,
        margin: usize,
    ) -> TileRect {
        let (j0, j1) = (rows.start.saturating_sub(1), (rows.end + 1).min(ny));
        let (jx0, jx1) = (cols.start.saturating_sub(1), (cols.end + 1).min(nx));
        TileRect {
            y0: rows.start,
            y1: rows.end,
            x0: cols.start,
            x1: cols.end,
            j0,
            j1,
            jx0,
            jx1,
            r0: j0.saturating_sub(margin),
            r1: (j1 + margin).min(ny),
            rx0: jx0.saturating_sub(margin),
            rx1: (jx1 + margin).min(nx),
        }
    }
}

/// Pixels per parallel work item of jump detection and ramp fitting: small enough that the
/// few rows of a band split evenly between threads (7 rows on 2 threads left one idle ~1/8 of
/// the time), large enough to amortise scheduling.
const PAR_PIXELS: usize = 256;

/// Bytes of working memory per pixel-read in pass B: the pixel-major jump region (values,
/// flags) and jump's per-difference marks. (Plane-major scratch covers only one integration per
/// thread.)
pub const BYTES_PER_READ: u64 = 4 + 1 + 1;

/// Working buffers of pass B, kept across tiles so each tile reuses warm memory instead of
/// faulting in fresh pages.
#[derive(Default)]
pub struct BandBuffers {
    /// Dark planes (all groups, full width) of the read rows `(r0, r1)` of the last tile.
    dark_rows: Option<(usize, usize, Vec<Vec<f64>>)>,
    vals: Vec<f32>,
    gdq: Vec<u8>,
    pv: Vec<f32>,
    pq: Vec<u8>,
    marks: Vec<u8>,
}

/// The rectangle `rows × cols` of a row-major frame `full` (width `nx`, `per` values per pixel).
fn rect<T: Copy>(
    full: &[T],
    nx: usize,
    rows: std::ops::Range<usize>,
    cols: std::ops::Range<usize>,
    per: usize,
) -> Vec<T> {
    let mut out = Vec::with_capacity(rows.len() * cols.len() * per);
    for y in rows {
        out.extend_from_slice(&full[(y * nx + cols.start) * per..(y * nx + cols.end) * per]);
    }
    out
}

/// Pass B for one tile: read, correct, detect jumps, fit. `planes` is the sigma-clip
/// whole-plane clearing mask (None unless sigma-clip mode found such planes). Returns the
/// products of the core pixels, the tile's share of the primary cosmic-ray count, and for each
/// (int, group) whether every core pixel has JUMP_DET or DO_NOT_USE.
#[allow(clippy::too_many_arguments)]
pub fn process_tile(
    raw: &RawExposure,
    prep: &Prepared,
    params: &EngineParams,
    pass_a: &PassA,
    jump_setup: Option<&JumpSetup>,
    fit: &FitConfig,
    t: TileRect,
    planes: Option<&[bool]>,
    want_ramp: bool,
    snow: SnowStage<'_>,
    bufs: &mut BandBuffers,
    times: &mut StageTimes,
) -> Result<(BandProducts, u64, Vec<bool>)> {
    let (nints, ngroups, nx) = (raw.nints(), raw.ngroups(), raw.nx());
    let gpp = nints * ngroups;
    let (rrows, rw) = (t.r1 - t.r0, t.rx1 - t.rx0);
    let np = rrows * rw;
    let read_area = IpcRect {
        y0: t.r0,
        y1: t.r1,
        x0: t.rx0,
        x1: t.rx1,
    };
    let jump_area = IpcRect {
        y0: t.j0,
        y1: t.j1,
        x0: t.jx0,
        x1: t.jx1,
    };
    let t0 = Instant::now();

    // Per-pixel reference values, made contiguous once per tile. dq_init and saturation run
    // on the whole read region (saturation growth reads its margin); ipc corrects only the
    // jump region, and so the per-pixel corrections after it (superbias, refpix, linearity,
    // dark) run on the jump region's rows `cr` only: the margin rows beyond them are read for
    // their saturation flags and never used again.
    let (rr, rc) = (t.r0..t.r1, t.rx0..t.rx1);
    let cr = t.j0..t.j1;
    let (co, cn) = ((t.j0 - t.r0) * rw, (t.j1 - t.j0) * rw);
    let mask = prep.mask.rect(rr.clone(), rc.clone())?;
    let sat = prep
        .saturation
        .as_ref()
        .map(|s| s.rect(rr.clone(), rc.clone()))
        .transpose()?;
    let bias = prep
        .superbias
        .as_ref()
        .map(|b| b.rect(cr.clone(), rc.clone()))
        .transpose()?;
    let coeffs = match prep.linearity.as_ref().filter(|l| l.inv_coeffs.is_none()) {
        Some(l) => {
            let pixel_major = l.coeffs.rect(cr.clone(), rc.clone())?;
            Some((
                linearity::transpose_coeffs(&pixel_major, l.ncoeff),
                l.ncoeff,
            ))
        }
        None => None,
    };
    // Read-level linearity (INV_COEFFS, NFRAMES > 1): pixel-major COEFFS and INV_COEFFS of the
    // read region, applied to each integration's whole ramp once refpix is done.
    let read_level = match prep.linearity.as_ref() {
        Some(l) => match &l.inv_coeffs {
            Some(inv) => Some((
                l.coeffs.rect(rr.clone(), rc.clone())?,
                l.ncoeff,
                inv.rect(rr.clone(), rc.clone())?,
                inv.per(),
                linearity::ReadPattern {
                    nframes: raw.meta().nframes,
                },
            )),
            None => None,
        },
        None => None,
    };
    // The dark of the jump region's rows, full width, is shared by every column tile of the
    // same rows: keep it from one tile to the next.
    let dark_rows: Option<std::borrow::Cow<'_, [Vec<f64>]>> = match &prep.dark {
        Some(d) => {
            if bufs.dark_rows.as_ref().map(|(a, b, _)| (*a, *b)) != Some((t.j0, t.j1)) {
                let full: Vec<Vec<f64>> = (0..ngroups)
                    .map(|g| {
                        d.group_band(g, t.j0, t.j1 - t.j0)
                            .map(|a| a.into_raw_vec_and_offset().0)
                    })
                    .collect::<Result<_, _>>()?;
                // Each band of the dark is read once: keep its mapped pages out of our RSS.
                d.release_pages();
                bufs.dark_rows = Some((t.j0, t.j1, full));
            }
            let (_, _, full) = bufs.dark_rows.as_ref().expect("just filled");
            Some(if rc.start == 0 && rc.end == nx {
                std::borrow::Cow::Borrowed(full.as_slice())
            } else {
                full.iter()
                    .map(|f| rect(f, nx, 0..t.j1 - t.j0, rc.clone(), 1))
                    .collect()
            })
        }
        None => None,
    };

    times.add("tile references", t0.elapsed());

    // Read + fused corrections, a few integrations at a time (one per thread) in plane-major
    // scratch `[int][group][row][col]`, then transposed into the pixel-major jump region
    // `pv`/`pq` that jump and ramp fitting read. Only that region spans every integration.
    let t0 = Instant::now();
    let (jrows, jw) = (t.j1 - t.j0, t.jx1 - t.jx0);
    let jnp = jrows * jw;
    let pv = sized_huge(&mut bufs.pv, jnp * gpp, 0.0, false);
    let pq = sized_huge(&mut bufs.pq, jnp * gpp, 0, false);
    // Integrations read per round: at least one per thread, and up to 8 when NINTS is large,
    // so the transpose writes longer contiguous runs per pixel (fewer partial cache lines, fewer
    // passes over the region; 70 ints, one thread: 1.3 s less CPU of ~25 s); the plane-major
    // scratch stays near 1/8 of the region or less.
    let threads = rayon::current_num_threads().max(1);
    let chunk = (nints / 8).clamp(threads, 8.max(threads)).min(nints);
    let mut t_transpose = std::time::Duration::ZERO;
    let tap_geo = TapGeometry::of(&t, ngroups);
    let mut taps = Taps::new(&params.taps, &tap_geo, nints);
    for first in (0..nints).step_by(chunk) {
        let count = chunk.min(nints - first);
        let vals = sized_huge(&mut bufs.vals, count * ngroups * np, 0.0, false);
        let gdq = sized_huge(&mut bufs.gdq, count * ngroups * np, 0, true);
        let mut tap_ints = taps.split(tap_geo, first, count);
        vals.par_chunks_mut(ngroups * np)
            .zip(gdq.par_chunks_mut(ngroups * np))
            .zip(tap_ints.par_iter_mut())
            .enumerate()
            .try_for_each(|(local, ((v, q), tap))| -> Result<()> {
                let i = first + local;
                for g in 0..ngroups {
                    let plane = &mut v[g * np..(g + 1) * np];
                    let bytes = raw.band_bytes(i, g, t.r0, t.r1)?;
                    for (r, out) in plane.chunks_exact_mut(rw).enumerate() {
                        let src = &bytes[(r * nx + t.rx0) * 2..(r * nx + t.rx1) * 2];
                        frames::raw::decode_u16_offset_be_to_f32(src, out);
                    }
                    if let Some(f) = prep.group_scale {
                        group_scale::apply(plane, f);
                    }
                    tap.values(ValueTap::GroupScale, g, plane);
                    dq_init::seed_plane(&mut q[g * np..(g + 1) * np], &mask);
                    tap.flags(FlagTap::DqInit, g, &q[g * np..(g + 1) * np]);
                }
                // Keep mapped pages out of the resident set: release the integration's rows (a
                // later column tile faults them back in from the page cache; the release also
                // covers the kernel's fault-around window beyond the rows) in one call for all
                // its groups — not one per group: each call interrupts the other threads to
                // flush their TLBs — and not one per round of integrations, which would hold
                // a tall tile's rows of every group of the round (28 MB at 200 integrations).
                raw.release_integration(i, t.r0, t.r1);
                if let (Some(cut), Some(sp), Some(s)) = (&sat, &params.saturation, &prep.saturation)
                {
                    let tile = Tile {
                        rows: rrows,
                        cols: rw,
                        ngroups,
                    };
                    saturation::flag_integration(
                        tile,
                        v,
                        q,
                        &cut.thresholds(),
                        sp,
                        s.read_pattern.as_ref(),
                        &mut SaturationScratch::default(),
                    );
                }
                let mut ipc_scratch = IpcScratch::default();
                // After linearity: its tap, dark_current (jump rows), dark's tap.
                let finish = |g: usize, plane: &mut [f32], tap: &mut TapInt<'_>| {
                    tap.values(ValueTap::Linearity, g, plane);
                    if let Some(d) = &dark_rows {
                        for (x, &dv) in plane[co..co + cn].iter_mut().zip(&d[g]) {
                            *x = ((*x as f64) - dv) as f32;
                        }
                    }
                    tap.values(ValueTap::Dark, g, plane);
                };
                for g in 0..ngroups {
                    let plane = &mut v[g * np..(g + 1) * np];
                    let flags = &q[g * np..(g + 1) * np];
                    tap.flags(FlagTap::Saturation, g, flags);
                    if let Some(ipc) = &prep.ipc {
                        // Exact on the jump region: the read region holds the kernel's reach
                        // around it (`read_margin`).
                        ipc.correct(plane, read_area, jump_area, &mut ipc_scratch);
                    }
                    tap.values(ValueTap::Ipc, g, plane);
                    if let Some(b) = &bias {
                        superbias::subtract_plane(&mut plane[co..co + cn], b);
                    }
                    tap.values(ValueTap::Superbias, g, plane);
                    if let Some((plan, corr)) = &pass_a.refpix {
                        let jump_rows = &mut plane[co..co + cn];
                        plan.apply_rect(&corr[i * ngroups + g], t.j0, t.rx0, rw, jump_rows);
                    }
                    tap.values(ValueTap::Refpix, g, plane);
                    if let Some((c, n)) = &coeffs {
                        let (jump_rows, jump_flags) =
                            (&mut plane[co..co + cn], &flags[co..co + cn]);
                        linearity::correct_plane_planar(jump_rows, jump_flags, c, *n);
                    }
                    if read_level.is_none() {
                        finish(g, plane, tap);
                    }
                }
                if let Some((lin, nlin, inv, ninv, rp)) = &read_level {
                    linearity::correct_integration_reads(
                        v, q, ngroups, lin, *nlin, inv, *ninv, *rp,
                    );
                    for g in 0..ngroups {
                        finish(g, &mut v[g * np..(g + 1) * np], tap);
                    }
                }
                Ok(())
            })?;

        // Transpose this chunk's jump region into the pixel-major records, a row at a time.
        let t1 = Instant::now();
        let (vals, gdq): (&[f32], &[u8]) = (vals, gdq);
        let geo = TransposeGeometry {
            plane_len: np,
            row_width: rw,
            row_offset: t.j0 - t.r0,
            col_offset: t.jx0 - t.rx0,
            width: jw,
            record: gpp,
            first_slot: first * ngroups,
            slots: count * ngroups,
        };
        // Rows cut into runs of whole transpose blocks, so the band's few rows share evenly.
        let run = PAR_PIXELS.div_ceil(super::transpose::PIXELS) * super::transpose::PIXELS;
        pv.par_chunks_mut(jw * gpp)
            .zip(pq.par_chunks_mut(jw * gpp))
            .enumerate()
            .flat_map(|(jr, (vrow, qrow))| {
                vrow.par_chunks_mut(run * gpp)
                    .zip(qrow.par_chunks_mut(run * gpp))
                    .enumerate()
                    .map(move |(part, (v, q))| (jr, part, v, q))
            })
            .for_each(|(jr, part, vrun, qrun)| {
                let run_geo = TransposeGeometry {
                    col_offset: geo.col_offset + part * run,
                    width: vrun.len() / gpp,
                    ..geo
                };
                transpose_row(&run_geo, jr, vals, gdq, vrun, qrun)
            });
        t_transpose += t1.elapsed();
    }
    times.add("read + corrections", t0.elapsed() - t_transpose);
    times.add("transpose", t_transpose);

    // Final PIXELDQ of the jump region (bad gain flagged by jump).
    let (jr, jc) = (t.j0..t.j1, t.jx0..t.jx1);
    let mut pixeldq = prep.pixeldq_pre_jump.rect(jr.clone(), jc.clone())?;
    let core_rows = (t.y0 - t.j0)..(t.y1 - t.j0);
    let core_cols = (t.x0 - t.jx0)..(t.x1 - t.jx0);

    let t0 = Instant::now();
    let mut primary = 0u64;
    let mut plane_all = vec![true; gpp];
    if let Some(setup) = jump_setup {
        if setup.mode != JumpMode::StepSkipped {
            let jgain = prep.jump_gain().rect(jr.clone(), jc.clone())?;
            let jrn = prep.jump_readnoise().rect(jr.clone(), jc.clone())?;
            jump::setup::flag_bad_gain(&mut pixeldq, &jgain);
            if let SnowStage::Load(scratch) = snow {
                // Jumps and snowballs were found by the first pass: take its GROUPDQ.
                let (rows, cols) = (t.y1 - t.y0, t.x1 - t.x0);
                let mut plane = vec![0u8; rows * cols];
                for k in 0..gpp {
                    scratch.read_rect(k / ngroups, k % ngroups, t.y0, t.x0, cols, &mut plane)?;
                    for (p, &q) in plane.iter().enumerate() {
                        let jp = (core_rows.start + p / cols) * jw + core_cols.start + p % cols;
                        pq[jp * gpp + k] = q;
                    }
                }
            }
            let marks = sized_huge(&mut bufs.marks, jnp * gpp, 0, true);
            let geo = BandGeometry {
                nx: jw,
                rows: jrows,
                interior: core_rows.clone(),
            };
            if setup.detects() && !matches!(snow, SnowStage::Load(_)) {
                // Detection is per pixel: runs of PAR_PIXELS pixels (not whole rows, which a
                // band has too few of to share evenly between threads).
                pv.par_chunks(gpp * PAR_PIXELS)
                    .zip(pq.par_chunks_mut(gpp * PAR_PIXELS))
                    .zip(marks.par_chunks_mut(gpp * PAR_PIXELS))
                    .zip(jgain.par_chunks(PAR_PIXELS).zip(jrn.par_chunks(PAR_PIXELS)))
                    .for_each_init(
                        || PixelScratch::new(nints, ngroups),
                        |scratch, (((v, q), m), (g, r))| {
                            let run = BandGeometry::whole(g.len(), 1);
                            jump::detect_band(setup, &run, v, q, m, g, r, scratch);
                        },
                    );
                if let Some(planes) = planes {
                    jump::sigma_clip::clear_all_jump_planes(pq, planes);
                }
                for row in core_rows.clone() {
                    let span = (row * jw + core_cols.start) * gpp..(row * jw + core_cols.end) * gpp;
                    primary += jump::after_jump::count_jumps(&pq[span.clone()]);
                    if matches!(setup.mode, JumpMode::SigmaClip { .. }) {
                        jump::setup::accumulate_all_have(
                            &pq[span],
                            gpp,
                            jump::band::PLANE_CLEAR_MASK,
                            &mut plane_all,
                        );
                    }
                }
                // The rest of jump's band pass (stcal order): neighbours, after-jump flags.
                jump::neighbors::flag_four_neighbors(setup, &geo, pq, marks);
                let interior = geo.interior_pixels();
                for (q, m) in pq[interior.start * gpp..interior.end * gpp]
                    .chunks_exact_mut(gpp)
                    .zip(marks[interior.start * gpp..interior.end * gpp].chunks_exact(gpp))
                {
                    jump::after_jump::flag_after_jumps(setup, q, m);
                }
            }
            if !matches!(snow, SnowStage::Load(_)) {
                let interior = geo.interior_pixels();
                jump::after_jump::clear_jump_on_unusable(
                    &mut pq[interior.start * gpp..interior.end * gpp],
                );
            }
        }
    }
    times.add("jump", t0.elapsed());
    if let SnowStage::Store(scratch) = snow {
        // First pass of snowball flagging: keep the core's GROUPDQ, fit nothing.
        let (rows, cols) = (t.y1 - t.y0, t.x1 - t.x0);
        let mut plane = vec![0u8; rows * cols];
        for k in 0..gpp {
            for (p, q) in plane.iter_mut().enumerate() {
                let jp = (core_rows.start + p / cols) * jw + core_cols.start + p % cols;
                *q = pq[jp * gpp + k];
            }
            scratch.write_rect(k / ngroups, k % ngroups, t.y0, t.x0, cols, &plane)?;
        }
        let products = BandProducts {
            y0: t.y0,
            x0: t.x0,
            rows,
            cols,
            rate: Vec::new(),
            ints: Vec::new(),
            ramp: None,
            pixeldq: Vec::new(),
            taps,
            zeroframe: None,
            zeroframe_stages: Default::default(),
            any_unsaturated_start: false,
        };
        return Ok((products, primary, plane_all));
    }

    // Ramp fit of the core pixels, row by row in parallel.
    let t0 = Instant::now();
    let (rows, cols) = (t.y1 - t.y0, t.x1 - t.x0);
    let ncore = rows * cols;
    let mut rate = vec![FitValues::default(); ncore];
    let mut ints_pm = vec![FitValues::default(); ncore * nints];
    let (cr, cc) = (t.y0..t.y1, t.x0..t.x1);
    let gain = prep.gain.rect(cr.clone(), cc.clone())?;
    let rn = prep.readnoise.rect(cr.clone(), cc.clone())?;
    let dc = prep.average_dark_current.rect(cr.clone(), cc.clone())?;
    let core_dq = rect(&pixeldq, jw, core_rows.clone(), core_cols.clone(), 1);
    let pv: &[f32] = pv;
    let pq: &[u8] = pq;
    // The fit reads the ZEROFRAME only without suppress_one_group; the ramp product carries it,
    // and so do the per-step saved ramps.
    let want_zf = want_ramp || !fit.suppress_one_group;
    let (zeroframe, zeroframe_stages) = match super::zeroframe::usage(raw) {
        Some(usage) if want_zf || params.zeroframe_stages.contains(&true) => {
            let z = super::zeroframe::tile_stages(
                raw,
                prep,
                params.saturation,
                pass_a.refpix.as_ref(),
                usage,
                &t,
                want_zf,
                &params.zeroframe_stages,
            )?;
            (z.fit, z.stages)
        }
        _ => (None, Default::default()),
    };
    let zf = zeroframe.as_deref();
    // Runs of PAR_PIXELS core pixels (a tile has too few rows to share evenly by rows).
    rate.par_chunks_mut(PAR_PIXELS)
        .zip(ints_pm.par_chunks_mut(PAR_PIXELS * nints))
        .enumerate()
        .for_each_init(
            || RampScratch::new(fit),
            |scratch, (run, (rate_row, ints_row))| {
                for x in 0..rate_row.len() {
                    let p = run * PAR_PIXELS + x;
                    let jp = (core_rows.start + p / cols) * jw + core_cols.start + p % cols;
                    let consts = PixelConsts {
                        gain: gain[p],
                        readnoise: rn[p],
                        dark_current: dc[p],
                        pixel_dq: core_dq[p],
                    };
                    crate::steps::ramp_fit::fit_pixel(
                        fit,
                        &consts,
                        &pv[jp * gpp..(jp + 1) * gpp],
                        &pq[jp * gpp..(jp + 1) * gpp],
                        zf.map(|z| &z[p * nints..(p + 1) * nints]),
                        scratch,
                        &mut ints_row[x * nints..(x + 1) * nints],
                        &mut rate_row[x],
                    );
                }
            },
        );
    times.add("ramp fit", t0.elapsed());

    let any_unsaturated_start = (0..ncore).any(|p| {
        let jp = (core_rows.start + p / cols) * jw + core_cols.start + p % cols;
        (0..nints).any(|i| pq[jp * gpp + i * ngroups] & frames::dq::G_SATURATED == 0)
    });
    let ramp = if want_ramp {
        let mut rv = vec![0f32; gpp * ncore];
        let mut rq = vec![0u8; gpp * ncore];
        for p in 0..ncore {
            let jp = (core_rows.start + p / cols) * jw + core_cols.start + p % cols;
            for k in 0..gpp {
                rv[k * ncore + p] = pv[jp * gpp + k];
                rq[k * ncore + p] = pq[jp * gpp + k];
            }
        }
        Some((rv, rq))
    } else {
        None
    };
    Ok((
        BandProducts {
            y0: t.y0,
            x0: t.x0,
            rows,
            cols,
            rate,
            ints: ints_pm,
            ramp,
            pixeldq: core_dq,
            taps,
            zeroframe,
            zeroframe_stages,
            any_unsaturated_start,
        },
        primary,
        plane_all,
    ))
}
