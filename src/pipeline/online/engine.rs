//! The online engine: a [`stream::context::FrameProcessor`] that takes the frames of one
//! exposure in time order and emits every integration as soon as its last group is processed.
//!
//! Per frame: calibration (see [`super::calibrate`]); the calibrated group and its final flags
//! go into the current integration's ramp buffer (pixel-major, NGROUPS values per pixel, reused
//! for every integration). At the integration's last group: online jump detection
//! ([`super::jump`]), the official neighbour/after-jump passes, then ramp fitting with one
//! `PixelAccumulator` per pixel; the rateints SCI/DQ/VAR_RNOISE plane is written at once and
//! handed out. Records and early values go to the scratch files ([`super::spill`]); at the end
//! of the exposure the Poisson terms are finished and the products completed.
//!
//! Memory does not depend on NINTS: per pixel, the ramp buffer (5 bytes per group), marks (1
//! byte per group), the accumulator, the jump state and a few frames of calibration buffers.

use super::calibrate::{CalibratedGroup, FrameCalibrator};
use super::jump::{JumpScratch, OnlineJump};
use super::products;
use super::sink::IntegrationPlane;
use super::spill::Spill;
use crate::pipeline::detector1::prepare::Prepared;
use crate::pipeline::detector1::Detector1Settings;
use crate::steps::jump::{self, BandGeometry, JumpMode, JumpSetup};
use crate::steps::ramp_fit::{
    ExposureParams, FitConfig, FitValues, IntegrationRamp, PixelAccumulator, PixelConsts,
    RampScratch,
};
use crate::steps::refpix::{RefpixPlan, RefpixStatus};
use anyhow::{Context, Result};
use frames::write::RateintsWriter;
use frames::ExposureMeta;
use rayon::prelude::*;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use stream::context::FrameProcessor;
use stream::{Frame, FrameGeometry, Latency, StageTimes, StreamError};

/// Tuning of the online driver.
#[derive(Debug, Clone)]
pub struct OnlineOptions {
    /// First differences per pixel the iterative/single-pass jump reservoir may hold.
    pub reservoir_diffs: usize,
    /// Frames the context may queue before the caller must receive (back-pressure).
    pub queue_frames: usize,
    /// A group counts as a missed deadline when its processing ends more than this after its
    /// arrival (normally TGROUP / speed); `None`: no deadlines.
    pub deadline: Option<Duration>,
    /// Hand every integration's final GROUPDQ to the sink too (for diagnostics and the
    /// agreement measurements; costs NGROUPS bytes per pixel per plane).
    pub keep_groupdq: bool,
}

impl Default for OnlineOptions {
    fn default() -> Self {
        OnlineOptions {
            reservoir_diffs: super::jump::DEFAULT_RESERVOIR_DIFFS,
            queue_frames: 4,
            deadline: None,
            keep_groupdq: false,
        }
    }
}

/// Latency and timing figures of a run.
#[derive(Default)]
pub struct EngineMetrics {
    /// Group arrival → group calibrated and stored (the last group: before the fit).
    pub group_latency: Latency,
    /// Last group's arrival → rateints plane written.
    pub integration_latency: Latency,
    pub deadline_misses: u64,
    pub groups: u64,
    pub times: StageTimes,
}

/// The online detector1 engine for one exposure file (or a live stream of its frames).
pub struct OnlineEngine {
    input: PathBuf,
    meta: ExposureMeta,
    prep: Prepared,
    geometry: FrameGeometry,
    fit: FitConfig,
    jump: Option<JumpSetup>,
    /// The same setup for a single integration (what the per-integration passes see).
    jump1: Option<JumpSetup>,
    detector: Option<OnlineJump>,
    refpix_done: bool,
    cal: FrameCalibrator,
    /// Current integration, pixel-major `[pixel][group]`.
    vals: Vec<f32>,
    gdq: Vec<u8>,
    marks: Vec<u8>,
    pixeldq: Vec<u32>,
    acc: Vec<PixelAccumulator>,
    spill: Spill,
    ints_writer: Option<RateintsWriter>,
    output_dir: PathBuf,
    options: OnlineOptions,
    pixbuf: Vec<u16>,
    next: usize,
    primary_total: u64,
    fully_dnu: usize,
    pub metrics: EngineMetrics,
    outputs: Vec<PathBuf>,
}

fn pixel_consts(prep: &Prepared, pixeldq: &[u32], p: usize) -> PixelConsts {
    PixelConsts {
        gain: prep.gain[p],
        readnoise: prep.readnoise[p],
        dark_current: prep.average_dark_current[p],
        pixel_dq: pixeldq[p],
    }
}

