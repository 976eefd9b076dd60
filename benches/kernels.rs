//! Criterion micro-benchmarks of the hot kernels, in pixel-reads (one group of one pixel of one
//! integration) per second: criterion's `thrpt` line is `Throughput::Elements` = pixel-reads,
//! so ns per pixel-read = 1e9 / thrpt.
//!
//! ```text
//! cargo bench --bench kernels                 # ~1-2 min on the 2-core machine
//! cargo bench --bench kernels -- jump/        # one group (criterion filter)
//! cargo run --release --example bench_plot -- kernels target/criterion   # markdown table
//! ```
//!
//! Inputs are deterministic: per-pixel references from the simulator's detector model
//! (`sloper::simulate::detector`, the same gains, read noise, bias, linearity, saturation
//! thresholds and masks `sloper simulate` writes) and ramps from a seeded generator here (sky
//! of 0.5–50 e⁻/s with 2 % bright pixels that saturate, read noise, cosmic-ray steps in ~2 % of
//! the pixel-integrations).
//!
//! - `corrections/*`: one integration of an 8 × 2048 tile × 10 groups, plane-major as the exact
//!   driver holds it: `fused` is decode (big-endian offset u16 → f32) + GROUPDQ zeroing +
//!   group_scale + dq_init seeding + saturation + superbias + linearity (plane-major
//!   coefficients) + dark, in the driver's order; the other rows time each kernel alone.
//! - `jump/*`: `steps::jump::detect_pixel` over a batch of pixels (what `detect_band` does) in
//!   each detection mode, and `detect_band` + `finish_band` on a 3-row band (neighbours,
//!   after-jump clean-up) in iterative mode.
//! - `ramp_fit/*`: `steps::ramp_fit::fit_pixel` on clean ramps, ramps with one jump and ramps
//!   that saturate part-way.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use sloper::frames::dq;
use sloper::simulate::detector::{self, lin_inverse, Pixel};
use sloper::simulate::rng::Stream;
use sloper::steps::jump::params::JumpParams;
use sloper::steps::jump::{self, BandGeometry, JumpMode, JumpSetup, PixelScratch};
use sloper::steps::ramp_fit::{
    fit_pixel, ExposureParams, FitConfig, FitValues, PixelConsts, RampScratch,
};
use sloper::steps::saturation::{
    self, ReadPattern, SaturationParams, SaturationScratch, Thresholds, Tile,
};
use sloper::steps::{dark_current, dq_init, group_scale, linearity, superbias};

/// SUBGRISM256 with 4 outputs (what `sloper simulate` writes for 256 × 2048).
const TGROUP: f64 = 1.34668;
const NX: usize = 2048;
const SEED: u64 = 7;

/// One pixel's references and sky.
struct Px {
    p: Pixel,
    /// e⁻/s.
    flux: f64,
}

/// `rows × NX` pixels (science rows starting at full-frame row 4), with a sky drawn per pixel.
fn scene(rows: usize) -> Vec<Px> {
    let pixels = detector::region(SEED, 4, 0, rows, NX);
    pixels
        .into_iter()
        .enumerate()
        .map(|(k, p)| {
            let mut s = Stream::for_key(SEED, 100, k as u64, 0, 0);
            let flux = if s.uniform() < 0.02 {
                s.uniform_in(8_000.0, 20_000.0) // saturates within 10 groups
            } else {
                (s.uniform_in(0.5f64.ln(), 50f64.ln())).exp()
            };
            Px { p, flux }
        })
        .collect()
}

