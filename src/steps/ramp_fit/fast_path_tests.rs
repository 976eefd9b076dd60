//! The fast paths against the general path, on seeded random ramps: every output bit must agree
//! (the golden tests tie the general path to the official code).

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use frames::dq::{
    DO_NOT_USE, G_CHARGELOSS, G_DO_NOT_USE, G_JUMP_DET, G_PERSISTENCE, G_SATURATED, SATURATED,
};

use super::{
    fit_pixel, ExposureParams, FitConfig, FitValues, IntegrationRamp, PixelAccumulator,
    PixelConsts, RampScratch,
};

/// One random exposure: parameters, per-pixel constants, pixel-major ramps, flags, ZEROFRAME.
struct Exposure {
    params: ExposureParams,
    consts: Vec<PixelConsts>,
    ramp: Vec<f32>,
    gdq: Vec<u8>,
    zf: Option<Vec<f32>>,
}

fn pick<T: Copy>(rng: &mut StdRng, v: &[T]) -> T {
    v[rng.random_range(0..v.len())]
}

fn exposure(rng: &mut StdRng, ngroups: usize, npix: usize) -> Exposure {
    let nints = rng.random_range(1..=5);
    let tgroup = pick(rng, &[10.737, 1.34668, 21.47, 0.5]);
    let params = ExposureParams {
        nints,
        ngroups,
        nframes: pick(rng, &[1, 1, 4]),
        group_time: tgroup,
        frame_time: tgroup / 2.0,
        suppress_one_group: rng.random_bool(0.8),
        firstgroup: if rng.random_bool(0.1) {
            Some(rng.random_range(-1..3))
        } else {
            None
        },
        lastgroup: if rng.random_bool(0.1) {
            Some(rng.random_range(0..ngroups as i64 + 2))
        } else {
            None
        },
    };
    let mut consts = Vec::new();
    let gpp = nints * ngroups;
    let (mut ramp, mut gdq) = (vec![0f32; npix * gpp], vec![0u8; npix * gpp]);
    for p in 0..npix {
        let gain = if rng.random_bool(0.03) {
            pick(rng, &[0.0, -1.0, f32::NAN])
        } else {
            rng.random_range(0.5..5.0)
        };
        let readnoise = if rng.random_bool(0.02) {
            pick(rng, &[0.0, 1.0e7, f32::NAN])
        } else {
            rng.random_range(3.0..30.0)
        };
        let pixel_dq = if rng.random_bool(0.1) {
            pick(rng, &[DO_NOT_USE, SATURATED, 4, DO_NOT_USE | 512, 1 << 20])
        } else {
            0
        };
        consts.push(PixelConsts {
            gain,
            readnoise,
            dark_current: pick(rng, &[0.0, 0.0, 0.01, 3.0]),
            pixel_dq,
        });
        // Slopes from negative through faint to bright, so every weight power is used.
        let slope = pick(
            rng,
            &[-50.0, -1.0, 0.0, 0.3, 3.0, 30.0, 300.0, 3000.0, 3.0e4],
        ) * rng.random_range(0.5..2.0);
        let noise = rng.random_range(0.0..20.0);
        let pixel_kind = rng.random_range(0..10);
        for i in 0..nints {
            let base = p * gpp + i * ngroups;
            let mut level = rng.random_range(-100.0..1000.0);
            // Exact repeats (a quantised ramp) give equal differences: median ties.
            let quantised = rng.random_bool(0.1);
            for g in 0..ngroups {
                level += slope + noise * (rng.random::<f64>() - 0.5);
                let v = if quantised {
                    (level / 16.0).round() * 16.0
                } else {
                    level
                };
                ramp[base + g] = v as f32;
            }
            let clean = pixel_kind < 6 && rng.random_bool(0.85);
            if clean {
                if rng.random_bool(0.03) {
                    let g = rng.random_range(0..ngroups);
                    ramp[base + g] = pick(rng, &[f32::NAN, f32::INFINITY, -f32::INFINITY]);
                }
                continue;
            }
            for g in 0..ngroups {
                if rng.random_bool(0.15) {
                    gdq[base + g] = pick(
                        rng,
                        &[
                            G_JUMP_DET,
                            G_JUMP_DET,
                            G_DO_NOT_USE,
                            G_PERSISTENCE,
                            G_JUMP_DET | G_PERSISTENCE,
                            G_CHARGELOSS | G_DO_NOT_USE,
                            G_SATURATED,
                        ],
                    );
                }
            }
            if rng.random_bool(0.3) {
                let from = rng.random_range(0..ngroups);
                for g in from..ngroups {
                    gdq[base + g] |= G_SATURATED;
                }
            }
        }
    }
    let zf = rng.random_bool(0.3).then(|| {
        (0..npix * nints)
            .map(|_| pick(rng, &[0.0, 12.5, -3.0, f32::NAN]))
            .collect()
    });
    Exposure {
        params,
        consts,
        ramp,
        gdq,
        zf,
    }
}

