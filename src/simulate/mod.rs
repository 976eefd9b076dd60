//! `sloper simulate`: synthetic raw exposures and matching reference sets in the official layouts.
//!
//! A fast, deterministic, streaming counterpart of the oracle's `make_synthetic.py`: the same
//! detector (NIRCam NRCALONG), scene and file layouts, so the official `calwebb_detector1` runs
//! on the output, but written group by group in bounded memory (peak RSS does not depend on
//! NINTS) and with counter-based random streams (the bytes depend only on the seed, never on the
//! thread count).
//!
//! Modules: [`config`] (the exposure plan), [`rng`] (streams and samplers), [`detector`] (static
//! per-pixel properties), [`scene`] (fluxes), [`ramp`] (the frame-by-frame generator),
//! [`uncal`] / [`refs`] / [`truth`] (the files), [`fitsout`] (FITS writing).

pub mod config;
pub mod detector;
pub mod fitsout;
pub mod ramp;
pub mod refs;
pub mod rng;
pub mod scene;
pub mod truth;
pub mod uncal;

use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Instant;

use clap::{Parser, ValueEnum};

use config::Plan;
use ramp::{Batch, CosmicRay, RampSim};

/// NIRCam readout patterns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReadPatt {
    #[value(name = "RAPID")]
    Rapid,
    #[value(name = "BRIGHT1")]
    Bright1,
    #[value(name = "BRIGHT2")]
    Bright2,
    #[value(name = "SHALLOW2")]
    Shallow2,
    #[value(name = "SHALLOW4")]
    Shallow4,
    #[value(name = "MEDIUM2")]
    Medium2,
    #[value(name = "MEDIUM8")]
    Medium8,
    #[value(name = "DEEP2")]
    Deep2,
    #[value(name = "DEEP8")]
    Deep8,
}

impl ReadPatt {
    /// (NFRAMES, GROUPGAP).
    pub fn frames_and_gap(self) -> (usize, usize) {
        match self {
            ReadPatt::Rapid => (1, 0),
            ReadPatt::Bright1 => (1, 1),
            ReadPatt::Bright2 => (2, 0),
            ReadPatt::Shallow2 => (2, 3),
            ReadPatt::Shallow4 => (4, 1),
            ReadPatt::Medium2 => (2, 8),
            ReadPatt::Medium8 => (8, 2),
            ReadPatt::Deep2 => (2, 18),
            ReadPatt::Deep8 => (8, 12),
        }
    }

    pub fn keyword(self) -> &'static str {
        match self {
            ReadPatt::Rapid => "RAPID",
            ReadPatt::Bright1 => "BRIGHT1",
            ReadPatt::Bright2 => "BRIGHT2",
            ReadPatt::Shallow2 => "SHALLOW2",
            ReadPatt::Shallow4 => "SHALLOW4",
            ReadPatt::Medium2 => "MEDIUM2",
            ReadPatt::Medium8 => "MEDIUM8",
            ReadPatt::Deep2 => "DEEP2",
            ReadPatt::Deep8 => "DEEP8",
        }
    }
}

/// Exposure types: grism time series (trace), TSO imaging and plain imaging (star).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExpType {
    #[value(name = "NRC_TSGRISM")]
    NrcTsgrism,
    #[value(name = "NRC_TSIMAGE")]
    NrcTsimage,
    #[value(name = "NRC_IMAGE")]
    NrcImage,
}

impl ExpType {
    pub fn keyword(self) -> &'static str {
        match self {
            ExpType::NrcTsgrism => "NRC_TSGRISM",
            ExpType::NrcTsimage => "NRC_TSIMAGE",
            ExpType::NrcImage => "NRC_IMAGE",
        }
    }
    pub fn is_imaging(self) -> bool {
        self != ExpType::NrcTsgrism
    }
}

