//! calwebb_detector1: raw ramps to `_rate`, `_rateints` (and optionally `_ramp`) products, in
//! bounded memory and bit-for-bit with jwst 3.0.0 / stcal 1.20.0.

pub mod checkpoint;
pub mod exact;
pub mod prepare;
pub mod settings;
pub mod snowballs;
pub mod step_saves;
pub mod taps;
pub mod transpose;
pub mod zeroframe;

use crate::steps::jump::{self, JumpMode, JumpSetup};
use crate::steps::ramp_fit::{ExposureParams, FitConfig, FitValues};
use anyhow::{Context, Result};
use checkpoint::{Checkpoint, Progress};
use exact::{EngineParams, PassA, TileRect};
use frames::raw::RawExposure;
use frames::write::{
    Card, KeyValue, ProductHeader, RampExtras, RampWriter, RateBand, RateWriter, RateintsWriter,
};
use ndarray::ArrayView2;
use prepare::Prepared;
pub use settings::Detector1Settings;
use std::path::PathBuf;
use std::time::Instant;
use stream::StageTimes;

/// Resident memory that does not depend on the band: the binary, its libraries, thread stacks
/// and allocator slack (measured: ~12 MiB for a tiny exposure).
const BASELINE_BYTES: u64 = 16 << 20;

/// What a run produced and how long it took.
#[derive(Debug, Clone)]
pub struct Detector1Report {
    pub input: PathBuf,
    pub outputs: Vec<PathBuf>,
    pub shape: [usize; 4],
    pub jump_mode: Option<JumpMode>,
    /// Core rows and columns of a full tile, and the number of tiles.
    pub tile_rows: usize,
    pub tile_cols: usize,
    pub tiles: usize,
    /// Tiles a `--resume` run found finished by an earlier run (in the pass it resumed).
    pub resumed_tiles: usize,
    pub times: StageTimes,
    pub wall_seconds: f64,
}

impl Detector1Report {
    /// Pixel reads processed per second of wall time.
    pub fn throughput(&self) -> f64 {
        let reads: usize = self.shape.iter().product();
        reads as f64 / self.wall_seconds.max(1e-9)
    }
}

/// Run Detector1 on one exposure file (one segment of a segmented exposure).
pub fn run(settings: &Detector1Settings) -> Result<Detector1Report> {
    match settings.threads {
        Some(n) => rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .context("could not start the thread pool")?
            .install(|| run_inner(settings)),
        None => run_inner(settings),
    }
}

fn split(values: &[FitValues]) -> [Vec<f32>; 4] {
    [
        values.iter().map(|v| v.sci).collect(),
        values.iter().map(|v| v.err).collect(),
        values.iter().map(|v| v.var_poisson).collect(),
        values.iter().map(|v| v.var_rnoise).collect(),
    ]
}

fn write_rate_like(
    values: &[FitValues],
    rows: usize,
    nx: usize,
    gain_factor: Option<f64>,
    mut write: impl FnMut(&RateBand) -> frames::Result<()>,
) -> Result<()> {
    let [mut sci, mut err, mut vp, mut vr] = split(values);
    if let Some(f) = gain_factor {
        crate::steps::gain_scale::apply(f, &mut sci, &mut err, &mut vp, &mut vr);
    }
    let dq: Vec<u32> = values.iter().map(|v| v.dq).collect();
    fn view(v: &[f32], rows: usize, nx: usize) -> ArrayView2<'_, f32> {
        ArrayView2::from_shape((rows, nx), v).expect("band shape")
    }
    let band = RateBand {
        sci: view(&sci, rows, nx),
        err: view(&err, rows, nx),
        dq: ArrayView2::from_shape((rows, nx), dq.as_slice()).expect("band shape"),
        var_poisson: view(&vp, rows, nx),
        var_rnoise: view(&vr, rows, nx),
    };
    write(&band)?;
    Ok(())
}

