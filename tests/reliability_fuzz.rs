//! Hostile input (issue 7): thousands of seeded mutations of the committed FITS fixtures — bit
//! flips in headers and data, truncations, hostile card values (absurd NAXISn, wrong BITPIX,
//! broken TFORM, ...), deleted cards and blocks, duplicated blocks — fed to every reader:
//! `RawExposure::open`, `RampFile::open`, `ExposureMeta::read`, `LogicalExposure::open`, every
//! reference loader, `sloper info` (`describe`) and the checksum verifier. Each must return `Ok`
//! or a clean `Err` that names the file; a panic fails the test and the mutant is saved under
//! `target/fuzz-mutants/` for replay.
//!
//! The run is deterministic (own SplitMix64 PRNG, fixed seed) and bounded: `SLOPER_FUZZ_ITERS`
//! mutants per seed file (default 400: about 5 s in a debug build).
//! `SLOPER_FUZZ_SEED` changes the seed for longer exploratory runs, e.g.
//! `SLOPER_FUZZ_ITERS=5000 SLOPER_FUZZ_SEED=7 cargo test --release --test reliability_fuzz`.
//! `SLOPER_FUZZ_TRACE=1` prints every call before it runs and keeps the mutants, for the crashes
//! `catch_unwind` cannot catch (an aborting allocation failure).

mod common;

use frames::meta::ExposureMeta;
use frames::raw::{RampFile, RawExposure};
use frames::refs;
use std::io::Read;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// SplitMix64: tiny, deterministic, independent of any crate's version.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len())]
    }
}

const BLOCK: usize = 2880;
const CARD: usize = 80;

/// Byte ranges of the header blocks of a well-formed FITS file (the seeds are trusted).
fn header_ranges(bytes: &[u8]) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos + BLOCK <= bytes.len() {
        let start = pos;
        let mut keys = std::collections::HashMap::new();
        let mut end = None;
        'blocks: while pos + BLOCK <= bytes.len() {
            for c in bytes[pos..pos + BLOCK].chunks(CARD) {
                let key = String::from_utf8_lossy(&c[..8]).trim().to_string();
                if key == "END" {
                    end = Some(pos + BLOCK);
                    break 'blocks;
                }
                if c.len() >= 10 && &c[8..10] == b"= " {
                    let v = String::from_utf8_lossy(&c[10..]);
                    let v = v.split('/').next().unwrap_or("").trim().to_string();
                    keys.insert(key, v);
                }
            }
            pos += BLOCK;
        }
        let Some(hend) = end else { break };
        out.push(start..hend);
        // The bytes may already be mutated: clamp everything, never trust a count.
        let int = |k: &str| keys.get(k).and_then(|v| v.parse::<i64>().ok()).unwrap_or(0);
        let naxis = int("NAXIS").clamp(0, 999);
        let mut n: i64 = if naxis > 0 { 1 } else { 0 };
        for i in 1..=naxis {
            n = n.saturating_mul(int(&format!("NAXIS{i}")).max(0));
        }
        let gcount = if keys.contains_key("GCOUNT") {
            int("GCOUNT")
        } else {
            1
        };
        let bits = (int("BITPIX").unsigned_abs() / 8)
            .saturating_mul(gcount.max(0) as u64)
            .saturating_mul(int("PCOUNT").max(0).saturating_add(n) as u64);
        let data = (bits.min(bytes.len() as u64) as usize).div_ceil(BLOCK) * BLOCK;
        pos = hend + data;
    }
    out
}

/// Values that have broken FITS readers before: zero, negative, huge, not a number, wrong type.
const HOSTILE_VALUES: &[&str] = &[
    "0",
    "-1",
    "1",
    "2",
    "3",
    "5",
    "8",
    "16",
    "-16",
    "32",
    "-32",
    "64",
    "-64",
    "999",
    "65536",
    "2147483647",
    "-2147483648",
    "4294967296",
    "9223372036854775807",
    "99999999999999999999",
    "1E300",
    "-1E300",
    "NAN",
    "T",
    "F",
    "'junk'",
    "''",
    "'1J'",
    "'E'",
    "'99999999E'",
    "'1PE(999999999)'",
    "'2147483647B'",
    "'0E'",
    "'-1E'",
    "'IMAGE'",
    "'BINTABLE'",
    "'SCI'",
    "'DQ'",
    "'GROUPDQ'",
    "'INT_TIMES'",
    "'DQ_DEF'",
    "",
];