/// Options of `sloper simulate` (defaults as the oracle's make_synthetic.py).
#[derive(Debug, Clone, clap::Args)]
pub struct SimulateArgs {
    /// Integrations in the exposure (NINTS).
    #[arg(long, default_value_t = 2)]
    pub nints: usize,
    /// Groups per integration (NGROUPS, >= 2).
    #[arg(long, default_value_t = 5)]
    pub ngroups: usize,
    /// Rows (SUBSIZE2).
    #[arg(long, default_value_t = 32)]
    pub ny: usize,
    /// Columns (SUBSIZE1).
    #[arg(long, default_value_t = 32)]
    pub nx: usize,
    /// Seed: the output depends on nothing else (not on the thread count).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Output directory (created if missing).
    #[arg(long)]
    pub outdir: PathBuf,
    /// Exposure basename; pipeline products are named after it.
    #[arg(long, default_value = "jw01234001001_01101_00001_nrcalong")]
    pub name: String,
    /// Readout pattern (sets NFRAMES and GROUPGAP).
    #[arg(long, value_enum, ignore_case = true, default_value = "RAPID")]
    pub readpatt: ReadPatt,
    /// FRMDIVSR (default NFRAMES, i.e. group_scale does nothing).
    #[arg(long)]
    pub frame_divisor: Option<usize>,
    /// Detector outputs (default 4 when nx = 2048, else 1).
    #[arg(long)]
    pub noutputs: Option<usize>,
    /// Split the exposure into this many files (-segNNN), as DMS does.
    #[arg(long, default_value_t = 1)]
    pub segments: usize,
    /// Primary cosmic-ray hits per pixel per second.
    #[arg(long, default_value_t = 2e-4)]
    pub cr_rate: f64,
    /// Write GAINFACT into the gain reference so that gain_scale runs.
    #[arg(long)]
    pub gainfact: Option<f64>,
    /// EXP_TYPE: grism TSO (trace) or imaging (star).
    #[arg(long, value_enum, ignore_case = true, default_value = "NRC_TSGRISM")]
    pub exp_type: ExpType,
    /// 1-based full-frame column of the subarray corner (SUBSTRT1).
    #[arg(long, default_value_t = 1)]
    pub substrt1: usize,
    /// 1-based full-frame row of the subarray corner (SUBSTRT2).
    #[arg(long, default_value_t = 1)]
    pub substrt2: usize,
    /// Write 2048x2048 references (except the dark) so the pipeline cuts the subarray itself.
    #[arg(long)]
    pub full_frame_refs: bool,
    /// Only write the raw exposure (and the truth).
    #[arg(long)]
    pub no_refs: bool,
    /// FILTER.
    #[arg(long, default_value = "F444W")]
    pub filter: String,
    /// PUPIL (default GRISMR for the grism, CLEAR for imaging).
    #[arg(long)]
    pub pupil: Option<String>,
    /// Imaging: star column, 0-based (default nx/2 - 0.5 + 0.3).
    #[arg(long)]
    pub star_x: Option<f64>,
    /// Imaging: star row, 0-based (default ny/2 - 0.5 - 0.4).
    #[arg(long)]
    pub star_y: Option<f64>,
    /// Imaging: star peak, fraction of the full well at the last read.
    #[arg(long, default_value_t = 0.5)]
    pub star_peak: f64,
    /// Imaging: Gaussian PSF sigma in pixels.
    #[arg(long, default_value_t = 1.3)]
    pub star_sigma: f64,
    /// Imaging: fractional transit depth.
    #[arg(long, default_value_t = 0.01)]
    pub transit_depth: f64,
    /// Extra frames in the dark reference beyond what the science needs.
    #[arg(long, default_value_t = 0)]
    pub dark_extra_groups: usize,
}

#[derive(Parser)]
struct Standalone {
    #[command(flatten)]
    args: SimulateArgs,
}

impl SimulateArgs {
    /// Parse `sloper simulate` options from words (without the program and subcommand names);
    /// for tests and embedding.
    pub fn from_words<I, S>(words: I) -> Result<SimulateArgs, clap::Error>
    where
        I: IntoIterator<Item = S>,
        S: Into<std::ffi::OsString> + Clone,
    {
        let all = std::iter::once(std::ffi::OsString::from("simulate"))
            .chain(words.into_iter().map(Into::into));
        Standalone::try_parse_from(all).map(|s| s.args)
    }
}

/// What a simulation wrote.
#[derive(Debug, Clone)]
pub struct SimReport {
    /// Raw exposure files (one per segment) with their sizes in bytes.
    pub uncal: Vec<(PathBuf, u64)>,
    pub refs: Vec<(PathBuf, u64)>,
    pub truth: PathBuf,
    /// Seconds spent generating and writing the raw files.
    pub exposure_seconds: f64,
    pub total_seconds: f64,
    /// Pixel values written (nints x ngroups x ny x nx) and pixel-frames simulated.
    pub group_pixels: u64,
    pub frame_pixels: u64,
    pub n_cosmic_ray_pixels: u64,
}

enum Msg {
    CosmicRays(usize, Vec<CosmicRay>),
    Batch(Batch),
}

