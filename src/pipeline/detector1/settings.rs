//! Typed Detector1 settings from a parsed `strun`-style command line: which steps run, with
//! which reference files and parameters. Everything the official pipeline would refuse, or that
//! sloper does not implement, is refused here with a message that names the option.

use crate::config::RunConfig;
use crate::steps::jump::JumpParams;
use crate::steps::refpix::{RefpixAlgorithm, RefpixParams};
use crate::steps::saturation::SaturationParams;
use std::path::{Path, PathBuf};
use stream::MemoryBudget;

/// sloper's own options next to the strun parameters.
pub const EXTRA_OPTIONS: &[crate::config::strun_args::ExtraOption] = &[
    crate::config::strun_args::ExtraOption {
        name: "max-memory",
        takes_value: true,
    },
    crate::config::strun_args::ExtraOption {
        name: "threads",
        takes_value: true,
    },
    crate::config::strun_args::ExtraOption {
        name: "refs",
        takes_value: true,
    },
    crate::config::strun_args::ExtraOption {
        name: "no-progress",
        takes_value: false,
    },
    crate::config::strun_args::ExtraOption {
        name: "quiet",
        takes_value: false,
    },
    crate::config::strun_args::ExtraOption {
        name: "tile",
        takes_value: true,
    },
    crate::config::strun_args::ExtraOption {
        name: "mode",
        takes_value: true,
    },
    crate::config::strun_args::ExtraOption {
        name: "verify-checksums",
        takes_value: false,
    },
    crate::config::strun_args::ExtraOption {
        name: "resume",
        takes_value: false,
    },
];

/// Where the products go (official naming rules, `--output_dir`, `--output_file`).
#[derive(Debug, Clone)]
pub struct ProductPaths {
    pub rate: PathBuf,
    pub rateints: PathBuf,
    pub ramp: PathBuf,
}

/// A Detector1 step whose own result can be saved (`--steps.<step>.save_results=true` or
/// `--steps.<step>.output_file=NAME`), in the official near-IR order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SavedStep {
    GroupScale,
    DqInit,
    Saturation,
    Ipc,
    Superbias,
    Refpix,
    Linearity,
    DarkCurrent,
    Jump,
    RampFit,
    GainScale,
}

impl SavedStep {
    pub const ALL: [SavedStep; 11] = [
        SavedStep::GroupScale,
        SavedStep::DqInit,
        SavedStep::Saturation,
        SavedStep::Ipc,
        SavedStep::Superbias,
        SavedStep::Refpix,
        SavedStep::Linearity,
        SavedStep::DarkCurrent,
        SavedStep::Jump,
        SavedStep::RampFit,
        SavedStep::GainScale,
    ];

    /// The step's name in `--steps.<name>.…` (and its default file suffix).
    pub fn alias(self) -> &'static str {
        match self {
            SavedStep::GroupScale => "group_scale",
            SavedStep::DqInit => "dq_init",
            SavedStep::Saturation => "saturation",
            SavedStep::Ipc => "ipc",
            SavedStep::Superbias => "superbias",
            SavedStep::Refpix => "refpix",
            SavedStep::Linearity => "linearity",
            SavedStep::DarkCurrent => "dark_current",
            SavedStep::Jump => "jump",
            SavedStep::RampFit => "ramp_fit",
            SavedStep::GainScale => "gain_scale",
        }
    }

    pub fn from_alias(alias: &str) -> Option<SavedStep> {
        SavedStep::ALL.into_iter().find(|s| s.alias() == alias)
    }

    /// Whether the step's result is a ramp (RampModel); otherwise it is a pair of rate-like
    /// products (ramp_fit, gain_scale).
    pub fn is_ramp(self) -> bool {
        self < SavedStep::RampFit
    }
}

/// One step's own saved result: a RampModel file for the steps up to jump; for ramp_fit and
/// gain_scale, the image (`path`) and integrations (`ints_path`) products they return.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepSave {
    pub step: SavedStep,
    pub path: PathBuf,
    pub ints_path: Option<PathBuf>,
}

