//! The steps' own saved results (`--steps.<step>.save_results=true` or
//! `--steps.<step>.output_file=NAME`), as the official calwebb_detector1 writes them.
//!
//! What each step saves (jwst 3.0.0, checked against its files; names in
//! [`super::settings::StepSave`]):
//! * group_scale, dq_init, saturation, ipc, superbias, refpix, linearity, dark_current, jump: the
//!   ramp after that step, a RampModel (SCI f32, PIXELDQ, GROUPDQ, AVDRKCUR once dark_current
//!   has set it, GROUP, INT_TIMES; no ERR), whose primary header holds the status (`S_*`) and
//!   reference (`R_*`) keywords of the steps run so far: saturation records the superbias it
//!   read, jump its gain and read noise, and jump adds PRIMECRS/EXTNCRS. When the input has a
//!   ZEROFRAME HDU, each carries it (f32, after GROUPDQ) as it stands after the step
//!   ([`zeroframe_stage`]).
//! * ramp_fit: the rate and rateints before gain_scale (`X_0_ramp_fit.fits` ImageModel,
//!   `X_1_ramp_fit.fits` CubeModel), without S_GANSCL.
//! * gain_scale: the rate and rateints after it (`X_gain_scale.fits`, `X_gain_scaleints.fits`),
//!   the same data and keywords as `_rate`/`_rateints`.
//!
//! The fused driver never holds an intermediate ramp: [`super::taps`] copies each tile's values
//! and flags at the wanted points of the chain, and the writer thread writes them here.

use super::exact::BandProducts;
use super::settings::{Detector1Settings, SavedStep, StepSave};
use super::taps::{FlagTap, TapRequest, ValueTap};
use super::zeroframe::{StageRequest, ZeroFrameStage, ZEROFRAME_STAGES};
use anyhow::Result;
use frames::write::{Card, ProductHeader, RampExtras, RampWriter, RateWriter, RateintsWriter};
use ndarray::ArrayView2;
use std::path::PathBuf;

/// Where a ramp-like step's data come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    /// A tapped value array and GROUPDQ (`None`: all zero, before dq_init).
    Tap(ValueTap, Option<FlagTap>),
    /// The calibrated ramp after jump (`BandProducts::ramp`).
    Jump,
}

fn source(step: SavedStep) -> Option<Source> {
    use Source::Tap;
    Some(match step {
        SavedStep::GroupScale => Tap(ValueTap::GroupScale, None),
        SavedStep::DqInit => Tap(ValueTap::GroupScale, Some(FlagTap::DqInit)),
        SavedStep::Saturation => Tap(ValueTap::GroupScale, Some(FlagTap::Saturation)),
        SavedStep::Ipc => Tap(ValueTap::Ipc, Some(FlagTap::Saturation)),
        SavedStep::Superbias => Tap(ValueTap::Superbias, Some(FlagTap::Saturation)),
        SavedStep::Refpix => Tap(ValueTap::Refpix, Some(FlagTap::Saturation)),
        SavedStep::Linearity => Tap(ValueTap::Linearity, Some(FlagTap::Saturation)),
        SavedStep::DarkCurrent => Tap(ValueTap::Dark, Some(FlagTap::Saturation)),
        SavedStep::Jump => Source::Jump,
        SavedStep::RampFit | SavedStep::GainScale => return None,
    })
}

/// The taps the saves of a run need.
pub fn tap_request(saves: &[StepSave]) -> TapRequest {
    let mut r = TapRequest::default();
    for s in saves {
        if let Some(Source::Tap(v, f)) = source(s.step) {
            r.values[v as usize] = true;
            if let Some(f) = f {
                r.flags[f as usize] = true;
            }
        }
    }
    r
}

/// The ZEROFRAME a ramp-like step's saved file carries: the values after the last of
/// saturation, superbias, refpix and linearity run so far (the other steps only carry it; with
/// `ZEROFRAM = F` none changes it, see [`super::zeroframe::tile_stages`]).
pub fn zeroframe_stage(step: SavedStep) -> Option<ZeroFrameStage> {
    use ZeroFrameStage::*;
    Some(match step {
        SavedStep::GroupScale | SavedStep::DqInit => Raw,
        SavedStep::Saturation | SavedStep::Ipc => Saturation,
        SavedStep::Superbias => Superbias,
        SavedStep::Refpix => Refpix,
        SavedStep::Linearity | SavedStep::DarkCurrent | SavedStep::Jump => Linearity,
        SavedStep::RampFit | SavedStep::GainScale => return None,
    })
}

