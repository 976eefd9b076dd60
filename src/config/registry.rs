//! The official Detector1 steps, their parameters (names, types, defaults exactly as the jwst
//! 3.0.0 step specs declare them) and their reference types.

use super::value::{Kind, Value};

/// One parameter of a step spec.
#[derive(Debug, Clone, Copy)]
pub struct ParamSpec {
    pub name: &'static str,
    pub kind: Kind,
    /// Default as the spec writes it (parsed with [`Value::parse`]).
    pub default: &'static str,
    pub help: &'static str,
}

impl ParamSpec {
    pub fn default_value(&self) -> Value {
        Value::parse(self.kind, self.default).unwrap_or(Value::None)
    }
}

/// A step of a pipeline.
#[derive(Debug, Clone, Copy)]
pub struct StepSpec {
    /// The alias used in `--steps.<alias>.…` and in S_* keywords' step names.
    pub alias: &'static str,
    pub class_name: &'static str,
    pub params: &'static [ParamSpec],
    /// Reference types, each giving an `override_<type>` parameter.
    pub reference_types: &'static [&'static str],
    /// Default of `skip`.
    pub skip_default: bool,
    /// Whether sloper implements it. Unimplemented steps may only be skipped (or be no-ops for
    /// near-IR data, as the MIRI-only steps are).
    pub implemented: bool,
    /// Steps that never run on near-IR data (MIRI-only): accepted and ignored.
    pub miri_only: bool,
}

impl StepSpec {
    pub fn param(&self, name: &str) -> Option<&'static ParamSpec> {
        self.params.iter().find(|p| p.name == name)
    }
}

/// A pipeline: its own parameters and its steps in order.
#[derive(Debug, Clone, Copy)]
pub struct PipelineSpec {
    pub alias: &'static str,
    pub class_name: &'static str,
    pub params: &'static [ParamSpec],
    pub steps: &'static [StepSpec],
}

impl PipelineSpec {
    pub fn step(&self, alias: &str) -> Option<&'static StepSpec> {
        self.steps.iter().find(|s| s.alias == alias)
    }
    pub fn param(&self, name: &str) -> Option<&'static ParamSpec> {
        self.params.iter().find(|p| p.name == name)
    }
}

/// A parameter spec (shared by every pipeline's spec table).
pub(crate) const fn p(
    name: &'static str,
    kind: Kind,
    default: &'static str,
    help: &'static str,
) -> ParamSpec {
    ParamSpec {
        name,
        kind,
        default,
        help,
    }
}

use Kind::{Bool, Float, Int, Str};

/// Parameters every stpipe step has (stpipe `Step.spec` + jwst's `output_ext`).
pub const COMMON_STEP_PARAMS: &[ParamSpec] = &[
    p(
        "pre_hooks",
        Str,
        "None",
        "list of Step classes to run before the step (not supported)",
    ),
    p(
        "post_hooks",
        Str,
        "None",
        "list of Step classes to run after the step (not supported)",
    ),
    p("output_file", Str, "None", "file to save output to"),
    p("output_dir", Str, "None", "directory path for output files"),
    p("output_ext", Str, ".fits", "output file type"),
    p(
        "output_use_model",
        Bool,
        "False",
        "when saving use DataModel.meta.filename",
    ),
    p("output_use_index", Bool, "True", "append index"),
    p("save_results", Bool, "False", "force save results"),
    p("skip", Bool, "False", "skip this step"),
    p("suffix", Str, "None", "default suffix for output files"),
    p(
        "search_output_file",
        Bool,
        "True",
        "use output file defined in parent step",
    ),
    p("input_dir", Str, "None", "input directory"),
];

const CORES: Kind = Str;

const fn step(
    alias: &'static str,
    class_name: &'static str,
    params: &'static [ParamSpec],
    reference_types: &'static [&'static str],
) -> StepSpec {
    StepSpec {
        alias,
        class_name,
        params,
        reference_types,
        skip_default: false,
        implemented: true,
        miri_only: false,
    }
}
const fn optional(s: StepSpec, implemented: bool, miri_only: bool) -> StepSpec {
    StepSpec {
        skip_default: true,
        implemented,
        miri_only,
        ..s
    }
}
const fn miri(s: StepSpec) -> StepSpec {
    StepSpec {
        implemented: false,
        miri_only: true,
        ..s
    }
}