/// Linearised, bias-free DN of one pixel: `values[i*ngroups + g]`, with its GROUPDQ (dq_init's
/// DO_NOT_USE seed and saturation), as the jump step and ramp fit receive them.
fn ramp(
    px: &Px,
    s: &mut Stream,
    nints: usize,
    ngroups: usize,
    cr_prob: f64,
    values: &mut [f32],
    gdq: &mut [u8],
) {
    let gain = px.p.gain as f64;
    let sat_dn = 0.97 * px.p.fullwell_e as f64 / gain;
    let frame_noise = px.p.readnoise as f64 / 2f64.sqrt();
    let seed = dq_init::group_seed(px.p.mask);
    for i in 0..nints {
        let mut cr_dn = 0.0;
        let cr_group = if s.uniform() < cr_prob {
            1 + s.below(ngroups as u64 - 1) as usize
        } else {
            usize::MAX
        };
        let mut saturated = false;
        for g in 0..ngroups {
            if g == cr_group {
                cr_dn = s.uniform_in(200.0, 3000.0);
            }
            let e = (px.flux + px.p.dark_e as f64) * (g + 1) as f64 * TGROUP;
            let e = e + s.normal() * e.max(0.0).sqrt();
            let dn = e / gain + cr_dn + frame_noise * s.normal();
            saturated |= dn >= sat_dn;
            let k = i * ngroups + g;
            values[k] = if saturated { sat_dn as f32 } else { dn as f32 };
            gdq[k] = seed | if saturated { dq::G_SATURATED } else { 0 };
        }
    }
}

/// Pixel-major ramps of a batch of pixels.
fn ramps(pix: &[Px], nints: usize, ngroups: usize, cr_prob: f64) -> (Vec<f32>, Vec<u8>) {
    let gpp = nints * ngroups;
    let mut v = vec![0.0f32; pix.len() * gpp];
    let mut q = vec![0u8; pix.len() * gpp];
    for (k, px) in pix.iter().enumerate() {
        let mut s = Stream::for_key(SEED, 101, k as u64, nints as u64, ngroups as u64);
        let r = k * gpp..(k + 1) * gpp;
        ramp(
            px,
            &mut s,
            nints,
            ngroups,
            cr_prob,
            &mut v[r.clone()],
            &mut q[r],
        );
    }
    (v, q)
}

// ---------------------------------------------------------------------------------------------
// Fused per-pixel corrections

