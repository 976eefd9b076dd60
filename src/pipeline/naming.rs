//! Output file names by the official rules (stpipe `Step._make_output_path` with jwst's
//! `remove_suffix`), so that sloper's products land exactly where the official pipeline puts them.
//!
//! The rule, for a product with suffix `S` made from a "base path" `B` (the `--output_file` if
//! given, else the input file):
//! 1. only the file name of `B` is used (its folder is dropped), without its extension;
//! 2. a known calibration suffix at the end of that name (`_uncal`, `_rate`, `_jump`, … the
//!    159 names of `jwst.lib.suffix.KNOW_SUFFIXES`, after `_` or `-`) is removed, keeping its
//!    separator; an unknown one stays;
//! 3. components (the association id for `crfints`) are appended with `_`, then `sep + S`, then
//!    `.` + the extension (`output_ext`, default `fits`);
//! 4. the result goes in `output_dir` (default: the current directory).
//!
//! So `--output_file=run7.fits` gives `run7_rate.fits` and `run7_rateints.fits` (not
//! `run7.fits`), exactly as strun does. The only deliberate deviation: `X_uncal.fits.gz` is
//! treated as `X_uncal.fits` (Python's `splitext` would keep `.fits` and give
//! `X_uncal.fits_rate.fits`).
//!
//! API for the pipelines: [`OutputNaming`] (from a parsed command line) for the pipeline's own
//! products and per-step `save_results`/`output_file`; [`level2_product_path`],
//! [`level3_product_path`] and [`crfints_path`] for association-driven stage 2/3 outputs (see
//! `config::association`).

use crate::config::{RunConfig, Value};
use std::path::{Path, PathBuf};

/// `jwst.lib.suffix.KNOW_SUFFIXES` of jwst 3.0.0 (sorted; the suffixes `remove_suffix` strips).
pub const KNOWN_SUFFIXES: &[&str] = &[
    "adaptive_trace_model",
    "adaptivetracemodelstep",
    "align_refs",
    "alignrefsstep",
    "ami",
    "ami-oi",
    "ami3pipeline",
    "ami_analyze",
    "ami_normalize",
    "amianalyzestep",
    "aminorm",
    "aminorm-oi",
    "aminormalizestep",
    "assign_mtwcs",
    "assign_wcs",
    "assignmtwcsstep",
    "assignwcsstep",
    "backgroundstep",
    "badpixselfcalstep",
    "barshadowstep",
    "bkg_subtract",
    "blot",
    "bsub",
    "bsubints",
    "c1d",
    "cal",
    "calints",
    "cat",
    "chargemigrationstep",
    "clean_flicker_noise",
    "cleanflickernoisestep",
    "combine1dstep",
    "combine_1d",
    "coron3pipeline",
    "crf",
    "crfints",
    "cube_build",
    "cubebuildstep",
    "dark",
    "dark_current",
    "darkcurrentstep",
    "darkpipeline",
    "detector1pipeline",
    "dq_init",
    "dqinitstep",
    "emicorr",
    "emicorrstep",
    "engdblog",
    "extract1dstep",
    "extract2dstep",
    "extract_1d",
    "extract_2d",
    "firstframe",
    "firstframestep",
    "flat_field",
    "flatfieldstep",
    "fringe",
    "fringestep",
    "gain_scale",
    "gainscalestep",
    "group_scale",
    "groupscalestep",
    "guider_cds",
    "guidercdsstep",
    "guiderpipeline",
    "hlsp",
    "hlspstep",
    "i2d",
    "image2pipeline",
    "image3pipeline",
    "imprint",
    "imprintstep",
    "ipc",
    "ipcstep",
    "jump",
    "jumpstep",
    "klip",
    "klipstep",
    "lastframe",
    "lastframestep",
    "linearity",
    "linearitystep",
    "master_background",
    "masterbackgroundmosstep",
    "masterbackgroundstep",
    "mbsub",
    "median",
    "msaflagopenstep",
    "outlier_detection",
    "outlierdetectionstep",
    "pathloss",
    "pathlossstep",
    "persistence",
    "persistencestep",
    "phot",
    "photom",
    "photomstep",
    "picture_frame",
    "pictureframestep",
    "pixelreplacestep",
    "psfalign",
    "psfstack",
    "psfsub",
    "ramp",
    "ramp_fit",
    "rampfitstep",
    "rate",
    "rateints",
    "refpix",
    "refpixstep",
    "resample",
    "resample_spec",
    "resamplespecstep",
    "resamplestep",
    "reset",
    "resetstep",
    "residual_fringe",
    "residualfringestep",
    "rscd",
    "rscdstep",
    "s2d",
    "s3d",
    "saturation",
    "saturationstep",
    "skymatch",
    "skymatchstep",
    "snr",
    "source_catalog",
    "sourcecatalogstep",
    "sourcetypestep",
    "spec2nrslamp",
    "spec2pipeline",
    "spec3pipeline",
    "spectral_leak",
    "spectralleakstep",
    "srctype",
    "stackrefs",
    "stackrefsstep",
    "straylight",
    "straylightstep",
    "superbias",
    "superbiasstep",
    "targ_centroid",
    "targcentroidstep",
    "tso3pipeline",
    "tsophotometrystep",
    "tweakreg",
    "tweakregstep",
    "uncal",
    "wavecorrstep",
    "wfscmb",
    "wfscombine",
    "wfscombinestep",
    "wfsscontamstep",
    "white_light",
    "whitelightstep",
    "whtlt",
    "x1d",
    "x1dints",
];

