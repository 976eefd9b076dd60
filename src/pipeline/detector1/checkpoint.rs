//! `--resume`: the checkpoint of a Detector1 run, so a run stopped part-way (signal, crash, full
//! disk, time limit) continues where it stopped and writes the same products as a run that was
//! never stopped.
//!
//! How: with `--resume` the products are written at fixed partial names
//! (`.NAME.sloper-partial`, see `frames::write::resumable_temp_path`) that survive the run
//! stopping, and a small JSON file `.<rate name>.sloper-checkpoint` beside them records how far
//! the run got. Pass B writes tiles in a fixed order and a tile's products are final once
//! written, so "how far" is: the pass (0, or 1 for sigma-clip mode's second pass with whole-plane
//! clearing, whose plane mask is stored), the number of tiles of that pass whose products are on
//! disk, and the accumulators the products' headers need at the end (the primary cosmic-ray
//! count, whether any pixel was fitted, the whole-plane AND of pass 0). The checkpoint is only
//! rewritten after the partial products have been flushed and synced to disk, and it is replaced
//! atomically (temporary name, sync, rename), so it never claims a tile a crash could lose.
//!
//! A resumed run recomputes pass A (deterministic, and a small part of the work), takes the tile
//! plan from the checkpoint (so `--max-memory` or `--tile` may differ), reopens the partial
//! products, skips the completed tiles and continues; at the end the products are finished
//! (checksums over the whole files, atomic rename) and the checkpoint removed.
//!
//! The checkpoint must match the run: same sloper version, same input file (path, size,
//! modification time), same reference files (likewise), same settings that affect the numbers
//! (everything but threads, memory budget, tile size, progress display and checksum
//! verification), same shape. A checkpoint that does not match, cannot be read, or whose partial
//! products are missing or damaged is an error that names it and the problem: sloper never
//! silently discards an earlier run's work nor silently uses it. Deleting the checkpoint starts
//! the run over; so does a run without `--resume`, which removes the stale checkpoint and partial
//! products once it has written its own products.
//!
//! Checkpoints are taken at most every [`DEFAULT_INTERVAL`] (`SLOPER_CHECKPOINT_SECONDS` sets
//! another interval; 0 = after every tile) and always when the run stops, so an interrupted run
//! (SIGINT/SIGTERM) loses no completed tile and a killed one loses at most one interval of work.
//!
//! Testing only: `SLOPER_TEST_INTERRUPT_AFTER_TILES=N` makes the run request an interrupt (as a
//! SIGINT would) once N tiles have been written, for tests that stop a run at a known point.

use super::Detector1Settings;
use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Checkpoints are taken at most this often while tiles complete (crash loses at most this much).
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);

/// Format tag of the checkpoint file.
const FORMAT: &str = "sloper detector1 checkpoint 1";

/// Where the checkpoint of the run writing `rate` lives: `.<rate name>.sloper-checkpoint` beside it.
pub fn path_for(rate: &Path) -> Result<PathBuf> {
    let name = rate
        .file_name()
        .with_context(|| format!("{}: output path has no file name", rate.display()))?;
    Ok(rate.with_file_name(format!(".{}.sloper-checkpoint", name.to_string_lossy())))
}

/// How often to checkpoint: `SLOPER_CHECKPOINT_SECONDS` or [`DEFAULT_INTERVAL`].
pub fn interval() -> Result<Duration> {
    match std::env::var("SLOPER_CHECKPOINT_SECONDS") {
        Ok(v) => v
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(Duration::from_secs_f64)
            .with_context(|| format!("SLOPER_CHECKPOINT_SECONDS={v:?} is not a number of seconds")),
        Err(_) => Ok(DEFAULT_INTERVAL),
    }
}

/// Testing hook: `SLOPER_TEST_INTERRUPT_AFTER_TILES`.
pub fn test_interrupt_after() -> Option<usize> {
    std::env::var("SLOPER_TEST_INTERRUPT_AFTER_TILES")
        .ok()
        .and_then(|v| v.trim().parse().ok())
}

