//! Reference preparation for a Detector1 run: every reference is loaded once, cut to the science
//! subarray and turned into the flat per-pixel arrays the kernels consume, and the PIXELDQ
//! contributions are kept apart because steps see PIXELDQ at different stages (refpix sees
//! mask | saturation | superbias flags; ramp fitting sees everything).

use super::settings::{Detector1Settings, SavedStep};
use crate::steps::ipc::Ipc;
use crate::steps::saturation::ReadPattern;
use anyhow::{bail, Result};
use frames::refs::{
    DarkRef, DarkStatus, GainRef, IpcRef, LinearityPrep, LinearityRef, MaskRef, ReadnoiseRef,
    SaturationRef, SuperbiasRef,
};
use frames::ExposureMeta;
use ndarray::Array2;
use std::path::{Path, PathBuf};

/// Saturation inputs, per pixel of the science frame.
pub struct SaturationInputs {
    pub threshold: Vec<f32>,
    pub nosat: Vec<bool>,
    /// The superbias as the saturation step receives it (NaN kept), for the second-group test.
    pub bias: Option<Vec<f32>>,
    pub read_pattern: Option<ReadPattern>,
}

/// Everything prepared from the reference files.
pub struct Prepared {
    pub ny: usize,
    pub nx: usize,
    pub group_scale: Option<f32>,
    /// dq_init mask (0 where dq_init is skipped).
    pub mask: Vec<u32>,
    pub saturation: Option<SaturationInputs>,
    /// The IPC correction (None: the step is skipped).
    pub ipc: Option<Ipc>,
    /// Bias to subtract (NaN → 0).
    pub superbias: Option<Vec<f32>>,
    pub linearity: Option<LinearityPrep>,
    pub dark: Option<DarkRef>,
    /// Per-pixel read noise and gain for jump (may be the same files as ramp_fit's).
    pub jump_gain: Vec<f32>,
    pub jump_readnoise: Vec<f32>,
    pub gain: Vec<f32>,
    pub readnoise: Vec<f32>,
    pub gain_factor: Option<f64>,
    pub average_dark_current: Vec<f32>,
    /// PIXELDQ as refpix sees it: mask | saturation | superbias.
    pub pixeldq_refpix: Vec<u32>,
    /// PIXELDQ after linearity and dark (before jump's bad-gain flags).
    pub pixeldq_pre_jump: Vec<u32>,
    /// PIXELDQ after each step up to dark_current whose own result is saved
    /// (`Detector1Settings::step_saves`).
    pub pixeldq_after: Vec<(SavedStep, Vec<u32>)>,
    /// Step status keywords and reference keywords for the products.
    pub cal_steps: Vec<(String, String)>,
    pub ref_files: Vec<(String, String)>,
}

fn flat<T: Clone>(a: &Array2<T>) -> Vec<T> {
    a.iter().cloned().collect()
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| p.display().to_string())
}

/// Keep a copy of PIXELDQ as it is after `steps` when their results are saved.
fn keep_after(
    s: &Detector1Settings,
    steps: &[SavedStep],
    dq: &[u32],
    out: &mut Vec<(SavedStep, Vec<u32>)>,
) {
    for &st in steps {
        if s.step_saves.iter().any(|x| x.step == st) {
            out.push((st, dq.to_vec()));
        }
    }
}

fn or_into(dst: &mut [u32], src: &Array2<u32>) {
    for (d, s) in dst.iter_mut().zip(src.iter()) {
        *d |= *s;
    }
}

impl Prepared {
    /// Bytes the prepared references keep resident for the whole run (per-pixel arrays, and the
    /// dark planes the run touches through its memory map).
    pub fn resident_bytes(&self) -> u64 {
        let n = (self.ny * self.nx) as u64;
        let mut per_pixel = 4 + 4 * 4 + 4 * 2 + 4 * 2; // mask, 4 gain/readnoise copies, avg dark, 2 PIXELDQ
        if let Some(s) = &self.saturation {
            per_pixel += 4 + 1 + if s.bias.is_some() { 4 } else { 0 };
        }
        if self.superbias.is_some() {
            per_pixel += 4;
        }
        if let Some(l) = &self.linearity {
            per_pixel += 4 * l.ncoeff as u64;
            if let Some(inv) = &l.inv_coeffs {
                per_pixel += 4 * (inv.len() / (self.ny * self.nx).max(1)) as u64;
            }
        }
        if let Some(d) = &self.dark {
            per_pixel += 4 * d.total_planes() as u64;
        }
        per_pixel += 4 * self.pixeldq_after.len() as u64;
        n * per_pixel + self.ipc.as_ref().map_or(0, Ipc::resident_bytes)
    }