impl OnlineEngine {
    /// Prepare everything from the settings and the exposure's metadata (the header of the
    /// file whose frames will arrive; the products copy its headers and tables).
    pub fn new(s: &Detector1Settings, meta: &ExposureMeta, options: OnlineOptions) -> Result<Self> {
        let input = s.input.clone();
        let nints = meta.nints_in_file();
        let (ngroups, ny, nx) = (meta.ngroups, meta.subsize2, meta.subsize1);
        let npix = ny * nx;
        if meta.zero_frame && !s.ramp_fit.suppress_one_group {
            anyhow::bail!(
                "{}: ZEROFRAME with suppress_one_group=false is not supported yet",
                input.display()
            );
        }
        let mut times = StageTimes::default();
        let t0 = Instant::now();
        let prep = Prepared::load(s, meta)?;
        times.add("references", t0.elapsed());
        let ramp = ExposureParams {
            nints,
            ngroups,
            nframes: meta.nframes as u32,
            group_time: meta.tgroup,
            frame_time: meta.tframe,
            suppress_one_group: s.ramp_fit.suppress_one_group,
            firstgroup: s.ramp_fit.firstgroup,
            lastgroup: s.ramp_fit.lastgroup,
        };
        let fit = FitConfig::new(&ramp)
            .map_err(|e| anyhow::anyhow!("{}: ramp fitting: {e}", input.display()))?;
        let refpix = match &s.refpix {
            Some(rp) => Some(RefpixPlan::new(&input, meta, &prep.pixeldq_refpix, rp)?),
            None => None,
        };
        let refpix_done = refpix
            .as_ref()
            .is_some_and(|p| p.status() == RefpixStatus::Complete);
        // The mode is fixed before any data arrive: fully DO_NOT_USE groups (which the
        // official selection subtracts) cannot be known in advance and are taken as none.
        let jump = match &s.jump {
            Some(p) => {
                let mut scratch = Vec::new();
                let median_gain = jump::stats::nanmedian_f32(&prep.jump_gain, &mut scratch);
                Some(
                    JumpSetup::new(
                        p,
                        nints,
                        ngroups,
                        meta.nframes as u32,
                        meta.tgroup,
                        &vec![0; nints],
                        median_gain,
                    )
                    .map_err(|e| anyhow::anyhow!("{}: jump: {e}", input.display()))?,
                )
            }
            None => None,
        };
        let jump1 = jump.as_ref().map(|j| JumpSetup {
            nints: 1,
            ..j.clone()
        });
        let detector = jump
            .as_ref()
            .filter(|j| j.detects())
            .map(|j| OnlineJump::new(j, npix, options.reservoir_diffs));
        let mut pixeldq = prep.pixeldq_pre_jump.clone();
        if jump
            .as_ref()
            .is_some_and(|j| j.mode != JumpMode::StepSkipped)
        {
            jump::setup::flag_bad_gain(&mut pixeldq, &prep.jump_gain);
        }
        let acc: Vec<PixelAccumulator> = (0..npix)
            .map(|p| PixelAccumulator::new(&fit, &pixel_consts(&prep, &pixeldq, p)))
            .collect();
        std::fs::create_dir_all(&s.output_dir).with_context(|| {
            format!(
                "{}: cannot create the output directory",
                s.output_dir.display()
            )
        })?;
        let spill = Spill::create(&s.output_dir, npix, nints)?;
        let jump_ran = jump
            .as_ref()
            .is_some_and(|j| j.mode != JumpMode::StepSkipped);
        let header = products::final_header(&input, &prep, refpix_done, jump_ran);
        let rateints_path =
            crate::pipeline::naming::product_path(&s.output_dir, &input, "rateints");
        let ints_writer = RateintsWriter::create(&rateints_path, &header, nints, ny, nx)?;
        let mut cal =
            FrameCalibrator::new(&prep, ngroups, s.saturation.as_ref().map(|x| x.1), refpix);
        cal.warm_up(&prep)?;
        // Zeroed allocations are mapped lazily: touch them now, not during the first frames.
        let touched = |n: usize| {
            let mut v = vec![0u8; n];
            v.fill(0);
            v
        };
        let mut vals = vec![0f32; npix * ngroups];
        vals.fill(0.0);
        let metrics = EngineMetrics {
            times,
            ..EngineMetrics::default()
        };
        Ok(OnlineEngine {
            input,
            meta: meta.clone(),
            geometry: FrameGeometry {
                nints,
                ngroups,
                ny,
                nx,
            },
            fit,
            jump,
            jump1,
            detector,
            refpix_done,
            cal,
            vals,
            gdq: touched(npix * ngroups),
            marks: touched(npix * ngroups),
            pixeldq,
            acc,
            spill,
            ints_writer: Some(ints_writer),
            output_dir: s.output_dir.clone(),
            options,
            pixbuf: vec![0u16; npix],
            next: 0,
            primary_total: 0,
            fully_dnu: 0,
            metrics,
            outputs: Vec::new(),
            prep,
        })
    }

