//! Golden tests of the refpix kernel against jwst 3.0.0 RefPixStep (fixtures/refpix, made by
//! fixtures/refpix/make_golden.py; see MADE_BY.md there).
//!
//! Inputs are rebuilt here from the same splitmix64 formula the script uses; outputs are compared
//! bit for bit: the official internal values (clipped means with their numpy type, side signal),
//! per-row digests of every corrected frame, and the full corrected cubes of the small cases.
//! Each frame is summarized through a row callback (checking that only `rows_needed` are read)
//! and corrected in bands of 7 rows applied in reverse order, as a streaming driver may do.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use sloper::frames::{dq, ExposureMeta, FramesError};
use sloper::steps::refpix::geometry::Orientation;
use sloper::steps::refpix::{
    Frame, GroupCorrection, RefSignal, RefValue, RefpixMode, RefpixParams, RefpixPlan,
};

fn splitmix(z: u64) -> u64 {
    let z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    let z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn hash_key(seed: u64, i: u64, g: u64, y: u64, x: u64) -> u64 {
    let k = seed
        .wrapping_mul(65536)
        .wrapping_add(i)
        .wrapping_mul(65536)
        .wrapping_add(g);
    k.wrapping_mul(4096)
        .wrapping_add(y)
        .wrapping_mul(4096)
        .wrapping_add(x)
}

/// Twin of `frame_values` in make_golden.py.
fn frame_values(seed: u64, i: u64, gkey: u64, base: f64, ny: usize, nx: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(ny * nx);
    for y in 0..ny {
        for x in 0..nx {
            let h = splitmix(hash_key(seed, i, gkey, y as u64, x as u64));
            let noise = ((h >> 44) as f64 - 524288.0) / 65536.0;
            let hot = if h & 0x3FF == 0 { 300.0 } else { 0.0 };
            let level = (base + 23.0 * ((x / 512) % 4) as f64) + 0.25 * (y % 64) as f64;
            out.push(((level + noise) + hot) as f32);
        }
    }
    out
}

/// Twin of `pixel_dq` in make_golden.py.
fn pixel_dq(c: &Case) -> Vec<u32> {
    let mut out = Vec::with_capacity(c.ny * c.nx);
    for y in 0..c.ny {
        for x in 0..c.nx {
            let h = splitmix(hash_key(c.seed + 100, 0xFFFF, 0xFFFF, y as u64, x as u64));
            let mut f = 0u32;
            if (h >> 20).is_multiple_of(37) {
                f |= dq::DO_NOT_USE;
            }
            if (h >> 40).is_multiple_of(53) {
                f |= dq::HOT;
            }
            if c.text("ref_rule") == "border" {
                let yy = y + c.substrt2 - 1;
                let xx = x + c.substrt1 - 1;
                if !(4..2044).contains(&yy) || !(4..2044).contains(&xx) {
                    f |= dq::REFERENCE_PIXEL;
                }
            }
            out.push(f);
        }
    }
    out
}

fn digest_row(row: &[f32], y: usize) -> u64 {
    let nx = row.len();
    row.iter().enumerate().fold(0u64, |acc, (x, v)| {
        let idx = (y * nx + x) as u64;
        acc.wrapping_add(splitmix((v.to_bits() as u64).wrapping_add(idx << 32)))
    })
}

struct Case {
    dir: PathBuf,
    records: HashMap<String, Vec<Vec<String>>>,
    nints: usize,
    ngroups: usize,
    ny: usize,
    nx: usize,
    substrt1: usize,
    substrt2: usize,
    seed: u64,
}

impl Case {
    fn load(name: &str) -> Case {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/refpix")
            .join(name);
        let text = std::fs::read_to_string(dir.join("case.txt")).expect("case.txt");
        let mut records: HashMap<String, Vec<Vec<String>>> = HashMap::new();
        for line in text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        {
            let mut it = line.split_whitespace().map(str::to_string);
            let key = it.next().unwrap();
            records.entry(key).or_default().push(it.collect());
        }
        let mut c = Case {
            dir,
            records,
            nints: 0,
            ngroups: 0,
            ny: 0,
            nx: 0,
            substrt1: 0,
            substrt2: 0,
            seed: 0,
        };
        c.nints = c.num("nints");
        c.ngroups = c.num("ngroups");
        c.ny = c.num("ny");
        c.nx = c.num("nx");
        c.substrt1 = c.num("substrt1");
        c.substrt2 = c.num("substrt2");
        c.seed = c.num("seed") as u64;
        c
    }
    fn text(&self, key: &str) -> &str {
        &self.records[key][0][0]
    }
    fn num(&self, key: &str) -> usize {
        self.text(key).parse().unwrap()
    }
    fn int(&self, key: &str) -> i32 {
        self.text(key).parse().unwrap()
    }
    fn all(&self, key: &str) -> &[Vec<String>] {
        self.records.get(key).map_or(&[], Vec::as_slice)
    }
    fn zero_frame(&self) -> bool {
        self.num("zero_frame") == 1
    }
    fn param(&self, name: &str) -> &str {
        self.all("param")
            .iter()
            .find(|p| p[0] == name)
            .map(|p| p[1].as_str())
            .unwrap()
    }
    fn params(&self) -> RefpixParams {
        RefpixParams {
            odd_even_columns: self.param("odd_even_columns") == "1",
            use_side_ref_pixels: self.param("use_side_ref_pixels") == "1",
            side_smoothing_length: self.param("side_smoothing_length").parse().unwrap(),
            side_gain: self.param("side_gain").parse().unwrap(),
            odd_even_rows: self.param("odd_even_rows") == "1",
            siglimit: self.param("siglimit").parse().unwrap(),
            ..RefpixParams::default()
        }
    }
    fn meta(&self) -> ExposureMeta {
        ExposureMeta {
            instrument: self.text("instrument").into(),
            detector: self.text("detector").into(),
            nints: self.nints,
            ngroups: self.ngroups,
            noutputs: self.num("noutputs"),
            zero_frame: self.zero_frame(),
            int_start: 1,
            int_end: self.nints,
            subarray: self.text("subarray").into(),
            substrt1: self.substrt1,
            substrt2: self.substrt2,
            subsize1: self.nx,
            subsize2: self.ny,
            fastaxis: self.int("fast"),
            slowaxis: self.int("slow"),
            ..ExposureMeta::default()
        }
    }

    /// Input frames in the official processing order: SCI (int, group), then ZEROFRAME per int.
    fn inputs(&self) -> Vec<(Frame, Vec<f32>)> {
        let mut frames = Vec::new();
        for i in 0..self.nints {
            for g in 0..self.ngroups {
                let base = 150.0 * (g + 1) as f64 + 11.0 * i as f64;
                let data = frame_values(self.seed, i as u64, g as u64, base, self.ny, self.nx);
                frames.push((
                    Frame::Group {
                        integration: i,
                        group: g,
                    },
                    data,
                ));
            }
        }
        if self.zero_frame() {
            for i in 0..self.nints {
                let base = 60.0 + 11.0 * i as f64;
                let data = frame_values(self.seed, i as u64, 0xFFFF, base, self.ny, self.nx);
                frames.push((Frame::ZeroFrame { integration: i }, data));
            }
        }
        let nx = self.nx;
        let us = |s: &String| s.parse::<usize>().unwrap();
        for m in self.all("mod") {
            let rect = |v: &[String]| (us(&v[0])..us(&v[1]), us(&v[2])..us(&v[3]));
            match m[0].as_str() {
                "fill" => {
                    let idx = us(&m[1]) * self.ngroups + us(&m[2]);
                    let (ys, xs) = rect(&m[3..7]);
                    let v: f64 = m[7].parse().unwrap();
                    for y in ys {
                        for x in xs.clone() {
                            frames[idx].1[y * nx + x] = v as f32;
                        }
                    }
                }
                "nan" => {
                    let idx = us(&m[1]) * self.ngroups + us(&m[2]);
                    frames[idx].1[us(&m[3]) * nx + us(&m[4])] = f32::NAN;
                }
                "zf_zero" => {
                    let idx = self.nints * self.ngroups + us(&m[1]);
                    let (ys, xs) = rect(&m[2..6]);
                    for y in ys {
                        for x in xs.clone() {
                            frames[idx].1[y * nx + x] = 0.0;
                        }
                    }
                }
                "dq" => {}
                other => panic!("unknown mod {other}"),
            }
        }
        frames
    }

    fn pixeldq(&self) -> Vec<u32> {
        let mut pdq = pixel_dq(self);
        for m in self.all("mod").iter().filter(|m| m[0] == "dq") {
            let (y, x): (usize, usize) = (m[1].parse().unwrap(), m[2].parse().unwrap());
            pdq[y * self.nx + x] = m[3].parse().unwrap();
        }
        pdq
    }

    fn read_f32(&self, file: &str) -> Option<Vec<f32>> {
        let bytes = std::fs::read(self.dir.join(file)).ok()?;
        Some(
            bytes
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
                .collect(),
        )
    }
    fn read_u64(&self, file: &str) -> Vec<u64> {
        let bytes = std::fs::read(self.dir.join(file)).expect(file);
        bytes
            .chunks_exact(8)
            .map(|b| u64::from_le_bytes(b.try_into().unwrap()))
            .collect()
    }
    fn read_f64(&self, file: &str) -> Option<Vec<f64>> {
        let bytes = std::fs::read(self.dir.join(file)).ok()?;
        Some(
            bytes
                .chunks_exact(8)
                .map(|b| f64::from_le_bytes(b.try_into().unwrap()))
                .collect(),
        )
    }
}

/// "f32 <hex>" / "f64 <hex>" / "none 0" → the official numpy scalar.
fn official_value(kind: &str, hex: &str) -> Option<RefValue> {
    match kind {
        "none" => None,
        "f32" => Some(RefValue::F32(f32::from_bits(
            u32::from_str_radix(hex, 16).unwrap(),
        ))),
        "f64" => Some(RefValue::F64(f64::from_bits(
            u64::from_str_radix(hex, 16).unwrap(),
        ))),
        other => panic!("bad value kind {other}"),
    }
}

/// Bitwise equality that treats every NaN alike (numpy's NaN payload is not part of the contract).
fn same_ref(a: Option<RefValue>, b: Option<RefValue>) -> bool {
    match (a, b) {
        (Some(RefValue::F32(x)), Some(RefValue::F32(y))) => {
            x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan())
        }
        (Some(RefValue::F64(x)), Some(RefValue::F64(y))) => {
            x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan())
        }
        (None, None) => true,
        _ => false,
    }
}