/// How far a run got (see the module documentation).
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    /// 0, or 1 for sigma-clip mode's second pass.
    pub pass: usize,
    /// Tiles of `pass`, in plan order, whose products are on disk.
    pub tiles_done: usize,
    /// Primary cosmic rays counted over those tiles (PRIMECRS).
    pub primary_total: u64,
    /// Whether any tile written so far (either pass) had a pixel to fit.
    pub fitted: bool,
    /// Pass 0's running AND over tiles of "every core pixel of (int, group) is JUMP_DET or
    /// DO_NOT_USE".
    pub all_planes: Vec<bool>,
    /// The whole-plane clearing mask pass 1 runs with.
    pub planes: Option<Vec<bool>>,
}

/// A checkpoint: the run it belongs to, its tile plan (core rows y0..y1, columns x0..x1) and
/// its progress.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    pub identity: Value,
    pub tiles: Vec<[usize; 4]>,
    pub progress: Progress,
}

/// FNV-1a, 64 bits.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// A file as the checkpoint identifies it: canonical path, size, modification time (ns).
fn file_identity(path: &Path) -> Result<Value> {
    let meta =
        std::fs::metadata(path).with_context(|| format!("{}: cannot stat", path.display()))?;
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos() as u64);
    let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    Ok(json!({
        "path": canonical.display().to_string(),
        "size": meta.len(),
        "mtime_ns": mtime,
    }))
}

/// What a checkpoint must match to be resumed by this run.
pub fn identity(s: &Detector1Settings, shape: [usize; 4]) -> Result<Value> {
    // Settings that do not change a number of the products are left out.
    let mut numbers = s.clone();
    numbers.threads = None;
    numbers.max_memory = stream::MemoryBudget::DEFAULT;
    numbers.tile = None;
    numbers.progress = false;
    numbers.quiet = false;
    numbers.verify_checksums = false;
    numbers.resume = false;
    // Paths as typed depend on the working directory: the input and references are identified
    // below by canonical path, size and time; the products by their names (FILENAME), their
    // directory being the checkpoint's own.
    numbers.input = PathBuf::new();
    numbers.output_dir = PathBuf::new();
    for p in [
        &mut numbers.products.rate,
        &mut numbers.products.rateints,
        &mut numbers.products.ramp,
    ] {
        *p = p.file_name().map(PathBuf::from).unwrap_or_default();
    }
    let canon = |p: &mut PathBuf| {
        if let Ok(c) = std::fs::canonicalize(&*p) {
            *p = c;
        }
    };
    let n = &mut numbers;
    for p in [
        n.mask.as_mut(),
        n.saturation.as_mut().map(|x| &mut x.0),
        n.saturation_bias.as_mut(),
        n.superbias.as_mut(),
        n.linearity.as_mut(),
        n.dark.as_mut().map(|x| &mut x.0),
        n.jump_gain.as_mut(),
        n.jump_readnoise.as_mut(),
        Some(&mut n.gain),
        Some(&mut n.readnoise),
        n.gain_scale.as_mut(),
    ]
    .into_iter()
    .flatten()
    {
        canon(p);
    }
    let settings = format!("{:016x}", fnv1a(format!("{numbers:?}").as_bytes()));
    let references = s
        .reference_paths()
        .iter()
        .map(|p| file_identity(p))
        .collect::<Result<Vec<_>>>()?;
    Ok(json!({
        "sloper": env!("CARGO_PKG_VERSION"),
        "input": file_identity(&s.input)?,
        "references": references,
        "settings": settings,
        "shape": shape,
    }))
}

fn bits(v: &[bool]) -> String {
    v.iter().map(|&b| if b { '1' } else { '0' }).collect()
}

fn unbits(s: &str) -> Option<Vec<bool>> {
    s.chars()
        .map(|c| match c {
            '1' => Some(true),
            '0' => Some(false),
            _ => None,
        })
        .collect()
}