fn is_known_suffix(s: &str) -> bool {
    KNOWN_SUFFIXES.binary_search(&s).is_ok()
}

/// Split a known suffix off `name` (a file name without extension): `(root, separator)`.
/// Follows the regex `^(?P<root>.+?)((?P<separator>_|-)(KNOWN))?$`: the shortest root whose
/// remainder is exactly one separator and one known suffix; the separator defaults to `_`.
pub fn remove_suffix(name: &str) -> (&str, &str) {
    for (i, c) in name.char_indices().skip(1) {
        if c == '_' || c == '-' {
            let rest = &name[i + 1..];
            if is_known_suffix(rest) {
                return (&name[..i], &name[i..i + 1]);
            }
        }
    }
    (name, "_")
}

/// `replace_suffix("x_rate", "cal")` = `"x_cal"`; an unknown suffix is kept: `"x_mine_cal"`.
pub fn replace_suffix(name: &str, new_suffix: &str) -> String {
    let (root, sep) = remove_suffix(name);
    format!("{root}{sep}{new_suffix}")
}

/// The file name of `basepath` without folder and extension (`.fits.gz` counts as one).
fn stem_of(basepath: &str) -> (&str, &str) {
    let file = basepath.rsplit('/').next().unwrap_or(basepath);
    if let Some(stem) = file.strip_suffix(".fits.gz") {
        return (stem, "fits");
    }
    match file.rfind('.') {
        // Python's splitext: a leading dot does not start an extension.
        Some(i) if file[..i].bytes().any(|b| b != b'.') => (&file[..i], &file[i + 1..]),
        _ => (file, ""),
    }
}

/// stpipe's `_make_output_path`: `output_dir / <base><_components><sep><suffix>.<ext>`.
/// `suffix = None` means no suffix at all (stpipe's `suffix=False`): `<base><_components>.<ext>`
/// with `base` kept whole. `ext` without or with the leading dot.
pub fn make_output_path(
    output_dir: &Path,
    basepath: &str,
    suffix: Option<&str>,
    components: &[Option<&str>],
    ext: &str,
) -> PathBuf {
    let (stem, _) = stem_of(basepath);
    let ext = ext.strip_prefix('.').unwrap_or(ext);
    let components: String = components
        .iter()
        .flatten()
        .map(|c| format!("_{c}"))
        .collect();
    let name = match suffix {
        Some(s) => {
            let (root, sep) = remove_suffix(stem);
            format!("{root}{components}{sep}{s}.{ext}")
        }
        None => format!("{stem}{components}.{ext}"),
    };
    output_dir.join(name)
}

