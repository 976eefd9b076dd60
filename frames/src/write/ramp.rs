//! `_ramp` (RampModel, `save_calibrated_ramp`) writer.

use std::path::{Path, PathBuf};

use ndarray::ArrayView2;

use super::header::{Card, ProductHeader};
use super::product::{Dtype, Item, ProductFile};
use super::rate::{image, resumable_methods};
use crate::Result;

/// Streaming writer of a `_ramp.fits`: PRIMARY, SCI f32 (nints, ngroups, ny, nx), PIXELDQ u32
/// (ny, nx), GROUPDQ u8 (nints, ngroups, ny, nx), ZEROFRAME f32 (nints, ny, nx) and AVDRKCUR
/// f32 (ny, nx) when requested, GROUP and INT_TIMES copied from the input. No ERR (as the
/// official RampModel).
pub struct RampWriter {
    file: ProductFile,
}

/// The optional HDUs of a ramp product.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RampExtras {
    pub avdrkcur: bool,
    /// The input had a ZEROFRAME (placed after GROUPDQ, as the official product does).
    pub zeroframe: bool,
}

fn ramp_items(nints: usize, ngroups: usize, ny: usize, nx: usize, extras: RampExtras) -> Vec<Item> {
    let s4 = [nints, ngroups, ny, nx];
    let s2 = [ny, nx];
    let mut items = vec![
        image("SCI", Dtype::F32, &s4, None, true),
        image("PIXELDQ", Dtype::U32, &s2, None, false),
        image("GROUPDQ", Dtype::U8, &s4, None, false),
    ];
    if extras.zeroframe {
        items.push(image(
            "ZEROFRAME",
            Dtype::F32,
            &[nints, ny, nx],
            None,
            false,
        ));
    }
    if extras.avdrkcur {
        items.push(image("AVDRKCUR", Dtype::F32, &s2, None, false));
    }
    items.push(Item::CopyTable { name: "GROUP" });
    items.push(Item::CopyTable { name: "INT_TIMES" });
    items
}

impl RampWriter {
    pub fn create(
        final_path: &Path,
        header: &ProductHeader,
        nints: usize,
        ngroups: usize,
        ny: usize,
        nx: usize,
        with_avdrkcur: bool,
    ) -> Result<Self> {
        let extras = RampExtras {
            avdrkcur: with_avdrkcur,
            zeroframe: false,
        };
        let items = ramp_items(nints, ngroups, ny, nx, extras);
        Ok(RampWriter {
            file: ProductFile::create(final_path, header, "RampModel", items)?,
        })
    }

    /// [`create`](Self::create) for a run that may be resumed (see
    /// [`RateWriter::create_resumable`](super::RateWriter::create_resumable)).
    pub fn create_resumable(
        final_path: &Path,
        header: &ProductHeader,
        nints: usize,
        ngroups: usize,
        ny: usize,
        nx: usize,
        with_avdrkcur: bool,
    ) -> Result<Self> {
        let extras = RampExtras {
            avdrkcur: with_avdrkcur,
            zeroframe: false,
        };
        let items = ramp_items(nints, ngroups, ny, nx, extras);
        Ok(RampWriter {
            file: ProductFile::create_resumable(final_path, header, "RampModel", items)?,
        })
    }

    /// Reopen the partial file a resumable run left (checked to be this product and shape).
    pub fn reopen(
        final_path: &Path,
        nints: usize,
        ngroups: usize,
        ny: usize,
        nx: usize,
        with_avdrkcur: bool,
    ) -> Result<Self> {
        let extras = RampExtras {
            avdrkcur: with_avdrkcur,
            zeroframe: false,
        };
        let items = ramp_items(nints, ngroups, ny, nx, extras);
        Ok(RampWriter {
            file: ProductFile::reopen(final_path, "RampModel", items)?,
        })
    }

    /// [`create`](Self::create) (or, `resumable`, [`create_resumable`](Self::create_resumable))
    /// with any of the optional HDUs; `shape` is (nints, ngroups, ny, nx).
    pub fn create_with(
        final_path: &Path,
        header: &ProductHeader,
        shape: [usize; 4],
        extras: RampExtras,
        resumable: bool,
    ) -> Result<Self> {
        let [nints, ngroups, ny, nx] = shape;
        let items = ramp_items(nints, ngroups, ny, nx, extras);
        let file = if resumable {
            ProductFile::create_resumable(final_path, header, "RampModel", items)?
        } else {
            ProductFile::create(final_path, header, "RampModel", items)?
        };
        Ok(RampWriter { file })
    }

    /// [`reopen`](Self::reopen) with any of the optional HDUs.
    pub fn reopen_with(final_path: &Path, shape: [usize; 4], extras: RampExtras) -> Result<Self> {
        let [nints, ngroups, ny, nx] = shape;
        let items = ramp_items(nints, ngroups, ny, nx, extras);
        Ok(RampWriter {
            file: ProductFile::reopen(final_path, "RampModel", items)?,
        })
    }

    resumable_methods!();

    /// A rectangle of the ZEROFRAME of integration `int` (only when created with it).
    pub fn write_zeroframe_rect(
        &mut self,
        int: usize,
        y0: usize,
        x0: usize,
        zeroframe: ArrayView2<f32>,
    ) -> Result<()> {
        self.file.write_rect("ZEROFRAME", &[int], y0, x0, zeroframe)
    }

    /// Rows `y0 ..` of (integration, group): SCI and GROUPDQ.
    pub fn write_group_band(
        &mut self,
        int: usize,
        group: usize,
        y0: usize,
        sci: ArrayView2<f32>,
        groupdq: ArrayView2<u8>,
    ) -> Result<()> {
        self.file.write_rows("SCI", &[int, group], y0, sci)?;
        self.file.write_rows("GROUPDQ", &[int, group], y0, groupdq)
    }

    /// A rectangle (rows `y0..`, columns `x0..`) of (integration, group): SCI and GROUPDQ.
    pub fn write_group_rect(
        &mut self,
        int: usize,
        group: usize,
        y0: usize,
        x0: usize,
        sci: ArrayView2<f32>,
        groupdq: ArrayView2<u8>,
    ) -> Result<()> {
        self.file.write_rect("SCI", &[int, group], y0, x0, sci)?;
        self.file
            .write_rect("GROUPDQ", &[int, group], y0, x0, groupdq)
    }

    /// A rectangle of PIXELDQ.
    pub fn write_pixeldq_rect(
        &mut self,
        y0: usize,
        x0: usize,
        pixeldq: ArrayView2<u32>,
    ) -> Result<()> {
        self.file.write_rect("PIXELDQ", &[], y0, x0, pixeldq)
    }

    /// A rectangle of AVDRKCUR (only when created `with_avdrkcur`).
    pub fn write_avdrkcur_rect(
        &mut self,
        y0: usize,
        x0: usize,
        avdrkcur: ArrayView2<f32>,
    ) -> Result<()> {
        self.file.write_rect("AVDRKCUR", &[], y0, x0, avdrkcur)
    }

    /// Rows `y0 ..` of PIXELDQ.
    pub fn write_pixeldq_band(&mut self, y0: usize, pixeldq: ArrayView2<u32>) -> Result<()> {
        self.file.write_rows("PIXELDQ", &[], y0, pixeldq)
    }

    /// Rows `y0 ..` of AVDRKCUR (only when created `with_avdrkcur`).
    pub fn write_avdrkcur_band(&mut self, y0: usize, avdrkcur: ArrayView2<f32>) -> Result<()> {
        self.file.write_rows("AVDRKCUR", &[], y0, avdrkcur)
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
