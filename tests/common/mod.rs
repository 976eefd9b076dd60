//! Shared helpers for the integration tests: unpacking gzipped fixtures, running detector1 and
//! comparing FITS products array by array.
#![allow(dead_code)]

use std::io::Read;
use std::path::{Path, PathBuf};

/// The `_uncal.fits` files of `dir`, sorted (a segmented exposure has several).
pub fn uncals(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with("_uncal.fits"))
        .collect();
    v.sort();
    v
}

/// Repository root (the sloper package directory).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Copy every `*.fits.gz` / `*.fits` of `src` into `dst`, decompressed (memory maps need plain files).
pub fn unpack_fits(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for e in std::fs::read_dir(src).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        if let Some(stem) = name.strip_suffix(".gz") {
            let mut raw = Vec::new();
            flate2::read::GzDecoder::new(std::fs::File::open(&p).unwrap())
                .read_to_end(&mut raw)
                .unwrap();
            std::fs::write(dst.join(stem), raw).unwrap();
        } else if name.ends_with(".fits") {
            std::fs::copy(&p, dst.join(&name)).unwrap();
        }
    }
}

/// Run `sloper detector1` (the library, not the binary) with strun-style arguments.
pub fn detector1(args: &[String]) -> sloper::pipeline::detector1::Detector1Report {
    use sloper::config::{parse_strun_args, DETECTOR1};
    use sloper::pipeline::detector1::{run, settings::EXTRA_OPTIONS, Detector1Settings};
    let cfg = parse_strun_args(DETECTOR1, args, EXTRA_OPTIONS).unwrap();
    let settings = Detector1Settings::from_config(&cfg).unwrap();
    run(&settings).unwrap()
}

/// One image HDU's data, by kind, for exact comparison.
#[derive(Debug, PartialEq)]
pub enum Data {
    F32(Vec<u32>), // bit patterns, NaNs canonicalised
    U32(Vec<u32>),
    U8(Vec<u8>),
}

fn canon(v: f32) -> u32 {
    if v.is_nan() {
        0x7fc0_0000
    } else {
        v.to_bits()
    }
}

/// Read every image HDU (name, data) of a FITS file (gzipped or not).
pub fn images(path: &Path) -> Vec<(String, Data)> {
    use fitsio::hdu::HduInfo;
    let mut f = fitsio::FitsFile::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut out = Vec::new();
    let n = f.iter().count();
    for i in 1..n {
        let hdu = f.hdu(i).unwrap();
        let name: String = hdu.read_key(&mut f, "EXTNAME").unwrap_or_default();
        if let HduInfo::ImageInfo { shape, image_type } = &hdu.info {
            if shape.is_empty() {
                continue;
            }
            use fitsio::images::ImageType::*;
            let bzero: f64 = hdu.read_key(&mut f, "BZERO").unwrap_or(0.0);
            let data = match image_type {
                Float | Double => Data::F32(
                    hdu.read_image::<Vec<f32>>(&mut f)
                        .unwrap()
                        .into_iter()
                        .map(canon)
                        .collect(),
                ),
                Long | UnsignedLong if bzero != 0.0 || matches!(image_type, UnsignedLong) => {
                    Data::U32(hdu.read_image::<Vec<u32>>(&mut f).unwrap())
                }
                Long => Data::U32(hdu.read_image::<Vec<u32>>(&mut f).unwrap()),
                UnsignedByte | Byte => Data::U8(hdu.read_image::<Vec<u8>>(&mut f).unwrap()),
                other => panic!(
                    "{}[{name}]: unexpected image type {other:?}",
                    path.display()
                ),
            };
            out.push((name, data));
        }
    }
    out
}

/// Assert that every image HDU of `golden` exists in `ours` with identical values.
pub fn assert_same_images(ours: &Path, golden: &Path) {
    let mine = images(ours);
    for (name, data) in images(golden) {
        let Some((_, m)) = mine.iter().find(|(n, _)| *n == name) else {
            panic!(
                "{}: no {name} HDU (golden {} has one)",
                ours.display(),
                golden.display()
            );
        };
        if *m != data {
            let (diff, total) = match (m, &data) {
                (Data::F32(a), Data::F32(b)) => {
                    (a.iter().zip(b).filter(|(x, y)| x != y).count(), b.len())
                }
                (Data::U32(a), Data::U32(b)) => {
                    (a.iter().zip(b).filter(|(x, y)| x != y).count(), b.len())
                }
                (Data::U8(a), Data::U8(b)) => {
                    (a.iter().zip(b).filter(|(x, y)| x != y).count(), b.len())
                }
                _ => (usize::MAX, 0),
            };
            panic!(
                "{}[{name}]: {diff} of {total} values differ from {}",
                ours.display(),
                golden.display()
            );
        }
    }
}

/// `sloper simulate` (the built binary) of `nints × ngroups × 256 × 256` with every reference,
/// into `dir`; returns the raw file.
pub fn simulate_cli(dir: &Path, nints: usize, ngroups: usize, seed: u64) -> PathBuf {
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_sloper"))
        .arg("simulate")
        .args([
            "--nints",
            &nints.to_string(),
            "--ngroups",
            &ngroups.to_string(),
        ])
        .args([
            "--ny",
            "256",
            "--nx",
            "256",
            "--seed",
            &seed.to_string(),
            "--outdir",
        ])
        .arg(dir)
        .stdout(std::process::Stdio::null())
        .status()
        .expect("run sloper simulate");
    assert!(status.success(), "sloper simulate failed");
    dir.join("jw01234001001_01101_00001_nrcalong_uncal.fits")
}

/// Length and FNV-1a hash of a whole file: enough to notice any modified byte.
pub fn fingerprint(path: &Path) -> (u64, u64) {
    let bytes = std::fs::read(path).unwrap();
    let hash = bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    (bytes.len() as u64, hash)
}

/// File names in `dir` (empty when it does not exist).
pub fn entries(dir: &Path) -> Vec<String> {
    match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    }
}