fn check_signals(case: &Case, fi: usize, corr: &GroupCorrection) {
    let signals = corr.signals();
    let offsets: Vec<&Vec<String>> = case
        .all("offset")
        .iter()
        .filter(|o| o[0] == fi.to_string())
        .collect();
    let clips: Vec<&Vec<String>> = case
        .all("clip")
        .iter()
        .filter(|o| o[0] == fi.to_string())
        .collect();
    if !offsets.is_empty() {
        assert_eq!(signals.len(), 4, "frame {fi}: four amplifier signals");
        for o in offsets {
            let amp = (o[1].as_bytes()[0] - b'A') as usize;
            let official = official_value(&o[3], &o[4]);
            let ours = match (signals[amp], o[2].as_str()) {
                // The official 4-amp code names 1-based parity: its "odd" columns are the even
                // 0-based indices.
                (RefSignal::Split { even_index, .. }, "odd") => even_index,
                (RefSignal::Split { odd_index, .. }, "even") => odd_index,
                (RefSignal::Single(v), "all") => v,
                (s, w) => panic!("frame {fi} amp {amp}: {s:?} vs official {w}"),
            };
            assert!(
                same_ref(ours, official),
                "frame {fi} amp {} {}: ours {ours:?}, official {official:?}",
                o[1],
                o[2]
            );
        }
    } else if !clips.is_empty() {
        let ours: Vec<Option<RefValue>> = match signals {
            [RefSignal::Split {
                even_index,
                odd_index,
            }] => vec![*even_index, *odd_index],
            [RefSignal::Single(v)] => vec![*v],
            other => panic!("frame {fi}: unexpected signals {other:?}"),
        };
        assert_eq!(
            ours.len(),
            clips.len(),
            "frame {fi}: number of clipped means"
        );
        for (k, c) in clips.iter().enumerate() {
            let official = official_value(&c[2], &c[3]);
            assert!(
                same_ref(ours[k], official),
                "frame {fi} clip {k}: ours {:?}, official {official:?}",
                ours[k]
            );
        }
    } else {
        assert!(
            signals.is_empty(),
            "frame {fi}: official computed no reference level"
        );
    }
}

