//! The official `calwebb_image2` and `calwebb_tso3` steps and parameters (names, types and
//! defaults as the jwst 3.0.0 step specs declare them), for `sloper image2|tso3|run`.
//!
//! Steps sloper does not implement are listed so their official options parse, but they can
//! only be skipped (assign_wcs is accepted and has no effect on the arrays: sloper computes the
//! photometry sky positions from the SIAF keywords instead, see `consumers::wcs`).
//! The `white_light` step carries sloper's own box-extraction options (marked "sloper"), because
//! sloper's white light is a quick-look box extraction, not the official extract_1d +
//! white_light chain.

use crate::config::registry::{p, ParamSpec, PipelineSpec, StepSpec};
use crate::config::strun_args::ExtraOption;
use crate::config::Kind::{Bool, Float, Int, Str};

const fn step(
    alias: &'static str,
    class_name: &'static str,
    params: &'static [ParamSpec],
    reference_types: &'static [&'static str],
    implemented: bool,
) -> StepSpec {
    StepSpec {
        alias,
        class_name,
        params,
        reference_types,
        skip_default: false,
        implemented,
        miri_only: false,
    }
}

const ASSIGN_WCS_REFS: &[&str] = &[
    "distortion",
    "filteroffset",
    "specwcs",
    "regions",
    "wavelengthrange",
    "camera",
    "chromcorr",
    "collimator",
    "disperser",
    "fore",
    "fpa",
    "msa",
    "ote",
    "ifupost",
    "ifufore",
    "ifuslicer",
];

/// `calwebb_image2` (Image2Pipeline), jwst 3.0.0.
pub const IMAGE2: PipelineSpec = PipelineSpec {
    alias: "calwebb_image2",
    class_name: "Image2Pipeline",
    params: &[p(
        "save_bsub",
        Bool,
        "False",
        "deprecated; use the background step's save_results",
    )],
    steps: &[
        step(
            "bkg_subtract",
            "BackgroundStep",
            &[
                p("save_combined_background", Bool, "False", ""),
                p("sigma", Float, "3.0", ""),
                p("maxiters", Int, "None", ""),
                p("wfss_mmag_extract", Float, "None", ""),
                p("wfss_maxiter", Int, "5", ""),
                p("wfss_rms_stop", Float, "0", ""),
                p("wfss_outlier_percent", Float, "1", ""),
            ],
            &["bkg", "wavelengthrange", "wfssbkg"],
            false,
        ),
        step(
            "assign_wcs",
            "AssignWcsStep",
            &[
                p(
                    "sip_approx",
                    Bool,
                    "True",
                    "SIP approximation for imaging modes",
                ),
                p("sip_max_pix_error", Float, "0.01", ""),
                p("sip_degree", Int, "None", ""),
                p("sip_max_inv_pix_error", Float, "0.01", ""),
                p("sip_inv_degree", Int, "None", ""),
                p("sip_npoints", Int, "12", ""),
                p("slit_y_low", Float, "-0.55", "NIRSpec only"),
                p("slit_y_high", Float, "0.55", "NIRSpec only"),
                p("nrs_ifu_slice_wcs", Bool, "False", "NIRSpec IFU only"),
            ],
            ASSIGN_WCS_REFS,
            false,
        ),
        step(
            "flat_field",
            "FlatFieldStep",
            &[
                p(
                    "save_interpolated_flat",
                    Bool,
                    "False",
                    "save interpolated NIRSpec flat",
                ),
                p("user_supplied_flat", Str, "None", "user-supplied flat"),
                p("inverse", Bool, "False", "invert the operation"),
            ],
            &["flat", "fflat", "sflat", "dflat"],
            true,
        ),
        step(
            "photom",
            "PhotomStep",
            &[
                p("inverse", Bool, "False", "invert the operation"),
                p(
                    "source_type",
                    Str,
                    "None",
                    "process as specified source type",
                ),
                p(
                    "apply_time_correction",
                    Bool,
                    "True",
                    "apply time dependent corrections if available",
                ),
            ],
            &["photom", "area"],
            true,
        ),
        step(
            "resample",
            "ResampleStep",
            &[
                p("pixfrac", Float, "1.0", ""),
                p("kernel", Str, "square", ""),
                p("fillval", Str, "NAN", ""),
                p("weight_type", Str, "ivm", ""),
                p("output_shape", Str, "None", ""),
                p("crpix", Str, "None", ""),
                p("crval", Str, "None", ""),
                p("rotation", Float, "None", ""),
                p("pixel_scale_ratio", Float, "1.0", ""),
                p("pixel_scale", Float, "None", ""),
                p("output_wcs", Str, "", ""),
                p("single", Bool, "False", ""),
                p("blendheaders", Bool, "True", ""),
                p("in_memory", Bool, "True", ""),
            ],
            &["drizpars"],
            false,
        ),
    ],
};