/// Keywords whose values steer allocation and layout; edited more often than others.
const STRUCTURAL: &[&str] = &[
    "BITPIX", "NAXIS", "NAXIS1", "NAXIS2", "NAXIS3", "NAXIS4", "PCOUNT", "GCOUNT", "TFIELDS",
    "TFORM1", "TFORM2", "TFORM3", "TFORM4", "TTYPE1", "TTYPE2", "TTYPE3", "XTENSION", "EXTNAME",
    "BZERO", "BSCALE", "THEAP", "NINTS", "NGROUPS", "NFRAMES", "GROUPGAP", "SUBSTRT1", "SUBSTRT2",
    "SUBSIZE1", "SUBSIZE2", "FASTAXIS", "SLOWAXIS", "NOUTPUTS", "FRMDIVSR", "INTSTART", "INTEND",
    "EXSEGNUM", "EXSEGTOT", "NRESETS", "TGROUP", "TFRAME", "READPATT", "SUBARRAY", "DETECTOR",
    "REFTYPE", "EXP_TYPE", "ZEROFRAM", "GAINFACT", "NSAMPLES",
];

/// Where each card of the headers starts, with its keyword.
fn cards(bytes: &[u8], headers: &[std::ops::Range<usize>]) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for h in headers {
        for at in (h.start..h.end).step_by(CARD) {
            let key = String::from_utf8_lossy(&bytes[at..at + 8])
                .trim()
                .to_string();
            out.push((at, key));
        }
    }
    out
}

fn set_card_value(bytes: &mut [u8], at: usize, key: &str, value: &str) {
    let card = format!("{key:<8}= {value:>20}");
    let mut card = card.into_bytes();
    card.resize(CARD, b' ');
    bytes[at..at + CARD].copy_from_slice(&card);
}

/// One random mutation; returns a short description for the failure report.
fn mutate(rng: &mut Rng, bytes: &mut Vec<u8>) -> String {
    if bytes.is_empty() {
        return "no-op (empty file)".into();
    }
    let headers = header_ranges(bytes);
    let cards = cards(bytes, &headers);
    match rng.below(10) {
        // Bit flips inside a header.
        0 | 1 if !headers.is_empty() => {
            let h = rng.pick(&headers).clone();
            let at = h.start + rng.below(h.len());
            let bit = rng.below(8);
            bytes[at] ^= 1 << bit;
            format!("flip bit {bit} of header byte {at}")
        }
        // Random byte anywhere (data units too).
        2 => {
            let at = rng.below(bytes.len());
            let v = rng.next() as u8;
            bytes[at] = v;
            format!("byte {at} = {v:#04x}")
        }
        // Truncation: anywhere, or on a card / block boundary.
        3 => {
            let len = match rng.below(3) {
                0 => rng.below(bytes.len()),
                1 => rng.below(bytes.len() / CARD) * CARD,
                _ => rng.below(bytes.len() / BLOCK) * BLOCK,
            };
            bytes.truncate(len);
            format!("truncate to {len}")
        }
        // Hostile value for a structural keyword.
        4..=6 => {
            let structural: Vec<_> = cards
                .iter()
                .filter(|(_, k)| STRUCTURAL.contains(&k.as_str()))
                .collect();
            if structural.is_empty() {
                return "no-op".into();
            }
            let (at, key) = rng.pick(&structural);
            let v = rng.pick(HOSTILE_VALUES);
            set_card_value(bytes, *at, key, v);
            format!("{key} = {v} (card at {at})")
        }
        // Delete a card (the header's later cards move up, a blank card fills the end).
        7 if !cards.is_empty() => {
            let (at, key) = rng.pick(&cards).clone();
            let h = headers.iter().find(|h| h.contains(&at)).unwrap().clone();
            bytes.copy_within(at + CARD..h.end, at);
            bytes[h.end - CARD..h.end].fill(b' ');
            format!("delete card {key} at {at}")
        }
        // Delete or duplicate a whole 2880-byte block.
        8 if bytes.len() >= BLOCK => {
            let b = rng.below(bytes.len() / BLOCK) * BLOCK;
            if rng.below(2) == 0 {
                bytes.drain(b..b + BLOCK);
                format!("delete block at {b}")
            } else {
                let block: Vec<u8> = bytes[b..b + BLOCK].to_vec();
                bytes.splice(b..b, block);
                format!("duplicate block at {b}")
            }
        }
        // Any card's value replaced (keywords the readers look up by name).
        _ if !cards.is_empty() => {
            let (at, key) = rng.pick(&cards).clone();
            if key.is_empty() || key == "END" || key == "COMMENT" || key == "HISTORY" {
                return "no-op".into();
            }
            let v = rng.pick(HOSTILE_VALUES);
            set_card_value(bytes, at, &key, v);
            format!("{key} = {v} (card at {at})")
        }
        _ => "no-op".into(),
    }
}