impl StepSave {
    pub fn paths(&self) -> impl Iterator<Item = &PathBuf> {
        std::iter::once(&self.path).chain(self.ints_path.as_ref())
    }
}

/// The per-step saves of a run, as the official calwebb_detector1 makes them (stpipe
/// `Step.run`: a step's result is saved when it ran, i.e. was not skipped, and `save_results`
/// is true or `output_file` given):
/// * a step that reports SKIPPED itself (a reference given as N/A, group_scale with
///   FRMDIVSR = NFRAMES, gain_scale without GAINFACT) still ran and is saved;
/// * MIRI-only steps never run on near-IR data, and `skip=true` steps are not saved;
/// * ramp_fit returns (rate, rateints): saved with the index as a component,
///   `X_0_ramp_fit.fits` and `X_1_ramp_fit.fits`, before gain_scale;
/// * the pipeline sets gain_scale's suffix to `gain_scale` (rate) and `gain_scaleints`
///   (rateints), ignoring `--steps.gain_scale.suffix`, and gives dark_current and ramp_fit its
///   own `output_dir`.
fn step_saves(
    cfg: &RunConfig,
    naming: &crate::pipeline::naming::OutputNaming,
) -> Result<Vec<StepSave>, String> {
    let mut saves = Vec::new();
    for st in cfg.spec.steps {
        let Some(step) = SavedStep::from_alias(st.alias) else {
            continue;
        };
        if cfg.skip(st.alias) {
            continue;
        }
        let Some(mut target) = naming.step_target(cfg, st.alias, st.alias) else {
            continue;
        };
        if cfg
            .step_param(st.alias, "output_use_model")
            .as_bool()
            .unwrap_or(false)
        {
            return Err(format!(
                "--steps.{}.output_use_model=true is not supported (the file would be named after the model's last saved name)",
                st.alias
            ));
        }
        if matches!(step, SavedStep::DarkCurrent | SavedStep::RampFit) {
            target.dir = naming.output_dir.clone();
        }
        let save = match step {
            SavedStep::RampFit => StepSave {
                step,
                path: target.path(&[Some("0")]),
                ints_path: Some(target.path(&[Some("1")])),
            },
            SavedStep::GainScale => {
                target.suffix = "gain_scale".into();
                let path = target.path(&[]);
                target.suffix = "gain_scaleints".into();
                StepSave {
                    step,
                    path,
                    ints_path: Some(target.path(&[])),
                }
            }
            _ => StepSave {
                step,
                path: target.path(&[]),
                ints_path: None,
            },
        };
        saves.push(save);
    }
    saves.sort_by_key(|s| s.step);
    Ok(saves)
}

/// Ramp-fitting options.
#[derive(Debug, Clone)]
pub struct RampFitSettings {
    pub suppress_one_group: bool,
    pub firstgroup: Option<i64>,
    pub lastgroup: Option<i64>,
}

/// Everything a Detector1 run needs to know besides the data.
#[derive(Debug, Clone)]
pub struct Detector1Settings {
    pub input: PathBuf,
    pub output_dir: PathBuf,
    pub products: ProductPaths,
    /// Steps whose own results are saved (`--steps.<step>.save_results` / `output_file`), in
    /// pipeline order.
    pub step_saves: Vec<StepSave>,
    pub save_calibrated_ramp: bool,
    pub group_scale: bool,
    pub mask: Option<PathBuf>,
    pub saturation: Option<(PathBuf, SaturationParams)>,
    /// Superbias given to the saturation step (for its second-group test).
    pub saturation_bias: Option<PathBuf>,
    /// IPC kernel (`--steps.ipc.override_ipc`); `None`: the step is skipped.
    pub ipc: Option<PathBuf>,
    pub superbias: Option<PathBuf>,
    pub refpix: Option<RefpixParams>,
    pub linearity: Option<PathBuf>,
    pub dark: Option<(PathBuf, Option<f64>)>,
    pub jump: Option<JumpParams>,
    pub jump_gain: Option<PathBuf>,
    pub jump_readnoise: Option<PathBuf>,
    pub ramp_fit: RampFitSettings,
    pub gain: PathBuf,
    pub readnoise: PathBuf,
    pub gain_scale: Option<PathBuf>,
    pub max_memory: MemoryBudget,
    pub threads: Option<usize>,
    pub progress: bool,
    pub quiet: bool,
    /// Force the tile size (core rows × columns) instead of deriving it from the budget
    /// (`--tile 4x64`; for tests and benchmarks).
    pub tile: Option<(usize, usize)>,
    /// Verify CHECKSUM/DATASUM of the input and every reference before using them.
    pub verify_checksums: bool,
    /// `--resume`: keep partial products and a checkpoint when the run stops early, and continue
    /// from a matching checkpoint left by an earlier run (see `detector1::checkpoint`).
    pub resume: bool,
}

