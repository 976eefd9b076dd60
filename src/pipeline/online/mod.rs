//! The online (group-major) detector1 driver: frames are processed in time order as they
//! arrive — from the memory-mapped file, a live feed, or a file replayed at detector cadence —
//! and every integration's rateints plane is written and handed to a [`PlaneSink`] as soon as
//! its last group has been processed.
//!
//! * Calibration per frame with the exact driver's kernels ([`calibrate`]); bit-identical.
//! * Online jump detection ([`jump`]): causal statistics, decisions at the integration's last
//!   group. Products carry `S1MODE = 'ONLINE'`: their JUMP_DET flags are not the official
//!   whole-exposure ones (spec §16.3: "non-reference").
//! * Ramp fitting integration by integration (`PixelAccumulator`), the Poisson terms finished at
//!   the end from scratch files ([`spill`]), so memory does not grow with NINTS.
//!
//! Where no jump is flagged, the products are bit-identical to the exact driver's (with the
//! jump step skipped: everywhere).
//!
//! Entry points: [`run_online`] (a file, as `sloper detector1 X --mode=online`) and
//! [`run_stream`] (any [`stream::FrameSource`] and sink).

pub mod calibrate;
pub mod engine;
pub mod jump;
pub mod products;
pub mod sink;
pub mod source;
pub mod spill;
pub mod store;

pub use engine::{EngineMetrics, OnlineEngine, OnlineOptions};
pub use sink::{IntegrationPlane, NullSink, PlaneSink, ToPlaneSink};
pub use source::{geometry_of, replay_frames, RawFileSource, Speed};

use crate::pipeline::detector1::Detector1Settings;
use crate::steps::jump::JumpMode;
use anyhow::{Context as _, Result};
use frames::raw::RawExposure;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;
use stream::context::Context;
use stream::{FrameSource, Latency, StageTimes};

/// What an online run produced, with its latency figures.
pub struct OnlineReport {
    pub input: PathBuf,
    pub outputs: Vec<PathBuf>,
    /// (nints, ngroups, ny, nx) of the file.
    pub shape: [usize; 4],
    pub jump_mode: Option<JumpMode>,
    /// Integrations of jump history kept per pixel (iterative / single-pass modes).
    pub reservoir_integrations: usize,
    pub integrations: usize,
    /// Group arrival → calibrated and stored.
    pub group_latency: Latency,
    /// Integration's last group arrival → rateints plane written.
    pub integration_latency: Latency,
    pub deadline_misses: u64,
    pub groups: u64,
    /// Slices of integration finishing done in the waits between groups.
    pub background_slices: u64,
    /// CPU time per group and per finishing slice.
    pub cpu: engine::CpuMetrics,
    /// Most frames ever waiting in the context's queue.
    pub queue_high_water: usize,
    pub times: StageTimes,
    /// From the start of the run (engine set-up excluded) to the products being complete.
    pub wall_seconds: f64,
}

impl OnlineReport {
    /// Pixel reads processed per second of wall time.
    pub fn throughput(&self) -> f64 {
        let reads: usize = self.shape.iter().product();
        reads as f64 / self.wall_seconds.max(1e-9)
    }
}

fn with_threads<T>(threads: Option<usize>, f: impl FnOnce() -> Result<T> + Send) -> Result<T>
where
    T: Send,
{
    match threads {
        Some(n) => rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .context("could not start the thread pool")?
            .install(f),
        None => f(),
    }
}

/// Run Detector1 online on one exposure file: its frames are read in time order from the
/// memory map and go through the online engine; writes `_rate` and `_rateints`.
///
/// Hook for the detector1 CLI: `if mode == "online" { online::run_online(&settings)?; }`.
pub fn run_online(settings: &Detector1Settings) -> Result<OnlineReport> {
    let raw = Arc::new(RawExposure::open(&settings.input)?);
    refuse_unsupported_zeroframe(settings, &raw)?;
    let mut source = RawFileSource::new(raw.clone());
    run_stream(
        settings,
        raw.meta(),
        &mut source,
        &mut NullSink,
        OnlineOptions::default(),
    )
}