/// Refuse an output directory we cannot write into, with the operating system's reason, before
/// any work is done.
fn check_output_dir(dir: &std::path::Path) -> Result<()> {
    let shown = if dir.as_os_str().is_empty() {
        std::path::Path::new(".")
    } else {
        dir
    };
    std::fs::create_dir_all(shown)
        .with_context(|| format!("{}: cannot create the output directory", shown.display()))?;
    let probe = shown.join(format!(".sloper-probe-{}", std::process::id()));
    std::fs::File::create(&probe)
        .with_context(|| format!("{}: cannot write in the output directory", shown.display()))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// Write one tile of the rate and rateints products (gain factor applied when given).
fn write_rates(
    products: &exact::BandProducts,
    nints: usize,
    gain_factor: Option<f64>,
    rate_w: &mut RateWriter,
    ints_w: &mut RateintsWriter,
) -> Result<()> {
    let (rows, cols) = (products.rows, products.cols);
    let (y0, x0) = (products.y0, products.x0);
    write_rate_like(&products.rate, rows, cols, gain_factor, |b| {
        rate_w.write_rect(y0, x0, b)
    })?;
    // The tile's results are pixel-major ([pixel][int]); the product wants one plane per
    // integration. Gathering a plane at a time reads one value per pixel record (a cache miss
    // each); a block of up to 8 integrations at a time reads each record's run of them
    // together. The block's planes stay within 4 MiB (tall tiles of few integrations have
    // large planes and short records).
    let ncore = rows * cols;
    let plane_bytes = ncore * std::mem::size_of::<FitValues>();
    let block = ((4 << 20) / plane_bytes.max(1)).clamp(1, 8).min(nints);
    let mut planes = vec![FitValues::default(); block * ncore];
    for first in (0..nints).step_by(block) {
        let count = block.min(nints - first);
        for (p, record) in products.ints.chunks_exact(nints).enumerate() {
            for (b, v) in record[first..first + count].iter().enumerate() {
                planes[b * ncore + p] = *v;
            }
        }
        for (b, plane) in planes.chunks_exact(ncore).take(count).enumerate() {
            write_rate_like(plane, rows, cols, gain_factor, |band| {
                ints_w.write_rect(first + b, y0, x0, band)
            })?;
        }
    }
    Ok(())
}

/// Write one tile of every product (runs on the writer thread).
#[allow(clippy::too_many_arguments)]
fn write_band(
    products: &exact::BandProducts,
    nints: usize,
    ngroups: usize,
    nx: usize,
    gain_factor: Option<f64>,
    avdrkcur: &[f32],
    rate_w: &mut RateWriter,
    ints_w: &mut RateintsWriter,
    ramp_w: Option<&mut RampWriter>,
) -> Result<()> {
    let (rows, cols) = (products.rows, products.cols);
    let ncore = rows * cols;
    let (y0, x0) = (products.y0, products.x0);
    write_rates(products, nints, gain_factor, rate_w, ints_w)?;
    if let (Some(w), Some((rv, rq))) = (ramp_w, &products.ramp) {
        let view2 = |v| ArrayView2::from_shape((rows, cols), v).expect("tile shape");
        for k in 0..nints * ngroups {
            let sci = ArrayView2::from_shape((rows, cols), &rv[k * ncore..(k + 1) * ncore])
                .expect("tile shape");
            let q = ArrayView2::from_shape((rows, cols), &rq[k * ncore..(k + 1) * ncore])
                .expect("tile shape");
            w.write_group_rect(k / ngroups, k % ngroups, y0, x0, sci, q)?;
        }
        w.write_pixeldq_rect(
            y0,
            x0,
            ArrayView2::from_shape((rows, cols), products.pixeldq.as_slice()).expect("tile shape"),
        )?;
        let dc: Vec<f32> = (y0..y0 + rows)
            .flat_map(|y| avdrkcur[y * nx + x0..y * nx + x0 + cols].iter().copied())
            .collect();
        w.write_avdrkcur_rect(y0, x0, view2(dc.as_slice()))?;
        if let Some(z) = &products.zeroframe {
            let mut plane = vec![0f32; ncore];
            for i in 0..nints {
                for (p, v) in plane.iter_mut().enumerate() {
                    *v = z[p * nints + i];
                }
                let view = ArrayView2::from_shape((rows, cols), plane.as_slice()).expect("tile");
                w.write_zeroframe_rect(i, y0, x0, view)?;
            }
        }
    }
    Ok(())
}

/// What the compute side tells the writer thread with each tile's products: where the run stands
/// once this tile is written (for the checkpoint).
struct TileDone {
    pass: usize,
    /// Index of the tile in the plan.
    index: usize,
    /// Primary cosmic rays of this pass up to and including this tile.
    primary_total: u64,
    /// Pass 0's whole-plane AND up to and including this tile.
    all_planes: Vec<bool>,
    /// The whole-plane clearing mask of this pass.
    planes: Option<Vec<bool>>,
}

/// The product writers of a run.
struct Writers {
    rate: RateWriter,
    ints: RateintsWriter,
    ramp: Option<RampWriter>,
    /// The steps' own saved results (never resumable).
    steps: step_saves::StepWriters,
}

impl Writers {
    fn sync(&mut self) -> Result<()> {
        self.rate.sync()?;
        self.ints.sync()?;
        if let Some(w) = &mut self.ramp {
            w.sync()?;
        }
        Ok(())
    }
}

/// The writer thread's side of `--resume`: where the checkpoint goes and when it was last saved.
struct Checkpointing {
    path: std::path::PathBuf,
    state: Checkpoint,
    interval: std::time::Duration,
    last: Instant,
    /// Tiles written since the last save.
    pending: bool,
}

impl Checkpointing {
    /// Sync the products, then record the progress (never the other way round).
    fn save(&mut self, writers: &mut Writers) -> Result<()> {
        writers.sync()?;
        self.state.save(&self.path)?;
        self.last = Instant::now();
        self.pending = false;
        Ok(())
    }
}

/// The tiles of `plan` with their halos (four-neighbour flagging plus saturation growth).
fn tile_rects(tiles: &[stream::Tile], ny: usize, nx: usize, grow: usize) -> Vec<TileRect> {
    tiles
        .iter()
        .map(|t| TileRect::new(t.y0..t.y0 + t.rows, t.x0..t.x0 + t.cols, ny, nx, grow))
        .collect()
}

fn run_inner(s: &Detector1Settings) -> Result<Detector1Report> {
    let start = Instant::now();
    // Signals now stop the run between tiles (writers dropped, temporary files removed).
    let _signals = crate::interrupt::cooperate();
    if s.verify_checksums {
        for p in std::iter::once(&s.input).chain(s.reference_paths().iter()) {
            frames::fits::verify_checksums(p)?;
        }
    }
    check_output_dir(&s.output_dir)?;
    let input_name = s.input.display().to_string();
    log::info!(target: "stpipe.pipeline", "Step Detector1Pipeline running with args ({input_name:?},).");
    let mut times = StageTimes::default();
    let raw = RawExposure::open(&s.input)?;
    let meta = raw.meta().clone();
    let (nints, ngroups, ny, nx) = (raw.nints(), raw.ngroups(), raw.ny(), raw.nx());
    // --resume: the checkpoint of an earlier run, refused before any work when it does not match.
    let checkpoint_path = checkpoint::path_for(&s.products.rate)?;
    let identity = if s.resume {
        Some(checkpoint::identity(s, [nints, ngroups, ny, nx])?)
    } else {
        None
    };
    let resumed = match &identity {
        Some(id) => Checkpoint::load(&checkpoint_path, id, ny, nx)?,
        None => None,
    };
    let t0 = Instant::now();
    let mut prep = Prepared::load_exact(s, &meta)?;
    times.add("references", t0.elapsed());
    for (key, name) in &prep.ref_files {
        if name != "N/A" {
            log::info!(target: "jwst.detector1", "Using {key} reference file {name}");
        }
    }
    for (key, status) in &prep.cal_steps {
        log::info!(target: "jwst.detector1", "{key} = {status}");
    }

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
        .map_err(|e| anyhow::anyhow!("{}: ramp fitting: {e}", s.input.display()))?;
    let params = EngineParams {
        saturation: s.saturation.as_ref().map(|x| x.1),
        refpix: s.refpix.clone(),
        jump: s.jump.clone(),
        ramp,
        budget: s.max_memory,
        taps: step_saves::tap_request(&s.step_saves),
        zeroframe_stages: step_saves::zeroframe_request(&s.step_saves),
    };
    // The calibrated ramp after jump: the `_ramp` product and jump's own saved result.
    let want_jump_ramp = s.save_calibrated_ramp || step_saves::needs_jump_ramp(&s.step_saves);
    let pass_a: PassA = exact::pass_a(&raw, &prep, &params, &mut times)?;
    let jump_setup: Option<JumpSetup> = match &s.jump {
        Some(p) => {
            let median_gain = prep.jump_gain_median.unwrap_or(f32::NAN);
            Some(
                JumpSetup::new(
                    p,
                    nints,
                    ngroups,
                    meta.nframes as u32,
                    meta.tgroup,
                    &pass_a.fully_dnu_per_int,
                    median_gain,
                )
                .map_err(|e| anyhow::anyhow!("{}: jump: {e}", s.input.display()))?,
            )
        }
        None => None,
    };

    // Band height from the memory budget: every row of a band holds all reads of all
    // integrations (values and flags, plane-major and pixel-major) plus its products.
    // Rows/columns read around each tile's jump region (saturation growth, IPC kernel).
    let grow = exact::read_margin(&params, &prep);
    let gpp = (nints * ngroups) as u64;
    // Two bands of products exist at once (one being written, one being computed).
    let products = 2 * (nints as u64 + 1) * 20
        + if want_jump_ramp { 2 * gpp * 5 } else { 0 }
        + 2 * gpp * params.taps.bytes_per_read()
        + 2 * step_saves::zeroframe_bytes_per_pixel(&params.zeroframe_stages, nints, &raw);
    // (and each tile's copies of the references, see `Prepared::tile_bytes_per_pixel`)
    let per_pixel =
        gpp * exact::BYTES_PER_READ + products + 64 + prep.tile_bytes_per_pixel(ngroups);
    // The ramp product and the saved steps take each tile's average dark current from a whole
    // copy on the writer thread (only then).
    let avdrkcur_whole: Vec<f32> = if s.save_calibrated_ramp || !s.step_saves.is_empty() {
        prep.average_dark_current.whole()?.into_owned()
    } else {
        Vec::new()
    };
    let fixed = prep.resident_bytes() + 4 * avdrkcur_whole.len() as u64 + BASELINE_BYTES;
    let tiles = match (&resumed, s.tile) {
        (Some(c), _) => c
            .tiles
            .iter()
            .map(|&[y0, y1, x0, x1]| TileRect::new(y0..y1, x0..x1, ny, nx, grow))
            .collect(),
        (None, Some((r, c))) => tile_rects(&stream::tiles_of(ny, nx, r, c), ny, nx, grow),
        (None, None) => {
            let plan = stream::plan_tiles(ny, nx, 1 + grow, per_pixel, fixed, s.max_memory);
            if plan.over_budget {
                log::warn!(
                    target: "jwst.detector1",
                    "the references need {} MiB, leaving too little of --max-memory={} for the data: using {} MiB for tiles",
                    fixed >> 20,
                    s.max_memory,
                    stream::budget::MIN_TILE_BYTES >> 20
                );
            }
            if !s.step_saves.is_empty() && plan.cols < nx {
                // Per-step ramps are written plane by plane: column tiles cut every plane into
                // short runs of a row (one write each). Whole-row bands of the same area
                // instead, at least one row (20 x 10 x 256 x 2048, all 11 steps saved at
                // 256 MiB: 125 s and 137 MiB against 144 s and 256 MiB with 98 x 98 tiles).
                let halo = 1 + grow;
                let area = (plan.rows + 2 * halo) * (plan.cols + 2 * halo);
                let rows = (area / nx).saturating_sub(2 * halo).clamp(1, ny);
                tile_rects(&stream::tiles_of(ny, nx, rows, nx), ny, nx, grow)
            } else {
                tile_rects(&plan.tiles, ny, nx, grow)
            }
        }
    };

    // Products.
    std::fs::create_dir_all(&s.output_dir).with_context(|| {
        format!(
            "{}: cannot create the output directory",
            s.output_dir.display()
        )
    })?;
    let mut cal_steps = prep.cal_steps.clone();
    let refpix_done = matches!(
        pass_a.refpix_status,
        Some(crate::steps::refpix::RefpixStatus::Complete)
    );
    cal_steps.push((
        "S_REFPIX".into(),
        if refpix_done { "COMPLETE" } else { "SKIPPED" }.into(),
    ));
    let jump_ran = jump_setup
        .as_ref()
        .is_some_and(|j| j.mode != JumpMode::StepSkipped);
    cal_steps.push((
        "S_JUMP".into(),
        if jump_ran { "COMPLETE" } else { "SKIPPED" }.into(),
    ));
    for k in ["S_CHGMIG", "S_CLNFNS", "S_PERSIS", "S_PCTFRM"] {
        cal_steps.push((k.into(), "SKIPPED".into()));
    }
    let header = ProductHeader {
        input: s.input.clone(),
        cal_steps: cal_steps.clone(),
        ref_files: prep.ref_files.clone(),
        crds_ctx: None,
        crds_ver: None,
        primary_extra: vec![],
        sci_extra: vec![],
    };
    let mut ramp_header = header.clone();
    ramp_header
        .cal_steps
        .retain(|(k, _)| k != "S_RAMP" && k != "S_GANSCL");
    let mut final_header = header.clone();
    final_header
        .cal_steps
        .push(("S_RAMP".into(), "COMPLETE".into()));
    final_header.cal_steps.push((
        "S_GANSCL".into(),
        if prep.gain_factor.is_some() {
            "COMPLETE"
        } else {
            "SKIPPED"
        }
        .into(),
    ));
    let rate_path = s.products.rate.clone();
    let rateints_path = s.products.rateints.clone();
    let ramp_path = s.products.ramp.clone();
    let want_ramp = s.save_calibrated_ramp;
    let ramp_extras = RampExtras {
        avdrkcur: true,
        zeroframe: raw.has_zeroframe(),
    };
    let writers = match &resumed {
        None if !s.resume => Writers {
            rate: RateWriter::create(&rate_path, &final_header, ny, nx)?,
            ints: RateintsWriter::create(&rateints_path, &final_header, nints, ny, nx)?,
            ramp: want_ramp
                .then(|| {
                    let shape = [nints, ngroups, ny, nx];
                    RampWriter::create_with(&ramp_path, &ramp_header, shape, ramp_extras, false)
                })
                .transpose()?,
            steps: step_saves::StepWriters::create(
                s,
                &step_saves::Shape {
                    nints,
                    ngroups,
                    ny,
                    nx,
                    zeroframe: raw.has_zeroframe(),
                },
                &ramp_header,
                &final_header,
                std::mem::take(&mut prep.pixeldq_after),
            )?,
        },
        None => Writers {
            rate: RateWriter::create_resumable(&rate_path, &final_header, ny, nx)?,
            ints: RateintsWriter::create_resumable(&rateints_path, &final_header, nints, ny, nx)?,
            ramp: want_ramp
                .then(|| {
                    let shape = [nints, ngroups, ny, nx];
                    RampWriter::create_with(&ramp_path, &ramp_header, shape, ramp_extras, true)
                })
                .transpose()?,
            steps: step_saves::StepWriters::default(),
        },
        Some(c) => {
            let reopen = || -> Result<Writers> {
                let mut w = Writers {
                    rate: RateWriter::reopen(&rate_path, ny, nx)?,
                    ints: RateintsWriter::reopen(&rateints_path, nints, ny, nx)?,
                    ramp: want_ramp
                        .then(|| {
                            let shape = [nints, ngroups, ny, nx];
                            RampWriter::reopen_with(&ramp_path, shape, ramp_extras)
                        })
                        .transpose()?,
                    steps: step_saves::StepWriters::default(),
                };
                for t in &tiles[..c.progress.tiles_done] {
                    let (rows, cols) = (t.y1 - t.y0, t.x1 - t.x0);
                    w.rate.mark_written(t.y0, t.x0, rows, cols)?;
                    w.ints.mark_written(t.y0, t.x0, rows, cols)?;
                    if let Some(r) = &mut w.ramp {
                        r.mark_written(t.y0, t.x0, rows, cols)?;
                    }
                }
                Ok(w)
            };
            let w = reopen().with_context(|| {
                format!(
                    "cannot resume from {}: its partial products are missing or damaged; delete it \
                     (and the .sloper-partial files beside it) to start over",
                    checkpoint_path.display()
                )
            })?;
            let p = &c.progress;
            log::info!(
                target: "jwst.detector1",
                "Resuming from {}: {} of {} tiles done{}",
                checkpoint_path.display(),
                p.tiles_done,
                tiles.len(),
                if p.pass == 1 { " in the sigma-clip second pass" } else { "" }
            );
            w
        }
    };
    let mut checkpointing = match identity {
        Some(identity) => {
            let state = match resumed.clone() {
                Some(c) => c,
                None => Checkpoint {
                    identity,
                    tiles: tiles.iter().map(|t| [t.y0, t.y1, t.x0, t.x1]).collect(),
                    progress: Progress {
                        pass: 0,
                        tiles_done: 0,
                        primary_total: 0,
                        fitted: false,
                        all_planes: vec![true; nints * ngroups],
                        planes: None,
                    },
                },
            };
            let c = Checkpointing {
                path: checkpoint_path.clone(),
                state,
                interval: checkpoint::interval()?,
                last: Instant::now(),
                pending: false,
            };
            if resumed.is_none() {
                c.state.save(&c.path)?;
            }
            Some(c)
        }
        None => None,
    };
    let interrupt_after = checkpoint::test_interrupt_after();

    let progress = if s.progress
        && !s.quiet
        && std::io::IsTerminal::is_terminal(&std::io::stderr())
        && tiles.len() > 1
    {
        let pb = indicatif::ProgressBar::new(tiles.len() as u64);
        pb.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} detector1 [{bar:40}] {pos}/{len} tiles {elapsed_precise} eta {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        if let Some(c) = &resumed {
            pb.set_position(c.progress.tiles_done as u64);
        }
        Some(pb)
    } else {
        None
    };

    // Snowball flagging needs whole frames after jump detection: a first pass over the tiles
    // keeps the jump GROUPDQ in a scratch file, snowballs are flagged integration by
    // integration, and pass B then fits with that GROUPDQ (see `snowballs`).
    let snowball_setup = jump_setup
        .as_ref()
        .filter(|j| j.mode != JumpMode::StepSkipped)
        .and_then(|j| j.snowball);
    let mut snow: Option<(snowballs::GdqScratch, u64, u64)> = None;
    if let Some(sb) = &snowball_setup {
        let stem = s
            .products
            .rate
            .file_name()
            .map_or_else(|| "sloper".into(), |n| n.to_string_lossy().into_owned());
        let scratch =
            snowballs::GdqScratch::create(&s.output_dir, &stem, [nints, ngroups, ny, nx])?;
        let t0 = Instant::now();
        let mut bufs = exact::BandBuffers::default();
        let mut planes: Option<Vec<bool>> = None;
        let primary = loop {
            let mut primary = 0u64;
            let mut all_planes = vec![true; nints * ngroups];
            for tile in &tiles {
                if crate::interrupt::interrupted() {
                    anyhow::bail!("{}: interrupted; no product was written", s.input.display());
                }
                let (_, p, plane_all) = exact::process_tile(
                    &raw,
                    &prep,
                    &params,
                    &pass_a,
                    jump_setup.as_ref(),
                    &fit,
                    *tile,
                    planes.as_deref(),
                    false,
                    snowballs::SnowStage::Store(&scratch),
                    &mut bufs,
                    &mut times,
                )?;
                primary += p;
                for (a, b) in all_planes.iter_mut().zip(&plane_all) {
                    *a &= *b;
                }
            }
            let sigma_clip = jump_setup
                .as_ref()
                .is_some_and(|j| matches!(j.mode, JumpMode::SigmaClip { .. }));
            if sigma_clip && planes.is_none() && all_planes.iter().any(|&a| a) {
                planes = Some(all_planes);
                continue;
            }
            break primary;
        };
        let count = snowballs::flag_snowballs(&scratch, sb, nints)?;
        times.add("snowballs", t0.elapsed());
        log::info!(target: "stcal.jump.jump", "Total snowballs = {count}");
        snow = Some((scratch, primary, count));
    }
    let snow_stage = match &snow {
        Some((scratch, _, _)) => snowballs::SnowStage::Load(scratch),
        None => snowballs::SnowStage::Off,
    };

    // Pass B. Bands are computed here (rayon inside each band) while a writer thread writes
    // the previous band, so I/O overlaps computation; the channel holds one band (bounded
    // memory: at most two bands of products exist at once).
    // A resumed run starts where its checkpoint stopped: pass, first tile, accumulators.
    let from = resumed.as_ref().map(|c| &c.progress);
    let mut planes: Option<Vec<bool>> = from.and_then(|p| p.planes.clone());
    let mut pass = from.map_or(0, |p| p.pass);
    let mut first_tile = from.map_or(0, |p| p.tiles_done);
    let mut primary_total = from.map_or(0, |p| p.primary_total);
    let mut all_planes_start =
        from.map_or_else(|| vec![true; nints * ngroups], |p| p.all_planes.clone());
    let fitted_start = from.is_some_and(|p| p.fitted);
    let resumed_tiles = first_tile;
    let gain_factor = prep.gain_factor;
    let avdrkcur = avdrkcur_whole.as_slice();
    let checkpointing_ref = &mut checkpointing;
    let (writers, write_times) = std::thread::scope(|scope| -> Result<_> {
        let (tx, rx) = crossbeam_channel::bounded::<(exact::BandProducts, TileDone)>(0);
        let writer = scope.spawn(move || -> Result<_> {
            let mut writers = writers;
            let mut busy = std::time::Duration::ZERO;
            let mut fitted = fitted_start;
            let mut written = 0usize;
            for (products, done) in rx {
                fitted |= products.any_unsaturated_start;
                let t0 = Instant::now();
                write_band(
                    &products,
                    nints,
                    ngroups,
                    nx,
                    gain_factor,
                    avdrkcur,
                    &mut writers.rate,
                    &mut writers.ints,
                    writers.ramp.as_mut(),
                )?;
                writers
                    .steps
                    .write_band(&products, nints, ngroups, nx, gain_factor, avdrkcur)?;
                written += 1;
                let stop_here = interrupt_after == Some(written);
                if let Some(c) = checkpointing_ref.as_mut() {
                    c.state.progress = Progress {
                        pass: done.pass,
                        tiles_done: done.index + 1,
                        primary_total: done.primary_total,
                        fitted,
                        all_planes: done.all_planes,
                        planes: done.planes,
                    };
                    c.pending = true;
                    if stop_here || c.last.elapsed() >= c.interval {
                        c.save(&mut writers)?;
                    }
                }
                if stop_here {
                    crate::interrupt::request();
                }
                busy += t0.elapsed();
            }
            // The run stopped or completed: record every tile written.
            if let Some(c) = checkpointing_ref.as_mut().filter(|c| c.pending) {
                c.save(&mut writers)?;
            }
            Ok(((writers, fitted), busy))
        });
        let compute = (|| -> Result<()> {
            let mut bufs = exact::BandBuffers::default();
            loop {
                let mut all_planes = std::mem::take(&mut all_planes_start);
                for (index, tile) in tiles.iter().enumerate().skip(first_tile) {
                    if crate::interrupt::interrupted() {
                        if s.resume {
                            anyhow::bail!(
                                "{}: interrupted; no product was written (the partial products \
                                 and the checkpoint {} are kept: run the same command with \
                                 --resume to continue)",
                                s.input.display(),
                                checkpoint_path.display()
                            );
                        }
                        anyhow::bail!("{}: interrupted; no product was written", s.input.display());
                    }
                    let (products, primary, plane_all) = exact::process_tile(
                        &raw,
                        &prep,
                        &params,
                        &pass_a,
                        jump_setup.as_ref(),
                        &fit,
                        *tile,
                        planes.as_deref(),
                        want_jump_ramp,
                        snow_stage,
                        &mut bufs,
                        &mut times,
                    )?;
                    primary_total += primary;
                    for (a, b) in all_planes.iter_mut().zip(&plane_all) {
                        *a &= *b;
                    }
                    let done = TileDone {
                        pass,
                        index,
                        primary_total,
                        all_planes: if s.resume {
                            all_planes.clone()
                        } else {
                            Vec::new()
                        },
                        planes: if s.resume { planes.clone() } else { None },
                    };
                    let t0 = Instant::now();
                    if tx.send((products, done)).is_err() {
                        break; // the writer failed; its error is reported below
                    }
                    times.add("wait for writer", t0.elapsed());
                    if let Some(pb) = &progress {
                        pb.inc(1);
                    }
                }
                let sigma_clip = jump_setup
                    .as_ref()
                    .is_some_and(|j| matches!(j.mode, JumpMode::SigmaClip { .. }));
                // (With snowballs the first pass settled the clearing; this pass detects nothing.)
                if sigma_clip && snow.is_none() && planes.is_none() && all_planes.iter().any(|&a| a)
                {
                    // Some plane is entirely JUMP_DET/DO_NOT_USE: the official step clears
                    // those jumps. Detection is deterministic: run pass B again knowing them.
                    planes = Some(all_planes);
                    pass = 1;
                    first_tile = 0;
                    primary_total = 0;
                    all_planes_start = vec![true; nints * ngroups];
                    if let Some(pb) = &progress {
                        pb.set_position(0);
                    }
                    continue;
                }
                return Ok(());
            }
        })();
        drop(tx);
        let written = writer
            .join()
            .map_err(|_| anyhow::anyhow!("the writer thread panicked"))?;
        compute?;
        written
    })?;
    let (
        Writers {
            rate: mut rate_w,
            ints: mut ints_w,
            ramp: ramp_w,
            steps: step_w,
        },
        fitted,
    ) = writers;
    times.add("write (overlapped)", write_times);
    if let Some(pb) = progress {
        pb.finish_and_clear();
    }

    // Jump keywords (PRIMECRS, EXTNCRS), as the official step writes them.
    let mut extra = Vec::new();
    if let Some(setup) = jump_setup.as_ref().filter(|_| jump_ran) {
        let fully: usize = pass_a.fully_dnu_per_int.iter().sum();
        let number = if setup.detects() {
            snow.as_ref().map_or(primary_total, |(_, p, _)| *p) as i64
        } else {
            jump::setup::NO_DETECTION_CR_COUNT
        };
        if let Some(v) =
            jump::setup::primary_cosmic_rays(number, fully, nints, ngroups, meta.tgroup, ny, nx)
        {
            extra.push(Card::new("PRIMECRS", KeyValue::Float(v)));
        }
        if let Some(v) = jump::setup::extended_emission_events(
            snow.as_ref().map_or(0, |(_, _, n)| *n),
            fully,
            nints,
            ngroups,
            meta.tgroup,
            ny,
            nx,
        ) {
            extra.push(Card::new("EXTNCRS", KeyValue::Float(v)));
        }
    }
    let t0 = Instant::now();
    let mut outputs = step_w.finish(&extra, fitted)?;
    if let Some(mut w) = ramp_w {
        w.update_primary(&extra)?;
        outputs.push(w.finish()?);
    }
    if fitted {
        rate_w.update_primary(&extra)?;
        ints_w.update_primary(&extra)?;
        outputs.push(rate_w.finish()?);
        outputs.push(ints_w.finish()?);
    } else {
        // As the official pipeline: every pixel saturated in group 0 of every integration
        // means ramp_fit returns nothing and no rate products are written (exit status 0).
        log::info!(target: "jwst.pipeline.calwebb_detector1", "NoneType returned from ramp_fit.  Gain Scale step skipped.");
        rate_w.discard()?;
        ints_w.discard()?;
    }
    // The run is complete: its checkpoint, or the stale one (and partial products) of an
    // earlier --resume run that this run without --resume superseded, goes.
    checkpoint::discard(&checkpoint_path)?;
    if !s.resume {
        for p in [&rate_path, &rateints_path, &ramp_path] {
            checkpoint::remove(&frames::write::resumable_temp_path(p)?)?;
        }
    }
    times.add("write", t0.elapsed());
    for (stage, d) in times.entries() {
        crate::logging::step_done(stage, d.as_secs_f64());
    }
    for p in &outputs {
        log::info!(target: "stpipe.step", "Saved model in {}", p.display());
    }
    log::info!(target: "stpipe.pipeline", "Step Detector1Pipeline done");
    Ok(Detector1Report {
        input: s.input.clone(),
        outputs,
        shape: [nints, ngroups, ny, nx],
        jump_mode: jump_setup.map(|j| j.mode),
        tile_rows: tiles.first().map_or(0, |t| t.y1 - t.y0),
        tile_cols: tiles.first().map_or(0, |t| t.x1 - t.x0),
        tiles: tiles.len(),
        resumed_tiles,
        times,
        wall_seconds: start.elapsed().as_secs_f64(),
    })
}