fn bool_param(cfg: &RunConfig, step: &str, name: &str) -> bool {
    cfg.step_param(step, name).as_bool().unwrap_or(false)
}
fn f64_param(cfg: &RunConfig, step: &str, name: &str) -> f64 {
    cfg.step_param(step, name).as_f64().unwrap_or(f64::NAN)
}
fn i64_param(cfg: &RunConfig, step: &str, name: &str) -> Option<i64> {
    cfg.step_param(step, name).as_i64()
}

/// Where a step's reference comes from: `Ok(None)` means "N/A" (the official step is then
/// skipped); a missing reference is an error naming the option to give.
fn reference(
    cfg: &RunConfig,
    refs_dir: Option<&Path>,
    step: &str,
    reftype: &str,
) -> Result<Option<PathBuf>, String> {
    match cfg.override_ref(step, reftype) {
        Some(v) if v.eq_ignore_ascii_case("N/A") => Ok(None),
        Some(v) => Ok(Some(PathBuf::from(v))),
        None => {
            if let Some(dir) = refs_dir {
                let p = dir.join(format!("ref_{reftype}.fits"));
                if p.is_file() {
                    return Ok(Some(p));
                }
            }
            Err(format!(
                "step {step} needs a {reftype} reference: give --steps.{step}.override_{reftype}=PATH \
                 (or --refs DIR holding ref_{reftype}.fits, or N/A to skip the step); sloper has no CRDS access"
            ))
        }
    }
}

impl Detector1Settings {
    /// Every reference file the run will read.
    pub fn reference_paths(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = Vec::new();
        let mut add = |p: Option<&PathBuf>| {
            if let Some(p) = p {
                if !v.contains(p) {
                    v.push(p.clone());
                }
            }
        };
        add(self.mask.as_ref());
        add(self.saturation.as_ref().map(|x| &x.0));
        add(self.saturation_bias.as_ref());
        add(self.ipc.as_ref());
        add(self.superbias.as_ref());
        add(self.linearity.as_ref());
        add(self.dark.as_ref().map(|x| &x.0));
        add(self.jump_gain.as_ref());
        add(self.jump_readnoise.as_ref());
        add(Some(&self.gain));
        add(Some(&self.readnoise));
        add(self.gain_scale.as_ref());
        v
    }