fn check_side(case: &Case, fi: usize, corr: &GroupCorrection, official: &[f64]) {
    let o = Orientation::new(case.int("fast"), case.int("slow")).unwrap();
    let (row0, col0) = (case.substrt2 - 1, case.substrt1 - 1);
    let side = corr.side();
    let lines = if o.transposed() { case.nx } else { case.ny };
    assert_eq!(side.len(), lines, "frame {fi}: side signal length");
    for (l, &ours) in side.iter().enumerate() {
        let r = if o.transposed() {
            o.to_detector(row0, col0 + l).0
        } else {
            o.to_detector(row0 + l, col0).0
        };
        let theirs = official[fi * 2048 + r];
        assert!(
            ours.to_bits() == theirs.to_bits() || (ours.is_nan() && theirs.is_nan()),
            "frame {fi} side line {l} (detector row {r}): ours {ours:e}, official {theirs:e}"
        );
    }
}

fn run_case(name: &str) {
    let case = Case::load(name);
    let meta = case.meta();
    let pixeldq = case.pixeldq();
    let path = Path::new(name);
    let plan = RefpixPlan::new(path, &meta, &pixeldq, &case.params()).expect("plan");
    assert_ne!(plan.mode(), RefpixMode::Skipped);
    let frames = case.inputs();
    assert_eq!(frames.len(), case.num("frames"));
    let digests = case.read_u64("rows.u64");
    assert_eq!(digests.len(), frames.len() * case.ny);
    let side_official = case.read_f64("side.f64");
    let full_sci = case.read_f32("out_sci.f32");
    let full_zf = case.read_f32("out_zf.f32");
    let plane = case.ny * case.nx;

    for (fi, (frame, mut data)) in frames.into_iter().enumerate() {
        // The generator twin must rebuild the official input exactly before anything else.
        let input_digest = (0..case.ny).fold(0u64, |acc, y| {
            acc.wrapping_add(digest_row(&data[y * case.nx..(y + 1) * case.nx], y))
        });
        let official_input = &case.all("input_digest")[fi];
        assert_eq!(
            format!("{input_digest:016x}"),
            official_input[1],
            "{name} frame {fi}: rebuilt input differs from make_golden.py's"
        );
        // Summarize through a callback, recording which rows were read.
        let mut asked = Vec::new();
        let corr = {
            let data = &data;
            let nx = case.nx;
            let mut source = |y: usize, out: &mut [f32]| -> Result<(), FramesError> {
                asked.push(y);
                out.copy_from_slice(&data[y * nx..(y + 1) * nx]);
                Ok(())
            };
            plan.summarize(frame, &mut source).expect("summarize")
        };
        assert_eq!(asked, plan.rows_needed(), "frame {fi}: rows read");
        check_signals(&case, fi, &corr);
        match &side_official {
            Some(official) => check_side(&case, fi, &corr, official),
            None => assert!(
                corr.side().is_empty(),
                "frame {fi}: no official side signal"
            ),
        }

        // Apply in bands of 7 rows, last band first.
        let band = 7 * case.nx;
        let nbands = data.len().div_ceil(band);
        for b in (0..nbands).rev() {
            let start = b * band;
            let end = (start + band).min(data.len());
            plan.apply_band(&corr, start / case.nx, &mut data[start..end]);
        }

        let expected_full = match frame {
            Frame::Group { integration, group } => full_sci.as_ref().map(|f| {
                let k = integration * case.ngroups + group;
                &f[k * plane..(k + 1) * plane]
            }),
            Frame::ZeroFrame { integration } => full_zf
                .as_ref()
                .map(|f| &f[integration * plane..(integration + 1) * plane]),
        };
        if let Some(expected) = expected_full {
            for (k, (&ours, &theirs)) in data.iter().zip(expected).enumerate() {
                assert!(
                    ours.to_bits() == theirs.to_bits() || (ours.is_nan() && theirs.is_nan()),
                    "{name} frame {fi} ({frame:?}) pixel (y={}, x={}): ours {ours:e} ({:#010x}), \
                     official {theirs:e} ({:#010x})",
                    k / case.nx,
                    k % case.nx,
                    ours.to_bits(),
                    theirs.to_bits()
                );
            }
        }
        for y in 0..case.ny {
            let row = &data[y * case.nx..(y + 1) * case.nx];
            assert_eq!(
                digest_row(row, y),
                digests[fi * case.ny + y],
                "{name} frame {fi} ({frame:?}) row {y} differs from the official output \
                 (first values {:?})",
                &row[..4.min(row.len())]
            );
        }
    }
}

#[test]
fn oneamp_corner_nrca1() {
    run_case("oneamp_corner_nrca1");
}

#[test]
fn oneamp_top_noeo_nrca2() {
    run_case("oneamp_top_noeo_nrca2");
}

#[test]
fn oneamp_sub32_nrs1() {
    run_case("oneamp_sub32_nrs1");
}

#[test]
fn oneamp_left_nis() {
    run_case("oneamp_left_nis");
}

#[test]
fn fouramp_grism_nrcalong() {
    run_case("fouramp_grism_nrcalong");
}

#[test]
fn fouramp_top_nrcblong() {
    run_case("fouramp_top_nrcblong");
}

#[test]
fn fouramp_sub_nrs1() {
    run_case("fouramp_sub_nrs1");
}

#[test]
fn full_nrs2() {
    run_case("full_nrs2");
}

#[test]
fn full_noside_noeo_nrca2() {
    run_case("full_noside_noeo_nrca2");
}