fn corrections(c: &mut Criterion) {
    const ROWS: usize = 8;
    const NGROUPS: usize = 10;
    let np = ROWS * NX;
    let pix = scene(ROWS);

    // Raw integration as the file holds it: big-endian u16 with the FITS offset, plane-major.
    let mut raw = vec![0u8; NGROUPS * np * 2];
    for (k, px) in pix.iter().enumerate() {
        let mut s = Stream::for_key(SEED, 102, k as u64, 0, 0);
        let (c, bias) = (&px.p.coeffs, px.p.bias as f64);
        let frame_noise = px.p.readnoise as f64 / 2f64.sqrt();
        for g in 0..NGROUPS {
            let e = (px.flux + px.p.dark_e as f64) * (g + 1) as f64 * TGROUP;
            let t = (e + s.normal() * e.sqrt()) / px.p.gain as f64;
            let m = lin_inverse(c, t, t);
            let dn = (bias + m + frame_noise * s.normal())
                .round()
                .clamp(0.0, 65535.0) as u16;
            let b = (dn ^ 0x8000).to_be_bytes();
            let o = (g * np + k) * 2;
            raw[o..o + 2].copy_from_slice(&b);
        }
    }
    let mask: Vec<u32> = pix.iter().map(|x| x.p.mask).collect();
    let threshold: Vec<f32> = pix.iter().map(|x| x.p.sat_thresh).collect();
    let nosat = vec![false; np];
    let bias: Vec<f32> = pix.iter().map(|x| x.p.bias).collect();
    let pixel_major: Vec<f32> = pix.iter().flat_map(|x| x.p.coeffs).collect();
    let ncoeff = detector::NCOEFF;
    let planes = linearity::transpose_coeffs(&pixel_major, ncoeff);
    let dark: Vec<Vec<f32>> = (0..NGROUPS)
        .map(|g| {
            pix.iter()
                .map(|x| (x.p.dark_e as f64 * (g + 1) as f64 * TGROUP / x.p.gain as f64) as f32)
                .collect()
        })
        .collect();
    let thr = Thresholds {
        threshold: &threshold,
        nosat: &nosat,
        bias: Some(&bias),
    };
    let tile = Tile {
        rows: ROWS,
        cols: NX,
        ngroups: NGROUPS,
    };
    let sp = SaturationParams::default();
    let rp = ReadPattern::new(1, NGROUPS);
    // group_scale is skipped for RAPID (FRMDIVSR = NFRAMES); timed with factor 1 as if it ran.
    let factor = 1.0f32;

    let decode = |v: &mut [f32]| {
        for (g, plane) in v.chunks_exact_mut(np).enumerate() {
            sloper::frames::raw::decode_u16_offset_be_to_f32(
                &raw[g * np * 2..(g + 1) * np * 2],
                plane,
            );
        }
    };
    let mut vals = vec![0.0f32; NGROUPS * np];
    let mut gdq = vec![0u8; NGROUPS * np];
    let mut sat_scratch = SaturationScratch::default();

    let mut grp = c.benchmark_group("corrections");
    grp.throughput(Throughput::Elements((NGROUPS * np) as u64));

    grp.bench_function("fused_8x2048x10", |b| {
        b.iter(|| {
            decode(&mut vals);
            gdq.fill(0);
            for g in 0..NGROUPS {
                group_scale::apply(&mut vals[g * np..(g + 1) * np], factor);
                dq_init::seed_plane(&mut gdq[g * np..(g + 1) * np], &mask);
            }
            saturation::flag_integration(
                tile,
                &vals,
                &mut gdq,
                &thr,
                &sp,
                Some(&rp),
                &mut sat_scratch,
            );
            for g in 0..NGROUPS {
                let plane = &mut vals[g * np..(g + 1) * np];
                let flags = &gdq[g * np..(g + 1) * np];
                superbias::subtract_plane(plane, &bias);
                linearity::correct_plane_planar(plane, flags, &planes, ncoeff);
                dark_current::subtract_plane(plane, &dark[g]);
            }
            black_box((&vals, &gdq));
        })
    });

    // Each kernel alone, on the values it sees in the driver.
    decode(&mut vals);
    gdq.fill(0);
    for g in 0..NGROUPS {
        dq_init::seed_plane(&mut gdq[g * np..(g + 1) * np], &mask);
    }
    saturation::flag_integration(
        tile,
        &vals,
        &mut gdq,
        &thr,
        &sp,
        Some(&rp),
        &mut sat_scratch,
    );
    let raw_vals = vals.clone();
    let sat_gdq = gdq.clone();

    grp.bench_function("decode_u16be", |b| {
        b.iter(|| {
            decode(&mut vals);
            black_box(&vals);
        })
    });
    grp.bench_function("group_scale", |b| {
        b.iter(|| {
            group_scale::apply(&mut vals, factor);
            black_box(&vals);
        })
    });
    grp.bench_function("dq_init_seed", |b| {
        b.iter(|| {
            for q in gdq.chunks_exact_mut(np) {
                dq_init::seed_plane(q, &mask);
            }
            black_box(&gdq);
        })
    });
    grp.bench_function("saturation", |b| {
        b.iter(|| {
            gdq.fill(0);
            saturation::flag_integration(
                tile,
                &raw_vals,
                &mut gdq,
                &thr,
                &sp,
                Some(&rp),
                &mut sat_scratch,
            );
            black_box(&gdq);
        })
    });
    grp.bench_function("superbias", |b| {
        b.iter_batched_ref(
            || raw_vals.clone(),
            |v| {
                for plane in v.chunks_exact_mut(np) {
                    superbias::subtract_plane(plane, &bias);
                }
            },
            BatchSize::LargeInput,
        )
    });
    let debiased: Vec<f32> = raw_vals
        .chunks_exact(np)
        .flat_map(|p| p.iter().zip(&bias).map(|(v, b)| v - b))
        .collect();
    grp.bench_function("linearity_planar", |b| {
        b.iter_batched_ref(
            || debiased.clone(),
            |v| {
                for (plane, flags) in v.chunks_exact_mut(np).zip(sat_gdq.chunks_exact(np)) {
                    linearity::correct_plane_planar(plane, flags, &planes, ncoeff);
                }
            },
            BatchSize::LargeInput,
        )
    });
    grp.bench_function("linearity_pixel_major", |b| {
        b.iter_batched_ref(
            || debiased.clone(),
            |v| {
                for (plane, flags) in v.chunks_exact_mut(np).zip(sat_gdq.chunks_exact(np)) {
                    linearity::correct_plane(plane, flags, &pixel_major, ncoeff);
                }
            },
            BatchSize::LargeInput,
        )
    });
    grp.bench_function("dark", |b| {
        b.iter_batched_ref(
            || debiased.clone(),
            |v| {
                for (plane, d) in v.chunks_exact_mut(np).zip(&dark) {
                    dark_current::subtract_plane(plane, d);
                }
            },
            BatchSize::LargeInput,
        )
    });
    grp.finish();
}