    pub fn geometry(&self) -> FrameGeometry {
        self.geometry
    }
    pub fn jump_mode(&self) -> Option<JumpMode> {
        self.jump.as_ref().map(|j| j.mode)
    }
    /// Integrations of jump history kept per pixel (iterative / single-pass modes).
    pub fn reservoir_integrations(&self) -> usize {
        self.detector
            .as_ref()
            .map_or(0, |d| d.reservoir_integrations())
    }
    /// Integrations finished so far.
    pub fn integrations_done(&self) -> usize {
        self.spill.integrations()
    }
    /// Products written by [`FrameProcessor::finish`].
    pub fn outputs(&self) -> &[PathBuf] {
        &self.outputs
    }

    /// Store a calibrated group into the pixel-major ramp buffer.
    fn store(vals: &mut [f32], gdq: &mut [u8], ngroups: usize, cg: CalibratedGroup<'_>) {
        let g = cg.group;
        for (p, (&v, &q)) in cg.values.iter().zip(cg.gdq).enumerate() {
            vals[p * ngroups + g] = v;
            gdq[p * ngroups + g] = q;
        }
    }

    /// Jump detection, fit, scratch files and the provisional rateints plane of integration
    /// `int`, whose last group is in the buffer.
    fn finish_integration(&mut self, int: usize, arrived: Instant) -> Result<IntegrationPlane> {
        let FrameGeometry {
            ngroups, ny, nx, ..
        } = self.geometry;
        let npix = ny * nx;
        let block = self.spill.block();

        let t0 = Instant::now();
        let mut primary = 0;
        if let (Some(setup), Some(setup1)) = (&self.jump, &self.jump1) {
            if let Some(det) = self.detector.as_mut() {
                let prep = &self.prep;
                let shape = det.shape();
                let states = det.chunks(block);
                self.vals
                    .par_chunks(block * ngroups)
                    .zip(self.gdq.par_chunks_mut(block * ngroups))
                    .zip(self.marks.par_chunks_mut(block * ngroups))
                    .zip(states.into_par_iter())
                    .enumerate()
                    .for_each_init(JumpScratch::default, |s, (b, (((v, q), m), mut st))| {
                        let p0 = b * block;
                        for (k, ((v, q), m)) in v
                            .chunks_exact(ngroups)
                            .zip(q.chunks_exact_mut(ngroups))
                            .zip(m.chunks_exact_mut(ngroups))
                            .enumerate()
                        {
                            let p = p0 + k;
                            shape.decide_pixel(
                                setup,
                                &mut st,
                                k,
                                v,
                                q,
                                m,
                                prep.jump_gain[p],
                                prep.jump_readnoise[p],
                                s,
                            );
                        }
                    });
            }
            if setup.mode != JumpMode::StepSkipped {
                let planes = if matches!(setup.mode, JumpMode::SigmaClip { .. }) {
                    let mut all = vec![true; ngroups];
                    jump::setup::accumulate_all_have(
                        &self.gdq,
                        ngroups,
                        jump::band::PLANE_CLEAR_MASK,
                        &mut all,
                    );
                    all.iter().any(|&a| a).then_some(all)
                } else {
                    None
                };
                primary = jump::finish_band(
                    setup1,
                    &BandGeometry::whole(nx, ny),
                    &mut self.gdq,
                    &mut self.marks,
                    planes.as_deref(),
                );
            }
            if let Some(det) = self.detector.as_mut() {
                det.integration_done();
            }
        }
        self.primary_total += primary;
        self.metrics.times.add("jump", t0.elapsed());

        let t0 = Instant::now();
        let mut sci = vec![0f32; npix];
        let mut dqv = vec![0u32; npix];
        let mut vr = vec![0f32; npix];
        let prep = &self.prep;
        let pixeldq = &self.pixeldq;
        let fit = &self.fit;
        let block_records: Vec<Vec<u16>> = self
            .vals
            .par_chunks(block * ngroups)
            .zip(self.gdq.par_chunks(block * ngroups))
            .zip(self.acc.par_chunks_mut(block))
            .zip(sci.par_chunks_mut(block))
            .zip(dqv.par_chunks_mut(block))
            .zip(vr.par_chunks_mut(block))
            .enumerate()
            .map_init(
                || RampScratch::new(fit),
                |scratch, (b, (((((v, q), acc), sci), dqv), vr))| {
                    let mut records = Vec::with_capacity(acc.len() * 2);
                    for (k, a) in acc.iter_mut().enumerate() {
                        let p = b * block + k;
                        let consts = pixel_consts(prep, pixeldq, p);
                        let input = IntegrationRamp {
                            ramp: &v[k * ngroups..(k + 1) * ngroups],
                            gdq: &q[k * ngroups..(k + 1) * ngroups],
                            zeroframe: None,
                        };
                        let e = a.push_integration(fit, &consts, input, scratch, &mut records);
                        sci[k] = e.sci;
                        dqv[k] = e.dq;
                        vr[k] = e.var_rnoise;
                    }
                    records
                },
            )
            .collect();
        self.metrics.times.add("ramp fit", t0.elapsed());

        let t0 = Instant::now();
        self.spill
            .push_integration(&sci, &dqv, &vr, &block_records)?;
        drop(block_records);
        // Provisional rateints plane: ERR from the read noise alone and VAR_POISSON 0 until
        // the exposure ends (the file keeps its temporary name until then).
        let gain_factor = self.prep.gain_factor;
        if let Some(w) = self.ints_writer.as_mut() {
            let rows = ((1 << 20) / (nx * 40).max(1)).clamp(1, ny);
            let mut band = Vec::with_capacity(rows * nx);
            for y0 in (0..ny).step_by(rows) {
                let r = rows.min(ny - y0);
                band.clear();
                band.extend((y0 * nx..(y0 + r) * nx).map(|p| FitValues {
                    sci: sci[p],
                    err: vr[p].sqrt(),
                    dq: dqv[p],
                    var_poisson: 0.0,
                    var_rnoise: vr[p],
                }));
                products::write_values(&band, r, nx, gain_factor, |b| w.write_band(int, y0, b))?;
            }
        }
        if let Some(f) = gain_factor {
            let mut none: [f32; 0] = [];
            let mut none2: [f32; 0] = [];
            crate::steps::gain_scale::apply(f, &mut sci, &mut none, &mut none2, &mut vr);
        }
        self.metrics.times.add("write", t0.elapsed());
        let written = Instant::now();
        self.metrics
            .integration_latency
            .record(written.saturating_duration_since(arrived));
        Ok(IntegrationPlane {
            int,
            nints: self.geometry.nints,
            ny,
            nx,
            sci,
            dq: dqv,
            var_rnoise: vr,
            primary_jumps: primary,
            groupdq: self.options.keep_groupdq.then(|| self.gdq.clone()),
            last_group_arrived: arrived,
            written,
        })
    }

