//! The online engine: a [`stream::context::FrameProcessor`] that takes the frames of one
//! exposure in time order and emits every integration as soon as its last group is processed.
//!
//! Per frame: calibration (see [`super::calibrate`]); the calibrated group and its final flags
//! are written to the current integration's scratch file ([`super::store::FrameStore`]). After
//! the integration's last group it is finished, slice by slice: (1) online jump detection
//! ([`super::jump`]) a few thousand pixels at a time, decisions stored in scratch; (2) block of
//! whole rows by block: the official neighbour / after-jump passes on the block plus one halo
//! row each side, ramp fitting with one `PixelAccumulator` per pixel (again in slices), and the
//! block's rateints SCI/DQ/VAR_RNOISE rows written at once. Records and early values go to the
//! scratch files ([`super::spill`]); at the end of the exposure the Poisson terms are finished
//! and the products completed.
//!
//! Latency: the slices run as [`FrameProcessor::background`] work, in the waits between the
//! next integration's groups, so a group arriving while an integration is being finished waits
//! for one slice (milliseconds), not for the whole integration (a second or more at
//! 256 × 2048). The store has one slot more than the first window, so the next integration's
//! groups never overwrite one still being finished; when a result is needed before the waits
//! have produced it (the next integration's end, the end of the input, or a file whose frames
//! are always at hand) the remaining slices run at once. Slicing changes no arithmetic: every
//! pixel is decided and fitted exactly as in one pass.
//!
//! Memory does not depend on NINTS, and little on the frame size: the per-pixel state that
//! lives from integration to integration (accumulators, jump reservoir, the constants of jump
//! and ramp fitting) is in memory-mapped scratch files touched one block at a time and released
//! after it ([`super::store::MappedArray`]); what stays resident per pixel is the calibration's
//! frames and references (see [`super::calibrate`]).

use super::calibrate::FrameCalibrator;
use super::jump::{JumpScratch, OnlineJump};
use super::products;
use super::sink::IntegrationPlane;
use super::spill::Spill;
use super::store::{FrameStore, MappedArray, Plain};
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
use stream::context::{Background, FrameProcessor};
use stream::{Frame, FrameGeometry, Latency, StageTimes, StreamError};

/// Tuning of the online driver.
#[derive(Debug, Clone)]
pub struct OnlineOptions {
    /// First differences per pixel the iterative/single-pass jump reservoir may hold.
    pub reservoir_diffs: usize,
    /// Scratch-file bytes the jump reservoir may use in all (it lives on disk, touched one
    /// block at a time): lowers the per-pixel bound for large frames.
    pub reservoir_bytes: usize,
    /// Frames the context may queue before the caller must receive (back-pressure).
    pub queue_frames: usize,
    /// A group counts as a missed deadline when its processing ends more than this after its
    /// arrival (normally TGROUP / speed); `None`: no deadlines.
    pub deadline: Option<Duration>,
    /// Hand every integration's final GROUPDQ to the sink too (for diagnostics and the
    /// agreement measurements; costs NGROUPS bytes per pixel per plane).
    pub keep_groupdq: bool,
    /// Decide the jumps of the first `first_window` integrations together, when the last of
    /// them has arrived, with all of them in the pooled statistics (every detecting jump
    /// mode; at most [`MAX_WINDOW`]): their rateints planes are handed out then (integration
    /// 0's `first_window − 1` integrations late). 1: every integration is decided when it ends.
    pub first_window: usize,
    /// Hand every integration's SCI / DQ / VAR_RNOISE planes to the sink (12 bytes per pixel
    /// while the plane is handed out); off when the sink ignores them
    /// ([`super::PlaneSink::wants_planes`]).
    pub planes: bool,
}

impl Default for OnlineOptions {
    fn default() -> Self {
        OnlineOptions {
            reservoir_diffs: super::jump::DEFAULT_RESERVOIR_DIFFS,
            reservoir_bytes: super::jump::DEFAULT_RESERVOIR_BYTES,
            queue_frames: 4,
            deadline: None,
            keep_groupdq: false,
            first_window: 3,
            planes: true,
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
    /// Slices of integration finishing done in the waits between groups (the rest was done
    /// when a result was needed).
    pub background_slices: u64,
    pub times: StageTimes,
    /// CPU time of the engine's work, which a loaded machine inflates less than wall time.
    pub cpu: CpuMetrics,
}

/// CPU time of the engine thread (`CLOCK_THREAD_CPUTIME_ID`): per group, and per slice of
/// integration finishing run between groups. With one worker thread (`--threads 1`) this is
/// all the work; with more, the other workers' share of the parallel loops is not counted.
#[derive(Default)]
pub struct CpuMetrics {
    /// A group's processing (the same span as `group_latency`: finishing forced before it,
    /// calibration, the store write).
    pub group: Latency,
    /// One background slice of finishing work.
    pub slice: Latency,
    /// The longest background slice of each kind (stage name, CPU time), in first-seen order.
    pub slice_max: Vec<(&'static str, Duration)>,
}

impl CpuMetrics {
    fn record_slice(&mut self, kind: &'static str, d: Duration) {
        self.slice.record(d);
        match self.slice_max.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, m)) => *m = (*m).max(d),
            None => self.slice_max.push((kind, d)),
        }
    }
}

