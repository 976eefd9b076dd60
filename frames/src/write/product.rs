//! The streaming FITS product underneath every writer.
//!
//! The file is created at a temporary name in the output directory with every HDU at its final
//! shape, so row bands can be written in any order without holding a whole product in memory.
//! `finish` checks every row was written, writes DATASUM/CHECKSUM on every HDU and renames the
//! file atomically;
//!
//! Pixel data do not go through cfitsio: once the HDUs exist (headers written, data units
//! zero-filled), cfitsio is closed and rectangles are written with `pwrite` at their byte
//! offsets. cfitsio buffers whole 2880-byte blocks, so a narrow rectangle (a tile of a few
//! hundred columns) cost it a block read and write per row segment; a direct write costs one
//! copy into the page cache. cfitsio is reopened for the header work at the end (keywords,
//! checksums). DATASUM is summed as the bytes are written ([`super::datasum`]), so only
//! headers are read back; a data unit not written exactly once by this writer (a reopened
//! partial product, a rectangle rewritten by a second pass) is summed by cfitsio from the
//! file instead.
//! Besides: dropping an unfinished product deletes the temporary file, so nothing ever
//! appears at the final name unless it is complete.

use super::datasum::DataSum;
use std::path::{Path, PathBuf};

use ndarray::ArrayView2;

use super::header::{copy_cards, put, utc_now_iso, Card, ProductHeader, CAL_VER};
use crate::refs::cfits::{CFits, KeyValue, Pixel};
use crate::{FramesError, Result};

/// Spare primary-header cards reserved so late keywords never shift the data.
const PRIMARY_SPARE_CARDS: usize = 120;

/// Element type of an image HDU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dtype {
    F32,
    U32,
    U8,
}

impl Dtype {
    /// Bytes per value in the file.
    fn size(self) -> usize {
        match self {
            Dtype::F32 | Dtype::U32 => 4,
            Dtype::U8 => 1,
        }
    }

    fn img(self) -> i32 {
        match self {
            Dtype::F32 => <f32 as Pixel>::IMG,
            Dtype::U32 => <u32 as Pixel>::IMG,
            Dtype::U8 => <u8 as Pixel>::IMG,
        }
    }
}

/// One HDU of a product, in file order.
#[derive(Debug, Clone)]
pub(crate) enum Item {
    /// An image written by the caller. `bunit`: BUNIT to set; `sci_header`: copy the input SCI
    /// header's non-structural keywords (+ `sci_extra`).
    Image {
        name: &'static str,
        dtype: Dtype,
        shape: Vec<usize>,
        bunit: Option<String>,
        sci_header: bool,
    },
    /// A table copied from the input file when it has one (INT_TIMES, GROUP).
    CopyTable { name: &'static str },
}

struct ImageHdu {
    name: &'static str,
    index: usize,
    dtype: Dtype,
    shape: Vec<usize>,
    /// One flag per row (all leading indices x rows).
    /// Columns written so far in each row (of every plane); a row is complete at `nx`.
    /// Rewriting a rectangle (a driver's second pass) counts again, hence `>=` at finish.
    written: Vec<u32>,
    /// Byte offset of the data unit in the file (known once the HDUs are built).
    data_start: u64,
    /// DATASUM of the bytes written through this writer, and whether it can stand for the
    /// whole data unit (false for a reopened partial product, whose earlier bytes were not
    /// summed); `finish` also requires every row written exactly once.
    sum: DataSum,
    summed_from_start: bool,
}

/// A product being written.
pub(crate) struct ProductFile {
    /// cfitsio's handle while headers are built or updated; `None` while pixel data are
    /// written directly through `direct`.
    fits: Option<CFits>,
    direct: Option<std::fs::File>,
    tmp: PathBuf,
    final_path: PathBuf,
    images: Vec<ImageHdu>,
    nhdus: usize,
    /// Resumable product: dropping it unfinished closes the file and keeps it (a later run
    /// reopens it) instead of deleting it.
    keep: bool,
}

/// Temporary name next to `final_path`: `.NAME.sloper-tmp-PID`.
fn temp_name(final_path: &Path) -> Result<PathBuf> {
    let name = final_path
        .file_name()
        .ok_or_else(|| FramesError::invalid(final_path, "output path has no file name"))?;
    let tmp = format!(
        ".{}.sloper-tmp-{}",
        name.to_string_lossy(),
        std::process::id()
    );
    Ok(final_path.with_file_name(tmp))
}

/// Name of a resumable product's partial file next to `final_path`: `.NAME.sloper-partial`
/// (no process id: the run that resumes it has another one).
pub fn resumable_temp_path(final_path: &Path) -> Result<PathBuf> {
    let name = final_path
        .file_name()
        .ok_or_else(|| FramesError::invalid(final_path, "output path has no file name"))?;
    Ok(final_path.with_file_name(format!(".{}.sloper-partial", name.to_string_lossy())))
}

impl ProductFile {
    /// Create the temporary file with the primary header and every HDU of `items`.
    pub fn create(
        final_path: &Path,
        header: &ProductHeader,
        datamodel: &str,
        items: Vec<Item>,
    ) -> Result<Self> {
        let tmp = temp_name(final_path)?;
        Self::create_at(tmp, false, final_path, header, datamodel, items)
    }

