//! Segmented exposures: the committed 3-segment fixture (fixtures/read/segments, one
//! integration per file) read as one logical exposure, compared with astropy's values
//! (fixtures/read/segments_expected.txt), plus the consistency checks between segments.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use frames::segments::{find_segments, FileName, LogicalExposure};

const PREFIX: &str = "jw01234001001_01101_00001";

fn seg_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/read/segments")
}
fn seg_path(n: u32) -> PathBuf {
    seg_dir().join(format!("{PREFIX}-seg{n:03}_nrcalong_uncal.fits"))
}

fn expected() -> HashMap<String, Vec<f64>> {
    let p =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/read/segments_expected.txt");
    std::fs::read_to_string(p)
        .unwrap()
        .lines()
        .filter_map(|l| l.split_once(" = "))
        .map(|(k, v)| {
            (
                k.to_string(),
                v.split_whitespace().map(|t| t.parse().unwrap()).collect(),
            )
        })
        .collect()
}

#[test]
fn finds_all_segments_in_order() {
    let found = find_segments(&seg_path(2)).unwrap();
    assert_eq!(found, vec![seg_path(1), seg_path(2), seg_path(3)]);
    let name = FileName::from_path(&seg_path(3)).unwrap();
    assert_eq!(name.segment, Some(3));
    assert_eq!(
        name.with_suffix("rateints").to_string(),
        format!("{PREFIX}-seg003_nrcalong_rateints.fits")
    );
}

#[test]
fn all_segments_as_one_exposure_match_astropy() {
    let e = expected();
    let exp = LogicalExposure::open_all(seg_path(2)).unwrap();
    assert_eq!(exp.segments().len(), 3);
    assert_eq!(exp.nints(), 3);
    assert_eq!(exp.int_range(), 0..3);
    assert_eq!((exp.ngroups(), exp.ny(), exp.nx()), (2, 8, 8));
    for (k, seg) in exp.segments().iter().enumerate() {
        let m = seg.meta();
        let keys = &e[&format!("seg.{}.keys", k + 1)];
        let got = [
            m.nints,
            m.int_start,
            m.int_end,
            m.exseg_num.unwrap(),
            m.exseg_tot.unwrap(),
        ];
        assert_eq!(got.map(|v| v as f64).to_vec(), *keys);
        assert!(m.is_segment());
    }
    let mut frame = vec![0u16; 64];
    let mut framef = vec![0f32; 64];
    for int in 0..3 {
        assert_eq!(exp.locate(int).unwrap(), (int, 0));
        let sums = &e[&format!("seg.int.{int}.group_sums")];
        let pix = &e[&format!("seg.int.{int}.pixel_3_5")];
        for g in 0..2 {
            exp.read_band_u16(int, g, 0, 8, &mut frame).unwrap();
            assert_eq!(
                frame.iter().map(|&v| v as f64).sum::<f64>(),
                sums[g],
                "int {int} group {g}"
            );
            exp.read_band_f32(int, g, 3, 4, &mut framef[..8]).unwrap();
            assert_eq!(framef[5] as f64, pix[g]);
        }
    }
    let times = exp.int_times().unwrap();
    assert_eq!(times.rows.len(), 3);
    for r in &times.rows {
        let want = e[&format!("seg.int_times.{}", r.integration_number)][0];
        assert_eq!(r.int_mid_mjd_utc.to_bits(), want.to_bits());
    }
    let err = exp.locate(3).unwrap_err().to_string();
    assert!(
        err.contains("integration index 3 (number 4) is not in the opened file(s)"),
        "{err}"
    );
    exp.check_unchanged().unwrap();
}

#[test]
fn one_segment_alone_keeps_its_global_numbering() {
    let e = expected();
    let exp = LogicalExposure::open(seg_path(2)).unwrap();
    assert_eq!(exp.int_range(), 1..2);
    assert_eq!(exp.locate(1).unwrap(), (0, 0));
    assert!(exp.locate(0).is_err() && exp.locate(2).is_err());
    let (seg, local) = exp.segment_of(1).unwrap();
    assert_eq!((seg.path(), local), (seg_path(2).as_path(), 0));
    let mut frame = vec![0u16; 64];
    exp.read_band_u16(1, 1, 0, 8, &mut frame).unwrap();
    assert_eq!(
        frame.iter().map(|&v| v as f64).sum::<f64>(),
        e["seg.int.1.group_sums"][1]
    );
}

/// Copies some segments into a temp dir, optionally editing one header card.
fn copy_segments(dir: &Path, which: &[u32], edit: Option<(u32, &str, &str)>) -> Vec<PathBuf> {
    which
        .iter()
        .map(|&n| {
            let mut bytes = std::fs::read(seg_path(n)).unwrap();
            if let Some((seg, prefix, card)) = edit {
                if seg == n || seg == 0 {
                    let at = (0..bytes.len())
                        .step_by(80)
                        .find(|&o| bytes[o..].starts_with(prefix.as_bytes()))
                        .unwrap();
                    bytes[at..at + 80].copy_from_slice(format!("{card:<80}").as_bytes());
                }
            }
            let p = dir.join(seg_path(n).file_name().unwrap());
            std::fs::write(&p, bytes).unwrap();
            p
        })
        .collect()
}

#[test]
fn a_missing_segment_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let files = copy_segments(dir.path(), &[1, 3], None);
    let err = LogicalExposure::open_all(&files[0])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("-seg003_nrcalong_uncal.fits") && err.contains("contiguous"),
        "{err}"
    );
    let dir = tempfile::tempdir().unwrap();
    let files = copy_segments(dir.path(), &[1, 2], None);
    let err = LogicalExposure::open_all(&files[0])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("hold integrations 1..=2 but NINTS = 3"),
        "{err}"
    );
}

#[test]
fn segments_of_different_exposures_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let files = copy_segments(
        dir.path(),
        &[1, 2, 3],
        Some((2, "READPATT=", "READPATT= 'BRIGHT1 '")),
    );
    let err = LogicalExposure::open_all(&files[0])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("-seg002_nrcalong_uncal.fits") && err.contains("READPATT = BRIGHT1 differs"),
        "{err}"
    );
}

#[test]
fn exsegtot_must_match_the_files_found() {
    let dir = tempfile::tempdir().unwrap();
    let files = copy_segments(
        dir.path(),
        &[1, 2, 3],
        Some((0, "EXSEGTOT=", "EXSEGTOT=                    4")),
    );
    let err = LogicalExposure::open_all(&files[0])
        .unwrap_err()
        .to_string();
    assert!(err.contains("EXSEGTOT = 4 but 3 segment files"), "{err}");
}