/// CPU time consumed so far by the calling thread.
pub fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a constant Linux supports.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
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
    /// Current integration's calibrated groups (and the previous one's while its decisions
    /// wait), jump decisions.
    store: FrameStore,
    /// Integrations decided together at the start (see `OnlineOptions::first_window`); also
    /// the number of store slots.
    window: usize,
    /// Store slots: one more than the window, so the next integration's groups can be stored
    /// while the last one is still being finished.
    slots: usize,
    /// Arrival of the last group of each integration waiting for the window to fill.
    first_arrived: Vec<Instant>,
    /// Integrations whose last group has arrived and that are not finished yet, oldest first.
    jobs: std::collections::VecDeque<FinishJob>,
    /// Per pixel: the constants of jump and ramp fitting.
    consts: MappedArray<PixelRefs>,
    acc: MappedArray<PixelAccumulator>,
    spill: Spill,
    ints_writer: Option<RateintsWriter>,
    output_dir: PathBuf,
    options: OnlineOptions,
    pixbuf: Vec<u16>,
    /// Cost per pixel of the jump-decision and fit slices (sizes the slices run between
    /// groups).
    pace_detect: Pace,
    pace_fit: Pace,
    next: usize,
    primary_total: u64,
    fully_dnu: usize,
    pub metrics: EngineMetrics,
    outputs: Vec<PathBuf>,
}

/// Pixels per unit of parallel work within a block.
const CHUNK: usize = 2048;

/// Most pixels per slice of an integration's finishing work (jump decisions or fit), and the
/// size of every such slice when the work is needed at once.
const SLICE: usize = 2 * CHUNK;

/// Time a slice of jump decisions or fit run between groups aims at: a group arriving
/// meanwhile waits about this long at most. Slices are sized from the cost per pixel of the
/// earlier slices of the same kind ([`Pace`]).
const SLICE_TARGET: Duration = Duration::from_micros(1500);

/// Fewest pixels per slice run between groups (the per-slice overhead stays small).
const SLICE_MIN: usize = 64;

/// Measured cost per pixel of one kind of finishing slice, to size the next ones so each
/// takes about [`SLICE_TARGET`]. Sizes change no arithmetic: every pixel is decided and fitted
/// the same way whatever slice it falls in.
#[derive(Debug, Clone, Copy)]
struct Pace {
    ns_per_pixel: f64,
}

impl Pace {
    fn new(ns_per_pixel: f64) -> Self {
        Pace { ns_per_pixel }
    }

    /// Pixels for the next slice, between [`SLICE_MIN`] and `max`.
    fn pixels(&self, max: usize) -> usize {
        let n = SLICE_TARGET.as_nanos() as f64 / self.ns_per_pixel.max(1e-3);
        (n as usize).clamp(SLICE_MIN.min(max), max.max(1))
    }

    /// Take the time `d` that `n` pixels took: a slower slice raises the estimate at once,
    /// faster ones lower it gradually (a slice that ran long costs latency, a short one only
    /// overhead).
    fn record(&mut self, n: usize, d: Duration) {
        if n == 0 {
            return;
        }
        let x = d.as_nanos() as f64 / n as f64;
        self.ns_per_pixel = if x > self.ns_per_pixel {
            x
        } else {
            0.75 * self.ns_per_pixel + 0.25 * x
        };
    }
}

/// An integration whose last group has arrived, finished a slice at a time
/// ([`OnlineEngine::step_finish`]) — in the waits between the next integration's groups when
/// the source is live, or at once when a result is needed: jump detection, then per block the
/// neighbour / after-jump passes, the fit and the block's rateints rows. Its groups are in
/// store slot `slot`; `ahead`: the slots of later integrations whose differences join its
/// pooled statistics (the first window).
struct FinishJob {
    int: usize,
    arrived: Instant,
    slot: usize,
    ahead: Vec<usize>,
    stage: Stage,
    work: Option<Box<FinishWork>>,
}

impl FinishJob {
    fn new(int: usize, arrived: Instant, slot: usize, ahead: Vec<usize>) -> Self {
        FinishJob {
            int,
            arrived,
            slot,
            ahead,
            stage: Stage::Detect { p0: 0 },
            work: None,
        }
    }
    /// Whether the job still reads store slot `slot`.
    fn reads_slot(&self, slot: usize) -> bool {
        self.slot == slot || self.ahead.contains(&slot)
    }
}