/// The ZEROFRAME copies the saves of a run need (when the input has a ZEROFRAME HDU).
pub fn zeroframe_request(saves: &[StepSave]) -> StageRequest {
    let mut r = [false; ZEROFRAME_STAGES];
    for s in saves {
        if let Some(z) = zeroframe_stage(s.step) {
            r[z as usize] = true;
        }
    }
    r
}

/// Bytes per pixel of a tile's ZEROFRAME copies (one f32 per integration and wanted stage).
pub fn zeroframe_bytes_per_pixel(
    stages: &StageRequest,
    nints: usize,
    raw: &frames::raw::RawExposure,
) -> u64 {
    if !raw.has_zeroframe() {
        return 0;
    }
    4 * nints as u64 * stages.iter().filter(|&&w| w).count() as u64
}

/// Whether the saves need the calibrated ramp after jump.
pub fn needs_jump_ramp(saves: &[StepSave]) -> bool {
    saves.iter().any(|s| s.step == SavedStep::Jump)
}

/// Rank of a step-status keyword in the near-IR step order (twice the step's index; the steps
/// sloper skips sit between).
fn status_rank(key: &str) -> Option<usize> {
    let step = match key {
        "S_GRPSCL" => SavedStep::GroupScale,
        "S_DQINIT" => SavedStep::DqInit,
        "S_SATURA" => SavedStep::Saturation,
        "S_IPC" => SavedStep::Ipc,
        "S_SUPERB" => SavedStep::Superbias,
        "S_REFPIX" => SavedStep::Refpix,
        "S_LINEAR" => SavedStep::Linearity,
        "S_DARK" => SavedStep::DarkCurrent,
        // charge_migration runs between dark_current and jump; picture_frame,
        // clean_flicker_noise and persistence between jump and ramp_fit.
        "S_CHGMIG" => return Some(2 * SavedStep::DarkCurrent as usize + 1),
        "S_JUMP" => SavedStep::Jump,
        "S_PCTFRM" | "S_CLNFNS" | "S_PERSIS" => return Some(2 * SavedStep::Jump as usize + 1),
        "S_RAMP" => SavedStep::RampFit,
        "S_GANSCL" => SavedStep::GainScale,
        _ => return None,
    };
    Some(2 * step as usize)
}

fn file_name(p: &std::path::Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| p.display().to_string())
}

/// The primary-header keywords of `step`'s result: the status keywords of the steps run up to
/// it and the references they read, taken from the final product's header `last`.
pub fn header_after(step: SavedStep, last: &ProductHeader, s: &Detector1Settings) -> ProductHeader {
    let rank = 2 * step as usize;
    let mut h = last.clone();
    h.cal_steps
        .retain(|(k, _)| status_rank(k).is_some_and(|r| r <= rank));
    let name = |p: &Option<PathBuf>| p.as_deref().map_or_else(|| "N/A".to_string(), file_name);
    let mut refs = Vec::new();
    for (k, v) in &last.ref_files {
        let value = match k.as_str() {
            "R_MASK" if step >= SavedStep::DqInit => Some(v.clone()),
            "R_SATURA" if step >= SavedStep::Saturation => Some(v.clone()),
            "R_IPC" if step >= SavedStep::Ipc => Some(v.clone()),
            "R_SUPERB" if step >= SavedStep::Superbias => Some(v.clone()),
            // saturation reads the superbias too (its second-group test).
            "R_SUPERB" if step >= SavedStep::Saturation && s.saturation.is_some() => {
                Some(name(&s.saturation_bias))
            }
            "R_LINEAR" if step >= SavedStep::Linearity => Some(v.clone()),
            "R_DARK" if step >= SavedStep::DarkCurrent => Some(v.clone()),
            "R_GAIN" | "R_READNO" if step >= SavedStep::RampFit => Some(v.clone()),
            // jump reads its own gain and read noise (usually the same files as ramp_fit).
            "R_GAIN" if step >= SavedStep::Jump && s.jump.is_some() => Some(name(&s.jump_gain)),
            "R_READNO" if step >= SavedStep::Jump && s.jump.is_some() => {
                Some(name(&s.jump_readnoise))
            }
            _ => None,
        };
        if let Some(v) = value {
            refs.push((k.clone(), v));
        }
    }
    h.ref_files = refs;
    h
}

