//! Reference files in the CRDS layouts, loaded and cut to the science subarray (spec §2.1), with
//! the preparation each step applies before using them (spec §5–§10, §12.1–12.2, §13, §14).
//!
//! Every loader is `XxxRef::load(path, &ExposureMeta)`; it checks REFTYPE (when present) and the
//! array shapes, and accepts the older layouts seen in real CRDS files (DQ stored as uint8,
//! int32 or uint32; extra UNC extension; no ASDF, DQ_DEF or ERR). DQ values are decoded through
//! the file's DQ_DEF table as stdatamodels does on open. The 2-D references live in memory; the
//! dark is memory-mapped ([`dark`]). `XxxRef::load_rows` reads only a band of rows of the science
//! subarray (same checks), and `DarkRef::load_banded` leaves the dark's DQ and AVDRKCUR in the
//! file, so that a driver can prepare a full frame's references a band at a time.

pub(crate) mod cfits;
mod common;

pub mod area;
pub mod dark;
pub mod flat;
pub mod gain;
pub mod ipc;
pub mod linearity;
pub mod mask;
pub mod photom;
pub mod readnoise;
pub mod saturation;
pub mod superbias;

pub use area::AreaRef;
pub use common::Window;
pub use dark::{DarkRef, DarkStatus};
pub use flat::{FlatLoad, FlatPrep, FlatRef};
pub use gain::GainRef;
pub use ipc::{IpcKernel, IpcRef};
pub use linearity::{LinearityPrep, LinearityRef};
pub use mask::MaskRef;
pub use photom::{PhotomRef, PhotomRow, TimeExponential, TimeLinear, TimePowerlaw};
pub use readnoise::ReadnoiseRef;
pub use saturation::{SaturationPrep, SaturationRef, NO_SAT_THRESHOLD};
pub use superbias::SuperbiasRef;

#[cfg(test)]
mod tests {
    //! The band loaders (`load_rows`, `DarkRef::load_banded`) against the whole loads.
    use super::*;
    use crate::ExposureMeta;
    use ndarray::{s, Array2};
    use std::path::PathBuf;