fn read_fixture(path: &Path) -> Vec<u8> {
    let mut raw = Vec::new();
    std::fs::File::open(path)
        .and_then(|mut f| f.read_to_end(&mut raw))
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    if path.extension().is_some_and(|e| e == "gz") {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .unwrap();
        out
    } else {
        raw
    }
}

type Reader = fn(&Path, &ExposureMeta) -> Result<(), String>;

fn ok<T, E: std::fmt::Display>(r: Result<T, E>) -> Result<(), String> {
    r.map(|_| ()).map_err(|e| e.to_string())
}

/// The readers every file goes through, whatever it holds.
const ANY_FILE: &[(&str, Reader)] = &[
    ("ExposureMeta::read", |p, _| ok(ExposureMeta::read(p))),
    ("info::describe", |p, _| ok(sloper::cli::info::describe(p))),
    ("fits::verify_checksums", |p, _| {
        ok(frames::fits::verify_checksums(p))
    }),
    ("verify_checksums", |p, _| {
        ok(frames::write::verify_checksums(p))
    }),
];

const EXPOSURE_READERS: &[(&str, Reader)] = &[
    ("RawExposure::open", |p, _| {
        let raw = RawExposure::open(p).map_err(|e| e.to_string())?;
        // Touch the first and last band of the mapped data through the public API.
        let (nx, ny) = (raw.nx(), raw.ny());
        let mut out = vec![0f32; nx];
        if ny > 0 && raw.nints() > 0 && raw.ngroups() > 0 && nx <= 1 << 16 {
            raw.read_band_f32(0, 0, 0, 1, &mut out)
                .map_err(|e| e.to_string())?;
            raw.read_band_f32(raw.nints() - 1, raw.ngroups() - 1, ny - 1, ny, &mut out)
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }),
    ("LogicalExposure::open", |p, _| {
        ok(frames::segments::LogicalExposure::open(p))
    }),
];

const RAMP_READERS: &[(&str, Reader)] = &[("RampFile::open", |p, _| ok(RampFile::open(p)))];

fn reference_reader(name: &str) -> Option<(&'static str, Reader)> {
    let r: (&'static str, Reader) = match name {
        "ref_dark.fits" => ("DarkRef::load", |p, m| ok(refs::DarkRef::load(p, m))),
        "ref_gain.fits" => ("GainRef::load", |p, m| ok(refs::GainRef::load(p, m))),
        "ref_ipc.fits" => ("IpcRef::load", |p, m| ok(refs::IpcRef::load(p, m))),
        "ref_linearity.fits" => ("LinearityRef::load", |p, m| {
            ok(refs::LinearityRef::load(p, m))
        }),
        "ref_mask.fits" => ("MaskRef::load", |p, m| ok(refs::MaskRef::load(p, m))),
        "ref_readnoise.fits" => ("ReadnoiseRef::load", |p, m| {
            ok(refs::ReadnoiseRef::load(p, m))
        }),
        "ref_saturation.fits" => ("SaturationRef::load", |p, m| {
            ok(refs::SaturationRef::load(p, m))
        }),
        "ref_superbias.fits" => ("SuperbiasRef::load", |p, m| {
            ok(refs::SuperbiasRef::load(p, m))
        }),
        "tsimg_ref_flat.fits.gz" => ("FlatRef::load", |p, m| ok(refs::FlatRef::load(p, m))),
        "tsimg_ref_area.fits.gz" => ("AreaRef::load", |p, m| ok(refs::AreaRef::load(p, m))),
        "tsimg_ref_photom.fits.gz" => ("PhotomRef::load", |p, _| ok(refs::PhotomRef::load(p))),
        _ => return None,
    };
    Some(r)
}

/// A seed file and the readers its mutants go through.
struct Seed {
    path: PathBuf,
    readers: Vec<(&'static str, Reader)>,
    meta: ExposureMeta,
}

fn seeds() -> Vec<Seed> {
    let root = common::repo().join("fixtures");
    let tiny = root.join("oracle/tiny");
    let uncal = tiny.join("jw01234001001_01101_00001_nrcalong_uncal.fits");
    let tiny_meta = ExposureMeta::read(&uncal).unwrap();
    let stage23 = root.join("stage23");
    let ts_meta = || {
        // The TSO imaging exposure the stage23 references belong to (its _rate carries the
        // exposure metadata).
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("rate.fits");
        std::fs::write(&p, read_fixture(&stage23.join("tsimg_rate.fits.gz"))).unwrap();
        ExposureMeta::read(&p).unwrap()
    };
    let any = || ANY_FILE.to_vec();
    let mut out = vec![
        Seed {
            path: uncal.clone(),
            readers: [any(), EXPOSURE_READERS.to_vec()].concat(),
            meta: tiny_meta.clone(),
        },
        Seed {
            path: root.join("read/segments/jw01234001001_01101_00001-seg002_nrcalong_uncal.fits"),
            readers: [any(), EXPOSURE_READERS.to_vec()].concat(),
            meta: tiny_meta.clone(),
        },
        Seed {
            path: tiny.join("golden/jw01234001001_01101_00001_nrcalong_ramp.fits"),
            readers: [any(), RAMP_READERS.to_vec()].concat(),
            meta: tiny_meta.clone(),
        },
        Seed {
            path: tiny.join("golden/jw01234001001_01101_00001_nrcalong_rateints.fits"),
            readers: any(),
            meta: tiny_meta.clone(),
        },
    ];
    for e in std::fs::read_dir(&tiny).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        if let Some(r) = reference_reader(&name) {
            out.push(Seed {
                path: p,
                readers: [any(), vec![r]].concat(),
                meta: tiny_meta.clone(),
            });
        }
    }
    let meta = ts_meta();
    for name in [
        "tsimg_ref_flat.fits.gz",
        "tsimg_ref_area.fits.gz",
        "tsimg_ref_photom.fits.gz",
    ] {
        out.push(Seed {
            path: stage23.join(name),
            readers: [any(), vec![reference_reader(name).unwrap()]].concat(),
            meta: meta.clone(),
        });
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

/// A panic found: which reader, on which mutant, and where the mutant was saved.
#[derive(Debug)]
#[allow(dead_code)] // read through Debug in the failure message
struct Finding {
    reader: &'static str,
    seed: String,
    mutations: Vec<String>,
    message: String,
    saved: PathBuf,
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "(non-string panic)".into())
}

/// Set while a reader runs under `catch_unwind`: its panic is collected, not printed.
static QUIET: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Longest a single reader call may take on one small mutant.
const HANG: Duration = Duration::from_secs(20);

#[test]
fn mutated_fixtures_never_panic_any_reader() {
    let iters = env_u64("SLOPER_FUZZ_ITERS", 400);
    let seed = env_u64("SLOPER_FUZZ_SEED", 0x0051_07e4);
    let trace = std::env::var_os("SLOPER_FUZZ_TRACE").is_some();
    let tmp = tempfile::tempdir().unwrap();
    let crash_dir = common::repo().join("target/fuzz-mutants");
    let mut findings: Vec<Finding> = Vec::new();
    let mut errors = 0usize;
    let mut unnamed: Vec<String> = Vec::new();
    let mut oks = 0usize;
    let mut slowest = (Duration::ZERO, String::new());
    let t_all = Instant::now();

    // A watchdog: a reader stuck on one mutant (an endless loop, a giant read) ends the test
    // with the mutant saved, instead of hanging CI.
    let current: std::sync::Arc<std::sync::Mutex<Option<(Instant, String, PathBuf)>>> =
        Default::default();
    {
        let current = std::sync::Arc::clone(&current);
        let crash_dir = crash_dir.clone();
        std::thread::spawn(move || loop {
            std::thread::sleep(Duration::from_millis(500));
            let guard = current.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((t0, what, path)) = guard.as_ref() {
                if t0.elapsed() > HANG {
                    let _ = std::fs::create_dir_all(&crash_dir);
                    let saved = crash_dir.join(path.file_name().unwrap());
                    let _ = std::fs::copy(path, &saved);
                    eprintln!(
                        "fuzz: HANG > {HANG:?}: {what}; mutant saved as {}",
                        saved.display()
                    );
                    std::process::exit(101);
                }
            }
        });
    }

    // Keep the panics' default report out of the output; they are collected below.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !QUIET.load(std::sync::atomic::Ordering::SeqCst) {
            hook(info);
        }
    }));

    for (si, s) in seeds().iter().enumerate() {
        let original = read_fixture(&s.path);
        let seed_name = s.path.file_name().unwrap().to_string_lossy().into_owned();
        let mut rng = Rng(seed ^ (si as u64).wrapping_mul(0x1000_0000_01b3));
        for it in 0..iters {
            let mut bytes = original.clone();
            let n_ops = 1 + rng.below(3);
            let mutations: Vec<String> = (0..n_ops).map(|_| mutate(&mut rng, &mut bytes)).collect();
            // A name per mutant: cfitsio shares handles between opens of the same name.
            let path = tmp
                .path()
                .join(format!("m{si}_{it}_{seed_name}").replace(".gz", ""));
            std::fs::write(&path, &bytes).unwrap();
            for (reader, f) in &s.readers {
                let t0 = Instant::now();
                *current.lock().unwrap() = Some((
                    t0,
                    format!("{reader} on {seed_name} {mutations:?}"),
                    path.clone(),
                ));
                if trace {
                    // An allocation failure aborts the process: the last line names the culprit.
                    eprintln!("fuzz: {reader} on {} {mutations:?}", path.display());
                }
                QUIET.store(true, std::sync::atomic::Ordering::SeqCst);
                let r = catch_unwind(AssertUnwindSafe(|| f(&path, &s.meta)));
                QUIET.store(false, std::sync::atomic::Ordering::SeqCst);
                let dt = t0.elapsed();
                *current.lock().unwrap() = None;
                if dt > slowest.0 {
                    slowest = (dt, format!("{reader} on {seed_name} {mutations:?}"));
                }
                match r {
                    Ok(Ok(())) => oks += 1,
                    Ok(Err(msg)) => {
                        errors += 1;
                        let name = path.file_name().unwrap().to_string_lossy();
                        if !msg.contains(&*name) && unnamed.len() < 20 {
                            unnamed.push(format!("{reader} on {seed_name} {mutations:?}: {msg}"));
                        }
                    }
                    Err(p) => {
                        std::fs::create_dir_all(&crash_dir).unwrap();
                        let saved = crash_dir.join(path.file_name().unwrap());
                        std::fs::write(&saved, &bytes).unwrap();
                        findings.push(Finding {
                            reader,
                            seed: seed_name.clone(),
                            mutations: mutations.clone(),
                            message: panic_text(&*p),
                            saved,
                        });
                    }
                }
            }
            if !trace {
                let _ = std::fs::remove_file(&path);
            }
        }
    }
    let _ = std::panic::take_hook();
    eprintln!(
        "fuzz: {iters} mutants per seed, {oks} Ok, {errors} clean errors, {} panics in {:.1?}; \
         slowest call {:.1?}: {}",
        findings.len(),
        t_all.elapsed(),
        slowest.0,
        slowest.1
    );
    assert!(findings.is_empty(), "readers panicked:\n{findings:#?}");
    assert!(
        unnamed.is_empty(),
        "errors that do not name the file:\n{unnamed:#?}"
    );
    assert!(
        slowest.0 < Duration::from_secs(10),
        "a reader took {:?}: {}",
        slowest.0,
        slowest.1
    );
}