/// The file stem without its known suffix: `jw…_nrcalong_uncal.fits` → `jw…_nrcalong`.
pub fn base_name(input: &Path) -> String {
    let name = input.to_string_lossy();
    let (stem, _) = stem_of(&name);
    remove_suffix(stem).0.to_string()
}

/// `DIR/<base>_<suffix>.fits` for an input file (the pipeline default naming).
pub fn product_path(dir: &Path, input: &Path, suffix: &str) -> PathBuf {
    make_output_path(dir, &input.to_string_lossy(), Some(suffix), &[], "fits")
}

/// A Level 2 product (image2 `_cal`/`_calints`): named after `--output_file` if given, else the
/// association product's name (for a single FITS input, the input file name).
pub fn level2_product_path(output_dir: &Path, product_base: &str, suffix: &str) -> PathBuf {
    make_output_path(output_dir, product_base, Some(suffix), &[], "fits")
}

/// A Level 3 product (tso3 `_phot.ecsv`, `_whtlt.ecsv`, `_x1dints.fits`) named after the first
/// association product (or `--output_file`).
pub fn level3_product_path(
    output_dir: &Path,
    product_base: &str,
    suffix: &str,
    ext: &str,
) -> PathBuf {
    make_output_path(output_dir, product_base, Some(suffix), &[], ext)
}

/// tso3's per-member `crfints`: the member's file name, less a `_<asn_id>` already in it, with the
/// association id as a component: `<member base>_<asn_id>_crfints.fits`.
pub fn crfints_path(output_dir: &Path, member: &Path, asn_id: Option<&str>) -> PathBuf {
    let mut file = member
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if let Some(id) = asn_id {
        file = file.replace(&format!("_{id}"), "");
    }
    make_output_path(output_dir, &file, Some("crfints"), &[asn_id], "fits")
}

/// Where a pipeline's outputs go, from its parsed parameters: `output_dir`, `output_file`,
/// `output_ext` at pipeline level, and each step's own `save_results`/`output_file`/`suffix`/
/// `output_dir` (a step inherits the pipeline's `output_dir` and, with `search_output_file`,
/// its `output_file`).
#[derive(Debug, Clone)]
pub struct OutputNaming {
    pub output_dir: PathBuf,
    /// The output_file if given, else the input path.
    pub basepath: String,
    pub ext: String,
    /// `output_file` as given (None when naming follows the input).
    pub output_file: Option<String>,
}

fn text(v: Value) -> Option<String> {
    match v {
        Value::Str(s) if !s.is_empty() => Some(s),
        _ => None,
    }
}

impl OutputNaming {
    pub fn from_config(cfg: &RunConfig) -> OutputNaming {
        let output_file = text(cfg.pipeline_param("output_file"));
        OutputNaming {
            output_dir: text(cfg.pipeline_param("output_dir"))
                .map(PathBuf::from)
                .unwrap_or_default(),
            basepath: output_file
                .clone()
                .unwrap_or_else(|| cfg.input.to_string_lossy().into_owned()),
            ext: text(cfg.pipeline_param("output_ext")).unwrap_or_else(|| ".fits".into()),
            output_file,
        }
    }

    /// The pipeline product with `suffix` (`rate`, `rateints`, `ramp`, `cal`, …).
    pub fn product(&self, suffix: &str) -> PathBuf {
        make_output_path(
            &self.output_dir,
            &self.basepath,
            Some(suffix),
            &[],
            &self.ext,
        )
    }

    /// Where step `step` saves its own result when asked (`--steps.<step>.save_results=true` or
    /// `--steps.<step>.output_file=NAME`), with `default_suffix` used when the step has no
    /// `suffix` parameter (stpipe's default is the step name). `None` when the step is not to be
    /// saved. See [`StepTarget`] for results saved with components or a pipeline-forced suffix.
    pub fn step_output(
        &self,
        cfg: &RunConfig,
        step: &str,
        default_suffix: &str,
    ) -> Option<PathBuf> {
        self.step_target(cfg, step, default_suffix)
            .map(|t| t.path(&[]))
    }