/// Exact driver over every pixel: (rateints pixel-major, rate).
fn run_exact(cfg: &FitConfig, e: &Exposure) -> (Vec<FitValues>, Vec<FitValues>) {
    let (nints, gpp) = (cfg.nints, cfg.nints * cfg.ngroups);
    let mut scratch = RampScratch::new(cfg);
    let mut ints = vec![FitValues::default(); e.consts.len() * nints];
    let mut rate = vec![FitValues::default(); e.consts.len()];
    for (p, px) in e.consts.iter().enumerate() {
        fit_pixel(
            cfg,
            px,
            &e.ramp[p * gpp..(p + 1) * gpp],
            &e.gdq[p * gpp..(p + 1) * gpp],
            e.zf.as_ref().map(|z| &z[p * nints..(p + 1) * nints]),
            &mut scratch,
            &mut ints[p * nints..(p + 1) * nints],
            &mut rate[p],
        );
    }
    (ints, rate)
}

/// Online driver, integration-major with one scratch shared by all pixels (so the per-pixel
/// memo changes pixel at every call).
fn run_online(cfg: &FitConfig, e: &Exposure) -> (Vec<FitValues>, Vec<FitValues>) {
    let (nints, n) = (cfg.nints, cfg.ngroups);
    let npix = e.consts.len();
    let mut scratch = RampScratch::new(cfg);
    let mut accs: Vec<_> = e
        .consts
        .iter()
        .map(|px| PixelAccumulator::new(cfg, px))
        .collect();
    let mut records = vec![Vec::new(); npix];
    let mut ints = vec![FitValues::default(); npix * nints];
    for i in 0..nints {
        for p in 0..npix {
            let r = (p * nints + i) * n..(p * nints + i + 1) * n;
            let input = IntegrationRamp {
                ramp: &e.ramp[r.clone()],
                gdq: &e.gdq[r],
                zeroframe: e.zf.as_ref().map(|z| z[p * nints + i]),
            };
            let early =
                accs[p].push_integration(cfg, &e.consts[p], input, &mut scratch, &mut records[p]);
            let o = &mut ints[p * nints + i];
            (o.sci, o.dq, o.var_rnoise) = (early.sci, early.dq, early.var_rnoise);
        }
    }
    let mut rate = Vec::new();
    for p in 0..npix {
        let r = accs[p]
            .finish(cfg, &e.consts[p], &records[p], |i, late| {
                ints[p * nints + i].var_poisson = late.var_poisson;
                ints[p * nints + i].err = late.err;
            })
            .expect("finish");
        rate.push(r);
    }
    (ints, rate)
}

fn bits(v: &FitValues) -> [u32; 5] {
    [
        v.sci.to_bits(),
        v.err.to_bits(),
        v.dq,
        v.var_poisson.to_bits(),
        v.var_rnoise.to_bits(),
    ]
}

fn assert_same(what: &str, ours: &[FitValues], general: &[FitValues]) {
    assert_eq!(ours.len(), general.len());
    for (k, (a, b)) in ours.iter().zip(general).enumerate() {
        assert_eq!(bits(a), bits(b), "{what} [{k}]: fast {a:?} general {b:?}");
    }
}

#[test]
fn fast_paths_agree_with_the_general_path() {
    let mut rng = StdRng::seed_from_u64(0x005e_ed0f_ca11);
    let mut clean_fitted = 0usize;
    for round in 0..4 {
        for ngroups in 1..=40 {
            let e = exposure(&mut rng, ngroups, 40);
            let fast = FitConfig::new(&e.params).expect("config");
            let mut general = fast.clone();
            general.clean_path = false;
            let what = format!("round {round} ngroups {ngroups} {:?}", e.params);
            let (gi, gr) = run_exact(&general, &e);
            let (fi, fr) = run_exact(&fast, &e);
            assert_same(&format!("{what} exact rateints"), &fi, &gi);
            assert_same(&format!("{what} exact rate"), &fr, &gr);
            let (oi, or) = run_online(&fast, &e);
            assert_same(&format!("{what} online rateints"), &oi, &gi);
            assert_same(&format!("{what} online rate"), &or, &gr);
            if fast.clean_path {
                clean_fitted += (0..e.consts.len() * fast.nints)
                    .filter(|&k| {
                        let r = k * ngroups..(k + 1) * ngroups;
                        (3..=super::clean::MAX_CLEAN_GROUPS).contains(&ngroups)
                            && e.gdq[r.clone()].iter().all(|&q| q == 0)
                            && e.ramp[r].iter().all(|v| v.is_finite())
                    })
                    .count();
            }
        }
    }
    // The comparison means something only if the fast path ran often.
    assert!(clean_fitted > 3_000, "{clean_fitted} clean integrations");
}

