//! The raw exposure's mapped pages leave the resident set after band-wise reads, whatever the
//! number of planes. Regression: FITS data units are not page-aligned and the kernel's
//! fault-around maps a whole window around each fault, so reading the last rows of a plane
//! mapped the first rows of the next one; releasing only the plane's own rows left ~64 KiB per
//! plane resident, and peak RSS grew with NINTS (296 MiB at 200 integrations, 694 MiB at 1000,
//! against 214 MiB at 10).

#![cfg(target_os = "linux")]

use frames::raw::RawExposure;

/// Resident kB of the mapping of `path` in this process (sum over its smaps entries).
fn resident_kb_of(path: &std::path::Path) -> u64 {
    let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
    let name = path.canonicalize().unwrap().display().to_string();
    let mut inside = false;
    let mut total = 0;
    for line in smaps.lines() {
        let first = line.split_whitespace().next().unwrap_or("");
        if first.contains('-') && first.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
            inside = line.ends_with(&name);
        } else if inside && line.starts_with("Rss:") {
            total += line
                .split_whitespace()
                .nth(1)
                .unwrap()
                .parse::<u64>()
                .unwrap();
        }
    }
    total
}

#[test]
fn band_reads_released_leave_no_pages_resident() {
    let tmp = tempfile::tempdir().unwrap();
    let words = [
        "--nints",
        "40",
        "--ngroups",
        "4",
        "--ny",
        "256",
        "--nx",
        "2048",
        "--seed",
        "3",
        "--outdir",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([tmp.path().display().to_string()]);
    let sim = sloper::simulate::SimulateArgs::from_words(words).unwrap();
    let report = sloper::simulate::simulate(&sim).unwrap();
    let uncal = &report.uncal[0].0;
    let raw = RawExposure::open(uncal).unwrap();
    let (nints, ngroups, ny, nx) = (raw.nints(), raw.ngroups(), raw.ny(), raw.nx());
    let mut out = vec![0u16; 40 * nx];
    let mut checksum = 0u64;
    // Bands of 40 rows, every plane, as the exact driver's row tiles read them; the last band of
    // each plane ends at the plane's end (where fault-around reaches into the next plane).
    for y0 in (0..ny).step_by(40) {
        let y1 = (y0 + 40).min(ny);
        for i in 0..nints {
            for g in 0..ngroups {
                let o = &mut out[..(y1 - y0) * nx];
                raw.read_band_u16(i, g, y0, y1, o).unwrap();
                checksum += o[o.len() - 1] as u64;
                raw.release_band(i, g, y0, y1);
            }
        }
    }
    assert!(checksum > 0);
    let kb = resident_kb_of(uncal);
    // 160 planes of 1 MiB were read; at most a few fault-around windows may remain (the
    // unreleased design left 160 x ~64 KiB = ~10 MiB).
    assert!(
        kb <= 1024,
        "{kb} kB of the raw file's mapping still resident after every band was released"
    );
}