/// The official ramp fit reads the ZEROFRAME HDU whenever the file has one (even with
/// ZEROFRAM = F) and suppress_one_group is effectively off; the online driver does not carry
/// it, so such a file is refused instead of fitted differently.
pub fn refuse_unsupported_zeroframe(settings: &Detector1Settings, raw: &RawExposure) -> Result<()> {
    if raw.has_zeroframe() && engine::zeroframe_reaches_the_fit(settings, raw.ngroups()) {
        anyhow::bail!(
            "{}: {}",
            settings.input.display(),
            engine::ZEROFRAME_REFUSAL
        );
    }
    Ok(())
}

/// Run the online engine on any frame source (`meta` describes the exposure the frames belong
/// to; the products copy the headers of `settings.input`). Every finished integration is given
/// to `sink` before the next frame is pulled (back-pressure). A source error — e.g. a producer
/// that stops mid-integration — is returned as an error, and no product file is left behind
/// (the planes already handed to the sink are all that remains of the run).
pub fn run_stream(
    settings: &Detector1Settings,
    meta: &frames::ExposureMeta,
    source: &mut (dyn FrameSource + Send),
    sink: &mut (dyn PlaneSink + Send),
    options: OnlineOptions,
) -> Result<OnlineReport> {
    if settings
        .jump
        .as_ref()
        .is_some_and(|j| j.expand_large_events)
    {
        anyhow::bail!(
            "{}: --steps.jump.expand_large_events=true (snowball flagging) needs whole frames after \
             jump detection and is not available online; use --mode=exact",
            settings.input.display()
        );
    }
    run_stream_when_ready(settings, meta, source, sink, options, || {})
}

/// [`run_stream`], calling `ready` once the engine is set up (references loaded, buffers
/// touched, product files created) and before the first frame is pulled — e.g. to start a
/// replay producer, so set-up time is not counted as the first frames' latency.
pub fn run_stream_when_ready(
    settings: &Detector1Settings,
    meta: &frames::ExposureMeta,
    source: &mut (dyn FrameSource + Send),
    sink: &mut (dyn PlaneSink + Send),
    mut options: OnlineOptions,
    ready: impl FnOnce() + Send,
) -> Result<OnlineReport> {
    options.planes &= sink.wants_planes();
    with_threads(settings.threads, || {
        let engine = OnlineEngine::new(settings, meta, options.clone())?;
        ready();
        let g = engine.geometry();
        anyhow::ensure!(
            source.geometry() == g,
            "{}: the source delivers {:?} frames, the exposure has {:?}",
            settings.input.display(),
            source.geometry(),
            g
        );
        let jump_mode = engine.jump_mode();
        let reservoir_integrations = engine.reservoir_integrations();
        let mut ctx = Context::new(engine, options.queue_frames);
        let start = Instant::now();
        let result = ctx.run(source, |planes| {
            planes.iter().try_for_each(|plane| sink.accept(plane))
        });
        let high_water = ctx.high_water();
        let engine = ctx.into_processor();
        if let Err(e) = result {
            return Err(e.context(format!(
                "{}: online run stopped after {} of {} integrations; no product was written",
                settings.input.display(),
                engine.integrations_done(),
                g.nints
            )));
        }
        let wall_seconds = start.elapsed().as_secs_f64();
        let outputs = engine.outputs().to_vec();
        let m = engine.metrics;
        Ok(OnlineReport {
            input: settings.input.clone(),
            outputs,
            shape: [g.nints, g.ngroups, g.ny, g.nx],
            jump_mode,
            reservoir_integrations,
            integrations: g.nints,
            group_latency: m.group_latency,
            integration_latency: m.integration_latency,
            deadline_misses: m.deadline_misses,
            groups: m.groups,
            background_slices: m.background_slices,
            cpu: m.cpu,
            queue_high_water: high_water,
            times: m.times,
            wall_seconds,
        })
    })
}
