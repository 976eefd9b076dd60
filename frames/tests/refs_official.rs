//! Reference loaders and preparations against what the official code makes of the same files
//! (fixtures/refs/expected.txt, written by fixtures/refs/make_golden.py with stdatamodels,
//! jwst.lib.reffile_utils and stcal).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use frames::refs::*;
use frames::{dq, ExposureMeta};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("fixtures")
}

fn tiny(name: &str) -> PathBuf {
    root().join("oracle").join("tiny").join(name)
}

fn fixture(name: &str) -> PathBuf {
    root().join("refs").join(name)
}

/// `NAME KIND values...` lines of expected.txt.
fn expected() -> HashMap<String, (String, Vec<String>)> {
    let text = std::fs::read_to_string(fixture("expected.txt")).expect("expected.txt");
    text.lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let mut it = l.split(' ');
            let name = it.next().unwrap().to_string();
            let kind = it.next().unwrap().to_string();
            (name, (kind, it.map(str::to_string).collect()))
        })
        .collect()
}

fn u32s(e: &HashMap<String, (String, Vec<String>)>, key: &str) -> Vec<u32> {
    let (kind, v) = e
        .get(key)
        .unwrap_or_else(|| panic!("no {key} in expected.txt"));
    assert_eq!(kind, "u32", "{key}");
    v.iter().map(|s| s.parse().unwrap()).collect()
}

fn f32s(e: &HashMap<String, (String, Vec<String>)>, key: &str) -> Vec<u32> {
    u32s(e, key)
}

fn bits(a: impl IntoIterator<Item = f32>) -> Vec<u32> {
    a.into_iter().map(f32::to_bits).collect()
}

/// The tiny exposure: NIRCam NRCALONG GENERIC 32x32 at (1, 1), 2 ints x 5 groups, RAPID.
fn tiny_meta() -> ExposureMeta {
    let m = ExposureMeta::read(tiny("jw01234001001_01101_00001_nrcalong_uncal.fits")).unwrap();
    assert_eq!(
        (m.substrt1, m.substrt2, m.subsize1, m.subsize2),
        (1, 1, 32, 32)
    );
    assert_eq!((m.nframes, m.groupgap, m.ngroups), (1, 0, 5));
    m
}

/// The subarray the big fixtures are cut to: (SUBSTRT1, SUBSTRT2) = (5, 3), 32x32.
fn cut_meta() -> ExposureMeta {
    ExposureMeta {
        substrt1: 5,
        substrt2: 3,
        ..tiny_meta()
    }
}

#[test]
fn tiny_references_load_as_the_pipeline_opens_them() {
    let e = expected();
    let meta = tiny_meta();
    let mask = MaskRef::load(&tiny("ref_mask.fits"), &meta).unwrap();
    assert_eq!(
        mask.dq.iter().copied().collect::<Vec<_>>(),
        u32s(&e, "tiny.mask_dq")
    );
    assert!(mask.dq.iter().any(|&v| v & dq::REFERENCE_PIXEL != 0));
    assert_eq!(
        mask.groupdq().iter().map(|&g| g as u32).collect::<Vec<_>>(),
        u32s(&e, "tiny.mask_dq")
            .iter()
            .map(|v| v & 1)
            .collect::<Vec<_>>()
    );

    let gain = GainRef::load(&tiny("ref_gain.fits"), &meta).unwrap();
    assert_eq!(bits(gain.gain.iter().copied()), f32s(&e, "tiny.gain"));
    assert_eq!(gain.gainfact, None);
    assert!(gain.bad_gain_flags().iter().all(|&f| f == 0));

    let rn = ReadnoiseRef::load(&tiny("ref_readnoise.fits"), &meta).unwrap();
    assert_eq!(
        bits(rn.readnoise.iter().copied()),
        f32s(&e, "tiny.readnoise")
    );

    let sb = SuperbiasRef::load(&tiny("ref_superbias.fits"), &meta).unwrap();
    assert_eq!(bits(sb.bias.iter().copied()), f32s(&e, "tiny.superbias"));
    assert_eq!(
        sb.dq.iter().copied().collect::<Vec<_>>(),
        u32s(&e, "tiny.superbias_dq")
    );

    let sat = SaturationRef::load(&tiny("ref_saturation.fits"), &meta).unwrap();
    assert_eq!(
        bits(sat.threshold.iter().copied()),
        f32s(&e, "tiny.saturation")
    );

    let lin = LinearityRef::load(&tiny("ref_linearity.fits"), &meta).unwrap();
    let prep = lin.prepare(&meta);
    assert_eq!(prep.ncoeff, 5);
    // expected is plane-major (5, 32, 32); ours is pixel-major
    let want = f32s(&e, "tiny.linearity_coeffs");
    for y in 0..32 {
        for x in 0..32 {
            for k in 0..5 {
                assert_eq!(prep.pixel(y, x)[k].to_bits(), want[(k * 32 + y) * 32 + x]);
            }
        }
    }
    assert_eq!(
        prep.pixeldq.iter().copied().collect::<Vec<_>>(),
        u32s(&e, "tiny.linearity_pixeldq")
    );

    let ipc = IpcRef::load(&tiny("ref_ipc.fits"), &meta).unwrap();
    match ipc.kernel {
        IpcKernel::Uniform(k) => {
            assert_eq!(k.dim(), (3, 3));
            assert_eq!(bits(k.iter().copied()), f32s(&e, "tiny.ipc"));
        }
        other => panic!("expected a 3x3 kernel, got {other:?}"),
    }

    let dark = DarkRef::load(&tiny("ref_dark.fits"), &meta).unwrap();
    assert_eq!(dark.status(), &DarkStatus::Apply);
    let (kind, v) = &e["tiny.dark_avdrkcur"];
    assert_eq!(kind, "f64");
    let scalar: f64 = v[0].parse().unwrap();
    assert_eq!(dark.avdrkcur_scalar, Some(scalar));
    let avd = dark.average_dark_current(None);
    assert!(avd.iter().all(|&a| a == scalar as f32));
    assert!(dark
        .average_dark_current(Some(0.5))
        .iter()
        .all(|&a| a == 0.5));
}