    fn fixtures() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
    }

    fn tiny(name: &str) -> PathBuf {
        fixtures().join("oracle/tiny").join(name)
    }

    fn tiny_meta() -> ExposureMeta {
        ExposureMeta::read(tiny("jw01234001001_01101_00001_nrcalong_uncal.fits")).unwrap()
    }

    /// Row bands of 3 (the last one shorter) of an `ny`-row frame.
    fn bands(ny: usize) -> Vec<std::ops::Range<usize>> {
        (0..ny).step_by(3).map(|y| y..(y + 3).min(ny)).collect()
    }

    fn stacked<T: Clone>(parts: Vec<Array2<T>>) -> Array2<T> {
        let views: Vec<_> = parts.iter().map(|a| a.view()).collect();
        ndarray::concatenate(ndarray::Axis(0), &views).unwrap()
    }

    #[test]
    fn row_bands_equal_the_whole_reference() {
        let meta = tiny_meta();
        let ny = meta.subsize2;
        let b = bands(ny);
        let mask = MaskRef::load(&tiny("ref_mask.fits"), &meta).unwrap();
        let parts = b.iter().map(|r| {
            MaskRef::load_rows(&tiny("ref_mask.fits"), &meta, Some(r.clone()))
                .unwrap()
                .dq
        });
        assert_eq!(stacked(parts.collect()), mask.dq);
        let sat = SaturationRef::load(&tiny("ref_saturation.fits"), &meta).unwrap();
        let parts: Vec<_> = b
            .iter()
            .map(|r| {
                SaturationRef::load_rows(&tiny("ref_saturation.fits"), &meta, Some(r.clone()))
                    .unwrap()
            })
            .collect();
        let bits = |a: &Array2<f32>| a.mapv(f32::to_bits);
        assert_eq!(
            bits(&stacked(
                parts.iter().map(|p| p.threshold.clone()).collect()
            )),
            bits(&sat.threshold)
        );
        assert_eq!(
            stacked(parts.iter().map(|p| p.dq.clone()).collect()),
            sat.dq
        );
        let sb = SuperbiasRef::load(&tiny("ref_superbias.fits"), &meta).unwrap();
        let parts: Vec<_> = b
            .iter()
            .map(|r| {
                SuperbiasRef::load_rows(&tiny("ref_superbias.fits"), &meta, Some(r.clone()))
                    .unwrap()
                    .bias
            })
            .collect();
        assert_eq!(bits(&stacked(parts)), bits(&sb.bias));
        let gain = GainRef::load(&tiny("ref_gain.fits"), &meta).unwrap();
        let parts: Vec<_> = b
            .iter()
            .map(|r| {
                GainRef::load_rows(&tiny("ref_gain.fits"), &meta, Some(r.clone()))
                    .unwrap()
                    .gain
            })
            .collect();
        assert_eq!(bits(&stacked(parts)), bits(&gain.gain));
        let rn = ReadnoiseRef::load(&tiny("ref_readnoise.fits"), &meta).unwrap();
        let parts: Vec<_> = b
            .iter()
            .map(|r| {
                ReadnoiseRef::load_rows(&tiny("ref_readnoise.fits"), &meta, Some(r.clone()))
                    .unwrap()
                    .readnoise
            })
            .collect();
        assert_eq!(bits(&stacked(parts)), bits(&rn.readnoise));
        // Linearity cut from a larger reference (window offset), prepared band by band.
        let cut = ExposureMeta {
            substrt1: 5,
            substrt2: 3,
            ..meta.clone()
        };
        let big = fixtures().join("refs/ref_linearity_big.fits");
        let whole = LinearityRef::load(&big, &cut).unwrap().prepare(&cut);
        let mut coeffs = Vec::new();
        let mut dq = Vec::new();
        for r in &b {
            let p = LinearityRef::load_rows(&big, &cut, Some(r.clone()))
                .unwrap()
                .prepare(&cut);
            coeffs.extend(p.coeffs.iter().map(|v| v.to_bits()));
            dq.push(p.pixeldq);
        }
        let expect: Vec<u32> = whole.coeffs.iter().map(|v| v.to_bits()).collect();
        assert_eq!(coeffs, expect);
        assert_eq!(stacked(dq), whole.pixeldq);
        assert!(MaskRef::load_rows(&tiny("ref_mask.fits"), &meta, Some(0..ny + 1)).is_err());
    }

    #[test]
    fn banded_dark_reads_dq_and_average_dark_current_per_band() {
        let meta = tiny_meta();
        for path in [
            tiny("ref_dark.fits"),
            fixtures().join("refs/ref_dark_nan.fits"),
        ] {
            // (ref_dark_nan.fits has an AVDRKCUR image; the tiny dark only the scalar.)
            let m = meta.clone();
            let whole = DarkRef::load(&path, &m).unwrap();
            let banded = DarkRef::load_banded(&path, &m).unwrap();
            assert!(banded.dq.is_empty() && banded.avdrkcur_map.is_none());
            assert_eq!(
                whole.avdrkcur_map.is_some(),
                path.ends_with("ref_dark_nan.fits")
            );
            for r in bands(whole.ny) {
                let sl = s![r.clone(), ..];
                assert_eq!(banded.dq_rows(r.clone()).unwrap(), whole.dq.slice(sl));
                assert_eq!(whole.dq_rows(r.clone()).unwrap(), whole.dq.slice(sl));
                for p in [None, Some(0.25)] {
                    let all = whole.average_dark_current(p);
                    let got = banded.average_dark_current_rows(p, r.clone()).unwrap();
                    assert_eq!(got.mapv(f32::to_bits), all.slice(sl).mapv(f32::to_bits));
                }
            }
        }
    }
}
