//! Statistical sanity of `sloper simulate`: the raw ramps carry the injected fluxes, saturation
//! and cosmic rays, and the references describe them.

use std::path::Path;

use fitsio::FitsFile;
use sloper::simulate::{simulate, SimulateArgs};

const NAME: &str = "jw01234001001_01101_00001_nrcalong";

fn image<T: fitsio::images::ReadImage>(p: &Path, ext: &str) -> T {
    let mut f = FitsFile::open(p).unwrap();
    let h = f.hdu(ext).unwrap();
    h.read_image(&mut f).unwrap()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

struct Sim {
    dir: tempfile::TempDir,
    nints: usize,
    ngroups: usize,
    ny: usize,
    nx: usize,
}

impl Sim {
    fn run(nints: usize, ngroups: usize, ny: usize, nx: usize, extra: &[&str]) -> Sim {
        let dir = tempfile::tempdir().unwrap();
        let mut w: Vec<String> = vec!["--outdir".into(), dir.path().display().to_string()];
        for (k, v) in [
            ("--nints", nints),
            ("--ngroups", ngroups),
            ("--ny", ny),
            ("--nx", nx),
        ] {
            w.push(k.into());
            w.push(v.to_string());
        }
        w.extend(extra.iter().map(|s| s.to_string()));
        simulate(&SimulateArgs::from_words(w).unwrap()).unwrap();
        Sim {
            dir,
            nints,
            ngroups,
            ny,
            nx,
        }
    }
    fn path(&self, f: &str) -> std::path::PathBuf {
        self.dir.path().join(f)
    }
    fn raw(&self) -> Vec<f64> {
        let d: Vec<u16> = image(&self.path(&format!("{NAME}_uncal.fits")), "SCI");
        assert_eq!(d.len(), self.nints * self.ngroups * self.ny * self.nx);
        d.into_iter().map(f64::from).collect()
    }
    fn at(&self, i: usize, g: usize, y: usize, x: usize) -> usize {
        ((i * self.ngroups + g) * self.ny + y) * self.nx + x
    }
}

/// Background pixels ramp at the injected rate: after removing the per-frame drift with the
/// reference pixels of the same column parity (what refpix does), the median over pixels of the
/// mean group difference, divided by the expected (flux + dark) * TGROUP / gain, is 1 within the
/// small non-linearity of the raw data.
#[test]
fn background_ramps_match_the_injected_flux() {
    let s = Sim::run(3, 10, 64, 64, &["--seed", "21"]);
    let raw = s.raw();
    let truth = s.path(&format!("{NAME}_truth.fits"));
    let flux: Vec<f32> = image(&truth, "FLUX_E");
    let dark: Vec<f32> = image(&truth, "DARK_E");
    let gain: Vec<f32> = image(&truth, "GAIN");
    let mask: Vec<u32> = image(&s.path("ref_mask.fits"), "DQ");
    let mut f = FitsFile::open(s.path(&format!("{NAME}_uncal.fits"))).unwrap();
    let prim = f.primary_hdu().unwrap();
    let tgroup: f64 = prim.read_key(&mut f, "TGROUP").unwrap();
    let refpix = |k: usize| mask[k] & (1 << 31) != 0;

    // Mean reference-pixel difference per (int, group diff, detector column parity).
    let n = s.ny * s.nx;
    let mut ratios = Vec::new();
    let mut ref_diff = vec![[0.0f64; 2]; s.nints * (s.ngroups - 1)];
    for i in 0..s.nints {
        for g in 0..s.ngroups - 1 {
            let mut sum = [0.0; 2];
            let mut cnt = [0.0; 2];
            for k in (0..n).filter(|&k| refpix(k)) {
                let par = (2047 - k % s.nx) % 2;
                sum[par] +=
                    raw[s.at(i, g + 1, k / s.nx, k % s.nx)] - raw[s.at(i, g, k / s.nx, k % s.nx)];
                cnt[par] += 1.0;
            }
            ref_diff[i * (s.ngroups - 1) + g] = [sum[0] / cnt[0], sum[1] / cnt[1]];
        }
    }
    for k in 0..n {
        let expected = (flux[k] as f64 + dark[k] as f64) * tgroup / gain[k] as f64;
        // Background only: no DQ flag, below 1 % of the full well per group.
        if refpix(k) || mask[k] != 0 || !(5.0..300.0).contains(&expected) {
            continue;
        }
        let par = (2047 - k % s.nx) % 2;
        let mut diffs = Vec::new();
        for i in 0..s.nints {
            for g in 0..s.ngroups - 1 {
                let d =
                    raw[s.at(i, g + 1, k / s.nx, k % s.nx)] - raw[s.at(i, g, k / s.nx, k % s.nx)];
                diffs.push(d - ref_diff[i * (s.ngroups - 1) + g][par]);
            }
        }
        // The median difference ignores the occasional cosmic ray.
        ratios.push(median(diffs) / expected);
    }
    assert!(ratios.len() > 2000, "{} background pixels", ratios.len());
    let m = median(ratios);
    assert!(
        (m - 1.0).abs() < 0.02,
        "median measured/injected background rate = {m}"
    );
}

/// Saturation: some pixels exceed the SATURATION threshold, and the raw values of those that do
/// stay at the full-well level; the reference pixels carry no charge.
#[test]
fn saturation_cosmic_rays_and_reference_pixels() {
    let s = Sim::run(2, 6, 48, 64, &["--seed", "4"]);
    let raw = s.raw();
    let sat: Vec<f32> = image(&s.path("ref_saturation.fits"), "SCI");
    let bias: Vec<f32> = image(&s.path("ref_superbias.fits"), "SCI");
    let mask: Vec<u32> = image(&s.path("ref_mask.fits"), "DQ");
    let gain: Vec<f32> = image(&s.path("ref_gain.fits"), "SCI");
    let n = s.ny * s.nx;
    let last = s.ngroups - 1;
    let saturated: Vec<usize> = (0..n)
        .filter(|&k| sat[k].is_finite() && raw[s.at(0, last, k / s.nx, k % s.nx)] >= sat[k] as f64)
        .collect();
    assert!(
        saturated.len() >= 2,
        "only {} saturated pixels",
        saturated.len()
    );
    // Saturated pixels sit at the full well: the last two groups differ only by read noise
    // (the drift is common to all pixels and small).
    for &k in &saturated {
        let (y, x) = (k / s.nx, k % s.nx);
        let d = raw[s.at(0, last, y, x)] - raw[s.at(0, last - 1, y, x)];
        assert!(d.abs() < 120.0, "saturated pixel {k} still ramps by {d} DN");
    }

    // Reference pixels: bias + drift + noise only, so no ramp: last - first group ~ 0.
    let mut ref_slopes = Vec::new();
    for k in (0..n).filter(|&k| mask[k] & (1 << 31) != 0) {
        let (y, x) = (k / s.nx, k % s.nx);
        ref_slopes.push(raw[s.at(0, last, y, x)] - raw[s.at(0, 0, y, x)]);
        let b = bias[k] as f64;
        if b.is_finite() {
            assert!(
                (raw[s.at(0, 0, y, x)] - b).abs() < 150.0,
                "reference pixel {k} far from its bias"
            );
        }
    }
    assert!(median(ref_slopes).abs() < 60.0);

    // Cosmic rays: every big primary hit in a pixel far from saturation shows as a step of about
    // its charge / gain in the difference of the group that first contains it.
    let truth = s.path(&format!("{NAME}_truth.fits"));
    let mut f = FitsFile::open(&truth).unwrap();
    let h = f.hdu("CRS").unwrap();
    let ints: Vec<i32> = h.read_col(&mut f, "int").unwrap();
    let frames: Vec<i32> = h.read_col(&mut f, "frame").unwrap();
    let ys: Vec<i32> = h.read_col(&mut f, "y").unwrap();
    let xs: Vec<i32> = h.read_col(&mut f, "x").unwrap();
    let es: Vec<f64> = h.read_col(&mut f, "electrons").unwrap();
    let prim: Vec<i32> = h.read_col(&mut f, "primary").unwrap();
    assert!(ints.len() >= 4, "at least two primaries per integration");
    let mut checked = 0;
    for c in 0..ints.len() {
        let (i, fr, y, x) = (
            ints[c] as usize,
            frames[c] as usize,
            ys[c] as usize,
            xs[c] as usize,
        );
        let k = y * s.nx + x;
        if prim[c] == 0 || es[c] < 3000.0 || raw[s.at(i, last, y, x)] >= sat[k] as f64 - 2000.0 {
            continue;
        }
        // RAPID: frame fr (1-based) is group fr - 1.
        let g = fr - 1;
        let step = raw[s.at(i, g, y, x)] - raw[s.at(i, g - 1, y, x)];
        let others: Vec<f64> = (1..s.ngroups)
            .filter(|&h| h != g)
            .map(|h| raw[s.at(i, h, y, x)] - raw[s.at(i, h - 1, y, x)])
            .collect();
        let jump = step - median(others);
        let expected = es[c] / gain[k] as f64;
        assert!(
            jump > 0.6 * expected && jump < 1.4 * expected + 60.0,
            "CR {c}: jump {jump} vs {expected}"
        );
        checked += 1;
    }
    assert!(checked >= 1, "no cosmic ray could be checked");
}

/// Frame averaging with a frame divisor: groups are the sum of NFRAMES reads / FRMDIVSR, so with
/// FRMDIVSR = 2 x NFRAMES the bias level halves.
#[test]
fn frame_divisor_scales_the_groups() {
    let s = Sim::run(
        1,
        3,
        16,
        16,
        &[
            "--readpatt",
            "BRIGHT2",
            "--frame-divisor",
            "4",
            "--seed",
            "8",
        ],
    );
    let raw = s.raw();
    let bias: Vec<f32> = image(&s.path("ref_superbias.fits"), "SCI");
    let ratios: Vec<f64> = (0..256)
        .filter(|&k| bias[k].is_finite())
        .map(|k| raw[s.at(0, 0, k / 16, k % 16)] / bias[k] as f64)
        .collect();
    let m = median(ratios);
    assert!((m - 0.5).abs() < 0.02, "first group / bias = {m}");
}
