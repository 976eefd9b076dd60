//! Output file names in the official style: the input's known suffix (`_uncal`, `_rate`, …)
//! is replaced by the product's suffix; an unknown suffix is kept and the new one appended.

use std::path::{Path, PathBuf};

/// Suffixes the official pipeline strips before adding its own (the Stage 1–3 subset of
/// `jwst.lib.suffix.KNOW_SUFFIXES` that sloper reads or writes).
pub const KNOWN_SUFFIXES: &[&str] = &[
    "uncal",
    "ramp",
    "rate",
    "rateints",
    "trapsfilled",
    "dark",
    "fitopt",
    "cal",
    "calints",
    "crfints",
    "crf",
    "phot",
    "whtlt",
    "x1dints",
    "i2d",
    "s2d",
    "x1d",
    "bsub",
    "bsubints",
    "assign_wcs",
    "flat_field",
    "photom",
    "outlier_detection",
    "tso_photometry",
    "groupscale",
    "dqinit",
    "saturation",
    "superbias",
    "refpix",
    "linearity",
    "dark_current",
    "jump",
    "rampfit",
    "gain_scale",
];

/// The file stem without its known suffix: `jw…_nrcalong_uncal.fits` → `jw…_nrcalong`.
pub fn base_name(input: &Path) -> String {
    let name = input
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = name
        .strip_suffix(".fits.gz")
        .or_else(|| name.strip_suffix(".fits"))
        .unwrap_or(&name)
        .to_string();
    if let Some((head, tail)) = stem.rsplit_once('_') {
        if KNOWN_SUFFIXES.contains(&tail) {
            return head.to_string();
        }
    }
    stem
}

/// `DIR/<base>_<suffix>.fits`.
pub fn product_path(dir: &Path, input: &Path, suffix: &str) -> PathBuf {
    dir.join(format!("{}_{suffix}.fits", base_name(input)))
}

#[cfg(test)]
mod tests {
    use super::*;

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
        ];
        for (input, base) in cases {
            assert_eq!(base_name(Path::new(input)), base, "{input}");
        }
        assert_eq!(
            product_path(Path::new("out"), Path::new("d/x_uncal.fits"), "rate"),
            PathBuf::from("out/x_rate.fits")
        );
    }
}