/// Where a [`FinishJob`] stands.
#[derive(Debug, Clone, Copy)]
enum Stage {
    /// Deciding the jumps of the pixels from `p0` on.
    Detect { p0: usize },
    /// Block `b`: read it and run the band passes.
    LoadBlock { b: usize },
    /// Block `b`: fitting its pixels from `k0` on.
    Fit { b: usize, k0: usize },
    /// Block `b` fitted: scratch records and rateints rows.
    StoreBlock { b: usize },
    /// Every block done: close the integration.
    Close,
}

impl Stage {
    /// The kind of work, for the CPU-time figures.
    fn name(&self) -> &'static str {
        match self {
            Stage::Detect { .. } => "detect",
            Stage::LoadBlock { .. } => "load block",
            Stage::Fit { .. } => "fit",
            Stage::StoreBlock { .. } => "store block",
            Stage::Close => "close",
        }
    }
}

/// Buffers and running totals of the job being finished.
struct FinishWork {
    v: Vec<f32>,
    q: Vec<u8>,
    m: Vec<u8>,
    /// The later integrations' groups (lookahead), `[integration][pixel][group]`.
    va: Vec<f32>,
    qa: Vec<u8>,
    /// Pixels per detection slice.
    jblock: usize,
    /// Sigma-clip: whether every pixel so far has JUMP_DET or DO_NOT_USE, per group.
    all: Vec<bool>,
    planes: Option<Vec<bool>>,
    /// Jump ran: the neighbour / after-jump passes run on each block.
    band_passes: bool,
    halo: usize,
    /// Halo rows above the current block in `q`/`m`.
    top: usize,
    plane_sci: Vec<f32>,
    plane_dq: Vec<u32>,
    plane_vr: Vec<f32>,
    whole_gdq: Option<Vec<u8>>,
    sci: Vec<f32>,
    dqv: Vec<u32>,
    vr: Vec<f32>,
    records: Vec<u16>,
    values: Vec<FitValues>,
    primary: u64,
    t_jump: Duration,
    t_fit: Duration,
    t_write: Duration,
}

/// Largest `OnlineOptions::first_window`.
pub const MAX_WINDOW: usize = 8;

/// The per-pixel constants of jump detection and ramp fitting (taken out of [`Prepared`] into
/// a scratch file at set-up).
#[derive(Debug, Clone, Copy)]
struct PixelRefs {
    gain: f32,
    readnoise: f32,
    dark_current: f32,
    /// PIXELDQ after every Stage-1 step (jump's bad-gain flags included).
    pixel_dq: u32,
    jump_gain: f32,
    jump_readnoise: f32,
}

// SAFETY: numbers only; all-zero is a valid value.
unsafe impl Plain for PixelRefs {}

impl PixelRefs {
    fn consts(&self) -> PixelConsts {
        PixelConsts {
            gain: self.gain,
            readnoise: self.readnoise,
            dark_current: self.dark_current,
            pixel_dq: self.pixel_dq,
        }
    }
}

/// Resident set size and its peak so far, in MiB (Linux `/proc/self/status`), for the debug log.
fn rss_mib() -> (f64, f64) {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let get = |k: &str| {
        s.lines()
            .find(|l| l.starts_with(k))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    };
    (get("VmRSS:"), get("VmHWM:"))
}

