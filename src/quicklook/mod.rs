//! Quick-look output while an exposure streams in: one PNG per finished integration (its rate
//! image, robust asinh stretch, DQ-masked pixels in dark red) and a running white-light curve
//! (integrated flux per integration) redrawn after every integration, with its numbers in a
//! CSV beside it. Files are written under a temporary name and renamed, so a viewer never sees
//! a half-written image.

mod plot;
mod stretch;

pub use plot::{draw_light_curve, Canvas};
pub use stretch::{asinh_stretch, Stretch};

use crate::pipeline::online::{IntegrationPlane, PlaneSink};
use anyhow::{Context, Result};
use frames::dq;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Write an RGB8 image as PNG, atomically (temporary name, then rename).
pub fn write_png(path: &Path, width: usize, height: usize, rgb: &[u8]) -> Result<()> {
    anyhow::ensure!(rgb.len() == width * height * 3, "PNG buffer size");
    let tmp = path.with_extension("png.tmp");
    {
        let file = std::fs::File::create(&tmp)
            .with_context(|| format!("{}: cannot create", tmp.display()))?;
        let mut enc = png::Encoder::new(std::io::BufWriter::new(file), width as u32, height as u32);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut w = enc
            .write_header()
            .with_context(|| format!("{}: PNG header", tmp.display()))?;
        w.write_image_data(rgb)
            .with_context(|| format!("{}: PNG data", tmp.display()))?;
        w.finish()
            .with_context(|| format!("{}: PNG end", tmp.display()))?;
    }
    std::fs::rename(&tmp, path).with_context(|| format!("{}: cannot rename", path.display()))
}

/// Whether a pixel of a rate plane can be shown (finite and not DO_NOT_USE).
pub fn usable(sci: f32, dq_value: u32) -> bool {
    sci.is_finite() && dq_value & dq::DO_NOT_USE == 0
}

/// Render a rate image: stretched grey levels, masked pixels dark red, each pixel drawn as a
/// `zoom`×`zoom` block. Returns (width, height, rgb).
pub fn render_rate(
    sci: &[f32],
    dqv: &[u32],
    ny: usize,
    nx: usize,
    zoom: usize,
) -> (usize, usize, Vec<u8>) {
    let good: Vec<f32> = sci
        .iter()
        .zip(dqv)
        .filter(|(&s, &q)| usable(s, q))
        .map(|(&s, _)| s)
        .collect();
    let st = Stretch::robust(&good);
    let (w, h) = (nx * zoom, ny * zoom);
    let mut rgb = vec![0u8; w * h * 3];
    for y in 0..ny {
        for x in 0..nx {
            let k = y * nx + x;
            let px = if usable(sci[k], dqv[k]) {
                let v = (st.apply(sci[k]) * 255.0).round() as u8;
                [v, v, v]
            } else {
                [110, 0, 0]
            };
            // FITS row 0 is the bottom of the image: draw it at the bottom.
            let yy = ny - 1 - y;
            for dy in 0..zoom {
                let row = (yy * zoom + dy) * w;
                for dx in 0..zoom {
                    let o = (row + x * zoom + dx) * 3;
                    rgb[o..o + 3].copy_from_slice(&px);
                }
            }
        }
    }
    (w, h, rgb)
}

/// Integrated flux of a plane: the sum of SCI over usable pixels (DN/s).
pub fn integrated_flux(sci: &[f32], dqv: &[u32]) -> f64 {
    sci.iter()
        .zip(dqv)
        .filter(|(&s, &q)| usable(s, q))
        .map(|(&s, _)| s as f64)
        .sum()
}

/// A [`PlaneSink`] writing quick-look images into a directory.
pub struct QuickLook {
    dir: PathBuf,
    stem: String,
    /// (integration, flux) of every integration so far (16 bytes each).
    curve: Vec<(usize, f64)>,
    /// Print one progress line per integration on stderr.
    pub progress: bool,
}

impl QuickLook {
    /// Quick-look files go to `dir` (created), named after `stem` (the exposure's base name).
    pub fn new(dir: &Path, stem: &str) -> Result<Self> {
        std::fs::create_dir_all(dir).with_context(|| {
            format!("{}: cannot create the quick-look directory", dir.display())
        })?;
        Ok(QuickLook {
            dir: dir.to_path_buf(),
            stem: stem.to_string(),
            curve: Vec::new(),
            progress: false,
        })
    }

    pub fn image_path(&self, int: usize) -> PathBuf {
        self.dir
            .join(format!("{}_int{:05}.png", self.stem, int + 1))
    }
    pub fn curve_path(&self) -> PathBuf {
        self.dir.join(format!("{}_whitelight.png", self.stem))
    }
    pub fn csv_path(&self) -> PathBuf {
        self.dir.join(format!("{}_whitelight.csv", self.stem))
    }
    pub fn curve(&self) -> &[(usize, f64)] {
        &self.curve
    }

    fn write_csv(&self) -> Result<()> {
        let path = self.csv_path();
        let tmp = path.with_extension("csv.tmp");
        let mut f = std::io::BufWriter::new(
            std::fs::File::create(&tmp)
                .with_context(|| format!("{}: cannot create", tmp.display()))?,
        );
        writeln!(f, "integration,flux_dn_per_s")?;
        for (i, v) in &self.curve {
            writeln!(f, "{},{}", i + 1, v)?;
        }
        f.flush()?;
        drop(f);
        std::fs::rename(&tmp, &path).with_context(|| format!("{}: cannot rename", path.display()))
    }
}

impl PlaneSink for QuickLook {
    fn accept(&mut self, p: &IntegrationPlane) -> Result<()> {
        let zoom = (256 / p.ny.max(p.nx).max(1)).clamp(1, 16);
        let (w, h, rgb) = render_rate(&p.sci, &p.dq, p.ny, p.nx, zoom);
        write_png(&self.image_path(p.int), w, h, &rgb)?;
        let flux = integrated_flux(&p.sci, &p.dq);
        self.curve.push((p.int, flux));
        let canvas = draw_light_curve(&self.curve, p.nints, 640, 360);
        write_png(&self.curve_path(), canvas.width, canvas.height, &canvas.rgb)?;
        self.write_csv()?;
        if self.progress {
            eprintln!(
                "quicklook: integration {}/{}: flux {:.6e} DN/s, {} jumps, plane {:.1} ms after its last group",
                p.int + 1,
                p.nints,
                flux,
                p.primary_jumps,
                1e3 * p.latency_secs()
            );
        }
        Ok(())
    }
}