/// A step whose result is a ramp.
struct RampSave {
    step: SavedStep,
    source: Source,
    writer: RampWriter,
    /// PIXELDQ after the step (whole frame), `None` for jump (the tile's final PIXELDQ) and
    /// group_scale (zero).
    pixeldq: Option<Vec<u32>>,
    avdrkcur: bool,
    /// The ZEROFRAME copy the file carries (None: the input has no ZEROFRAME HDU).
    zeroframe: Option<ZeroFrameStage>,
}

/// ramp_fit's or gain_scale's pair of products.
struct RateSave {
    step: SavedStep,
    rate: RateWriter,
    ints: RateintsWriter,
}

/// The writers of a run's per-step saves.
#[derive(Default)]
pub struct StepWriters {
    ramps: Vec<RampSave>,
    rates: Vec<RateSave>,
}

/// What `create` needs besides the settings.
pub struct Shape {
    pub nints: usize,
    pub ngroups: usize,
    pub ny: usize,
    pub nx: usize,
    /// The input has a ZEROFRAME HDU.
    pub zeroframe: bool,
}

impl StepWriters {
    /// Create every saved step's file (at its temporary name). `ramp_last` and `rate_last` are
    /// the headers of the final `_ramp` and `_rate` products; `pixeldq_after` the whole-frame
    /// PIXELDQ after each saved step up to dark_current.
    pub fn create(
        s: &Detector1Settings,
        shape: &Shape,
        ramp_last: &ProductHeader,
        rate_last: &ProductHeader,
        mut pixeldq_after: Vec<(SavedStep, Vec<u32>)>,
    ) -> Result<StepWriters> {
        let Shape {
            nints,
            ngroups,
            ny,
            nx,
            zeroframe,
        } = *shape;
        let mut w = StepWriters::default();
        for save in &s.step_saves {
            let step = save.step;
            let dir = save.path.parent().unwrap_or(std::path::Path::new(""));
            super::check_output_dir(dir)?;
            match source(step) {
                Some(source) => {
                    let avdrkcur = step >= SavedStep::DarkCurrent && s.dark.is_some();
                    let header = header_after(step, ramp_last, s);
                    let zeroframe = zeroframe.then(|| zeroframe_stage(step)).flatten();
                    let extras = RampExtras {
                        avdrkcur,
                        zeroframe: zeroframe.is_some(),
                    };
                    let shape = [nints, ngroups, ny, nx];
                    let writer =
                        RampWriter::create_with(&save.path, &header, shape, extras, false)?;
                    let pixeldq = match step {
                        SavedStep::GroupScale | SavedStep::Jump => None,
                        _ => {
                            let k = pixeldq_after
                                .iter()
                                .position(|(st, _)| *st == step)
                                .ok_or_else(|| {
                                    anyhow::anyhow!(
                                        "internal error: no PIXELDQ kept for {}",
                                        step.alias()
                                    )
                                })?;
                            Some(pixeldq_after.swap_remove(k).1)
                        }
                    };
                    w.ramps.push(RampSave {
                        step,
                        source,
                        writer,
                        pixeldq,
                        avdrkcur,
                        zeroframe,
                    });
                }
                None => {
                    let header = header_after(step, rate_last, s);
                    let ints_path = save.ints_path.as_ref().ok_or_else(|| {
                        anyhow::anyhow!("internal error: {} saves two products", step.alias())
                    })?;
                    w.rates.push(RateSave {
                        step,
                        rate: RateWriter::create(&save.path, &header, ny, nx)?,
                        ints: RateintsWriter::create(ints_path, &header, nints, ny, nx)?,
                    });
                }
            }
        }
        Ok(w)
    }

    pub fn is_empty(&self) -> bool {
        self.ramps.is_empty() && self.rates.is_empty()
    }