/// `calwebb_tso3` (Tso3Pipeline), jwst 3.0.0, for imaging TSOs (+ sloper's white light).
pub const TSO3: PipelineSpec = PipelineSpec {
    alias: "calwebb_tso3",
    class_name: "Tso3Pipeline",
    params: &[],
    steps: &[
        step(
            "outlier_detection",
            "OutlierDetectionStep",
            &[
                p("weight_type", Str, "ivm", "not used in TSO mode"),
                p("pixfrac", Float, "1.0", "not used in TSO mode"),
                p("kernel", Str, "square", "not used in TSO mode"),
                p("fillval", Str, "NAN", "not used in TSO mode"),
                p(
                    "maskpt",
                    Float,
                    "0.7",
                    "fraction of the mean weight below which pixels are masked",
                ),
                p(
                    "snr",
                    Str,
                    "5.0 4.0",
                    "signal-to-noise thresholds (TSO uses the first)",
                ),
                p("scale", Str, "1.2 0.7", "not used in TSO mode"),
                p("backg", Float, "0.0", "not used in TSO mode"),
                p("kernel_size", Str, "7 7", "not used in TSO mode"),
                p("threshold_percent", Float, "99.8", "not used in TSO mode"),
                p(
                    "rolling_window_width",
                    Int,
                    "25",
                    "integrations in the rolling median (<= 1 or >= nints: one median)",
                ),
                p("ifu_second_check", Bool, "False", "not used in TSO mode"),
                p(
                    "save_intermediate_results",
                    Bool,
                    "False",
                    "not supported by sloper",
                ),
                p("resample_data", Bool, "True", "not used in TSO mode"),
                p("good_bits", Str, "~DO_NOT_USE", "DQ flags to allow"),
                p("in_memory", Bool, "True", "ignored"),
                p("pixmap_stepsize", Float, "1.0", "not used in TSO mode"),
                p("pixmap_order", Int, "1", "not used in TSO mode"),
            ],
            &[],
            true,
        ),
        step(
            "tso_photometry",
            "TSOPhotometryStep",
            &[
                p(
                    "save_catalog",
                    Bool,
                    "False",
                    "save the exposure-level catalog",
                ),
                p("radius", Float, "3.0", "aperture radius in pixels"),
                p(
                    "radius_inner",
                    Float,
                    "4.0",
                    "background annulus inner radius in pixels",
                ),
                p(
                    "radius_outer",
                    Float,
                    "5.0",
                    "background annulus outer radius in pixels",
                ),
                p(
                    "centroid_source",
                    Bool,
                    "True",
                    "centroid the source before photometry",
                ),
                p(
                    "search_box_width",
                    Int,
                    "41",
                    "box width for the initial source search (odd)",
                ),
                p(
                    "fit_box_width",
                    Int,
                    "11",
                    "box width for the centroid fit (odd)",
                ),
                p(
                    "moving_centroid",
                    Bool,
                    "False",
                    "use the centroid of each integration",
                ),
            ],
            &["gain"],
            true,
        ),
        step(
            "adaptive_trace_model",
            "AdaptiveTraceModelStep",
            &[],
            &[],
            false,
        ),
        step("pixel_replace", "PixelReplaceStep", &[], &[], false),
        step(
            "extract_1d",
            "Extract1dStep",
            &[],
            &[
                "extract1d",
                "apcorr",
                "pastasoss",
                "specprofile",
                "speckernel",
                "psf",
            ],
            false,
        ),
        step("photom", "PhotomStep", &[], &["photom", "area"], false),
        step(
            "white_light",
            "WhiteLightStep",
            &[
                p(
                    "min_wavelength",
                    Float,
                    "None",
                    "not used by sloper's box extraction",
                ),
                p(
                    "max_wavelength",
                    Float,
                    "None",
                    "not used by sloper's box extraction",
                ),
                p("output_ext", Str, ".ecsv", "output file type"),
                p(
                    "box_ycenter",
                    Float,
                    "None",
                    "sloper: 0-based trace row (None: brightest row of the first integration)",
                ),
                p(
                    "box_half_height",
                    Int,
                    "4",
                    "sloper: rows summed on each side of the trace row",
                ),
                p(
                    "bkg_gap",
                    Int,
                    "4",
                    "sloper: rows between the box and the background rows",
                ),
                p(
                    "bkg_height",
                    Int,
                    "4",
                    "sloper: background rows on each side (0: no background)",
                ),
            ],
            &["wavelengthrange"],
            true,
        ),
    ],
};

/// sloper options of `image2`, `tso3` and `run` next to the strun parameters.
pub const EXTRA_OPTIONS: &[ExtraOption] = &[
    ExtraOption {
        name: "refs",
        takes_value: true,
    },
    ExtraOption {
        name: "quiet",
        takes_value: false,
    },
    ExtraOption {
        name: "no-plot",
        takes_value: false,
    },
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{parse_strun_args, Value};

    #[test]
    fn official_syntax_parses() {
        let args: Vec<String> =
            "x_rateints.fits --output_dir=o --steps.flat_field.override_flat=f.fits \
             --steps.photom.override_area=N/A --steps.assign_wcs.skip=true --refs r"
                .split_whitespace()
                .map(String::from)
                .collect();
        let c = parse_strun_args(IMAGE2, &args, EXTRA_OPTIONS).unwrap();
        assert_eq!(
            c.override_ref("flat_field", "flat").as_deref(),
            Some("f.fits")
        );
        assert_eq!(c.override_ref("photom", "area").as_deref(), Some("N/A"));
        assert_eq!(
            c.step_param("photom", "apply_time_correction"),
            Value::Bool(true)
        );
        let args: Vec<String> = "x_calints.fits --steps.outlier_detection.rolling_window_width=0 \
             --steps.tso_photometry.override_gain=g.fits"
            .split_whitespace()
            .map(String::from)
            .collect();
        let c = parse_strun_args(TSO3, &args, EXTRA_OPTIONS).unwrap();
        assert_eq!(
            c.step_param("outlier_detection", "rolling_window_width"),
            Value::Int(0)
        );
        assert_eq!(
            c.step_param("outlier_detection", "snr"),
            Value::Str("5.0 4.0".into())
        );
        assert_eq!(c.step_param("tso_photometry", "radius"), Value::Float(3.0));
    }
}