/// `calwebb_detector1` (Detector1Pipeline), jwst 3.0.0, in execution order for near-IR data.
pub const DETECTOR1: PipelineSpec = PipelineSpec {
    alias: "calwebb_detector1",
    class_name: "Detector1Pipeline",
    params: &[p(
        "save_calibrated_ramp",
        Bool,
        "False",
        "save the calibrated ramp (after jump) as _ramp.fits",
    )],
    steps: &[
        step("group_scale", "GroupScaleStep", &[], &[]),
        step(
            "dq_init",
            "DQInitStep",
            &[p(
                "user_supplied_dq",
                Str,
                "None",
                "FITS user-supplied DQ file",
            )],
            &["mask"],
        ),
        optional(
            step(
                "emicorr",
                "EmiCorrStep",
                &[
                    p(
                        "algorithm",
                        Kind::Choice(&["sequential", "joint"]),
                        "joint",
                        "",
                    ),
                    p("nints_to_phase", Int, "None", ""),
                    p("nbins", Int, "None", ""),
                    p("scale_reference", Bool, "True", ""),
                    p("onthefly_corr_freq", Str, "None", ""),
                    p("use_n_cycles", Int, "3", ""),
                    p("fit_ints_separately", Bool, "False", ""),
                    p("user_supplied_reffile", Str, "None", ""),
                    p("save_intermediate_results", Bool, "False", ""),
                ],
                &["emicorr"],
            ),
            false,
            true,
        ),
        step(
            "saturation",
            "SaturationStep",
            &[
                p(
                    "n_pix_grow_sat",
                    Int,
                    "1",
                    "layers of adjacent pixels to flag",
                ),
                p(
                    "use_readpatt",
                    Bool,
                    "True",
                    "use grouped read pattern information to assist with flagging",
                ),
            ],
            &["saturation", "superbias"],
        ),
        step("ipc", "IPCStep", &[], &["ipc"]),
        step("superbias", "SuperBiasStep", &[], &["superbias"]),
        step(
            "refpix",
            "RefPixStep",
            &[
                p(
                    "odd_even_columns",
                    Bool,
                    "True",
                    "reference signal separately for even/odd columns",
                ),
                p(
                    "use_side_ref_pixels",
                    Bool,
                    "True",
                    "use side reference pixels for each row",
                ),
                p(
                    "side_smoothing_length",
                    Int,
                    "11",
                    "median window height for the side reference signal",
                ),
                p(
                    "side_gain",
                    Float,
                    "1.0",
                    "factor for the side reference signal",
                ),
                p(
                    "odd_even_rows",
                    Bool,
                    "True",
                    "separate even/odd rows (MIRI only)",
                ),
                p("ovr_corr_mitigation_ftr", Float, "3.0", "IRS2 only"),
                p("preserve_irs2_refpix", Bool, "False", "IRS2 only"),
                p("irs2_mean_subtraction", Bool, "False", "IRS2 only"),
                p(
                    "refpix_algorithm",
                    Kind::Choice(&["median", "sirs"]),
                    "median",
                    "NIR full-frame side pixel algorithm",
                ),
                p("sigreject", Float, "4.0", "SIRS only"),
                p("gaussmooth", Float, "1.0", "SIRS only"),
                p("halfwidth", Int, "30", "SIRS only"),
                p(
                    "siglimit",
                    Float,
                    "3.0",
                    "sigma clipping limit for outlier rejection",
                ),
            ],
            &["refpix", "sirskernel"],
        ),
        miri(step("rscd", "RscdStep", &[], &["rscd"])),
        miri(optional(
            step(
                "firstframe",
                "FirstFrameStep",
                &[p("bright_use_group1", Bool, "True", "")],
                &[],
            ),
            false,
            true,
        )),
        miri(step("lastframe", "LastFrameStep", &[], &[])),
        step("linearity", "LinearityStep", &[], &["linearity"]),
        step(
            "dark_current",
            "DarkCurrentStep",
            &[
                p(
                    "dark_output",
                    Str,
                    "None",
                    "dark model or averaged dark subtracted",
                ),
                p(
                    "average_dark_current",
                    Float,
                    "None",
                    "average dark current in e-/s",
                ),
            ],
            &["dark"],
        ),
        miri(step("reset", "ResetStep", &[], &["reset"])),
        optional(
            step(
                "persistence",
                "PersistenceStep",
                &[
                    p("save_persistence", Str, "None", ""),
                    p("persistence_time", Int, "None", ""),
                    p("dn_threshold", Float, "None", ""),
                    p("persistence_array_file", Str, "None", ""),
                    p("persistence_dnu", Bool, "False", ""),
                ],
                &["trapdensity", "trappars", "persat"],
            ),
            false,
            false,
        ),
        optional(
            step(
                "charge_migration",
                "ChargeMigrationStep",
                &[p("signal_threshold", Float, "25000", "")],
                &[],
            ),
            false,
            false,
        ),
        step(
            "jump",
            "JumpStep",
            &[
                p(
                    "rejection_threshold",
                    Float,
                    "4.0",
                    "CR sigma rejection threshold",
                ),
                p(
                    "three_group_rejection_threshold",
                    Float,
                    "6.0",
                    "CR sigma rejection threshold, 3 groups",
                ),
                p(
                    "four_group_rejection_threshold",
                    Float,
                    "5.0",
                    "CR sigma rejection threshold, 4 groups",
                ),
                p(
                    "maximum_cores",
                    CORES,
                    "1",
                    "cores (results are identical for any value)",
                ),
                p(
                    "flag_4_neighbors",
                    Bool,
                    "True",
                    "flag the four perpendicular neighbours of each CR",
                ),
                p(
                    "max_jump_to_flag_neighbors",
                    Float,
                    "1000",
                    "maximum jump sigma that triggers neighbour flagging",
                ),
                p(
                    "min_jump_to_flag_neighbors",
                    Float,
                    "10",
                    "minimum jump sigma that triggers neighbour flagging",
                ),
                p(
                    "after_jump_flag_dn1",
                    Float,
                    "0",
                    "1st flag groups after jump above DN threshold",
                ),
                p(
                    "after_jump_flag_time1",
                    Float,
                    "0",
                    "1st flag groups after jump groups within time",
                ),
                p(
                    "after_jump_flag_dn2",
                    Float,
                    "0",
                    "2nd flag groups after jump above DN threshold",
                ),
                p(
                    "after_jump_flag_time2",
                    Float,
                    "0",
                    "2nd flag groups after jump groups within time",
                ),
                p(
                    "expand_large_events",
                    Bool,
                    "False",
                    "snowball detector for NIR detectors",
                ),
                p(
                    "min_sat_area",
                    Float,
                    "1.0",
                    "minimum area of the saturated core of snowballs",
                ),
                p(
                    "min_jump_area",
                    Float,
                    "5.0",
                    "minimum area to trigger large-event processing",
                ),
                p(
                    "expand_factor",
                    Float,
                    "2.0",
                    "expansion factor for the enclosing ellipses",
                ),
                p("use_ellipses", Bool, "False", "deprecated"),
                p(
                    "sat_required_snowball",
                    Bool,
                    "True",
                    "require a saturated snowball centre",
                ),
                p(
                    "min_sat_radius_extend",
                    Float,
                    "2.5",
                    "min radius of the saturated core to extend it",
                ),
                p(
                    "sat_expand",
                    Int,
                    "2",
                    "pixels added to the radius of the saturated core",
                ),
                p(
                    "edge_size",
                    Int,
                    "25",
                    "edge distance where no saturated core is required",
                ),
                p(
                    "mask_snowball_core_next_int",
                    Bool,
                    "True",
                    "flag saturated cores in the next integration",
                ),
                p(
                    "snowball_time_masked_next_int",
                    Int,
                    "4000",
                    "seconds over which cores are flagged next integration",
                ),
                p("find_showers", Bool, "False", "MIRI shower flagging"),
                p("max_shower_amplitude", Float, "4", "MIRI showers"),
                p("extend_snr_threshold", Float, "1.2", "MIRI showers"),
                p("extend_min_area", Int, "90", "MIRI showers"),
                p("extend_inner_radius", Float, "1", "MIRI showers"),
                p("extend_outer_radius", Float, "2.6", "MIRI showers"),
                p("extend_ellipse_expand_ratio", Float, "1.1", "MIRI showers"),
                p("time_masked_after_shower", Float, "15", "MIRI showers"),
                p(
                    "min_diffs_single_pass",
                    Int,
                    "10",
                    "differences needed to skip iterative flagging",
                ),
                p(
                    "max_extended_radius",
                    Int,
                    "200",
                    "maximum radius of a snowball or shower",
                ),
                p(
                    "minimum_groups",
                    Int,
                    "3",
                    "minimum groups for jump detection",
                ),
                p(
                    "minimum_sigclip_groups",
                    Int,
                    "100",
                    "minimum groups to switch to sigma clipping",
                ),
                p(
                    "only_use_ints",
                    Bool,
                    "True",
                    "sigma clip across integrations only",
                ),
            ],
            &["gain", "readnoise"],
        ),
        optional(
            step(
                "picture_frame",
                "PictureFrameStep",
                &[
                    p("mask_science_regions", Bool, "True", ""),
                    p("n_sigma", Float, "2.0", ""),
                    p("save_mask", Bool, "False", ""),
                    p("save_correction", Bool, "False", ""),
                ],
                &["pictureframe"],
            ),
            false,
            false,
        ),
        optional(
            step(
                "clean_flicker_noise",
                "CleanFlickerNoiseStep",
                &[
                    p("autoparam", Bool, "False", ""),
                    p("fit_method", Kind::Choice(&["fft", "median"]), "median", ""),
                    p("fit_by_channel", Bool, "False", ""),
                    p("background_method", Str, "median", ""),
                    p("background_box_size", Str, "None", ""),
                    p("mask_science_regions", Bool, "False", ""),
                    p("apply_flat_field", Bool, "False", ""),
                    p("n_sigma", Float, "2.0", ""),
                    p("fit_histogram", Bool, "False", ""),
                    p("single_mask", Bool, "True", ""),
                    p("user_mask", Str, "None", ""),
                    p("save_mask", Bool, "False", ""),
                    p("save_background", Bool, "False", ""),
                    p("save_noise", Bool, "False", ""),
                ],
                &["flat", "pastasoss"],
            ),
            false,
            false,
        ),
        step(
            "ramp_fit",
            "RampFitStep",
            &[
                p(
                    "algorithm",
                    Kind::Choice(&["OLS_C", "LIKELY"]),
                    "OLS_C",
                    "ramp fitting algorithm",
                ),
                p("int_name", Str, "", ""),
                p("save_opt", Bool, "False", "save optional output"),
                p("opt_name", Str, "", ""),
                p(
                    "suppress_one_group",
                    Bool,
                    "True",
                    "suppress saturated ramps with good 0th group",
                ),
                p(
                    "firstgroup",
                    Int,
                    "None",
                    "ignore groups before this one (zero indexed)",
                ),
                p(
                    "lastgroup",
                    Int,
                    "None",
                    "ignore groups after this one (zero indexed)",
                ),
                p(
                    "maximum_cores",
                    CORES,
                    "1",
                    "cores (results are identical for any value)",
                ),
            ],
            &["readnoise", "gain"],
        ),
        step("gain_scale", "GainScaleStep", &[], &["gain"]),
    ],
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_parse() {
        for s in DETECTOR1.steps {
            for prm in s.params.iter().chain(COMMON_STEP_PARAMS) {
                assert!(
                    Value::parse(prm.kind, prm.default).is_ok(),
                    "{}.{}",
                    s.alias,
                    prm.name
                );
            }
        }
        let jump = DETECTOR1.step("jump").unwrap();
        assert_eq!(
            jump.param("max_jump_to_flag_neighbors")
                .unwrap()
                .default_value(),
            Value::Float(1000.0)
        );
        assert_eq!(DETECTOR1.steps.len(), 20);
        assert!(DETECTOR1.step("charge_migration").unwrap().skip_default);
    }
}
