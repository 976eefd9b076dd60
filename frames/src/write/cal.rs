//! Stage 2 `_cal` (ImageModel) and `_calints` (CubeModel) writers: the rate layouts plus AREA
//! and VAR_FLAT, in the official order (oracle README, Stage 2 layouts).

use std::path::{Path, PathBuf};

use ndarray::ArrayView2;

use super::header::{Card, ProductHeader};
use super::product::{Dtype, Item, ProductFile};
use super::rate::image;
use crate::Result;

/// One band of rows of a cal-like product; every array is (rows, nx).
#[derive(Debug, Clone, Copy)]
pub struct CalBand<'a> {
    pub sci: ArrayView2<'a, f32>,
    pub err: ArrayView2<'a, f32>,
    pub dq: ArrayView2<'a, u32>,
    pub var_poisson: ArrayView2<'a, f32>,
    pub var_rnoise: ArrayView2<'a, f32>,
    pub var_flat: ArrayView2<'a, f32>,
}

fn items(shape: &[usize], bunit: &str, with_area: bool, cube: bool) -> Vec<Item> {
    let (ny, nx) = (shape[shape.len() - 2], shape[shape.len() - 1]);
    let mut v = vec![
        image("SCI", Dtype::F32, shape, Some(bunit), true),
        image("ERR", Dtype::F32, shape, Some(bunit), false),
        image("DQ", Dtype::U32, shape, None, false),
    ];
    if with_area {
        v.push(image("AREA", Dtype::F32, &[ny, nx], None, false));
    }
    if cube {
        v.push(Item::CopyTable { name: "INT_TIMES" });
    }
    v.push(image("VAR_POISSON", Dtype::F32, shape, None, false));
    v.push(image("VAR_RNOISE", Dtype::F32, shape, None, false));
    v.push(image("VAR_FLAT", Dtype::F32, shape, None, false));
    v
}

fn write_band(p: &mut ProductFile, lead: &[usize], y0: usize, b: &CalBand) -> Result<()> {
    p.write_rows("SCI", lead, y0, b.sci)?;
    p.write_rows("ERR", lead, y0, b.err)?;
    p.write_rows("DQ", lead, y0, b.dq)?;
    p.write_rows("VAR_POISSON", lead, y0, b.var_poisson)?;
    p.write_rows("VAR_RNOISE", lead, y0, b.var_rnoise)?;
    p.write_rows("VAR_FLAT", lead, y0, b.var_flat)
}

/// Streaming writer of a `_cal.fits`: PRIMARY, SCI, ERR, DQ, [AREA], VAR_POISSON, VAR_RNOISE,
/// VAR_FLAT, all (ny, nx). `bunit` is `MJy/sr` after photom (`DN/s` if photom found no row).
pub struct CalWriter {
    file: ProductFile,
}

impl CalWriter {
    pub fn create(
        final_path: &Path,
        header: &ProductHeader,
        ny: usize,
        nx: usize,
        bunit: &str,
        with_area: bool,
    ) -> Result<Self> {
        let it = items(&[ny, nx], bunit, with_area, false);
        Ok(CalWriter {
            file: ProductFile::create(final_path, header, "ImageModel", it)?,
        })
    }

    pub fn write_band(&mut self, y0: usize, band: &CalBand) -> Result<()> {
        write_band(&mut self.file, &[], y0, band)
    }

    /// Rows `y0 ..` of AREA (only when created `with_area`).
    pub fn write_area_band(&mut self, y0: usize, area: ArrayView2<f32>) -> Result<()> {
        self.file.write_rows("AREA", &[], y0, area)
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

/// Streaming writer of a `_calints.fits`: PRIMARY, SCI, ERR, DQ, [AREA (ny, nx)], INT_TIMES,
/// VAR_POISSON, VAR_RNOISE, VAR_FLAT; cubes are (nints, ny, nx).
pub struct CalintsWriter {
    file: ProductFile,
}

impl CalintsWriter {
    pub fn create(
        final_path: &Path,
        header: &ProductHeader,
        nints: usize,
        ny: usize,
        nx: usize,
        bunit: &str,
        with_area: bool,
    ) -> Result<Self> {
        let it = items(&[nints, ny, nx], bunit, with_area, true);
        Ok(CalintsWriter {
            file: ProductFile::create(final_path, header, "CubeModel", it)?,
        })
    }

    pub fn write_band(&mut self, int: usize, y0: usize, band: &CalBand) -> Result<()> {
        write_band(&mut self.file, &[int], y0, band)
    }

    pub fn write_area_band(&mut self, y0: usize, area: ArrayView2<f32>) -> Result<()> {
        self.file.write_rows("AREA", &[], y0, area)
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