    /// [`create`](Self::create) for a run that may be resumed: the file is written at
    /// [`resumable_temp_path`], kept when the product is dropped unfinished, and synced to disk
    /// once its headers are written (so a later [`reopen`](Self::reopen) finds every HDU).
    pub fn create_resumable(
        final_path: &Path,
        header: &ProductHeader,
        datamodel: &str,
        items: Vec<Item>,
    ) -> Result<Self> {
        let tmp = resumable_temp_path(final_path)?;
        let mut p = Self::create_at(tmp, true, final_path, header, datamodel, items)?;
        p.sync()?;
        Ok(p)
    }

    fn create_at(
        tmp: PathBuf,
        keep: bool,
        final_path: &Path,
        header: &ProductHeader,
        datamodel: &str,
        items: Vec<Item>,
    ) -> Result<Self> {
        if tmp.exists() {
            std::fs::remove_file(&tmp).map_err(|e| FramesError::io(&tmp, e))?;
        }
        let mut input = CFits::open(&header.input)?;
        let fits = CFits::create(&tmp)?;
        let mut product = ProductFile {
            fits: Some(fits),
            direct: None,
            tmp: tmp.clone(),
            final_path: final_path.to_path_buf(),
            images: Vec::new(),
            nhdus: 0,
            keep,
        };
        product.build(&mut input, header, datamodel, items)?;
        product.go_direct()?;
        Ok(product)
    }

    /// Reopen the partial file a resumable run left for `final_path` (made by
    /// [`create_resumable`](Self::create_resumable) with the same `datamodel` and `items`).
    /// The file is checked to be that product (DATAMODL, FILENAME, every image HDU with its
    /// element type and shape, no data unit past the end of the file). Nothing counts as
    /// written: the caller declares what the earlier run completed with
    /// [`mark_written`](Self::mark_written), so `finish` still refuses a gap.
    pub fn reopen(final_path: &Path, datamodel: &str, items: Vec<Item>) -> Result<Self> {
        let tmp = resumable_temp_path(final_path)?;
        let mut fits = CFits::open_readwrite(&tmp)?;
        let nhdus = fits.num_hdus()?;
        let file_len = std::fs::metadata(&tmp)
            .map_err(|e| FramesError::io(&tmp, e))?
            .len();
        let mut names = Vec::with_capacity(nhdus);
        for i in 0..nhdus {
            fits.goto_index(i)?;
            let (_, _, end) = fits.hdu_offsets()?;
            if end > file_len {
                return Err(FramesError::invalid(
                    &tmp,
                    format!(
                        "partial product is truncated (HDU {i} ends at byte {end}, the file has {file_len})"
                    ),
                ));
            }
            names.push(if i == 0 {
                String::new()
            } else {
                fits.key_str("EXTNAME")?.unwrap_or_default()
            });
        }
        fits.goto_index(0)?;
        let final_name = final_path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        for (key, want) in [("DATAMODL", datamodel), ("FILENAME", final_name.as_str())] {
            let got = fits.key_str(key)?;
            if got.as_deref() != Some(want) {
                return Err(FramesError::invalid(
                    &tmp,
                    format!("partial product has {key} {got:?}, expected {want:?}"),
                ));
            }
        }
        let mut images = Vec::new();
        for item in items {
            let Item::Image {
                name, dtype, shape, ..
            } = item
            else {
                continue;
            };
            let index = names
                .iter()
                .position(|n| n == name)
                .filter(|&i| i > 0)
                .ok_or_else(|| {
                    FramesError::invalid(&tmp, format!("partial product has no {name} HDU"))
                })?;
            fits.goto_index(index)?;
            let info = fits.image_info()?;
            let type_ok = match dtype {
                Dtype::F32 => info.bitpix == -32,
                Dtype::U32 => info.bitpix == 32 && info.bzero == 2_147_483_648.0,
                Dtype::U8 => info.bitpix == 8,
            };
            if !type_ok || info.shape != shape {
                return Err(FramesError::invalid(
                    &tmp,
                    format!(
                        "partial product's {name} HDU is BITPIX {} {:?}, expected {dtype:?} {shape:?}",
                        info.bitpix, info.shape
                    ),
                ));
            }
            let rows: usize = shape[..shape.len() - 1].iter().product();
            images.push(ImageHdu {
                name,
                index,
                dtype,
                shape,
                written: vec![0; rows],
                data_start: 0,
                sum: DataSum::default(),
                summed_from_start: false,
            });
        }
        let mut product = ProductFile {
            fits: Some(fits),
            direct: None,
            tmp,
            final_path: final_path.to_path_buf(),
            images,
            nhdus,
            keep: true,
        };
        product.go_direct()?;
        Ok(product)
    }