    /// Prepare for a driver without the read-level linearity correction (the online driver):
    /// a LINEARITY reference with INV_COEFFS on an exposure with NFRAMES > 1 is refused.
    pub fn load(s: &Detector1Settings, meta: &ExposureMeta) -> Result<Prepared> {
        Self::load_with(s, meta, false)
    }

    /// Prepare for the exact driver, which applies the read-level linearity correction
    /// (INV_COEFFS with NFRAMES > 1) to each integration's whole ramp.
    pub fn load_exact(s: &Detector1Settings, meta: &ExposureMeta) -> Result<Prepared> {
        Self::load_with(s, meta, true)
    }

    fn load_with(
        s: &Detector1Settings,
        meta: &ExposureMeta,
        read_level_linearity: bool,
    ) -> Result<Prepared> {
        let (ny, nx) = (meta.subsize2, meta.subsize1);
        let npix = ny * nx;
        let mut cal_steps: Vec<(String, String)> = Vec::new();
        let mut ref_files: Vec<(String, String)> = Vec::new();
        let status = |on: bool| if on { "COMPLETE" } else { "SKIPPED" }.to_string();
        let refname =
            |p: &Option<PathBuf>| p.as_deref().map(file_name).unwrap_or_else(|| "N/A".into());

        let group_scale = if s.group_scale {
            crate::steps::group_scale::factor(meta.nframes, meta.frame_divisor)
        } else {
            None
        };
        cal_steps.push(("S_GRPSCL".into(), status(group_scale.is_some())));

        let mut mask = vec![0u32; npix];
        if let Some(p) = &s.mask {
            let m = MaskRef::load(p, meta)?;
            mask = flat(m.pixeldq());
        }
        cal_steps.push(("S_DQINIT".into(), status(s.mask.is_some())));
        ref_files.push(("R_MASK".into(), refname(&s.mask)));
        let mut pixeldq = mask.clone();
        let mut pixeldq_after = Vec::new();
        keep_after(s, &[SavedStep::DqInit], &pixeldq, &mut pixeldq_after);

        let saturation = match &s.saturation {
            Some((p, params)) => {
                let r = SaturationRef::load(p, meta)?;
                let prep = r.prepare();
                or_into(&mut pixeldq, &prep.pixeldq);
                let bias = match &s.saturation_bias {
                    Some(bp) => Some(flat(&SuperbiasRef::load(bp, meta)?.bias)),
                    None => None,
                };
                Some(SaturationInputs {
                    threshold: flat(&prep.threshold),
                    nosat: flat(&prep.no_sat_check),
                    bias,
                    read_pattern: params
                        .use_readpatt
                        .then(|| ReadPattern::new(meta.nframes, meta.ngroups)),
                })
            }
            None => None,
        };
        keep_after(
            s,
            &[SavedStep::Saturation, SavedStep::Ipc],
            &pixeldq,
            &mut pixeldq_after,
        );
        cal_steps.push(("S_SATURA".into(), status(saturation.is_some())));
        ref_files.push((
            "R_SATURA".into(),
            refname(&s.saturation.as_ref().map(|x| x.0.clone())),
        ));
        let ipc = match &s.ipc {
            Some(p) => {
                let r = IpcRef::load(p, meta)?;
                Some(
                    Ipc::new(&r.kernel, meta, ny, nx)
                        .map_err(|e| anyhow::anyhow!("{}: ipc: {e}", p.display()))?,
                )
            }
            None => None,
        };
        cal_steps.push(("S_IPC".into(), status(ipc.is_some())));
        ref_files.push(("R_IPC".into(), refname(&s.ipc)));

        let superbias = match &s.superbias {
            Some(p) => {
                let r = SuperbiasRef::load(p, meta)?;
                or_into(&mut pixeldq, &r.dq);
                Some(flat(&r.subtraction_bias()))
            }
            None => None,
        };
        cal_steps.push(("S_SUPERB".into(), status(superbias.is_some())));
        ref_files.push(("R_SUPERB".into(), refname(&s.superbias)));
        let pixeldq_refpix = pixeldq.clone();
        keep_after(
            s,
            &[SavedStep::Superbias, SavedStep::Refpix],
            &pixeldq,
            &mut pixeldq_after,
        );

        let linearity = match &s.linearity {
            Some(p) => {
                let prep = LinearityRef::load(p, meta)?.prepare(meta);
                if prep.inv_coeffs.is_some() && !read_level_linearity {
                    bail!(
                        "{}: INV_COEFFS with NFRAMES > 1 selects the read-level linearity correction, which needs each integration's whole ramp: it is implemented by --mode=exact only",
                        p.display()
                    );
                }
                if prep.inv_coeffs.is_some() && meta.ngroups < 2 {
                    // stcal indexes the second group of every ramp (IndexError on one group).
                    bail!(
                        "{}: INV_COEFFS with NFRAMES > 1 selects the read-level linearity correction, which needs at least 2 groups per integration (NGROUPS = {}); the official step fails on this input too",
                        p.display(),
                        meta.ngroups
                    );
                }
                or_into(&mut pixeldq, &prep.pixeldq);
                Some(prep)
            }
            None => None,
        };
        keep_after(s, &[SavedStep::Linearity], &pixeldq, &mut pixeldq_after);
        cal_steps.push(("S_LINEAR".into(), status(linearity.is_some())));
        ref_files.push(("R_LINEAR".into(), refname(&s.linearity)));

        let mut average_dark_current = vec![0f32; npix];
        let dark = match &s.dark {
            Some((p, avg)) => {
                let d = DarkRef::load(p, meta)?;
                match d.status() {
                    DarkStatus::Skipped { .. } => None,
                    _ => {
                        or_into(&mut pixeldq, &d.dq);
                        average_dark_current = flat(&d.average_dark_current(*avg));
                        Some(d)
                    }
                }
            }
            None => None,
        };
        keep_after(s, &[SavedStep::DarkCurrent], &pixeldq, &mut pixeldq_after);
        cal_steps.push(("S_DARK".into(), status(dark.is_some())));
        ref_files.push((
            "R_DARK".into(),
            refname(&s.dark.as_ref().map(|x| x.0.clone())),
        ));

        let gain_ref = GainRef::load(&s.gain, meta)?;
        let gain = flat(&gain_ref.gain);
        let readnoise = flat(&ReadnoiseRef::load(&s.readnoise, meta)?.readnoise);
        let load_gain = |p: &Option<PathBuf>| -> Result<Vec<f32>> {
            Ok(match p {
                Some(p) if p == &s.gain => gain.clone(),
                Some(p) => flat(&GainRef::load(p, meta)?.gain),
                None => gain.clone(),
            })
        };
        let jump_gain = load_gain(&s.jump_gain)?;
        let jump_readnoise = match &s.jump_readnoise {
            Some(p) if p != &s.readnoise => flat(&ReadnoiseRef::load(p, meta)?.readnoise),
            _ => readnoise.clone(),
        };
        ref_files.push(("R_GAIN".into(), file_name(&s.gain)));
        ref_files.push(("R_READNO".into(), file_name(&s.readnoise)));

        let gain_factor = match &s.gain_scale {
            Some(p) if p == &s.gain => gain_ref.gainfact,
            Some(p) => GainRef::load(p, meta)?.gainfact,
            None => None,
        };

        for v in [&mask, &pixeldq] {
            if v.len() != npix {
                bail!("internal error: prepared arrays do not match the {ny}x{nx} frame");
            }
        }
        Ok(Prepared {
            ny,
            nx,
            group_scale,
            mask,
            saturation,
            ipc,
            superbias,
            linearity,
            dark,
            jump_gain,
            jump_readnoise,
            gain,
            readnoise,
            gain_factor,
            average_dark_current,
            pixeldq_refpix,
            pixeldq_pre_jump: pixeldq,
            pixeldq_after,
            cal_steps,
            ref_files,
        })
    }
}
