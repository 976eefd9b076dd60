//! Golden tests of the jump kernel against the official jwst 3.0.0 JumpStep (stcal 1.20.0).
//!
//! Each `fixtures/jump/<case>.fits` holds a small exposure (inputs), the step parameters and the
//! official output GROUPDQ / PIXELDQ / PRIMECRS (see fixtures/jump/make_golden.py). The whole
//! step is run through the band driver with several band heights; results must be identical.

use std::path::{Path, PathBuf};

use fitsio::hdu::HduInfo;
use fitsio::FitsFile;
use sloper::steps::jump::params::JumpParams;
use sloper::steps::jump::setup::{
    count_per_integration, extended_emission_events, primary_cosmic_rays, JumpMode,
};
use sloper::steps::jump::{detect_jumps_exposure, CubeShape};

struct Case {
    name: String,
    shape: CubeShape,
    nframes: u32,
    tgroup: f64,
    params: JumpParams,
    sci: Vec<f32>,
    gdq_in: Vec<u8>,
    pdq_in: Vec<u32>,
    gain: Vec<f32>,
    rnoise: Vec<f32>,
    gdq_out: Vec<u8>,
    pdq_out: Vec<u32>,
    status: String,
    primecrs: Option<f64>,
    extemiss: Option<f64>,
}

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/jump")
}

fn load(name: &str) -> Case {
    let path = fixture_dir().join(format!("{name}.fits.gz"));
    let mut f = FitsFile::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let prim = f.primary_hdu().unwrap();
    let key_f = |f: &mut FitsFile, k: &str| prim.read_key::<f64>(f, k).unwrap();
    let key_i = |f: &mut FitsFile, k: &str| prim.read_key::<i64>(f, k).unwrap();
    let key_b = |f: &mut FitsFile, k: &str| prim.read_key::<bool>(f, k).unwrap();
    let params = JumpParams {
        rejection_threshold: key_f(&mut f, "REJTHR"),
        three_group_rejection_threshold: key_f(&mut f, "THR3GRP"),
        four_group_rejection_threshold: key_f(&mut f, "THR4GRP"),
        flag_4_neighbors: key_b(&mut f, "FLAG4NB"),
        max_jump_to_flag_neighbors: key_f(&mut f, "MAXJNB"),
        min_jump_to_flag_neighbors: key_f(&mut f, "MINJNB"),
        after_jump_flag_dn1: key_f(&mut f, "AJDN1"),
        after_jump_flag_time1: key_f(&mut f, "AJTIME1"),
        after_jump_flag_dn2: key_f(&mut f, "AJDN2"),
        after_jump_flag_time2: key_f(&mut f, "AJTIME2"),
        minimum_groups: key_i(&mut f, "MINGRPS"),
        minimum_sigclip_groups: key_i(&mut f, "MINSIGCL"),
        only_use_ints: key_b(&mut f, "ONLYINTS"),
        min_diffs_single_pass: key_i(&mut f, "MINDIFSP"),
        expand_large_events: key_b(&mut f, "EXPLARGE"),
        min_sat_area: key_f(&mut f, "MINSATAR"),
        min_jump_area: key_f(&mut f, "MINJMPAR"),
        expand_factor: key_f(&mut f, "EXPFACT"),
        sat_required_snowball: key_b(&mut f, "SATREQ"),
        min_sat_radius_extend: key_f(&mut f, "MINSATRX"),
        sat_expand: key_i(&mut f, "SATEXP"),
        edge_size: key_i(&mut f, "EDGESIZE"),
        mask_snowball_core_next_int: key_b(&mut f, "MSKCORE"),
        snowball_time_masked_next_int: key_i(&mut f, "SNBTIME"),
        max_extended_radius: key_i(&mut f, "MAXEXTR"),
        ..JumpParams::default()
    };
    let nframes = key_i(&mut f, "NFRAMES") as u32;
    let tgroup = key_f(&mut f, "TGROUP");
    let status = prim.read_key::<String>(&mut f, "S_JUMP").unwrap();
    let primecrs = prim.read_key::<f64>(&mut f, "PRIMECRS").ok();
    let extemiss = prim.read_key::<f64>(&mut f, "EXTEMISS").ok();

    let sci_hdu = f.hdu("SCI").unwrap();
    let shape = match &sci_hdu.info {
        HduInfo::ImageInfo { shape, .. } => CubeShape {
            nints: shape[0],
            ngroups: shape[1],
            ny: shape[2],
            nx: shape[3],
        },
        other => panic!("{name}: SCI is not an image: {other:?}"),
    };
    let sci: Vec<f32> = sci_hdu.read_image(&mut f).unwrap();
    let read_u8 =
        |f: &mut FitsFile, h: &str| -> Vec<u8> { f.hdu(h).unwrap().read_image(f).unwrap() };
    let read_u32 =
        |f: &mut FitsFile, h: &str| -> Vec<u32> { f.hdu(h).unwrap().read_image(f).unwrap() };
    let read_f32 =
        |f: &mut FitsFile, h: &str| -> Vec<f32> { f.hdu(h).unwrap().read_image(f).unwrap() };
    Case {
        name: name.to_string(),
        shape,
        nframes,
        tgroup,
        params,
        gdq_in: read_u8(&mut f, "GDQ_IN"),
        pdq_in: read_u32(&mut f, "PDQ_IN"),
        gain: read_f32(&mut f, "GAIN"),
        rnoise: read_f32(&mut f, "RNOISE"),
        gdq_out: read_u8(&mut f, "GDQ_OUT"),
        pdq_out: read_u32(&mut f, "PDQ_OUT"),
        sci,
        status,
        primecrs,
        extemiss,
    }
}