    /// Declare the rectangle `rows × cols` at (`y0`, `x0`) of every plane of every image as
    /// written (by the earlier run of a reopened product), for `finish`'s completeness check.
    pub fn mark_written(&mut self, y0: usize, x0: usize, rows: usize, cols: usize) -> Result<()> {
        for h in &mut self.images {
            let nd = h.shape.len();
            let (ny, nx) = (h.shape[nd - 2], h.shape[nd - 1]);
            if y0 + rows > ny || x0 + cols > nx {
                return Err(FramesError::invalid(
                    &self.final_path,
                    format!(
                        "{}: rectangle of {rows}x{cols} at row {y0}, column {x0} does not fit {ny}x{nx}",
                        h.name
                    ),
                ));
            }
            h.summed_from_start = false;
            for plane in h.written.chunks_mut(ny) {
                for w in &mut plane[y0..y0 + rows] {
                    *w = w.saturating_add(cols as u32);
                }
            }
        }
        Ok(())
    }

    /// Hand everything written so far to the operating system and wait until it is on disk, so
    /// a checkpoint taken afterwards never claims data a crash could lose.
    pub fn sync(&mut self) -> Result<()> {
        if let Some(f) = self.fits.as_mut() {
            f.flush()?;
        }
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(&self.tmp)
            .map_err(|e| FramesError::io(&self.tmp, e))?;
        file.sync_data().map_err(|e| FramesError::io(&self.tmp, e))
    }

    /// Close cfitsio (writing every header and the zero-filled data units), note where each
    /// image's data unit starts, and open the file for direct pixel writes.
    fn go_direct(&mut self) -> Result<()> {
        if let Some(f) = self.fits.take() {
            f.close()?;
        }
        let len = std::fs::metadata(&self.tmp)
            .map_err(|e| FramesError::io(&self.tmp, e))?
            .len();
        let mut f = CFits::open(&self.tmp)?;
        for h in &mut self.images {
            f.goto_index(h.index)?;
            let (_, data, end) = f.hdu_offsets()?;
            let elems: usize = h.shape.iter().product();
            if data + (elems * h.dtype.size()) as u64 > end.min(len) {
                return Err(FramesError::invalid(
                    &self.tmp,
                    format!("{}: the data unit does not fit the file", h.name),
                ));
            }
            h.data_start = data;
        }
        drop(f);
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&self.tmp)
            .map_err(|e| FramesError::io(&self.tmp, e))?;
        self.direct = Some(file);
        Ok(())
    }

