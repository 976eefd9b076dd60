//! Special cases of spec §12.2 / §12.7 with hand-derived expectations (the golden tests check the
//! same paths against the official code bit for bit).

use frames::dq::{DO_NOT_USE, JUMP_DET, NO_GAIN_VALUE, PERSISTENCE, SATURATED};

use super::{
    fit_pixel, gain_scale, group_window, record, ExposureParams, FitConfig, FitValues, PixelConsts,
    RampFitConfigError, RampScratch,
};

const SAT: u8 = SATURATED as u8;
const DNU: u8 = DO_NOT_USE as u8;
const JUMP: u8 = JUMP_DET as u8;

fn params(nints: usize, ngroups: usize) -> ExposureParams {
    ExposureParams {
        nints,
        ngroups,
        nframes: 1,
        group_time: 10.0,
        frame_time: 10.0,
        suppress_one_group: true,
        firstgroup: None,
        lastgroup: None,
    }
}

const PX: PixelConsts = PixelConsts {
    gain: 2.0,
    readnoise: 10.0,
    dark_current: 0.0,
    pixel_dq: 0,
};

fn run(
    p: &ExposureParams,
    px: &PixelConsts,
    ramp: &[f32],
    gdq: &[u8],
    zf: Option<&[f32]>,
) -> (Vec<FitValues>, FitValues) {
    let cfg = FitConfig::new(p).expect("config");
    let mut scratch = RampScratch::new(&cfg);
    let mut ints = vec![FitValues::default(); p.nints];
    let mut rate = FitValues::default();
    fit_pixel(&cfg, px, ramp, gdq, zf, &mut scratch, &mut ints, &mut rate);
    (ints, rate)
}

#[test]
fn one_group_uses_t1() {
    let mut p = params(1, 1);
    p.nframes = 3;
    p.frame_time = 2.0;
    let (ints, rate) = run(&p, &PX, &[40.0], &[0], None);
    // t1 = (3 + 1)·2/2 = 4 s
    assert_eq!(ints[0].sci, 10.0);
    assert_eq!(rate.sci, 10.0);
    assert_eq!(rate.dq, 0);
}

#[test]
fn two_groups_is_a_difference() {
    let (ints, _) = run(&params(1, 2), &PX, &[5.0, 35.0], &[0, 0], None);
    assert_eq!(ints[0].sci, 3.0);
}

#[test]
fn only_group_zero_good() {
    let ramp = [50.0, 0.0, 0.0];
    let gdq = [0, SAT, SAT];
    let (ints, rate) = run(&params(1, 3), &PX, &ramp, &gdq, None);
    assert!(ints[0].sci.is_nan());
    assert_eq!(ints[0].dq, DO_NOT_USE | SATURATED);
    assert!(rate.sci.is_nan());
    let mut p = params(1, 3);
    p.suppress_one_group = false;
    let (ints, _) = run(&p, &PX, &ramp, &gdq, None);
    // t1 = (1 + 1)·10/2 = 10 s
    assert_eq!(ints[0].sci, 5.0);
    assert_eq!(ints[0].dq, SATURATED);
}

#[test]
fn all_saturated_and_zeroframe() {
    let gdq = [SAT; 3];
    let (ints, rate) = run(&params(1, 3), &PX, &[0.0; 3], &gdq, Some(&[30.0]));
    assert!(ints[0].sci.is_nan());
    assert_eq!(ints[0].dq, DO_NOT_USE | SATURATED);
    assert_eq!(rate.dq, DO_NOT_USE | SATURATED);
    let mut p = params(1, 3);
    p.suppress_one_group = false;
    p.frame_time = 3.0;
    let (ints, _) = run(&p, &PX, &[0.0; 3], &gdq, Some(&[30.0]));
    assert_eq!(ints[0].sci, 10.0); // z / TFRAME
                                   // A zero ZEROFRAME value is "bad": no slope.
    let (ints, _) = run(&p, &PX, &[0.0; 3], &gdq, Some(&[0.0]));
    assert!(ints[0].sci.is_nan());
}