/// The first field in which two identities differ, in words.
fn mismatch(saved: &Value, now: &Value) -> Option<String> {
    if saved["sloper"] != now["sloper"] {
        return Some(format!(
            "it was written by sloper {}, this is sloper {}",
            saved["sloper"], now["sloper"]
        ));
    }
    if saved["input"] != now["input"] {
        return Some(format!(
            "it is for input {} (size {}, mtime {}); the input is now {} (size {}, mtime {})",
            saved["input"]["path"],
            saved["input"]["size"],
            saved["input"]["mtime_ns"],
            now["input"]["path"],
            now["input"]["size"],
            now["input"]["mtime_ns"]
        ));
    }
    if saved["references"] != now["references"] {
        let empty = vec![];
        let a = saved["references"].as_array().unwrap_or(&empty);
        let b = now["references"].as_array().unwrap_or(&empty);
        if let Some(r) = b.iter().find(|r| !a.contains(r)) {
            return Some(format!(
                "reference {} is not the one that run used (different file, size or modification time)",
                r["path"]
            ));
        }
        return Some("the set of reference files differs".into());
    }
    if saved["settings"] != now["settings"] {
        return Some(
            "the step settings differ (same command line needed, apart from --threads, \
             --max-memory, --tile, --no-progress, --quiet, --verify-checksums)"
                .into(),
        );
    }
    if saved["shape"] != now["shape"] {
        return Some(format!(
            "it is for shape {}, the input has {}",
            saved["shape"], now["shape"]
        ));
    }
    (saved != now).then(|| "its run identity differs".into())
}

impl Checkpoint {
    /// The checkpoint at `path` when there is one, after checking it belongs to a run with
    /// `identity` and a frame of `ny × nx`. Absent: `Ok(None)`. Unreadable or not matching: an
    /// error naming the file.
    pub fn load(path: &Path, identity: &Value, ny: usize, nx: usize) -> Result<Option<Checkpoint>> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("{}: cannot read checkpoint", path.display()))
            }
        };
        let remedy = "delete it (and the .sloper-partial files beside it) to start over";
        let c = Self::parse(&text, ny, nx).with_context(|| {
            format!(
                "{}: not a valid sloper checkpoint; {remedy}",
                path.display()
            )
        })?;
        if let Some(why) = mismatch(&c.identity, identity) {
            bail!(
                "{}: checkpoint of a different run: {why}; run the same command to resume, or {remedy}",
                path.display()
            );
        }
        Ok(Some(c))
    }

    fn parse(text: &str, ny: usize, nx: usize) -> Result<Checkpoint> {
        let v: Value = serde_json::from_str(text).context("not JSON")?;
        if v["format"] != FORMAT {
            bail!("format is {}, expected {FORMAT:?}", v["format"]);
        }
        let usize_of = |x: &Value, what: &str| -> Result<usize> {
            x.as_u64()
                .map(|n| n as usize)
                .with_context(|| format!("{what} is not a count"))
        };
        let tiles: Vec<[usize; 4]> = v["tiles"]
            .as_array()
            .context("no tile plan")?
            .iter()
            .map(|t| -> Result<[usize; 4]> {
                let a = t.as_array().filter(|a| a.len() == 4).context("bad tile")?;
                let mut r = [0; 4];
                for (o, x) in r.iter_mut().zip(a) {
                    *o = usize_of(x, "tile bound")?;
                }
                let [y0, y1, x0, x1] = r;
                if y0 >= y1 || x0 >= x1 || y1 > ny || x1 > nx {
                    bail!("tile {r:?} does not fit the {ny}x{nx} frame");
                }
                Ok(r)
            })
            .collect::<Result<_>>()?;
        let p = &v["progress"];
        let planes_of = |x: &Value, what: &str| -> Result<Vec<bool>> {
            x.as_str()
                .and_then(unbits)
                .with_context(|| format!("{what} is not a string of 0 and 1"))
        };
        let progress = Progress {
            pass: usize_of(&p["pass"], "pass")?,
            tiles_done: usize_of(&p["tiles_done"], "tiles_done")?,
            primary_total: p["primary_total"]
                .as_u64()
                .context("primary_total is not a count")?,
            fitted: p["fitted"].as_bool().context("fitted is not a boolean")?,
            all_planes: planes_of(&p["all_planes"], "all_planes")?,
            planes: match &p["planes"] {
                Value::Null => None,
                x => Some(planes_of(x, "planes")?),
            },
        };
        if progress.pass > 1 || (progress.pass == 1) != progress.planes.is_some() {
            bail!("pass {} with planes {:?}", progress.pass, p["planes"]);
        }
        if progress.tiles_done > tiles.len() {
            bail!(
                "{} tiles done of a plan of {}",
                progress.tiles_done,
                tiles.len()
            );
        }
        Ok(Checkpoint {
            identity: v["identity"].clone(),
            tiles,
            progress,
        })
    }

    /// Replace the checkpoint at `path` atomically: written at a temporary name, synced, renamed,
    /// and the directory synced.
    pub fn save(&self, path: &Path) -> Result<()> {
        let p = &self.progress;
        let v = json!({
            "format": FORMAT,
            "identity": self.identity,
            "tiles": self.tiles,
            "progress": {
                "pass": p.pass,
                "tiles_done": p.tiles_done,
                "primary_total": p.primary_total,
                "fitted": p.fitted,
                "all_planes": bits(&p.all_planes),
                "planes": p.planes.as_deref().map(bits),
            },
        });
        let tmp = new_path(path);
        let write = || -> std::io::Result<()> {
            use std::io::Write;
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(serde_json::to_string_pretty(&v)?.as_bytes())?;
            f.write_all(b"\n")?;
            f.sync_all()?;
            std::fs::rename(&tmp, path)?;
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                // Make the rename durable; not every platform can open a directory.
                if let Ok(d) = std::fs::File::open(dir) {
                    let _ = d.sync_all();
                }
            }
            Ok(())
        };
        write().with_context(|| format!("{}: cannot write the checkpoint", path.display()))
    }
}