    /// Close and delete the temporary file (also for a resumable product, which dropping keeps).
    pub fn discard(mut self) -> Result<()> {
        self.fits.take();
        let tmp = std::mem::take(&mut self.tmp);
        match std::fs::remove_file(&tmp) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(FramesError::io(&tmp, e)),
            _ => Ok(()),
        }
    }

    /// cfitsio's handle, reopened if pixel writes had closed it.
    fn fits(&mut self) -> Result<&mut CFits> {
        if self.fits.is_none() {
            self.fits = Some(CFits::open_readwrite(&self.tmp)?);
        }
        Ok(self.fits.as_mut().expect("just opened"))
    }

    fn build(
        &mut self,
        input: &mut CFits,
        header: &ProductHeader,
        datamodel: &str,
        items: Vec<Item>,
    ) -> Result<()> {
        let final_name = self
            .final_path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let vcs = format!("sloper {}", env!("CARGO_PKG_VERSION"));
        let f = self.fits()?;
        // --- primary ---
        f.create_image(8, &[])?;
        f.set_key(
            "DATE",
            &KeyValue::Str(utc_now_iso()),
            Some("UTC date file created"),
        )?;
        f.set_key(
            "FILENAME",
            &KeyValue::Str(final_name),
            Some("Name of the file"),
        )?;
        f.set_key(
            "CAL_VER",
            &KeyValue::Str(CAL_VER.into()),
            Some("Calibration Software Version"),
        )?;
        f.set_key(
            "CAL_VCS",
            &KeyValue::Str(vcs),
            Some("Calibration Software Repository Version"),
        )?;
        f.set_key(
            "DATAMODL",
            &KeyValue::Str(datamodel.into()),
            Some("Type of data model"),
        )?;
        input.goto_index(0)?;
        copy_cards(
            input,
            f,
            &[
                "DATE", "FILENAME", "CAL_VER", "CAL_VCS", "DATAMODL", "CRDS_CTX", "CRDS_VER",
            ],
        )?;
        if let Some(v) = &header.crds_ver {
            put(f, &Card::new("CRDS_VER", KeyValue::Str(v.clone())))?;
        }
        if let Some(v) = &header.crds_ctx {
            put(f, &Card::new("CRDS_CTX", KeyValue::Str(v.clone())))?;
        }
        for (k, v) in header.ref_files.iter().chain(&header.cal_steps) {
            put(f, &Card::new(k, KeyValue::Str(v.clone())))?;
        }
        for c in &header.primary_extra {
            put(f, c)?;
        }
        placeholder_checksum(f)?;
        f.reserve_cards(PRIMARY_SPARE_CARDS)?;
        self.nhdus = 1;
        // cfitsio zero-fills every data unit it steps over, 4 KiB write by 4 KiB write (5 GB
        // of zeros for a 200-integration calints, all of it overwritten by the pixel writes).
        // Extending the file first (a hole, read as zeros) and reopening it makes cfitsio see
        // the space as existing: it writes only the headers. The file is cut to its exact end
        // below; the bytes are the same.
        let room: u64 = items
            .iter()
            .map(|it| match it {
                Item::Image { dtype, shape, .. } => {
                    let n = (shape.iter().product::<usize>() * dtype.size()) as u64;
                    n.div_ceil(2880) * 2880 + (1 << 20)
                }
                Item::CopyTable { .. } => 1 << 20,
            })
            .sum();
        if let Some(f) = self.fits.take() {
            f.close()?;
        }
        let extend = |len: Option<u64>| -> Result<()> {
            let file = std::fs::OpenOptions::new()
                .write(true)
                .open(&self.tmp)
                .map_err(|e| FramesError::io(&self.tmp, e))?;
            let len = match len {
                Some(l) => l,
                None => {
                    file.metadata()
                        .map_err(|e| FramesError::io(&self.tmp, e))?
                        .len()
                        + room
                }
            };
            file.set_len(len).map_err(|e| FramesError::io(&self.tmp, e))
        };
        extend(None)?;
        self.fits = Some(CFits::open_readwrite(&self.tmp)?);

        // --- extensions ---
        for item in items {
            match item {
                Item::Image {
                    name,
                    dtype,
                    shape,
                    bunit,
                    sci_header,
                } => {
                    let index = self.nhdus;
                    let f = self.fits.as_mut().expect("open");
                    f.create_image(dtype.img(), &shape)?;
                    f.set_key(
                        "EXTNAME",
                        &KeyValue::Str(name.into()),
                        Some("extension name"),
                    )?;
                    if sci_header && input.goto_name("SCI")? {
                        copy_cards(input, f, &["BUNIT"])?;
                    }
                    if let Some(b) = bunit {
                        put(f, &Card::new("BUNIT", KeyValue::Str(b)))?;
                    }
                    if sci_header {
                        for c in &header.sci_extra {
                            put(f, c)?;
                        }
                    }
                    f.set_key("EXTVER", &KeyValue::Int(1), Some("extension value"))?;
                    placeholder_checksum(f)?;
                    f.reserve_cards(8)?;
                    let rows: usize = shape[..shape.len() - 1].iter().product();
                    self.images.push(ImageHdu {
                        name,
                        index,
                        dtype,
                        shape,
                        written: vec![0; rows],
                        data_start: 0,
                        sum: DataSum::default(),
                        summed_from_start: true,
                    });
                    self.nhdus += 1;
                }
                Item::CopyTable { name } => {
                    if input.goto_name(name)? {
                        let f = self.fits.as_mut().expect("open");
                        f.copy_hdu_from(input, 4)?;
                        self.nhdus += 1;
                    }
                }
            }
        }
        let f = self.fits.as_mut().expect("open");
        f.goto_index(self.nhdus - 1)?;
        let (_, _, end) = f.hdu_offsets()?;
        if let Some(f) = self.fits.take() {
            f.close()?;
        }
        extend(Some(end))
    }

    /// Write rows `y0 .. y0 + band.nrows()` of image `name` at leading indices `lead`
    /// (e.g. `[int]` for a cube, `[int, group]` for a 4-D ramp, `[]` for a 2-D image).
    pub fn write_rows<T: Pixel>(
        &mut self,
        name: &str,
        lead: &[usize],
        y0: usize,
        band: ArrayView2<T>,
    ) -> Result<()> {
        if let Some(h) = self.images.iter().find(|h| h.name == name) {
            let nx = h.shape[h.shape.len() - 1];
            if band.ncols() != nx {
                return Err(FramesError::invalid(
                    &self.final_path,
                    format!(
                        "{name}: a band of whole rows must be {nx} wide, not {}",
                        band.ncols()
                    ),
                ));
            }
        }
        self.write_rect(name, lead, y0, 0, band)
    }

    /// Write the rectangle of `band.nrows() × band.ncols()` pixels whose first pixel is at row
    /// `y0`, column `x0` of image `name` at leading indices `lead`.
    pub fn write_rect<T: Pixel>(
        &mut self,
        name: &str,
        lead: &[usize],
        y0: usize,
        x0: usize,
        band: ArrayView2<T>,
    ) -> Result<()> {
        let path = self.final_path.clone();
        let pos = self
            .images
            .iter()
            .position(|h| h.name == name)
            .ok_or_else(|| FramesError::invalid(&path, format!("product has no {name} HDU")))?;
        let (row_base, nrows, full_rows) = {
            let h = &self.images[pos];
            if T::IMG != h.dtype.img() {
                return Err(FramesError::invalid(
                    &path,
                    format!("{name}: wrong element type"),
                ));
            }
            let nd = h.shape.len();
            let (ny, nx) = (h.shape[nd - 2], h.shape[nd - 1]);
            if lead.len() != nd - 2 || lead.iter().zip(&h.shape).any(|(i, n)| i >= n) {
                return Err(FramesError::invalid(
                    &path,
                    format!(
                        "{name}: index {lead:?} out of range for shape {:?}",
                        h.shape
                    ),
                ));
            }
            if x0 + band.ncols() > nx || y0 + band.nrows() > ny {
                return Err(FramesError::invalid(
                    &path,
                    format!(
                        "{name}: rectangle of {}x{} at row {y0}, column {x0} does not fit {ny}x{nx}",
                        band.nrows(),
                        band.ncols()
                    ),
                ));
            }
            let mut plane = 0;
            for (i, n) in lead.iter().zip(&h.shape) {
                plane = plane * n + i;
            }
            (plane * ny + y0, band.nrows(), x0 == 0 && band.ncols() == nx)
        };
        // Header work since the last pixel write (cfitsio reopened) ends here: cfitsio must not
        // hold blocks these writes change.
        if let Some(f) = self.fits.take() {
            f.close()?;
        }
        let h = &self.images[pos];
        let size = h.dtype.size();
        let nx = h.shape[h.shape.len() - 1];
        let file = self
            .direct
            .as_ref()
            .expect("direct file open between build and finish");
        let mut sum = DataSum::default();
        let mut write = |bytes: &[u8], row: usize, x: usize| -> Result<()> {
            let offset = ((row * nx + x) * size) as u64;
            sum.add(offset, bytes);
            std::os::unix::fs::FileExt::write_all_at(file, bytes, h.data_start + offset)
                .map_err(|e| FramesError::io(&self.tmp, e))
        };
        let mut bytes: Vec<u8> = Vec::with_capacity(band.len() * size);
        if full_rows {
            match band.as_slice() {
                Some(values) => T::put_fits_slice(values, &mut bytes),
                None => band.iter().for_each(|v| v.put_fits_bytes(&mut bytes)),
            }
            write(&bytes, row_base, 0)?;
        } else {
            for (r, row) in band.rows().into_iter().enumerate() {
                bytes.clear();
                match row.as_slice() {
                    Some(values) => T::put_fits_slice(values, &mut bytes),
                    None => row.iter().for_each(|v| v.put_fits_bytes(&mut bytes)),
                }
                write(&bytes, row_base + r, x0)?;
            }
        }
        let h = &mut self.images[pos];
        h.sum.add_sum(sum);
        for w in &mut h.written[row_base..row_base + nrows] {
            *w = w.saturating_add(band.ncols() as u32);
        }
        Ok(())
    }

    /// Update or add primary keywords (before `finish`).
    pub fn update_primary(&mut self, cards: &[Card]) -> Result<()> {
        let f = self.fits()?;
        f.goto_index(0)?;
        for c in cards {
            put(f, c)?;
        }
        Ok(())
    }

    /// Check completeness, write checksums, close and rename to the final name.
    pub fn finish(mut self) -> Result<PathBuf> {
        for h in &self.images {
            let nx = h.shape[h.shape.len() - 1] as u32;
            if let Some(row) = h.written.iter().position(|&w| w < nx) {
                let ny = h.shape[h.shape.len() - 2];
                return Err(FramesError::invalid(
                    &self.final_path,
                    format!(
                        "{}: row {} of plane {} was not completely written",
                        h.name,
                        row % ny,
                        row / ny
                    ),
                ));
            }
        }
        let n = self.nhdus;
        self.fits()?;
        self.direct.take();
        let mut fits = self.fits.take().expect("open");
        for i in 0..n {
            fits.goto_index(i)?;
            // An image every byte of which went through `write_rect` exactly once: its DATASUM
            // is known, and only the header is read back.
            let summed = self.images.iter().find(|h| {
                let nx = h.shape[h.shape.len() - 1] as u32;
                h.index == i && h.summed_from_start && h.written.iter().all(|&w| w == nx)
            });
            match summed {
                Some(h) => fits.write_checksum_with_datasum(h.sum.value())?,
                None => fits.write_checksum()?,
            }
        }
        fits.close()?;
        let file = std::fs::File::open(&self.tmp).map_err(|e| FramesError::io(&self.tmp, e))?;
        file.sync_all().map_err(|e| FramesError::io(&self.tmp, e))?;
        std::fs::rename(&self.tmp, &self.final_path)
            .map_err(|e| FramesError::io(&self.final_path, e))?;
        self.tmp = PathBuf::new();
        Ok(self.final_path.clone())
    }

    /// Temporary path while writing.
    pub fn temp_path(&self) -> &Path {
        &self.tmp
    }
}