#[test]
fn bad_gain_flags_and_nans() {
    for gain in [0.0, -1.0, f32::NAN] {
        let px = PixelConsts { gain, ..PX };
        let (ints, rate) = run(&params(1, 4), &px, &[0.0, 10.0, 20.0, 30.0], &[0; 4], None);
        assert!(ints[0].sci.is_nan() && rate.sci.is_nan());
        assert_eq!(rate.dq, DO_NOT_USE | NO_GAIN_VALUE);
        assert_eq!(
            (rate.err, rate.var_poisson, rate.var_rnoise),
            (0.0, 0.0, 0.0)
        );
    }
}

#[test]
fn jump_and_persistence_propagate() {
    let ramp = [0.0, 10.0, 20.0, 500.0, 510.0, 520.0];
    let gdq = [0, 0, 0, JUMP, PERSISTENCE as u8, 0];
    let (ints, rate) = run(
        &params(2, 6),
        &PX,
        &[ramp, ramp].concat(),
        &[gdq, [0; 6]].concat(),
        None,
    );
    assert_eq!(ints[0].dq, JUMP_DET | PERSISTENCE);
    assert_eq!(ints[1].dq, 0);
    assert_eq!(rate.dq, JUMP_DET | PERSISTENCE);
    // Both segments have slope 1 DN/s: the jump does not leak into the slope.
    assert!((ints[0].sci - 1.0).abs() < 1e-6);
}

#[test]
fn do_not_use_integration_is_skipped_in_rate() {
    let ramp = [0.0, 10.0, 20.0, 30.0, 0.0, 20.0, 40.0, 60.0];
    let gdq = [DNU, DNU, DNU, DNU, 0, 0, 0, 0];
    let (ints, rate) = run(&params(2, 4), &PX, &ramp, &gdq, None);
    assert!(ints[0].sci.is_nan());
    assert_eq!(ints[0].dq, DO_NOT_USE);
    assert!((rate.sci - 2.0).abs() < 1e-6);
    assert_eq!(rate.dq, 0);
}

#[test]
fn huge_variances_are_capped_to_zero() {
    // Read noise so large that 1/Σ(1/var_r) ≥ 1e6: VAR_RNOISE → 0 and therefore SCI → 0.
    let px = PixelConsts {
        readnoise: 1.0e6,
        ..PX
    };
    let (ints, rate) = run(&params(1, 3), &px, &[0.0, 10.0, 20.0], &[0; 3], None);
    assert_eq!(ints[0].var_rnoise, 0.0);
    assert_eq!(ints[0].sci, 0.0);
    assert_eq!(rate.var_rnoise, 0.0);
    assert_eq!(rate.sci, 0.0);
}

#[test]
fn group_window_follows_set_groupdq() {
    assert_eq!(group_window(None, None, 8), 0..8);
    assert_eq!(group_window(Some(1), Some(6), 8), 1..7);
    assert_eq!(group_window(Some(-3), Some(6), 8), 0..7);
    assert_eq!(group_window(Some(2), Some(20), 8), 2..8);
    assert_eq!(group_window(Some(5), Some(5), 8), 0..8); // first ≥ last: ignored
    assert_eq!(group_window(Some(9), None, 8), 0..8);
}

#[test]
fn config_errors() {
    let mut p = params(0, 3);
    assert_eq!(FitConfig::new(&p), Err(RampFitConfigError::NoIntegrations));
    p.nints = 1;
    p.group_time = f64::NAN;
    assert!(matches!(
        FitConfig::new(&p),
        Err(RampFitConfigError::BadTiming(..))
    ));
    p.group_time = 1.0;
    p.ngroups = record::MAX_GROUPS + 1;
    assert!(matches!(
        FitConfig::new(&p),
        Err(RampFitConfigError::TooManyGroups(_))
    ));
}

#[test]
fn gain_scale_rounds_like_numpy() {
    let (mut s, mut e, mut vp, mut vr) = ([1.1f32], [2.0f32], [3.0f32], [4.0f32]);
    gain_scale(1.37, &mut s, &mut e, &mut vp, &mut vr);
    assert_eq!(s[0], 1.1f32 * 1.37f32);
    assert_eq!(e[0], 2.0f32 * 1.37f32);
    assert_eq!(vp[0], 3.0f32 * (1.37f64 * 1.37f64) as f32);
    assert_eq!(vr[0], 4.0f32 * (1.37f64 * 1.37f64) as f32);
}