/// Where [`Checkpoint::save`] writes before renaming (left behind by a crash mid-save).
fn new_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push("-new");
    PathBuf::from(name)
}

/// Remove the checkpoint at `path` (and a half-saved replacement of it), if there is one.
pub fn discard(path: &Path) -> Result<()> {
    remove(&new_path(path))?;
    remove(path)
}

/// Remove a file if it exists.
pub fn remove(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("{}: cannot remove", path.display()))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Checkpoint {
        Checkpoint {
            identity: json!({"sloper": "x", "input": {"path": "/a", "size": 1, "mtime_ns": 2},
                "references": [], "settings": "00", "shape": [1, 2, 3, 4]}),
            tiles: vec![[0, 2, 0, 4], [2, 3, 0, 4]],
            progress: Progress {
                pass: 1,
                tiles_done: 1,
                primary_total: 17,
                fitted: true,
                all_planes: vec![true, false],
                planes: Some(vec![false, true]),
            },
        }
    }

    #[test]
    fn round_trip_and_refusals() {
        let dir = tempfile::tempdir().unwrap();
        let path = path_for(&dir.path().join("x_rate.fits")).unwrap();
        assert!(path.ends_with(".x_rate.fits.sloper-checkpoint"));
        let c = sample();
        assert!(Checkpoint::load(&path, &c.identity, 3, 4)
            .unwrap()
            .is_none());
        c.save(&path).unwrap();
        let back = Checkpoint::load(&path, &c.identity, 3, 4).unwrap().unwrap();
        assert_eq!(back.tiles, c.tiles);
        assert_eq!(back.progress, c.progress);
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "no temporary file left");

        // A different input.
        let mut other = c.identity.clone();
        other["input"]["size"] = json!(5);
        let e = Checkpoint::load(&path, &other, 3, 4).unwrap_err();
        let e = format!("{e:#}");
        assert!(
            e.contains("sloper-checkpoint") && e.contains("different run") && e.contains("input"),
            "{e}"
        );
        // Different settings.
        let mut other = c.identity.clone();
        other["settings"] = json!("01");
        let e = format!("{:#}", Checkpoint::load(&path, &other, 3, 4).unwrap_err());
        assert!(e.contains("settings differ"), "{e}");
        // A plan that does not fit the frame.
        let e = format!(
            "{:#}",
            Checkpoint::load(&path, &c.identity, 2, 4).unwrap_err()
        );
        assert!(e.contains("not a valid sloper checkpoint"), "{e}");
        // Damaged file.
        std::fs::write(&path, "{\"format\": 3").unwrap();
        let e = format!(
            "{:#}",
            Checkpoint::load(&path, &c.identity, 3, 4).unwrap_err()
        );
        assert!(
            e.contains("not a valid sloper checkpoint") && e.contains("delete it"),
            "{e}"
        );
    }
}
