//! The truth sidecar `<name>_truth.fits`: what was injected, for checking pipeline outputs.
//!
//! HDUs: `SLOPE` (expected count rate in DN/s after dark subtraction and before gain_scale:
//! flux / gain, the star out of transit included), `FLUX_E` and `DARK_E` (e-/s), `GAIN` (e-/DN),
//! `FULLWELL_E` (e-), `STAR_E` (imaging only), `LIGHTCURVE` (imaging only: integration, factor
//! on the star) and `CRS`, the cosmic-ray list (integration, frame, y, x, electrons, primary; all
//! 0-based except frame, which counts from 1 after the reset), appended per integration while
//! the exposure streams out so that memory does not grow with the number of integrations.

use std::path::{Path, PathBuf};

use fitsio::images::ImageType;
use fitsio::FitsFile;
use frames::FramesError;

use super::config::Plan;
use super::detector::Pixel;
use super::fitsout::{key, FitsOut};
use super::ramp::CosmicRay;
use super::scene::Scene;

pub fn path(plan: &Plan) -> PathBuf {
    plan.outdir.join(format!("{}_truth.fits", plan.name))
}

/// Write everything but the cosmic rays (an empty `CRS` table is left last for appending).
pub fn write_static(plan: &Plan, det: &[Pixel], scene: &Scene) -> frames::Result<PathBuf> {
    let p = path(plan);
    let mut out = FitsOut::create(&p)?;
    let mut cards = vec![
        key("ORIGIN", "sloper simulate", "truth of a synthetic exposure"),
        key("SEED", plan.seed as i64, "simulator seed"),
        key("NINTS", plan.nints, "integrations"),
        key("NGROUPS", plan.ngroups, "groups per integration"),
        key("TFRAME", plan.tframe, "[s] frame time"),
        key("FRMDIVSR", plan.frame_divisor, "frame divisor"),
    ];
    if let Some(g) = plan.gainfact {
        cards.push(key(
            "GAINFACT",
            g,
            "gain_scale multiplies the rates by this",
        ));
    }
    out.cards(&cards)?;
    let dims = [plan.ny, plan.nx];
    let slope: Vec<f32> = det
        .iter()
        .zip(&scene.flux_e)
        .map(|(d, f)| f / d.gain)
        .collect();
    let dn_s = [key("BUNIT", "DN/s", "")];
    let e_s = [key("BUNIT", "electron/s", "")];
    out.image_with("SLOPE", ImageType::Float, &dims, &dn_s, &slope)?;
    out.image_with("FLUX_E", ImageType::Float, &dims, &e_s, &scene.flux_e)?;
    let dark: Vec<f32> = det.iter().map(|d| d.dark_e).collect();
    out.image_with("DARK_E", ImageType::Float, &dims, &e_s, &dark)?;
    let gain: Vec<f32> = det.iter().map(|d| d.gain).collect();
    out.image_with("GAIN", ImageType::Float, &dims, &[], &gain)?;
    let fw: Vec<f32> = det.iter().map(|d| d.fullwell_e).collect();
    out.image_with("FULLWELL_E", ImageType::Float, &dims, &[], &fw)?;
    if let Some(star) = &scene.star_e {
        out.image_with("STAR_E", ImageType::Float, &dims, &e_s, star)?;
        out.table(
            "LIGHTCURVE",
            &[("integration", "1J"), ("factor", "1D")],
            plan.nints,
            &[],
        )?;
        let ints: Vec<i32> = (0..plan.nints as i32).collect();
        let lc: Vec<f64> = (0..plan.nints).map(|i| plan.lightcurve(i)).collect();
        out.col_i32(1, 1, &ints)?;
        out.col_f64(2, 1, &lc)?;
    }
    out.table(
        "CRS",
        &[
            ("int", "1J"),
            ("frame", "1J"),
            ("y", "1J"),
            ("x", "1J"),
            ("electrons", "1D"),
            ("primary", "1B"),
        ],
        0,
        &[],
    )?;
    out.finish()?;
    Ok(p)
}

/// Appends cosmic rays to the `CRS` table of an existing truth file.
pub struct CrAppender {
    out: FitsOut,
    rows: usize,
}

impl CrAppender {
    pub fn open(p: &Path) -> frames::Result<CrAppender> {
        let mut file = FitsFile::edit(p).map_err(|e| FramesError::fits(p, e))?;
        file.hdu("CRS").map_err(|e| FramesError::fits(p, e))?; // makes CRS the current HDU
        Ok(CrAppender {
            out: FitsOut {
                file,
                path: p.to_path_buf(),
            },
            rows: 0,
        })
    }

    pub fn append(&mut self, int: usize, crs: &[CosmicRay]) -> frames::Result<()> {
        let first = self.rows + 1;
        let col = |f: &dyn Fn(&CosmicRay) -> i32| crs.iter().map(f).collect::<Vec<i32>>();
        self.out.col_i32(1, first, &vec![int as i32; crs.len()])?;
        self.out.col_i32(2, first, &col(&|c| c.frame as i32))?;
        self.out.col_i32(3, first, &col(&|c| c.y as i32))?;
        self.out.col_i32(4, first, &col(&|c| c.x as i32))?;
        self.out.col_f64(
            5,
            first,
            &crs.iter().map(|c| c.electrons).collect::<Vec<_>>(),
        )?;
        self.out.col_u8(
            6,
            first,
            &crs.iter().map(|c| c.primary as u8).collect::<Vec<_>>(),
        )?;
        self.rows += crs.len();
        Ok(())
    }

    pub fn finish(self) -> frames::Result<u64> {
        self.out.finish()
    }
}