/// Groups per batch: the row tasks run all frames of a batch while a row is in cache; about
/// 32 MB of output per batch keeps that benefit with bounded memory.
fn batch_groups(plan: &Plan) -> usize {
    let per_group = plan.ny * plan.nx * 2;
    ((32 << 20) / per_group).clamp(1, plan.ngroups)
}

/// Run the simulation described by `args`.
pub fn simulate(args: &SimulateArgs) -> anyhow::Result<SimReport> {
    let t_start = Instant::now();
    let plan = Plan::from_args(args)?;
    std::fs::create_dir_all(&plan.outdir).map_err(|e| frames::FramesError::io(&plan.outdir, e))?;

    let (y0, x0) = (plan.ystart - 1, plan.xstart - 1);
    let sub_pixels = detector::region(plan.seed, y0, x0, plan.ny, plan.nx);
    let mut refs_written = Vec::new();
    if plan.write_refs {
        let sub = refs::RefRegion {
            name: plan.subarray.clone(),
            xstart: plan.xstart,
            ystart: plan.ystart,
            nx: plan.nx,
            ny: plan.ny,
            noutputs: plan.noutputs,
            pixels: &sub_pixels,
        };
        let written = if plan.full_frame_refs {
            let full_pixels = detector::region(plan.seed, 0, 0, config::FULL, config::FULL);
            let full = refs::RefRegion {
                name: "FULL".into(),
                xstart: 1,
                ystart: 1,
                nx: config::FULL,
                ny: config::FULL,
                noutputs: 4,
                pixels: &full_pixels,
            };
            refs::write_all(&plan, &plan.outdir, &full, &sub)?
        } else {
            refs::write_all(&plan, &plan.outdir, &sub, &sub)?
        };
        refs_written = written.into_iter().map(|w| (w.path, w.bytes)).collect();
    }

    let scene = scene::build(&plan, &sub_pixels);
    let truth_path = truth::write_static(&plan, &sub_pixels, &scene)?;
    let mut sim = RampSim::new(&plan, &sub_pixels, &scene);
    drop(sub_pixels);
    drop(scene);

    let t_exp = Instant::now();
    let (tx, rx) = mpsc::sync_channel::<Msg>(1);
    let (ret_tx, ret_rx) = mpsc::channel::<Vec<u16>>();
    let nb = batch_groups(&plan);
    let mut n_cr = 0u64;
    let uncal = std::thread::scope(|scope| -> anyhow::Result<Vec<(PathBuf, u64)>> {
        let writer = scope.spawn(|| write_exposure(&plan, rx, ret_tx, &truth_path));
        'ints: for i in 0..plan.nints {
            sim.reset();
            let crs = sim.cosmic_rays(i);
            n_cr += crs.len() as u64;
            let mut g0 = 0;
            if tx.send(Msg::CosmicRays(i, crs.clone())).is_err() {
                break 'ints;
            }
            while g0 < plan.ngroups {
                let ng = nb.min(plan.ngroups - g0);
                let buf = ret_rx.try_recv().unwrap_or_default();
                let batch = sim.batch(i, g0, ng, &crs, buf);
                if tx.send(Msg::Batch(batch)).is_err() {
                    break 'ints; // the writer failed; its error is reported below
                }
                g0 += ng;
            }
        }
        drop(tx);
        writer
            .join()
            .map_err(|_| anyhow::anyhow!("the writer thread panicked"))?
    })?;
    let exposure_seconds = t_exp.elapsed().as_secs_f64();
    let pixels = (plan.ny * plan.nx) as u64;
    let report = SimReport {
        uncal,
        refs: refs_written,
        truth: truth_path,
        exposure_seconds,
        total_seconds: t_start.elapsed().as_secs_f64(),
        group_pixels: plan.nints as u64 * plan.ngroups as u64 * pixels,
        frame_pixels: plan.nints as u64 * plan.nframes_total as u64 * pixels,
        n_cosmic_ray_pixels: n_cr,
    };
    write_info(&plan, &report)?;
    Ok(report)
}