#[test]
fn linearity_cut_from_larger_reference_with_dq_def_and_bad_coefficients() {
    let e = expected();
    let meta = cut_meta();
    let lin = LinearityRef::load(&fixture("ref_linearity_big.fits"), &meta).unwrap();
    assert_eq!(
        lin.window,
        Window {
            y0: 2,
            x0: 4,
            ny: 32,
            nx: 32
        }
    );
    assert_eq!(
        lin.dq.iter().copied().collect::<Vec<_>>(),
        u32s(&e, "linearity_big.dq")
    );
    // file bit 2 decoded as DO_NOT_USE through DQ_DEF
    assert_eq!(lin.dq[[6, 9]], dq::DO_NOT_USE);

    let check = |prep: &LinearityPrep, ckey: &str, dkey: &str| {
        let want = f32s(&e, ckey);
        for y in 0..32 {
            for x in 0..32 {
                for k in 0..prep.ncoeff {
                    let got = match ckey.ends_with("inv_coeffs") {
                        true => prep.inv_coeffs.as_ref().unwrap()[(y * 32 + x) * 5 + k],
                        false => prep.pixel(y, x)[k],
                    };
                    assert_eq!(
                        got.to_bits(),
                        want[(k * 32 + y) * 32 + x],
                        "{ckey} {k} {y} {x}"
                    );
                }
            }
        }
        assert_eq!(
            prep.pixeldq.iter().copied().collect::<Vec<_>>(),
            u32s(&e, dkey)
        );
    };
    // NFRAMES = 1: classic path, inverse coefficients unused.
    let prep = lin.prepare(&meta);
    assert!(prep.inv_coeffs.is_none());
    check(&prep, "linearity_big.coeffs", "linearity_big.pixeldq");
    // The three bad pixels (NaN, zero linear term, flagged) are benign; two gain NO_LIN_CORR.
    for (y, x) in [(3, 6), (4, 7), (5, 8)] {
        assert_eq!(prep.pixel(y, x), &[0.0, 1.0, 0.0, 0.0, 0.0]);
        assert_ne!(prep.pixeldq[[y, x]] & dq::NO_LIN_CORR, 0);
    }
    // NFRAMES > 1: read-level path prepares the inverse too (a NaN there adds NO_LIN_CORR).
    let meta2 = ExposureMeta { nframes: 2, ..meta };
    let prep2 = lin.prepare(&meta2);
    check(
        &prep2,
        "linearity_big.inv_coeffs",
        "linearity_big.pixeldq_inv",
    );
    assert_ne!(prep2.pixeldq[[7, 10]] & dq::NO_LIN_CORR, 0);
    assert_eq!(prep.pixeldq[[7, 10]] & dq::NO_LIN_CORR, 0);
}