/// Describe up to 20 differing GROUPDQ values as (int, group, y, x): input -> ours vs official.
fn describe_gdq_diffs(c: &Case, ours: &[u8]) -> String {
    let CubeShape {
        ngroups, ny, nx, ..
    } = c.shape;
    let mut out = String::new();
    let mut n = 0;
    for (idx, (&a, &b)) in ours.iter().zip(&c.gdq_out).enumerate() {
        if a != b {
            n += 1;
            if n <= 20 {
                let x = idx % nx;
                let y = (idx / nx) % ny;
                let g = (idx / (nx * ny)) % ngroups;
                let i = idx / (nx * ny * ngroups);
                out += &format!(
                    "  int {i} group {g} y {y} x {x}: in {} ours {a} official {b}\n",
                    c.gdq_in[idx]
                );
            }
        }
    }
    format!("{n} GROUPDQ values differ:\n{out}")
}

fn run_case(name: &str, expected_mode: JumpMode) {
    let c = load(name);
    let CubeShape {
        nints,
        ngroups,
        ny,
        nx,
    } = c.shape;
    for band_rows in [ny, 1, 3] {
        let mut gdq = c.gdq_in.clone();
        let mut pdq = c.pdq_in.clone();
        let outcome = detect_jumps_exposure(
            &c.params, c.nframes, c.tgroup, c.shape, &c.sci, &mut gdq, &mut pdq, &c.gain,
            &c.rnoise, band_rows,
        )
        .unwrap();
        assert_eq!(outcome.mode, expected_mode, "{}: mode", c.name);
        assert_eq!(c.status, "COMPLETE");
        assert!(
            gdq == c.gdq_out,
            "{} (band rows {band_rows}): {}",
            c.name,
            describe_gdq_diffs(&c, &gdq)
        );
        assert_eq!(pdq, c.pdq_out, "{}: PIXELDQ", c.name);

        // PRIMECRS from the official formula over the output GROUPDQ.
        let frame = ny * nx;
        let all: Vec<bool> = gdq
            .chunks_exact(frame)
            .map(|p| p.iter().all(|&q| q & 1 != 0))
            .collect();
        let fully_dnu: usize = count_per_integration(&all, ngroups).iter().sum();
        let ours = primary_cosmic_rays(
            outcome.number_crs,
            fully_dnu,
            nints,
            ngroups,
            c.tgroup,
            ny,
            nx,
        );
        assert_eq!(ours, c.primecrs, "{}: PRIMECRS", c.name);
        let events = extended_emission_events(
            outcome.number_extended_events,
            fully_dnu,
            nints,
            ngroups,
            c.tgroup,
            ny,
            nx,
        );
        assert_eq!(events, c.extemiss, "{}: EXTEMISS", c.name);
    }
}

#[test]
fn iterative_3_ints_5_groups() {
    run_case("iter_3x5", JumpMode::Iterative);
}

#[test]
fn iterative_nframes2_after_jump_no_neighbours() {
    run_case("iter_nf2_after", JumpMode::Iterative);
}

#[test]
fn iterative_neighbours_and_after_jump() {
    run_case("iter_nb_after", JumpMode::Iterative);
}

#[test]
fn iterative_three_groups() {
    run_case("iter_1x3", JumpMode::Iterative);
}

#[test]
fn iterative_four_groups() {
    run_case("iter_1x4", JumpMode::Iterative);
}

#[test]
fn iterative_with_fully_dnu_groups() {
    run_case("iter_dnu_planes", JumpMode::Iterative);
}

#[test]
fn single_pass_with_after_jump() {
    run_case("single_2x12", JumpMode::SinglePass);
}

#[test]
fn single_pass_first_group_dnu() {
    run_case("single_dnu_first", JumpMode::SinglePass);
}

#[test]
fn sigma_clip_across_integrations() {
    run_case(
        "sigclip_100x4",
        JumpMode::SigmaClip {
            across_ints_only: true,
        },
    );
}

#[test]
fn sigma_clip_across_all_groups() {
    run_case(
        "sigclip_allgroups",
        JumpMode::SigmaClip {
            across_ints_only: false,
        },
    );
}

#[test]
fn no_detection_with_too_few_groups() {
    run_case("skip_few_groups", JumpMode::NoDetection);
}

#[test]
fn snowballs_with_saturated_cores() {
    run_case("snowball", JumpMode::Iterative);
}

#[test]
fn snowballs_without_required_cores() {
    run_case("snowball_nosat", JumpMode::Iterative);
}

#[test]
fn iterative_float32_roundings_near_threshold() {
    run_case("iter_precision", JumpMode::Iterative);
}