/// The writer thread: owns the FITS files, writes groups in order, opens and closes segment
/// files, appends cosmic rays to the truth, and hands emptied buffers back.
fn write_exposure(
    plan: &Plan,
    rx: mpsc::Receiver<Msg>,
    ret: mpsc::Sender<Vec<u16>>,
    truth_path: &std::path::Path,
) -> anyhow::Result<Vec<(PathBuf, u64)>> {
    let mut done = Vec::new();
    let mut crs_out = truth::CrAppender::open(truth_path)?;
    let mut file: Option<uncal::UncalFile> = None;
    let mut group = vec![0u16; plan.ny * plan.nx];
    for msg in rx {
        match msg {
            Msg::CosmicRays(i, crs) => crs_out.append(i, &crs)?,
            Msg::Batch(b) => {
                let i = b.int;
                if file.as_ref().is_none_or(|f| i >= f.segment().int1) {
                    if let Some(f) = file.take() {
                        done.push(f.finish(plan)?);
                    }
                    let seg = plan
                        .segments
                        .iter()
                        .find(|s| (s.int0..s.int1).contains(&i))
                        .ok_or_else(|| anyhow::anyhow!("integration {i} is in no segment"))?;
                    file = Some(uncal::UncalFile::create(plan, seg)?);
                }
                let f = file
                    .as_mut()
                    .ok_or_else(|| anyhow::anyhow!("no open file"))?;
                for k in 0..b.ngroups {
                    b.gather_group(k, &mut group);
                    f.write_group(i, b.g0 + k, &group)?;
                }
                let _ = ret.send(b.data);
            }
        }
    }
    if let Some(f) = file.take() {
        done.push(f.finish(plan)?);
    }
    crs_out.finish()?;
    anyhow::ensure!(
        done.len() == plan.segments.len(),
        "the exposure was cut short"
    );
    Ok(done)
}

/// `synthetic_info.json`, as the oracle generator writes it (the fields a test driver needs).
fn write_info(plan: &Plan, r: &SimReport) -> anyhow::Result<()> {
    let files: Vec<String> = r
        .uncal
        .iter()
        .map(|(p, _)| format!("{:?}", p.display().to_string()))
        .collect();
    let bytes: u64 = r.uncal.iter().map(|(_, b)| b).sum();
    let json = format!(
        "{{\n \"uncal\": {},\n \"uncal_files\": [{}],\n \"truth\": {:?},\n \"nints\": {},\n \"ngroups\": {},\n \
         \"ny\": {},\n \"nx\": {},\n \"readpatt\": \"{}\",\n \"nframes\": {},\n \"groupgap\": {},\n \
         \"frame_divisor\": {},\n \"subarray\": \"{}\",\n \"substrt1\": {},\n \"substrt2\": {},\n \"noutputs\": {},\n \
         \"frame_time\": {},\n \"group_time\": {},\n \"exp_type\": \"{}\",\n \"gainfact\": {},\n \
         \"full_frame_refs\": {},\n \"n_cosmic_ray_pixels\": {},\n \"seed\": {},\n \"uncal_bytes\": {},\n \
         \"seconds\": {:.3}\n}}\n",
        files[0],
        files.join(", "),
        r.truth.display().to_string(),
        plan.nints,
        plan.ngroups,
        plan.ny,
        plan.nx,
        plan.readpatt.keyword(),
        plan.nframes,
        plan.groupgap,
        plan.frame_divisor,
        plan.subarray,
        plan.xstart,
        plan.ystart,
        plan.noutputs,
        plan.tframe,
        plan.tgroup,
        plan.exp_type.keyword(),
        plan.gainfact.map_or("null".to_string(), |g| g.to_string()),
        plan.full_frame_refs,
        r.n_cosmic_ray_pixels,
        plan.seed,
        bytes,
        r.total_seconds,
    );
    let p = plan.outdir.join("synthetic_info.json");
    std::fs::write(&p, json).map_err(|e| frames::FramesError::io(&p, e))?;
    Ok(())
}

/// `sloper simulate`: simulate, then print what was written.
pub fn run(args: &SimulateArgs) -> anyhow::Result<()> {
    let r = simulate(args)?;
    for (p, b) in r.uncal.iter().chain(&r.refs) {
        println!("{:>14} bytes  {}", b, p.display());
    }
    println!("{:>14}        {}", "truth", r.truth.display());
    let mps = |n: u64| n as f64 / r.exposure_seconds.max(1e-9) / 1e6;
    println!(
        "exposure: {} pixel-frames ({} group values) in {:.3} s = {:.1} M pixel-frames/s, {:.1} M group values/s; \
         {} cosmic-ray pixels; total {:.3} s",
        r.frame_pixels,
        r.group_pixels,
        r.exposure_seconds,
        mps(r.frame_pixels),
        mps(r.group_pixels),
        r.n_cosmic_ray_pixels,
        r.total_seconds
    );
    Ok(())
}
