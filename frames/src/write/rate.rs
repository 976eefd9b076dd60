//! `_rate` (ImageModel) and `_rateints` (CubeModel) writers.

use std::path::{Path, PathBuf};

use ndarray::ArrayView2;

use super::header::{Card, ProductHeader};
use super::product::{Dtype, Item, ProductFile};
use crate::Result;

/// One band of rows of a rate-like product; every array is (rows, nx).
#[derive(Debug, Clone, Copy)]
pub struct RateBand<'a> {
    pub sci: ArrayView2<'a, f32>,
    pub err: ArrayView2<'a, f32>,
    pub dq: ArrayView2<'a, u32>,
    pub var_poisson: ArrayView2<'a, f32>,
    pub var_rnoise: ArrayView2<'a, f32>,
}

pub(super) fn image(
    name: &'static str,
    dtype: Dtype,
    shape: &[usize],
    bunit: Option<&str>,
    sci: bool,
) -> Item {
    Item::Image {
        name,
        dtype,
        shape: shape.to_vec(),
        bunit: bunit.map(str::to_string),
        sci_header: sci,
    }
}

fn write_band(p: &mut ProductFile, lead: &[usize], y0: usize, b: &RateBand) -> Result<()> {
    p.write_rows("SCI", lead, y0, b.sci)?;
    p.write_rows("ERR", lead, y0, b.err)?;
    p.write_rows("DQ", lead, y0, b.dq)?;
    p.write_rows("VAR_POISSON", lead, y0, b.var_poisson)?;
    p.write_rows("VAR_RNOISE", lead, y0, b.var_rnoise)
}

fn write_rect(
    p: &mut ProductFile,
    lead: &[usize],
    y0: usize,
    x0: usize,
    b: &RateBand,
) -> Result<()> {
    p.write_rect("SCI", lead, y0, x0, b.sci)?;
    p.write_rect("ERR", lead, y0, x0, b.err)?;
    p.write_rect("DQ", lead, y0, x0, b.dq)?;
    p.write_rect("VAR_POISSON", lead, y0, x0, b.var_poisson)?;
    p.write_rect("VAR_RNOISE", lead, y0, x0, b.var_rnoise)
}

/// Streaming writer of a `_rate.fits`: PRIMARY, SCI f32 (DN/s), ERR f32 (DN/s), DQ u32,
/// VAR_POISSON f32, VAR_RNOISE f32, all (ny, nx).
pub struct RateWriter {
    file: ProductFile,
}

impl RateWriter {
    /// Create the product (at a temporary name) for an (ny, nx) image.
    pub fn create(final_path: &Path, header: &ProductHeader, ny: usize, nx: usize) -> Result<Self> {
        let s = [ny, nx];
        let items = vec![
            image("SCI", Dtype::F32, &s, Some("DN/s"), true),
            image("ERR", Dtype::F32, &s, Some("DN/s"), false),
            image("DQ", Dtype::U32, &s, None, false),
            image("VAR_POISSON", Dtype::F32, &s, None, false),
            image("VAR_RNOISE", Dtype::F32, &s, None, false),
        ];
        Ok(RateWriter {
            file: ProductFile::create(final_path, header, "ImageModel", items)?,
        })
    }

    /// Write rows `y0 .. y0 + band rows` of every array.
    pub fn write_band(&mut self, y0: usize, band: &RateBand) -> Result<()> {
        write_band(&mut self.file, &[], y0, band)
    }

    /// Write a rectangle (rows `y0..`, columns `x0..`) of every array.
    pub fn write_rect(&mut self, y0: usize, x0: usize, band: &RateBand) -> Result<()> {
        write_rect(&mut self.file, &[], y0, x0, band)
    }

    /// Update or add primary keywords before finishing (e.g. PRIMECRS, S_GANSCL).
    pub fn update_primary(&mut self, cards: &[Card]) -> Result<()> {
        self.file.update_primary(cards)
    }

    /// Checksums, close, atomic rename. Returns the final path.
    pub fn finish(self) -> Result<PathBuf> {
        self.file.finish()
    }

    /// Where the file is being written until `finish`.
    pub fn temp_path(&self) -> &Path {
        self.file.temp_path()
    }
}

/// Streaming writer of a `_rateints.fits`: PRIMARY, SCI, ERR, DQ, INT_TIMES (copied from the
/// input), VAR_POISSON, VAR_RNOISE; images are (nints, ny, nx).
pub struct RateintsWriter {
    file: ProductFile,
}

impl RateintsWriter {
    /// Create the product for `nints` integrations (those of this file/segment) of (ny, nx).
    pub fn create(
        final_path: &Path,
        header: &ProductHeader,
        nints: usize,
        ny: usize,
        nx: usize,
    ) -> Result<Self> {
        let s = [nints, ny, nx];
        let items = vec![
            image("SCI", Dtype::F32, &s, Some("DN/s"), true),
            image("ERR", Dtype::F32, &s, Some("DN/s"), false),
            image("DQ", Dtype::U32, &s, None, false),
            Item::CopyTable { name: "INT_TIMES" },
            image("VAR_POISSON", Dtype::F32, &s, None, false),
            image("VAR_RNOISE", Dtype::F32, &s, None, false),
        ];
        Ok(RateintsWriter {
            file: ProductFile::create(final_path, header, "CubeModel", items)?,
        })
    }

    /// Write rows `y0 ..` of integration `int` (0-based within this file).
    pub fn write_band(&mut self, int: usize, y0: usize, band: &RateBand) -> Result<()> {
        write_band(&mut self.file, &[int], y0, band)
    }

    /// Write a rectangle (rows `y0..`, columns `x0..`) of integration `int`.
    pub fn write_rect(&mut self, int: usize, y0: usize, x0: usize, band: &RateBand) -> Result<()> {
        write_rect(&mut self.file, &[int], y0, x0, band)
    }

    pub fn update_primary(&mut self, cards: &[Card]) -> Result<()> {
        self.file.update_primary(cards)
    }

    pub fn finish(self) -> Result<PathBuf> {
        self.file.finish()
    }

    pub fn temp_path(&self) -> &Path {
        self.file.temp_path()
    }
}