    pub fn from_config(cfg: &RunConfig) -> Result<Detector1Settings, String> {
        let refs_dir = cfg.extra("refs").map(PathBuf::from);
        let refs = refs_dir.as_deref();
        // Unimplemented steps may not be switched on.
        for s in cfg.spec.steps {
            if !s.implemented && !s.miri_only && !cfg.skip(s.alias) {
                return Err(format!(
                    "step {} is not implemented by sloper; it is skipped by default (remove --steps.{}.skip=false)",
                    s.alias, s.alias
                ));
            }
            for p in ["pre_hooks", "post_hooks"] {
                if !cfg.step_param(s.alias, p).is_none() {
                    return Err(format!("--steps.{}.{p}: hooks are not supported", s.alias));
                }
            }
        }
        let run = |step: &str| !cfg.skip(step);

        let group_scale = run("group_scale");
        let mask = if run("dq_init") {
            reference(cfg, refs, "dq_init", "mask")?
        } else {
            None
        };
        if !cfg.step_param("dq_init", "user_supplied_dq").is_none() {
            return Err("--steps.dq_init.user_supplied_dq is not supported yet".into());
        }
        let (saturation, saturation_bias) = if run("saturation") {
            match reference(cfg, refs, "saturation", "saturation")? {
                Some(p) => {
                    let n = i64_param(cfg, "saturation", "n_pix_grow_sat").unwrap_or(1);
                    if n < 0 {
                        return Err("--steps.saturation.n_pix_grow_sat must be >= 0".into());
                    }
                    let params = SaturationParams {
                        n_pix_grow_sat: n as usize,
                        use_readpatt: bool_param(cfg, "saturation", "use_readpatt"),
                    };
                    let bias = match cfg.override_ref("saturation", "superbias") {
                        Some(v) if v.eq_ignore_ascii_case("N/A") => None,
                        Some(v) => Some(PathBuf::from(v)),
                        None => reference(cfg, refs, "saturation", "superbias")
                            .ok()
                            .flatten(),
                    };
                    (Some((p, params)), bias)
                }
                None => (None, None),
            }
        } else {
            (None, None)
        };
        // ipc runs only on a reference given by --steps.ipc.override_ipc=PATH. `--refs DIR`
        // stands in for CRDS, and CRDS selects N/A for ipc in every JWST mode (the step is
        // skipped by default everywhere), so a ref_ipc.fits lying in DIR (make_synthetic.py and
        // `sloper simulate` always write one) is not picked up, as the oracle's
        // run_detector1.sh REFDIR passes override_ipc=N/A unless ORACLE_IPC=1.
        let ipc = if run("ipc") {
            match cfg.override_ref("ipc", "ipc") {
                Some(v) if v.eq_ignore_ascii_case("N/A") => None,
                Some(v) => Some(PathBuf::from(v)),
                None => None,
            }
        } else {
            None
        };
        let superbias = if run("superbias") {
            reference(cfg, refs, "superbias", "superbias")?
        } else {
            None
        };
        let refpix = if run("refpix") {
            let algorithm = cfg.step_param("refpix", "refpix_algorithm");
            let algorithm = RefpixAlgorithm::parse(algorithm.as_str().unwrap_or("median"))
                .ok_or("--steps.refpix.refpix_algorithm must be median or sirs")?;
            Some(RefpixParams {
                odd_even_columns: bool_param(cfg, "refpix", "odd_even_columns"),
                use_side_ref_pixels: bool_param(cfg, "refpix", "use_side_ref_pixels"),
                side_smoothing_length: i64_param(cfg, "refpix", "side_smoothing_length")
                    .unwrap_or(11),
                side_gain: f64_param(cfg, "refpix", "side_gain"),
                odd_even_rows: bool_param(cfg, "refpix", "odd_even_rows"),
                ovr_corr_mitigation_ftr: f64_param(cfg, "refpix", "ovr_corr_mitigation_ftr"),
                preserve_irs2_refpix: bool_param(cfg, "refpix", "preserve_irs2_refpix"),
                irs2_mean_subtraction: bool_param(cfg, "refpix", "irs2_mean_subtraction"),
                refpix_algorithm: algorithm,
                sigreject: f64_param(cfg, "refpix", "sigreject"),
                gaussmooth: f64_param(cfg, "refpix", "gaussmooth"),
                halfwidth: i64_param(cfg, "refpix", "halfwidth").unwrap_or(30),
                siglimit: f64_param(cfg, "refpix", "siglimit"),
            })
        } else {
            None
        };
        let linearity = if run("linearity") {
            reference(cfg, refs, "linearity", "linearity")?
        } else {
            None
        };
        let dark = if run("dark_current") {
            if !cfg.step_param("dark_current", "dark_output").is_none() {
                return Err("--steps.dark_current.dark_output is not supported yet".into());
            }
            reference(cfg, refs, "dark_current", "dark")?.map(|p| {
                (
                    p,
                    cfg.step_param("dark_current", "average_dark_current")
                        .as_f64(),
                )
            })
        } else {
            None
        };
        let (jump, jump_gain, jump_readnoise) = if run("jump") {
            let g = reference(cfg, refs, "jump", "gain")?;
            let r = reference(cfg, refs, "jump", "readnoise")?;
            let p = JumpParams {
                rejection_threshold: f64_param(cfg, "jump", "rejection_threshold"),
                three_group_rejection_threshold: f64_param(
                    cfg,
                    "jump",
                    "three_group_rejection_threshold",
                ),
                four_group_rejection_threshold: f64_param(
                    cfg,
                    "jump",
                    "four_group_rejection_threshold",
                ),
                maximum_cores: cfg.step_param("jump", "maximum_cores").to_string(),
                flag_4_neighbors: bool_param(cfg, "jump", "flag_4_neighbors"),
                max_jump_to_flag_neighbors: f64_param(cfg, "jump", "max_jump_to_flag_neighbors"),
                min_jump_to_flag_neighbors: f64_param(cfg, "jump", "min_jump_to_flag_neighbors"),
                after_jump_flag_dn1: f64_param(cfg, "jump", "after_jump_flag_dn1"),
                after_jump_flag_time1: f64_param(cfg, "jump", "after_jump_flag_time1"),
                after_jump_flag_dn2: f64_param(cfg, "jump", "after_jump_flag_dn2"),
                after_jump_flag_time2: f64_param(cfg, "jump", "after_jump_flag_time2"),
                expand_large_events: bool_param(cfg, "jump", "expand_large_events"),
                min_sat_area: f64_param(cfg, "jump", "min_sat_area"),
                min_jump_area: f64_param(cfg, "jump", "min_jump_area"),
                expand_factor: f64_param(cfg, "jump", "expand_factor"),
                use_ellipses: bool_param(cfg, "jump", "use_ellipses"),
                sat_required_snowball: bool_param(cfg, "jump", "sat_required_snowball"),
                min_sat_radius_extend: f64_param(cfg, "jump", "min_sat_radius_extend"),
                sat_expand: i64_param(cfg, "jump", "sat_expand").unwrap_or(2),
                edge_size: i64_param(cfg, "jump", "edge_size").unwrap_or(25),
                mask_snowball_core_next_int: bool_param(cfg, "jump", "mask_snowball_core_next_int"),
                snowball_time_masked_next_int: i64_param(
                    cfg,
                    "jump",
                    "snowball_time_masked_next_int",
                )
                .unwrap_or(4000),
                find_showers: bool_param(cfg, "jump", "find_showers"),
                max_shower_amplitude: f64_param(cfg, "jump", "max_shower_amplitude"),
                extend_snr_threshold: f64_param(cfg, "jump", "extend_snr_threshold"),
                extend_min_area: i64_param(cfg, "jump", "extend_min_area").unwrap_or(90),
                extend_inner_radius: f64_param(cfg, "jump", "extend_inner_radius"),
                extend_outer_radius: f64_param(cfg, "jump", "extend_outer_radius"),
                extend_ellipse_expand_ratio: f64_param(cfg, "jump", "extend_ellipse_expand_ratio"),
                time_masked_after_shower: f64_param(cfg, "jump", "time_masked_after_shower"),
                min_diffs_single_pass: i64_param(cfg, "jump", "min_diffs_single_pass")
                    .unwrap_or(10),
                max_extended_radius: i64_param(cfg, "jump", "max_extended_radius").unwrap_or(200),
                minimum_groups: i64_param(cfg, "jump", "minimum_groups").unwrap_or(3),
                minimum_sigclip_groups: i64_param(cfg, "jump", "minimum_sigclip_groups")
                    .unwrap_or(100),
                only_use_ints: bool_param(cfg, "jump", "only_use_ints"),
            };
            p.validate().map_err(|e| format!("jump: {e}"))?;
            (Some(p), g, r)
        } else {
            (None, None, None)
        };
        if !run("ramp_fit") {
            return Err(
                "--steps.ramp_fit.skip=true: sloper always fits ramps (that is its output)".into(),
            );
        }
        match cfg.step_param("ramp_fit", "algorithm").as_str() {
            Some("OLS_C") | None => {}
            Some(other) => {
                return Err(format!(
                    "--steps.ramp_fit.algorithm={other} is not supported (only OLS_C)"
                ))
            }
        }
        if bool_param(cfg, "ramp_fit", "save_opt") {
            return Err("--steps.ramp_fit.save_opt=true is not supported yet".into());
        }
        let gain = reference(cfg, refs, "ramp_fit", "gain")?
            .ok_or("ramp_fit needs a gain reference (N/A given)")?;
        let readnoise = reference(cfg, refs, "ramp_fit", "readnoise")?
            .ok_or("ramp_fit needs a readnoise reference (N/A given)")?;
        let gain_scale = if run("gain_scale") {
            reference(cfg, refs, "gain_scale", "gain")?
        } else {
            None
        };

        let naming = crate::pipeline::naming::OutputNaming::from_config(cfg);
        let products = ProductPaths {
            rate: naming.product("rate"),
            rateints: naming.product("rateints"),
            ramp: naming.product("ramp"),
        };
        let step_saves = step_saves(cfg, &naming)?;
        if !step_saves.is_empty() {
            let which = step_saves[0].step.alias();
            if cfg.extra("mode").is_some_and(|m| m != "exact") {
                return Err(format!(
                    "--steps.{which}.save_results/output_file: per-step products are written by --mode exact only"
                ));
            }
            if cfg.extra("resume").is_some() {
                return Err(format!(
                    "--steps.{which}.save_results/output_file: per-step products cannot be resumed yet (drop --resume)"
                ));
            }
            let mut seen: Vec<&PathBuf> = vec![&products.rate, &products.rateints];
            if cfg
                .pipeline_param("save_calibrated_ramp")
                .as_bool()
                .unwrap_or(false)
            {
                seen.push(&products.ramp);
            }
            for p in step_saves.iter().flat_map(|s| s.paths()) {
                if seen.contains(&p) {
                    return Err(format!(
                        "{}: two products of this run would be written to the same file (check the steps' output_file/suffix)",
                        p.display()
                    ));
                }
                seen.push(p);
            }
        }
        let output_dir = naming.output_dir.clone();
        let max_memory = match cfg.extra("max-memory") {
            Some(s) => s
                .parse::<MemoryBudget>()
                .map_err(|e| format!("--max-memory: {e}"))?,
            None => MemoryBudget::DEFAULT,
        };
        let threads = match cfg.extra("threads") {
            Some(s) => Some(
                s.parse::<usize>()
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or(format!("--threads: {s:?} is not a positive integer"))?,
            ),
            None => None,
        };
        Ok(Detector1Settings {
            input: cfg.input.clone(),
            output_dir,
            products,
            step_saves,
            save_calibrated_ramp: cfg
                .pipeline_param("save_calibrated_ramp")
                .as_bool()
                .unwrap_or(false),
            group_scale,
            mask,
            saturation,
            saturation_bias,
            ipc,
            superbias,
            refpix,
            linearity,
            dark,
            jump,
            jump_gain,
            jump_readnoise,
            ramp_fit: RampFitSettings {
                suppress_one_group: bool_param(cfg, "ramp_fit", "suppress_one_group"),
                firstgroup: i64_param(cfg, "ramp_fit", "firstgroup"),
                lastgroup: i64_param(cfg, "ramp_fit", "lastgroup"),
            },
            gain,
            readnoise,
            gain_scale,
            max_memory,
            threads,
            progress: cfg.extra("no-progress").is_none(),
            quiet: cfg.extra("quiet").is_some(),
            verify_checksums: cfg.extra("verify-checksums").is_some(),
            resume: match (cfg.extra("resume"), cfg.extra("mode")) {
                (None, _) => false,
                (Some(_), None | Some("exact")) => true,
                (Some(_), Some(_)) => {
                    return Err("--resume applies to --mode exact only".into());
                }
            },
            tile: match cfg.extra("tile") {
                None => None,
                Some(t) => Some(
                    t.split_once(['x', 'X'])
                        .and_then(|(r, c)| {
                            Some((
                                r.trim().parse::<usize>().ok()?,
                                c.trim().parse::<usize>().ok()?,
                            ))
                        })
                        .filter(|&(r, c)| r > 0 && c > 0)
                        .ok_or(format!("--tile: {t:?} is not ROWSxCOLS (e.g. 4x64)"))?,
                ),
            },
        })
    }
}