#[test]
fn median_network_matches_a_sort() {
    use super::median_rate::DiffMedian;
    fn check<const N: usize>(rng: &mut StdRng) {
        for _ in 0..300 {
            let mut v = [0.0f64; N];
            let few = rng.random_bool(0.5);
            for x in v.iter_mut().take(N - 1) {
                *x = if few {
                    rng.random_range(-3..=3) as f64
                } else {
                    rng.random_range(-1.0e3..1.0e3)
                };
            }
            let mut s = v[..N - 1].to_vec();
            s.sort_by(f64::total_cmp);
            let m = N - 1;
            let want = if m % 2 == 1 {
                s[m / 2]
            } else {
                (s[m / 2] + s[m / 2 - 1]) / 2.0
            };
            let got = DiffMedian::<N>::median(v);
            // Equal as numbers (the sign of a zero may differ, see DiffMedian).
            assert!(got == want, "N {N}: {got} vs {want} from {v:?}");
        }
    }
    let mut rng = StdRng::seed_from_u64(11);
    seq_macro::seq!(N in 2..=33 {
        check::<N>(&mut rng);
    });
}

#[test]
fn fast_weight_power_matches_the_square_root() {
    use super::clean::fast_weight_power;
    use super::fit::weight_power;
    let mut rng = StdRng::seed_from_u64(12);
    for _ in 0..200_000 {
        let gain = pick(&mut rng, &[0.0, -2.0, f64::NAN, 1.0, 2.7]) * rng.random_range(0.5..2.0);
        let rn2 = pick(&mut rng, &[0.0, 1.0, 100.0, 1.0e6]) * rng.random_range(0.0..2.0);
        let span = if rng.random_bool(0.5) && gain > 0.0 {
            // Right at a threshold: a/sqrt(rn² + a) = T within a few ulps either way.
            let t: f64 = pick(&mut rng, &[5.0, 10.0, 20.0, 50.0, 100.0]);
            // a² = T²(rn² + a) → a = (T² + sqrt(T⁴ + 4T²rn²)) / 2.
            let a = (t * t + (t.powi(4) + 4.0 * t * t * rn2).sqrt()) / 2.0;
            let ulps = rng.random_range(-8i64..=8);
            f64::from_bits(((a / gain).to_bits() as i64 + ulps) as u64)
        } else {
            pick(&mut rng, &[-1.0, 1.0, 100.0, 1.0e4, 1.0e7]) * rng.random::<f64>()
        };
        assert_eq!(
            fast_weight_power(span, gain, rn2),
            weight_power(span, gain, rn2),
            "span {span:e} gain {gain:e} rn2 {rn2:e}"
        );
    }
}

#[test]
fn median_of_gathered_values_matches_a_sort() {
    use super::median_rate::median_of_first;
    let mut rng = StdRng::seed_from_u64(13);
    assert!(median_of_first([0.0; 33], 0).is_nan());
    for _ in 0..20_000 {
        let m = rng.random_range(1..=32);
        let mut v = [f64::NAN; 33];
        for x in v.iter_mut().take(m) {
            *x = match rng.random_range(0..4) {
                0 => rng.random_range(-2..=2) as f64,
                1 => pick(&mut rng, &[f64::INFINITY, f64::NEG_INFINITY, -0.0, 0.0]),
                _ => rng.random_range(-1.0e3..1.0e3),
            };
        }
        let mut s = v[..m].to_vec();
        s.sort_by(f64::total_cmp);
        let want = if m % 2 == 1 {
            s[m / 2]
        } else {
            (s[m / 2] + s[m / 2 - 1]) / 2.0
        };
        let got = median_of_first(v, m);
        assert!(
            got == want || (got.is_nan() && want.is_nan()),
            "m {m}: {got} vs {want} from {:?}",
            &v[..m]
        );
    }
}