    /// The end of the exposure: Poisson terms, the final rateints and rate products.
    fn finish_exposure(&mut self) -> Result<()> {
        let FrameGeometry {
            nints,
            ngroups,
            ny,
            nx,
        } = self.geometry;
        let npix = ny * nx;
        anyhow::ensure!(
            self.spill.integrations() == nints,
            "{}: only {} of {} integrations were processed",
            self.input.display(),
            self.spill.integrations(),
            nints
        );
        let t0 = Instant::now();
        let block = self.spill.block();
        let mut per_int: Vec<Vec<u16>> = vec![Vec::new(); nints];
        let mut cursor = vec![0usize; nints];
        let mut stream = Vec::new();
        for b in 0..self.spill.nblocks() {
            let p0 = b * block;
            let n = block.min(npix - p0);
            for (i, words) in per_int.iter_mut().enumerate() {
                self.spill.read_block_records(i, b, words)?;
            }
            cursor.fill(0);
            let mut late = vec![(0f32, 0f32); nints * n];
            let mut rate = Vec::with_capacity(n);
            for k in 0..n {
                let p = p0 + k;
                stream.clear();
                for i in 0..nints {
                    let rest = &per_int[i][cursor[i]..];
                    let len =
                        crate::steps::ramp_fit::record::record_len(rest).ok_or_else(|| {
                            anyhow::anyhow!("corrupt scratch records at integration {i}, pixel {p}")
                        })?;
                    stream.extend_from_slice(&rest[..len]);
                    cursor[i] += len;
                }
                let consts = pixel_consts(&self.prep, &self.pixeldq, p);
                let r = self.acc[p]
                    .finish(&self.fit, &consts, &stream, |i, l| {
                        late[i * n + k] = (l.var_poisson, l.err);
                    })
                    .map_err(|e| anyhow::anyhow!("{}: {e}", self.input.display()))?;
                rate.push(r);
            }
            for i in 0..nints {
                self.spill.write_late(i, p0, &late[i * n..(i + 1) * n])?;
            }
            self.spill.write_rate(p0, &rate)?;
        }
        self.metrics.times.add("poisson terms", t0.elapsed());

        let t0 = Instant::now();
        let rows = (4 << 20) / (nx * 40).max(1);
        let rows = rows.clamp(1, ny);
        let gain_factor = self.prep.gain_factor;
        let mut buf = Vec::new();
        let Some(mut ints_w) = self.ints_writer.take() else {
            anyhow::bail!("internal error: the rateints writer is gone")
        };
        for i in 0..nints {
            for y0 in (0..ny).step_by(rows) {
                let r = rows.min(ny - y0);
                self.spill.read_integration(i, y0 * nx, r * nx, &mut buf)?;
                products::write_values(&buf, r, nx, gain_factor, |b| ints_w.write_band(i, y0, b))?;
            }
        }
        let jump_ran = self
            .jump
            .as_ref()
            .is_some_and(|j| j.mode != JumpMode::StepSkipped);
        let header = products::final_header(&self.input, &self.prep, self.refpix_done, jump_ran);
        let rate_path =
            crate::pipeline::naming::product_path(&self.output_dir, &self.input, "rate");
        let mut rate_w = frames::write::RateWriter::create(&rate_path, &header, ny, nx)?;
        for y0 in (0..ny).step_by(rows) {
            let r = rows.min(ny - y0);
            self.spill.read_rate(y0 * nx, r * nx, &mut buf)?;
            products::write_values(&buf, r, nx, gain_factor, |b| rate_w.write_band(y0, b))?;
        }
        let cards = products::jump_cards(
            self.jump.as_ref(),
            self.primary_total,
            self.fully_dnu,
            nints,
            ngroups,
            self.meta.tgroup,
            ny,
            nx,
        );
        rate_w.update_primary(&cards)?;
        ints_w.update_primary(&cards)?;
        self.outputs.push(rate_w.finish()?);
        self.outputs.push(ints_w.finish()?);
        self.metrics.times.add("write", t0.elapsed());
        Ok(())
    }
}

