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

fn rate_items(ny: usize, nx: usize) -> Vec<Item> {
    let s = [ny, nx];
    vec![
        image("SCI", Dtype::F32, &s, Some("DN/s"), true),
        image("ERR", Dtype::F32, &s, Some("DN/s"), false),
        image("DQ", Dtype::U32, &s, None, false),
        image("VAR_POISSON", Dtype::F32, &s, None, false),
        image("VAR_RNOISE", Dtype::F32, &s, None, false),
    ]
}

fn rateints_items(nints: usize, ny: usize, nx: usize) -> Vec<Item> {
    let s = [nints, ny, nx];
    vec![
        image("SCI", Dtype::F32, &s, Some("DN/s"), true),
        image("ERR", Dtype::F32, &s, Some("DN/s"), false),
        image("DQ", Dtype::U32, &s, None, false),
        Item::CopyTable { name: "INT_TIMES" },
        image("VAR_POISSON", Dtype::F32, &s, None, false),
        image("VAR_RNOISE", Dtype::F32, &s, None, false),
    ]
}

/// The calls every writer has for a resumable run (`--resume`): see `ProductFile`.
macro_rules! resumable_methods {
    () => {
        /// Hand everything written so far to the operating system and wait until it is on disk
        /// (before a checkpoint records it).
        pub fn sync(&mut self) -> Result<()> {
            self.file.sync()
        }

        /// Declare a rectangle of every array as written by the interrupted run that a
        /// reopened product comes from (for `finish`'s completeness check).
        pub fn mark_written(
            &mut self,
            y0: usize,
            x0: usize,
            rows: usize,
            cols: usize,
        ) -> Result<()> {
            self.file.mark_written(y0, x0, rows, cols)
        }

        /// Close and delete the temporary file (dropping a resumable writer keeps it).
        pub fn discard(self) -> Result<()> {
            self.file.discard()
        }
    };
}
pub(super) use resumable_methods;

impl RateWriter {
    /// Create the product (at a temporary name) for an (ny, nx) image.
    pub fn create(final_path: &Path, header: &ProductHeader, ny: usize, nx: usize) -> Result<Self> {
        Ok(RateWriter {
            file: ProductFile::create(final_path, header, "ImageModel", rate_items(ny, nx))?,
        })
    }

    /// [`create`](Self::create) for a run that may be resumed: written at
    /// `write::resumable_temp_path(final_path)` and kept when dropped unfinished.
    pub fn create_resumable(
        final_path: &Path,
        header: &ProductHeader,
        ny: usize,
        nx: usize,
    ) -> Result<Self> {
        Ok(RateWriter {
            file: ProductFile::create_resumable(
                final_path,
                header,
                "ImageModel",
                rate_items(ny, nx),
            )?,
        })
    }

    /// Reopen the partial file a resumable run left (checked to be this product and shape).
    pub fn reopen(final_path: &Path, ny: usize, nx: usize) -> Result<Self> {
        Ok(RateWriter {
            file: ProductFile::reopen(final_path, "ImageModel", rate_items(ny, nx))?,
        })
    }

    resumable_methods!();

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
        let items = rateints_items(nints, ny, nx);
        Ok(RateintsWriter {
            file: ProductFile::create(final_path, header, "CubeModel", items)?,
        })
    }

    /// [`create`](Self::create) for a run that may be resumed (see [`RateWriter::create_resumable`]).
    pub fn create_resumable(
        final_path: &Path,
        header: &ProductHeader,
        nints: usize,
        ny: usize,
        nx: usize,
    ) -> Result<Self> {
        let items = rateints_items(nints, ny, nx);
        Ok(RateintsWriter {
            file: ProductFile::create_resumable(final_path, header, "CubeModel", items)?,
        })
    }

    /// Reopen the partial file a resumable run left (checked to be this product and shape).
    pub fn reopen(final_path: &Path, nints: usize, ny: usize, nx: usize) -> Result<Self> {
        Ok(RateintsWriter {
            file: ProductFile::reopen(final_path, "CubeModel", rateints_items(nints, ny, nx))?,
        })
    }

    resumable_methods!();

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