// ---------------------------------------------------------------------------------------------
// Jump detection

fn jump_setup(nints: usize, ngroups: usize, median_gain: f32) -> JumpSetup {
    JumpSetup::new(
        &JumpParams::default(),
        nints,
        ngroups,
        1,
        TGROUP,
        &vec![0; nints],
        median_gain,
    )
    .expect("jump setup")
}

fn jump(c: &mut Criterion) {
    let pix = scene(1);
    let mut gains: Vec<f32> = pix.iter().map(|x| x.p.gain).collect();
    let rn: Vec<f32> = pix.iter().map(|x| x.p.readnoise).collect();
    let median_gain = {
        let mut g = gains.clone();
        g.sort_by(f32::total_cmp);
        g[g.len() / 2]
    };
    let mut grp = c.benchmark_group("jump");

    // (name, nints, ngroups, pixels per iteration, expected mode)
    let cases: [(&str, usize, usize, usize, JumpMode); 4] = [
        ("iterative_10x10", 10, 10, 2048, JumpMode::Iterative),
        ("iterative_70x10", 70, 10, 512, JumpMode::Iterative),
        ("single_pass_1x20", 1, 20, 2048, JumpMode::SinglePass),
        (
            "sigma_clip_100x10",
            100,
            10,
            256,
            JumpMode::SigmaClip {
                across_ints_only: true,
            },
        ),
    ];
    for (name, nints, ngroups, npix, mode) in cases {
        let setup = jump_setup(nints, ngroups, median_gain);
        assert_eq!(setup.mode, mode, "{name}: detection mode");
        let gpp = nints * ngroups;
        let (v, q) = ramps(&pix[..npix], nints, ngroups, 0.02);
        let mut marks = vec![0u8; npix * gpp];
        let mut scratch = PixelScratch::new(nints, ngroups);
        // Sanity of the input: a few per cent of the groups flagged (cosmic rays and their
        // neighbours in time), not a pathological all-or-nothing case.
        let mut once = q.clone();
        for (k, ((v, q), m)) in v
            .chunks_exact(gpp)
            .zip(once.chunks_exact_mut(gpp))
            .zip(marks.chunks_exact_mut(gpp))
            .enumerate()
        {
            jump::detect_pixel(&setup, v, q, m, gains[k], rn[k], &mut scratch);
        }
        let flagged = once.iter().filter(|&&f| f & dq::G_JUMP_DET != 0).count();
        let frac = flagged as f64 / once.len() as f64;
        eprintln!("jump/{name}: {:.2} % of the groups flagged", 100.0 * frac);
        assert!(
            (0.0005..0.05).contains(&frac),
            "{name}: {frac} of the groups flagged"
        );
        grp.throughput(Throughput::Elements((npix * gpp) as u64));
        grp.bench_function(name, |b| {
            b.iter_batched_ref(
                || q.clone(),
                |q| {
                    for (k, ((v, q), m)) in v
                        .chunks_exact(gpp)
                        .zip(q.chunks_exact_mut(gpp))
                        .zip(marks.chunks_exact_mut(gpp))
                        .enumerate()
                    {
                        jump::detect_pixel(&setup, v, q, m, gains[k], rn[k], &mut scratch);
                    }
                },
                BatchSize::LargeInput,
            )
        });
    }

    // A 3-row band (interior row 1, one halo row either side): detection, then neighbours,
    // after-jump and the clean-up, as the exact driver runs a band.
    let (nints, ngroups) = (10, 10);
    let band_pix = scene(3);
    gains = band_pix.iter().map(|x| x.p.gain).collect();
    let rn: Vec<f32> = band_pix.iter().map(|x| x.p.readnoise).collect();
    let setup = jump_setup(nints, ngroups, median_gain);
    let geo = BandGeometry {
        nx: NX,
        rows: 3,
        interior: 1..2,
    };
    let gpp = nints * ngroups;
    let (v, q) = ramps(&band_pix, nints, ngroups, 0.02);
    let mut marks = vec![0u8; band_pix.len() * gpp];
    let mut scratch = PixelScratch::new(nints, ngroups);
    grp.throughput(Throughput::Elements((band_pix.len() * gpp) as u64));
    grp.bench_function("band_iterative_3x2048_10x10", |b| {
        b.iter_batched_ref(
            || q.clone(),
            |q| {
                jump::detect_band(&setup, &geo, &v, q, &mut marks, &gains, &rn, &mut scratch);
                black_box(jump::finish_band(&setup, &geo, q, &mut marks, None));
            },
            BatchSize::LargeInput,
        )
    });
    grp.finish();
}