#[test]
fn saturation_cut_and_no_sat_check_preparation() {
    let e = expected();
    let sat = SaturationRef::load(&fixture("ref_saturation_big.fits"), &cut_meta()).unwrap();
    let prep = sat.prepare();
    assert_eq!(
        bits(prep.threshold.iter().copied()),
        f32s(&e, "saturation_big.threshold")
    );
    assert_eq!(
        prep.pixeldq.iter().copied().collect::<Vec<_>>(),
        u32s(&e, "saturation_big.pixeldq")
    );
    // NaN threshold at ref (4, 6) -> science (2, 2)
    assert!(sat.threshold[[2, 2]].is_nan());
    assert_eq!(prep.threshold[[2, 2]], NO_SAT_THRESHOLD);
    assert!(prep.no_sat_check[[2, 2]] && prep.no_sat_check[[3, 3]] && prep.no_sat_check[[4, 4]]);
    assert_eq!(prep.no_sat_check.iter().filter(|&&b| b).count(), 3);
}

#[test]
fn dark_bands_match_stcal_dark_subtraction_bit_for_bit() {
    let e = expected();
    let mut ncases = 0;
    for i in 0.. {
        let key = |f: &str| format!("dark_cases.{i}.{f}");
        if !e.contains_key(&key("nframes")) {
            break;
        }
        let ns = u32s(&e, &key("nframes"))[0] as usize;
        let gs = u32s(&e, &key("groupgap"))[0] as usize;
        let ng = u32s(&e, &key("ngroups"))[0] as usize;
        let band = u32s(&e, &key("band"));
        let (y0, y1) = (band[0] as usize, band[1] as usize);
        let which = &e[&key("dark")].1[0];
        let path = match which.as_str() {
            "tiny" => tiny("ref_dark.fits"),
            _ => fixture("ref_dark_nan.fits"),
        };
        let meta = ExposureMeta {
            nframes: ns,
            groupgap: gs,
            ngroups: ng,
            ..tiny_meta()
        };
        let dark = DarkRef::load(&path, &meta).unwrap();
        assert_eq!(e[&key("status")].1[0], "COMPLETE");
        assert_eq!(dark.status(), &DarkStatus::Apply);
        let x = u32s(&e, &key("x"));
        let want = u32s(&e, &key("out"));
        let per_group = (y1 - y0) * 32;
        for g in 0..ng {
            let d = dark.group_band(g, y0, y1 - y0).unwrap();
            for (j, dv) in d.iter().enumerate() {
                let xi = f32::from_bits(x[g * per_group + j]);
                let got = ((xi as f64) - dv) as f32;
                assert_eq!(
                    got.to_bits(),
                    want[g * per_group + j],
                    "case {i} ({which} Ns={ns} Gs={gs} Ng={ng}) group {g} pixel {j}: {got} vs {}",
                    f32::from_bits(want[g * per_group + j])
                );
            }
        }
        assert_eq!(
            dark.dq.iter().copied().collect::<Vec<_>>(),
            u32s(&e, &key("pixeldq"))
        );
        ncases += 1;
    }
    assert_eq!(ncases, 12);
}

#[test]
fn dark_extrapolation_plan_and_avdrkcur_map() {
    let e = expected();
    let meta = ExposureMeta {
        ngroups: 7,
        ..tiny_meta()
    };
    let dark = DarkRef::load(&fixture("ref_dark_nan.fits"), &meta).unwrap();
    assert_eq!(dark.stored_planes, 5);
    assert_eq!(dark.extrapolated_planes, 2);
    assert!(
        !dark.values_are_f32(),
        "direct path over float64 extrapolated planes"
    );
    // NaN in the last stored plane spreads into the extrapolated ones and becomes 0.
    let g6 = dark.group_band(6, 11, 1).unwrap();
    assert_eq!(g6[[0, 4]], 0.0);
    assert_eq!(dark.dq[[12, 5]], dq::UNRELIABLE_DARK);
    let avd = dark.average_dark_current(None);
    assert_eq!(bits(avd.iter().copied()), f32s(&e, "dark_nan_avdrkcur"));
    let short = ExposureMeta {
        ngroups: 3,
        ..tiny_meta()
    };
    let d2 = DarkRef::load(&fixture("ref_dark_nan.fits"), &short).unwrap();
    assert!(d2.values_are_f32());
    assert!(d2.group_band(3, 0, 1).is_err(), "science has only 3 groups");
    assert!(d2.group_band(0, 30, 4).is_err(), "band beyond the frame");
}