fn log_rss(what: &str) {
    if log::log_enabled!(log::Level::Debug) {
        let (rss, hwm) = rss_mib();
        log::debug!("online: {what}: RSS {rss:.1} MiB, peak {hwm:.1} MiB");
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
        if meta.zero_frame && zeroframe_reaches_the_fit(s, ngroups) {
            anyhow::bail!("{}: {ZEROFRAME_REFUSAL}", input.display());
        }
        let mut times = StageTimes::default();
        let t0 = Instant::now();
        log_rss("start");
        let mut prep = Prepared::load(s, meta)?;
        log_rss("references loaded");
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
            Some(rp) => Some(RefpixPlan::new(
                &input,
                meta,
                &prep.pixeldq_refpix.whole()?,
                rp,
            )?),
            None => None,
        };
        let refpix_done = refpix
            .as_ref()
            .is_some_and(|p| p.status() == RefpixStatus::Complete);
        // The mode is fixed before any data arrive: fully DO_NOT_USE groups (which the
        // official selection subtracts) cannot be known in advance and are taken as none.
        let jump = match &s.jump {
            Some(p) => {
                let median_gain = prep.jump_gain_median.unwrap_or(f32::NAN);
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
        let bad_gain_flags = jump
            .as_ref()
            .is_some_and(|j| j.mode != JumpMode::StepSkipped);
        std::fs::create_dir_all(&s.output_dir).with_context(|| {
            format!(
                "{}: cannot create the output directory",
                s.output_dir.display()
            )
        })?;
        let spill = Spill::create(&s.output_dir, npix, nints, nx)?;
        let dir = spill.path();
        let detector = match jump.as_ref().filter(|j| j.detects()) {
            Some(j) => Some(OnlineJump::new(
                j,
                npix,
                options
                    .reservoir_diffs
                    .min(options.reservoir_bytes / (4 * npix.max(1))),
                &dir,
            )?),
            None => None,
        };
        // The constants of jump and ramp fitting move to a scratch file; the prepared arrays
        // (and every other per-pixel array calibration does not need) are freed.
        // Written through the files block by block (see `MappedArray::create`).
        let consts = MappedArray::<PixelRefs>::create_sized(&dir, "pixel_constants", npix)?;
        let acc = MappedArray::<PixelAccumulator>::create_sized(&dir, "accumulators", npix)?;
        // Blocks are whole rows of the frame.
        let block = spill.block();
        let (mut cbuf, mut abuf) = (Vec::with_capacity(block), Vec::with_capacity(block));
        for p0 in (0..npix).step_by(block.max(1)) {
            let n = block.min(npix - p0);
            let rows = p0 / nx..(p0 + n) / nx;
            let gain = prep.gain.rows(rows.clone())?;
            let readnoise = prep.readnoise.rows(rows.clone())?;
            let dark_current = prep.average_dark_current.rows(rows.clone())?;
            let jump_gain = prep.jump_gain().rows(rows.clone())?;
            let jump_readnoise = prep.jump_readnoise().rows(rows.clone())?;
            let mut pixeldq = prep.pixeldq_pre_jump.rows(rows)?.into_owned();
            if bad_gain_flags {
                jump::setup::flag_bad_gain(&mut pixeldq, &jump_gain);
            }
            cbuf.clear();
            abuf.clear();
            for k in 0..n {
                let c = PixelRefs {
                    gain: gain[k],
                    readnoise: readnoise[k],
                    dark_current: dark_current[k],
                    pixel_dq: pixeldq[k],
                    jump_gain: jump_gain[k],
                    jump_readnoise: jump_readnoise[k],
                };
                abuf.push(PixelAccumulator::new(&fit, &c.consts()));
                cbuf.push(c);
            }
            consts.write_at(p0, &cbuf)?;
            acc.write_at(p0, &abuf)?;
        }
        for v in [
            Some(&mut prep.gain),
            Some(&mut prep.readnoise),
            Some(&mut prep.average_dark_current),
            prep.jump_gain_own.as_mut(),
            prep.jump_readnoise_own.as_mut(),
        ]
        .into_iter()
        .flatten()
        {
            v.clear();
        }
        prep.pixeldq_pre_jump.clear();
        prep.pixeldq_refpix.clear();
        prep.pixeldq_after = Vec::new();
        if let Some(d) = prep.dark.as_mut() {
            // Read by no step after set-up (merged into PIXELDQ / the average dark current).
            d.dq = Default::default();
            d.avdrkcur_map = None;
        }
        let window = if detector.is_some()
            && jump
                .as_ref()
                .is_some_and(|j| !matches!(j.mode, JumpMode::StepSkipped | JumpMode::NoDetection))
        {
            options.first_window.clamp(1, MAX_WINDOW).min(nints.max(1))
        } else {
            1
        };
        let slots = window + 1;
        let store = FrameStore::create(&dir, npix, ngroups, slots, nints)?;
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
        log_rss("set-up done");
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
            store,
            window,
            slots,
            first_arrived: Vec::new(),
            jobs: std::collections::VecDeque::new(),
            consts,
            acc,
            spill,
            ints_writer: Some(ints_writer),
            output_dir: s.output_dir.clone(),
            options,
            pixbuf: vec![0u16; npix],
            // First guesses (one core): a few µs per pixel to decide, well under one to fit.
            pace_detect: Pace::new(4000.0),
            pace_fit: Pace::new(500.0),
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

    /// Do one slice of the oldest pending integration's finishing work; the integration's
    /// plane when that slice completed it.
    /// `urgent`: the result is needed now (slices of the largest size); else the slice is
    /// sized to take about [`SLICE_TARGET`].
    fn step_finish(&mut self, urgent: bool) -> Result<Option<IntegrationPlane>> {
        let Some(mut job) = self.jobs.pop_front() else {
            return Ok(None);
        };
        let done = self.advance(&mut job, urgent)?;
        if done.is_none() {
            self.jobs.push_front(job);
        }
        Ok(done)
    }

    /// Finish every pending integration whose finishing work satisfies `pending` (oldest
    /// first: the jump reservoir and the accumulators take integrations in order).
    fn drain_jobs(
        &mut self,
        pending: impl Fn(&FinishJob) -> bool,
        out: &mut Vec<IntegrationPlane>,
    ) -> Result<()> {
        while self.jobs.iter().any(&pending) {
            if let Some(plane) = self.step_finish(true)? {
                out.push(plane);
            }
        }
        Ok(())
    }

    /// Buffers for finishing `job`, allocated when it starts (queued jobs hold none).
    fn start_work(&self, job: &FinishJob) -> FinishWork {
        let FrameGeometry {
            ngroups: ng,
            ny,
            nx,
            ..
        } = self.geometry;
        let npix = ny * nx;
        let block = self.spill.block();
        let band_passes = self
            .jump
            .as_ref()
            .is_some_and(|j| j.mode != JumpMode::StepSkipped);
        // One halo row each side for the neighbour pass.
        let halo = usize::from(band_passes && self.detector.is_some());
        // Detection is per pixel: slices of any length, short enough that a group arriving
        // meanwhile waits a few milliseconds, and that the reservoir's pages touched at once
        // stay a few MiB.
        let jblock = match &self.detector {
            Some(det) => {
                let per_pixel = det.bytes_per_pixel() + std::mem::size_of::<PixelRefs>() + 6 * ng;
                ((4 << 20) / per_pixel)
                    .clamp(CHUNK, block.max(CHUNK))
                    .min(block)
                    .min(SLICE)
            }
            None => 0,
        };
        let la_len = jblock * ng;
        let want_planes = self.options.planes;
        let plane = |n: usize| if want_planes { n } else { 0 };
        FinishWork {
            v: vec![0f32; block * ng],
            q: vec![0u8; (block + 2 * halo * nx) * ng],
            m: vec![0u8; (block + 2 * halo * nx) * ng],
            va: vec![0f32; job.ahead.len() * la_len],
            qa: vec![0u8; job.ahead.len() * la_len],
            jblock,
            all: vec![true; ng],
            planes: None,
            band_passes,
            halo,
            top: 0,
            plane_sci: vec![0f32; plane(npix)],
            plane_dq: vec![0u32; plane(npix)],
            plane_vr: vec![0f32; plane(npix)],
            whole_gdq: self.options.keep_groupdq.then(|| vec![0u8; npix * ng]),
            sci: vec![0f32; block],
            dqv: vec![0u32; block],
            vr: vec![0f32; block],
            records: Vec::new(),
            values: Vec::with_capacity(block),
            primary: 0,
            t_jump: Duration::ZERO,
            t_fit: Duration::ZERO,
            t_write: Duration::ZERO,
        }
    }

    /// One slice of `job`: a slice of jump decisions, a block's band passes, a slice of the
    /// block's fit, the block's rows, or the close. Returns the plane once the job is done.
    fn advance(&mut self, job: &mut FinishJob, urgent: bool) -> Result<Option<IntegrationPlane>> {
        if job.work.is_none() {
            job.work = Some(Box::new(self.start_work(job)));
            if self.detector.is_none() {
                job.stage = Stage::LoadBlock { b: 0 };
            }
        }
        let FrameGeometry {
            ngroups: ng,
            ny,
            nx,
            ..
        } = self.geometry;
        let npix = ny * nx;
        let nblocks = self.spill.nblocks();
        let slot = job.slot;
        let w = job.work.as_mut().expect("started above");
        match job.stage {
            Stage::Detect { p0 } => {
                let t0 = Instant::now();
                let OnlineEngine {
                    jump,
                    detector,
                    store,
                    consts,
                    ..
                } = self;
                let (Some(setup), Some(det)) = (jump.as_ref(), detector.as_mut()) else {
                    unreachable!("detection runs only with a detector");
                };
                let shape = det.shape();
                let sigma_clip = matches!(setup.mode, JumpMode::SigmaClip { .. });
                let n = if urgent {
                    w.jblock
                } else {
                    self.pace_detect.pixels(w.jblock)
                };
                let n = n.min(npix - p0);
                let la_len = w.jblock * ng;
                let (v, q, m) = (&mut w.v[..n * ng], &mut w.q[..n * ng], &mut w.m[..n * ng]);
                store.get_band(slot, p0, n, Some(v), Some(q))?;
                for (j, &a) in job.ahead.iter().enumerate() {
                    let (va, qa) = (&mut w.va[j * la_len..], &mut w.qa[j * la_len..]);
                    store.get_band(a, p0, n, Some(&mut va[..n * ng]), Some(&mut qa[..n * ng]))?;
                }
                let (la, lq) = (&w.va[..], &w.qa[..]);
                let nahead = job.ahead.len();
                let c = consts.slice_mut(p0..p0 + n);
                let states = det.band(p0, n).chunks(n, CHUNK);
                v.par_chunks(CHUNK * ng)
                    .zip(q.par_chunks_mut(CHUNK * ng))
                    .zip(m.par_chunks_mut(CHUNK * ng))
                    .zip(c.par_chunks(CHUNK))
                    .zip(states.into_par_iter())
                    .enumerate()
                    .for_each_init(
                        JumpScratch::default,
                        |s, (ci, ((((v, q), m), c), mut st))| {
                            for (k, (((v, q), m), c)) in v
                                .chunks_exact(ng)
                                .zip(q.chunks_exact_mut(ng))
                                .zip(m.chunks_exact_mut(ng))
                                .zip(c)
                                .enumerate()
                            {
                                let at = (ci * CHUNK + k) * ng;
                                let mut next: [(&[f32], &[u8]); MAX_WINDOW] =
                                    [(&[], &[]); MAX_WINDOW];
                                for (j, nx) in next.iter_mut().enumerate().take(nahead) {
                                    let at = j * la_len + at;
                                    *nx = (&la[at..at + ng], &lq[at..at + ng]);
                                }
                                shape.decide_pixel(
                                    setup,
                                    &mut st,
                                    k,
                                    v,
                                    q,
                                    m,
                                    &next[..nahead],
                                    c.jump_gain,
                                    c.jump_readnoise,
                                    s,
                                );
                            }
                        },
                    );
                if sigma_clip {
                    jump::setup::accumulate_all_have(
                        q,
                        ng,
                        jump::band::PLANE_CLEAR_MASK,
                        &mut w.all,
                    );
                }
                store.put_decided(p0, q, m)?;
                det.release(p0, n);
                consts.release(p0..p0 + n);
                job.stage = if p0 + n < npix {
                    Stage::Detect { p0: p0 + n }
                } else {
                    det.integration_done();
                    if sigma_clip && w.all.iter().any(|&a| a) {
                        w.planes = Some(std::mem::take(&mut w.all));
                    }
                    Stage::LoadBlock { b: 0 }
                };
                let dt = t0.elapsed();
                self.pace_detect.record(n, dt);
                w.t_jump += dt;
            }
            Stage::LoadBlock { b } => {
                // Neighbour / after-jump passes on the block plus its halo rows.
                let t0 = Instant::now();
                let (p0, n) = self.spill.block_span(b);
                let (y0, r) = (p0 / nx, n / nx);
                let top = w.halo.min(y0);
                let bottom = w.halo.min(ny - (y0 + r));
                let rows = top + r + bottom;
                let (h0, hn) = ((y0 - top) * nx, rows * nx);
                self.store
                    .get_band(slot, p0, n, Some(&mut w.v[..n * ng]), None)?;
                let (q, m) = (&mut w.q[..hn * ng], &mut w.m[..hn * ng]);
                if self.detector.is_some() {
                    self.store.get_decided(h0, q, m)?;
                } else {
                    self.store.get_band(slot, h0, hn, None, Some(q))?;
                    m.fill(0);
                }
                if let (true, Some(setup1)) = (w.band_passes, self.jump1.as_ref()) {
                    let band = BandGeometry {
                        nx,
                        rows,
                        interior: top..top + r,
                    };
                    w.primary += jump::finish_band(setup1, &band, q, m, w.planes.as_deref());
                }
                w.top = top;
                w.records.clear();
                job.stage = Stage::Fit { b, k0: 0 };
                w.t_jump += t0.elapsed();
            }
            Stage::Fit { b, k0 } => {
                // A slice of the block's pixels: one integration pushed into each pixel's
                // accumulator (records appended in pixel order).
                let t0 = Instant::now();
                let (p0, n) = self.spill.block_span(b);
                let k1 = if urgent {
                    SLICE
                } else {
                    self.pace_fit.pixels(SLICE)
                };
                let k1 = (k0 + k1).min(n);
                let q0 = w.top * nx * ng;
                let v = &w.v[k0 * ng..k1 * ng];
                let q = &w.q[q0 + k0 * ng..q0 + k1 * ng];
                let OnlineEngine {
                    acc, consts, fit, ..
                } = self;
                let fit: &FitConfig = fit;
                let a = acc.slice_mut(p0 + k0..p0 + k1);
                let c = consts.slice_mut(p0 + k0..p0 + k1);
                let chunk_records: Vec<Vec<u16>> = v
                    .par_chunks(CHUNK * ng)
                    .zip(q.par_chunks(CHUNK * ng))
                    .zip(a.par_chunks_mut(CHUNK))
                    .zip(c.par_chunks(CHUNK))
                    .zip(w.sci[k0..k1].par_chunks_mut(CHUNK))
                    .zip(w.dqv[k0..k1].par_chunks_mut(CHUNK))
                    .zip(w.vr[k0..k1].par_chunks_mut(CHUNK))
                    .map_init(
                        || RampScratch::new(fit),
                        |scratch, ((((((v, q), a), c), sci), dqv), vr)| {
                            let mut records = Vec::with_capacity(a.len() * 2);
                            for (k, (a, c)) in a.iter_mut().zip(c).enumerate() {
                                let input = IntegrationRamp {
                                    ramp: &v[k * ng..(k + 1) * ng],
                                    gdq: &q[k * ng..(k + 1) * ng],
                                    zeroframe: None,
                                };
                                let e = a.push_integration(
                                    fit,
                                    &c.consts(),
                                    input,
                                    scratch,
                                    &mut records,
                                );
                                sci[k] = e.sci;
                                dqv[k] = e.dq;
                                vr[k] = e.var_rnoise;
                            }
                            records
                        },
                    )
                    .collect();
                acc.release(p0 + k0..p0 + k1);
                consts.release(p0 + k0..p0 + k1);
                for r in &chunk_records {
                    w.records.extend_from_slice(r);
                }
                job.stage = if k1 < n {
                    Stage::Fit { b, k0: k1 }
                } else {
                    Stage::StoreBlock { b }
                };
                let dt = t0.elapsed();
                self.pace_fit.record(k1 - k0, dt);
                w.t_fit += dt;
            }
            Stage::StoreBlock { b } => {
                // Early values and records to scratch; provisional rateints rows (ERR from
                // the read noise alone and VAR_POISSON 0 until the exposure ends; the file
                // keeps its temporary name until then).
                let t0 = Instant::now();
                let (p0, n) = self.spill.block_span(b);
                let (y0, r) = (p0 / nx, n / nx);
                let (sci, dqv, vr) = (&w.sci[..n], &w.dqv[..n], &w.vr[..n]);
                self.spill.push_block(b, sci, dqv, vr, &w.records)?;
                if let Some(writer) = self.ints_writer.as_mut() {
                    w.values.clear();
                    w.values.extend((0..n).map(|k| FitValues {
                        sci: sci[k],
                        err: vr[k].sqrt(),
                        dq: dqv[k],
                        var_poisson: 0.0,
                        var_rnoise: vr[k],
                    }));
                    products::write_values(&w.values, r, nx, self.prep.gain_factor, |band| {
                        writer.write_band(job.int, y0, band)
                    })?;
                }
                if self.options.planes {
                    w.plane_sci[p0..p0 + n].copy_from_slice(sci);
                    w.plane_dq[p0..p0 + n].copy_from_slice(dqv);
                    w.plane_vr[p0..p0 + n].copy_from_slice(vr);
                }
                if let Some(g) = w.whole_gdq.as_mut() {
                    let q0 = w.top * nx * ng;
                    g[p0 * ng..(p0 + n) * ng].copy_from_slice(&w.q[q0..q0 + n * ng]);
                }
                job.stage = if b + 1 < nblocks {
                    Stage::LoadBlock { b: b + 1 }
                } else {
                    Stage::Close
                };
                w.t_write += t0.elapsed();
            }
            Stage::Close => {
                self.spill.end_integration()?;
                let mut w = job.work.take().expect("started above");
                if let Some(f) = self.prep.gain_factor.filter(|_| self.options.planes) {
                    let mut none: [f32; 0] = [];
                    let mut none2: [f32; 0] = [];
                    crate::steps::gain_scale::apply(
                        f,
                        &mut w.plane_sci,
                        &mut none,
                        &mut none2,
                        &mut w.plane_vr,
                    );
                }
                self.primary_total += w.primary;
                self.metrics.times.add("jump", w.t_jump);
                self.metrics.times.add("ramp fit", w.t_fit);
                self.metrics.times.add("write", w.t_write);
                let written = Instant::now();
                self.metrics
                    .integration_latency
                    .record(written.saturating_duration_since(job.arrived));
                return Ok(Some(IntegrationPlane {
                    int: job.int,
                    nints: self.geometry.nints,
                    ny,
                    nx,
                    sci: w.plane_sci,
                    dq: w.plane_dq,
                    var_rnoise: w.plane_vr,
                    primary_jumps: w.primary,
                    groupdq: w.whole_gdq,
                    last_group_arrived: job.arrived,
                    written,
                }));
            }
        }
        Ok(None)
    }

    /// The end of the exposure: Poisson terms, the final rateints and rate products.
    fn finish_exposure(&mut self) -> Result<()> {
        let FrameGeometry {
            nints,
            ngroups,
            ny,
            nx,
        } = self.geometry;
        anyhow::ensure!(
            self.spill.integrations() == nints,
            "{}: only {} of {} integrations were processed",
            self.input.display(),
            self.spill.integrations(),
            nints
        );
        let t0 = Instant::now();
        let mut per_int: Vec<Vec<u16>> = vec![Vec::new(); nints];
        let mut cursor = vec![0usize; nints];
        let mut stream = Vec::new();
        for b in 0..self.spill.nblocks() {
            let (p0, n) = self.spill.block_span(b);
            for (i, words) in per_int.iter_mut().enumerate() {
                self.spill.read_block_records(i, b, words)?;
            }
            cursor.fill(0);
            let mut late = vec![(0f32, 0f32); nints * n];
            let mut rate = Vec::with_capacity(n);
            let accs = self.acc.slice_mut(p0..p0 + n);
            let cs = self.consts.slice_mut(p0..p0 + n);
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
                let r = accs[k]
                    .finish(&self.fit, &cs[k].consts(), &stream, |i, l| {
                        late[i * n + k] = (l.var_poisson, l.err);
                    })
                    .map_err(|e| anyhow::anyhow!("{}: {e}", self.input.display()))?;
                rate.push(r);
            }
            self.acc.release(p0..p0 + n);
            self.consts.release(p0..p0 + n);
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
    /// The integrations finished by a frame: none, one, or (when the first integration's
    /// decisions waited for the second) two.
    type Output = Vec<IntegrationPlane>;
    type Error = anyhow::Error;

    fn process(&mut self, frame: Frame) -> Result<Option<Vec<IntegrationPlane>>> {
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
        let c0 = thread_cpu_time();
        // The store slot this integration's groups go to must no longer be read by a pending
        // integration (with one slot more than the window this never waits in practice: every
        // pending integration is finished when the next one ends).
        let slot = int % self.slots;
        let mut planes = Vec::new();
        self.drain_jobs(|j| j.reads_slot(slot), &mut planes)?;
        frame.pixels_into(&mut self.pixbuf);
        {
            let OnlineEngine {
                cal,
                prep,
                store,
                pixbuf,
                ..
            } = self;
            cal.ingest(prep, int, group, pixbuf, |cg| {
                store.put_group(slot, cg.group, cg.values, cg.gdq)
            })
            .with_context(|| {
                format!("{}: integration {int}, group {group}", self.input.display())
            })?;
        }
        self.metrics.times.add("calibration", t0.elapsed());
        let done = frame.arrived.elapsed();
        self.metrics.group_latency.record(done);
        self.metrics
            .cpu
            .group
            .record(thread_cpu_time().saturating_sub(c0));
        self.metrics.groups += 1;
        if self.options.deadline.is_some_and(|d| done > d) {
            self.metrics.deadline_misses += 1;
        }
        self.next += 1;
        if group + 1 == g.ngroups {
            self.fully_dnu += self.cal.fully_dnu_groups;
            // At most one integration waits at a time (besides the first window's): finish
            // the earlier ones now if the waits between groups did not.
            self.drain_jobs(|_| true, &mut planes)?;
            let w = self.window;
            if int + 1 < w {
                // Waits in its slot until the window's last integration has arrived.
                self.first_arrived.push(frame.arrived);
            } else {
                if int + 1 == w && w > 1 {
                    let slots: Vec<usize> = (0..w).collect();
                    for i in 0..w - 1 {
                        let arrived = self.first_arrived.get(i).copied().unwrap_or(frame.arrived);
                        self.jobs
                            .push_back(FinishJob::new(i, arrived, i, slots[i + 1..].to_vec()));
                    }
                    self.first_arrived.clear();
                }
                self.jobs
                    .push_back(FinishJob::new(int, frame.arrived, slot, Vec::new()));
            }
        }
        Ok((!planes.is_empty()).then_some(planes))
    }

    fn finish(&mut self) -> Result<Option<Vec<IntegrationPlane>>> {
        let mut planes = Vec::new();
        self.drain_jobs(|_| true, &mut planes)?;
        self.finish_exposure()?;
        Ok((!planes.is_empty()).then_some(planes))
    }

    /// A slice of the pending integrations' finishing work (the context calls this while no
    /// frame is waiting).
    fn background(&mut self) -> Result<Background<Vec<IntegrationPlane>>> {
        if self.jobs.is_empty() {
            return Ok(Background::Idle);
        }
        self.metrics.background_slices += 1;
        let kind = self.jobs.front().map_or("", |j| j.stage.name());
        let c0 = thread_cpu_time();
        let done = self.step_finish(false)?;
        let dcpu = thread_cpu_time().saturating_sub(c0);
        self.metrics.cpu.record_slice(kind, dcpu);
        Ok(match done {
            Some(plane) => Background::Ready(vec![plane]),
            None => Background::Progress,
        })
    }
}

/// Whether the ramp fit would read a ZEROFRAME: only when suppress_one_group is effectively off
/// (set false, or forced off by NGROUPS == 1, as stcal does).
pub(crate) fn zeroframe_reaches_the_fit(s: &Detector1Settings, ngroups: usize) -> bool {
    !s.ramp_fit.suppress_one_group || ngroups == 1
}

/// Why the online driver refuses an exposure whose ZEROFRAME the fit would use.
pub(crate) const ZEROFRAME_REFUSAL: &str = "the ZEROFRAME is used by ramp fitting when \
    suppress_one_group is off (set false, or NGROUPS == 1), which the online driver does not \
    support; use --mode=exact";