impl FrameProcessor for OnlineEngine {
    type Output = IntegrationPlane;
    type Error = anyhow::Error;

    fn process(&mut self, frame: Frame) -> Result<Option<IntegrationPlane>> {
        let g = self.geometry;
        let (int, group) = (self.next / g.ngroups, self.next % g.ngroups);
        if self.next >= g.frames() {
            anyhow::bail!(
                "{}: frame (integration {}, group {}) after the last frame of the exposure",
                self.input.display(),
                frame.int,
                frame.group
            );
        }
        if frame.int != int || frame.group != group {
            return Err(StreamError::OutOfOrder {
                got_int: frame.int,
                got_group: frame.group,
                int,
                group,
            }
            .into());
        }
        if frame.data.len() != g.frame_bytes() {
            return Err(StreamError::BadFrameSize {
                got: frame.data.len(),
                expected: g.frame_bytes(),
            }
            .into());
        }
        let t0 = Instant::now();
        frame.pixels_into(&mut self.pixbuf);
        {
            let OnlineEngine {
                cal,
                prep,
                vals,
                gdq,
                pixbuf,
                ..
            } = self;
            let ng = g.ngroups;
            cal.ingest(prep, int, group, pixbuf, |cg| {
                Self::store(vals, gdq, ng, cg);
                Ok(())
            })
            .with_context(|| {
                format!("{}: integration {int}, group {group}", self.input.display())
            })?;
        }
        self.metrics.times.add("calibration", t0.elapsed());
        let done = frame.arrived.elapsed();
        self.metrics.group_latency.record(done);
        self.metrics.groups += 1;
        if self.options.deadline.is_some_and(|d| done > d) {
            self.metrics.deadline_misses += 1;
        }
        self.next += 1;
        if group + 1 == g.ngroups {
            self.fully_dnu += self.cal.fully_dnu_groups;
            return self.finish_integration(int, frame.arrived).map(Some);
        }
        Ok(None)
    }

    fn finish(&mut self) -> Result<Option<IntegrationPlane>> {
        self.finish_exposure()?;
        Ok(None)
    }
}