    /// The naming inputs of a step's own saved result (stpipe `Step.save_model` →
    /// `_make_output_path`), or `None` when the step is not to be saved:
    /// * saved when `save_results` is true or `output_file` is given (stpipe sets
    ///   `save_results` from `output_file`);
    /// * base path: the step's `output_file`, else (with `search_output_file`, the default) the
    ///   pipeline's `output_file`, else the input file;
    /// * folder: the step's `output_dir`, else the pipeline's;
    /// * suffix: the step's `suffix`, else `default_suffix`; extension: the step's
    ///   `output_ext`, else the pipeline's.
    pub fn step_target(
        &self,
        cfg: &RunConfig,
        step: &str,
        default_suffix: &str,
    ) -> Option<StepTarget> {
        let own_file = text(cfg.step_param(step, "output_file"));
        let save = cfg
            .step_param(step, "save_results")
            .as_bool()
            .unwrap_or(false);
        if !save && own_file.is_none() {
            return None;
        }
        let search_parent = cfg
            .step_param(step, "search_output_file")
            .as_bool()
            .unwrap_or(true);
        let basepath = match own_file {
            Some(f) => f,
            None if search_parent => self.basepath.clone(),
            None => cfg.input.to_string_lossy().into_owned(),
        };
        let dir = text(cfg.step_param(step, "output_dir"))
            .map(PathBuf::from)
            .unwrap_or_else(|| self.output_dir.clone());
        let suffix =
            text(cfg.step_param(step, "suffix")).unwrap_or_else(|| default_suffix.to_string());
        let ext = text(cfg.step_param(step, "output_ext")).unwrap_or_else(|| self.ext.clone());
        Some(StepTarget {
            dir,
            basepath,
            suffix,
            ext,
        })
    }
}

/// Where a step's own result goes, before components are known (see
/// [`OutputNaming::step_target`]). A pipeline may force some of it, as calwebb_detector1 does:
/// it sets `gain_scale`'s suffix (`gain_scale`, then `gain_scaleints`) and gives `dark_current`
/// and `ramp_fit` the pipeline's `output_dir`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepTarget {
    pub dir: PathBuf,
    pub basepath: String,
    pub suffix: String,
    pub ext: String,
}

impl StepTarget {
    /// The file for this result; `components` are stpipe's (e.g. the index of each model of a
    /// step that returns several: ramp_fit's `X_0_ramp_fit.fits`, `X_1_ramp_fit.fits`).
    pub fn path(&self, components: &[Option<&str>]) -> PathBuf {
        make_output_path(
            &self.dir,
            &self.basepath,
            Some(&self.suffix),
            components,
            &self.ext,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffix_list_is_sorted_for_binary_search() {
        assert!(KNOWN_SUFFIXES.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(KNOWN_SUFFIXES.len(), 159);
    }

    #[test]
    fn suffix_rules() {
        let cases = [
            ("jw01_nrcalong_uncal.fits", "jw01_nrcalong"),
            (
                "/a/b/jw01-seg002_nrcalong_uncal.fits",
                "jw01-seg002_nrcalong",
            ),
            ("x_rateints.fits", "x"),
            ("x_ramp.fits.gz", "x"),
            ("x_mine.fits", "x_mine"),
            ("plain.fits", "plain"),
            ("x_gain_scale.fits", "x"),
            ("x-rate.fits", "x"),
        ];
        for (input, base) in cases {
            assert_eq!(base_name(Path::new(input)), base, "{input}");
        }
        assert_eq!(
            product_path(Path::new("out"), Path::new("d/x_uncal.fits"), "rate"),
            PathBuf::from("out/x_rate.fits")
        );
        assert_eq!(replace_suffix("x-rate", "cal"), "x-cal");
        assert_eq!(replace_suffix("x_trapsfilled", "cal"), "x_trapsfilled_cal");
    }
}