impl Drop for ProductFile {
    fn drop(&mut self) {
        // Close first (cfitsio may still flush buffers), then delete the partial file (unless a
        // later run is to resume it).
        self.fits.take();
        if !self.keep && !self.tmp.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// CHECKSUM/DATASUM cards written at creation so `ffpcks` later updates them in place.
fn placeholder_checksum(f: &mut CFits) -> Result<()> {
    f.set_key(
        "CHECKSUM",
        &KeyValue::Str("0000000000000000".into()),
        Some("HDU checksum"),
    )?;
    f.set_key(
        "DATASUM",
        &KeyValue::Str("0".into()),
        Some("data unit checksum"),
    )
}

/// Verify CHECKSUM/DATASUM of every HDU of `path`: `(EXTNAME or "PRIMARY", data ok, hdu ok)`.
pub fn verify_checksums(path: &Path) -> Result<Vec<(String, bool, bool)>> {
    let mut f = CFits::open(path)?;
    let n = f.num_hdus()?;
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        f.goto_index(i)?;
        let name = if i == 0 {
            "PRIMARY".to_string()
        } else {
            f.key_str("EXTNAME")?.unwrap_or_default()
        };
        let (d, h) = f.verify_checksum()?;
        out.push((name, d, h));
    }
    Ok(out)
}