    /// Write one tile of every saved step (writer thread).
    pub fn write_band(
        &mut self,
        p: &BandProducts,
        nints: usize,
        ngroups: usize,
        nx: usize,
        gain_factor: Option<f64>,
        avdrkcur: &[f32],
    ) -> Result<()> {
        let (rows, cols, y0, x0) = (p.rows, p.cols, p.y0, p.x0);
        let ncore = rows * cols;
        fn view<T>(v: &[T], rows: usize, cols: usize) -> ArrayView2<'_, T> {
            ArrayView2::from_shape((rows, cols), v).expect("tile shape")
        }
        let zeros = vec![0u8; ncore];
        let rect_of = |full: &[u32]| -> Vec<u32> {
            (y0..y0 + rows)
                .flat_map(|y| full[y * nx + x0..y * nx + x0 + cols].iter().copied())
                .collect()
        };
        for r in &mut self.ramps {
            let (values, flags): (&[f32], Option<&[u8]>) = match r.source {
                Source::Tap(v, f) => (
                    p.taps.values[v as usize]
                        .as_deref()
                        .ok_or_else(|| anyhow::anyhow!("internal error: missing tap"))?,
                    match f {
                        Some(f) => Some(
                            p.taps.flags[f as usize]
                                .as_deref()
                                .ok_or_else(|| anyhow::anyhow!("internal error: missing tap"))?,
                        ),
                        None => None,
                    },
                ),
                Source::Jump => {
                    let (v, q) = p.ramp.as_ref().ok_or_else(|| {
                        anyhow::anyhow!("internal error: no calibrated ramp for the jump save")
                    })?;
                    (v.as_slice(), Some(q.as_slice()))
                }
            };
            for k in 0..nints * ngroups {
                let plane = k * ncore..(k + 1) * ncore;
                let q = flags.map_or(zeros.as_slice(), |f| &f[plane.clone()]);
                r.writer.write_group_rect(
                    k / ngroups,
                    k % ngroups,
                    y0,
                    x0,
                    view(&values[plane], rows, cols),
                    view(q, rows, cols),
                )?;
            }
            let dq = match (&r.pixeldq, r.step) {
                (Some(full), _) => rect_of(full),
                (None, SavedStep::Jump) => p.pixeldq.clone(),
                (None, _) => vec![0u32; ncore],
            };
            r.writer.write_pixeldq_rect(y0, x0, view(&dq, rows, cols))?;
            if r.avdrkcur {
                let dc: Vec<f32> = (y0..y0 + rows)
                    .flat_map(|y| avdrkcur[y * nx + x0..y * nx + x0 + cols].iter().copied())
                    .collect();
                r.writer
                    .write_avdrkcur_rect(y0, x0, view(&dc, rows, cols))?;
            }
            if let Some(stage) = r.zeroframe {
                let z = p.zeroframe_stages.values[stage as usize]
                    .as_deref()
                    .ok_or_else(|| anyhow::anyhow!("internal error: missing ZEROFRAME copy"))?;
                for (i, plane) in z.chunks_exact(ncore).enumerate().take(nints) {
                    r.writer
                        .write_zeroframe_rect(i, y0, x0, view(plane, rows, cols))?;
                }
            }
        }
        for r in &mut self.rates {
            let factor = match r.step {
                SavedStep::GainScale => gain_factor,
                _ => None,
            };
            super::write_rates(p, nints, factor, &mut r.rate, &mut r.ints)?;
        }
        Ok(())
    }

    /// Finish every file: `extra` (PRIMECRS/EXTNCRS) goes into jump's and the rate-like ones.
    /// When ramp fitting produced nothing (`fitted` false) ramp_fit and gain_scale save
    /// nothing, as the official steps. Returns the files written, in pipeline order.
    pub fn finish(self, extra: &[Card], fitted: bool) -> Result<Vec<PathBuf>> {
        let mut out = Vec::new();
        for mut r in self.ramps {
            if r.step == SavedStep::Jump {
                r.writer.update_primary(extra)?;
            }
            out.push(r.writer.finish()?);
        }
        for mut r in self.rates {
            if fitted {
                r.rate.update_primary(extra)?;
                r.ints.update_primary(extra)?;
                out.push(r.rate.finish()?);
                out.push(r.ints.finish()?);
            } else {
                r.rate.discard()?;
                r.ints.discard()?;
            }
        }
        Ok(out)
    }
}