// ---------------------------------------------------------------------------------------------
// Ramp fit

fn ramp_fit(c: &mut Criterion) {
    let (nints, ngroups, npix) = (10, 10, 1024);
    let pix: Vec<Px> = scene(1)
        .into_iter()
        .take(npix)
        .map(|mut x| {
            // Clean sky only: the cases below add jumps and saturation deliberately.
            x.flux = x.flux.min(50.0);
            x
        })
        .collect();
    let cfg = FitConfig::new(&ExposureParams {
        nints,
        ngroups,
        nframes: 1,
        group_time: TGROUP,
        frame_time: TGROUP,
        suppress_one_group: true,
        firstgroup: None,
        lastgroup: None,
    })
    .expect("fit config");
    let consts: Vec<PixelConsts> = pix
        .iter()
        .map(|x| PixelConsts {
            gain: x.p.gain,
            readnoise: x.p.readnoise,
            dark_current: x.p.dark_e,
            pixel_dq: x.p.mask,
        })
        .collect();
    let gpp = nints * ngroups;
    let (clean_v, clean_q) = ramps(&pix, nints, ngroups, 0.0);
    // One JUMP_DET group (a 1000 DN step) in the middle of every integration.
    let (mut jump_v, mut jump_q) = (clean_v.clone(), clean_q.clone());
    for (v, q) in jump_v
        .chunks_exact_mut(ngroups)
        .zip(jump_q.chunks_exact_mut(ngroups))
    {
        q[5] |= dq::G_JUMP_DET;
        for x in &mut v[5..] {
            *x += 1000.0;
        }
    }
    // Saturated from group 6 on in every integration.
    let (sat_v, mut sat_q) = (clean_v.clone(), clean_q.clone());
    for q in sat_q.chunks_exact_mut(ngroups) {
        for f in &mut q[6..] {
            *f |= dq::G_SATURATED;
        }
    }

    let mut scratch = RampScratch::new(&cfg);
    let mut ints = vec![FitValues::default(); nints];
    let mut rate = FitValues::default();
    let mut grp = c.benchmark_group("ramp_fit");
    grp.throughput(Throughput::Elements((npix * gpp) as u64));
    for (name, v, q) in [
        ("clean_10x10", &clean_v, &clean_q),
        ("one_jump_10x10", &jump_v, &jump_q),
        ("saturating_10x10", &sat_v, &sat_q),
    ] {
        grp.bench_function(name, |b| {
            b.iter(|| {
                for ((v, q), px) in v.chunks_exact(gpp).zip(q.chunks_exact(gpp)).zip(&consts) {
                    fit_pixel(&cfg, px, v, q, None, &mut scratch, &mut ints, &mut rate);
                    black_box(&rate);
                }
            })
        });
    }
    grp.finish();
}

criterion_group! {
    name = kernels;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20);
    targets = corrections, jump, ramp_fit
}
criterion_main!(kernels);
