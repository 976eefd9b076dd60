//! Memory-mapped access to up-the-ramp cubes: raw `_uncal.fits` exposures ([`RawExposure`])
//! and calibrated `_ramp.fits` products ([`RampFile`]).
//!
//! Headers and HDU layout are read through cfitsio; the big data units are memory-mapped and
//! decoded band by band into caller buffers, so a multi-gigabyte exposure never has to be in
//! memory at once. In the file, numpy axis order is (integration, group, row, column) with the
//! column fastest, so the rows `y0..y1` of one (integration, group) frame are one contiguous
//! byte range: a band is always a single slice of the map.
//!
//! Everything the header says about the data is checked against the metadata and against the
//! file size *before* anything is mapped or allocated: a truncated file or a header that lies
//! about its sizes is an error naming the file, never a SIGBUS or a huge allocation.
//!
//! Integration indices in this module are **local** to the file: 0 is the file's first
//! integration, i.e. integration number `INTSTART` of the exposure. Use
//! [`crate::segments::LogicalExposure`] for exposure-wide numbering across segment files.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use memmap2::{Mmap, MmapOptions};

use crate::error::{FramesError, Result};
use crate::fits::FitsReader;
use crate::meta::ExposureMeta;
use crate::tables::{GroupTable, IntTimes};

// ------------------------------------------------------------------------------------------
// Decoders. FITS stores big-endian two's-complement integers; unsigned types are stored as
// signed with a BZERO offset (2^15 for uint16, 2^31 for uint32). Adding 2^(n-1) modulo 2^n is
// the same as flipping the top bit, which keeps these loops branch-free and lets LLVM
// vectorise them (byte shuffle + xor).
// ------------------------------------------------------------------------------------------

/// Decodes big-endian int16 samples stored with BZERO = 32768 into `u16`.
/// Decodes `min(src.len() / 2, dst.len())` samples.
#[inline]
pub fn decode_u16_offset_be(src: &[u8], dst: &mut [u16]) {
    for (d, s) in dst.iter_mut().zip(src.chunks_exact(2)) {
        *d = u16::from_be_bytes([s[0], s[1]]) ^ 0x8000;
    }
}

/// As [`decode_u16_offset_be`], converting to `f32` (exact: every u16 is an f32). This is the
/// cast the pipeline does when it opens an uncal file as a RampModel.
#[inline]
pub fn decode_u16_offset_be_to_f32(src: &[u8], dst: &mut [f32]) {
    for (d, s) in dst.iter_mut().zip(src.chunks_exact(2)) {
        *d = (u16::from_be_bytes([s[0], s[1]]) ^ 0x8000) as f32;
    }
}

/// Decodes big-endian IEEE float32 samples (BITPIX = -32).
#[inline]
pub fn decode_f32_be(src: &[u8], dst: &mut [f32]) {
    for (d, s) in dst.iter_mut().zip(src.chunks_exact(4)) {
        *d = f32::from_bits(u32::from_be_bytes([s[0], s[1], s[2], s[3]]));
    }
}

/// Decodes big-endian int32 samples stored with BZERO = 2^31 into `u32` (DQ arrays).
#[inline]
pub fn decode_u32_offset_be(src: &[u8], dst: &mut [u32]) {
    for (d, s) in dst.iter_mut().zip(src.chunks_exact(4)) {
        *d = u32::from_be_bytes([s[0], s[1], s[2], s[3]]) ^ 0x8000_0000;
    }
}

// ------------------------------------------------------------------------------------------
// Mapped image data units.
// ------------------------------------------------------------------------------------------

/// Element type of an image data unit, as JWST data models use them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SampleType {
    /// BITPIX = 8 (GROUPDQ).
    U8,
    /// BITPIX = 16, BZERO = 32768, BSCALE = 1 (raw counts, ZEROFRAME).
    U16,
    /// BITPIX = 32, BZERO = 2^31, BSCALE = 1 (PIXELDQ, DQ).
    U32,
    /// BITPIX = -32 (SCI of ramps and products).
    F32,
}

impl SampleType {
    /// Bytes per sample in the file.
    pub fn size(self) -> usize {
        match self {
            SampleType::U8 => 1,
            SampleType::U16 => 2,
            SampleType::U32 | SampleType::F32 => 4,
        }
    }
    /// numpy dtype name, for messages.
    pub fn name(self) -> &'static str {
        match self {
            SampleType::U8 => "uint8",
            SampleType::U16 => "uint16",
            SampleType::U32 => "uint32",
            SampleType::F32 => "float32",
        }
    }
    fn bitpix(self) -> i64 {
        match self {
            SampleType::U8 => 8,
            SampleType::U16 => 16,
            SampleType::U32 => 32,
            SampleType::F32 => -32,
        }
    }
    fn bzero(self) -> f64 {
        match self {
            SampleType::U16 => 32768.0,
            SampleType::U32 => 2147483648.0,
            SampleType::U8 | SampleType::F32 => 0.0,
        }
    }
    fn storage(self) -> String {
        match self {
            SampleType::U8 | SampleType::F32 => format!("BITPIX = {}", self.bitpix()),
            _ => format!(
                "BITPIX = {} with BZERO = {} and BSCALE = 1",
                self.bitpix(),
                self.bzero()
            ),
        }
    }
}

/// One image data unit, validated and memory-mapped read-only.
///
/// `shape` is in numpy order (slowest axis first). A "plane" is one 2-D frame: planes are
/// numbered by flattening every axis but the last two (for a ramp, `int * ngroups + group`).
#[derive(Debug)]
pub struct MappedImage {
    path: PathBuf,
    name: String,
    sample: SampleType,
    shape: Vec<usize>,
    file: Arc<File>,
    /// File length when the map was made; the map stays valid only while the file is at least
    /// this long.
    file_len: u64,
    data_start: u64,
    map: Mmap,
}

impl MappedImage {
    /// Validates image HDU `hdu` of the file `r` is reading and maps its data unit.
    ///
    /// Checks, in this order and before mapping: image HDU (XTENSION = IMAGE), BITPIX/BZERO/
    /// BSCALE of `sample`, NAXIS = `want.len()`, positive axes whose byte count neither
    /// overflows nor runs past the end of the file, and finally the numpy shape `want` (which
    /// the keywords named in `why` imply).
    pub fn open(
        r: &mut FitsReader,
        file: &Arc<File>,
        file_len: u64,
        hdu: usize,
        sample: SampleType,
        want: &[usize],
        why: &str,
    ) -> Result<MappedImage> {
        let ndim = want.len();
        let path = r.path().to_path_buf();
        let layout = r.image_layout(hdu)?;
        let name = layout.name.clone();
        let bad = |problem: String| FramesError::invalid(&path, format!("{name} HDU: {problem}"));
        if hdu > 0 && layout.xtension.as_deref().map(str::trim) != Some("IMAGE") {
            return Err(bad(format!(
                "XTENSION = {:?}, expected 'IMAGE'",
                layout.xtension.as_deref().unwrap_or("")
            )));
        }
        let bzero_ok = (layout.bzero - sample.bzero()).abs() < 0.5;
        if layout.bitpix != sample.bitpix() || !bzero_ok || layout.bscale != 1.0 {
            return Err(bad(format!(
                "BITPIX = {}, BZERO = {}, BSCALE = {}: expected {} ({})",
                layout.bitpix,
                layout.bzero,
                layout.bscale,
                sample.storage(),
                sample.name()
            )));
        }
        if layout.naxes.len() != ndim {
            return Err(bad(format!(
                "NAXIS = {}, expected {ndim} ({}-D {} array)",
                layout.naxes.len(),
                ndim,
                sample.name()
            )));
        }
        if let Some((i, &n)) = layout.naxes.iter().enumerate().find(|(_, &n)| n <= 0) {
            return Err(bad(format!(
                "NAXIS{} = {n}: every axis must be at least 1",
                i + 1
            )));
        }
        let data_len = layout.data_len(&path)?;
        let start = layout.span.data_start;
        let end = start.checked_add(data_len);
        match end {
            Some(end) if end <= file_len => {}
            _ => {
                return Err(bad(format!(
                    "the header describes {data_len} bytes of data (NAXIS = {:?}) starting at \
                     byte {start}, but the file has only {file_len} bytes (truncated file or \
                     wrong NAXISn)",
                    layout.naxes
                )))
            }
        }
        let shape = layout.numpy_shape(&path)?;
        if shape != want {
            let fits_order: Vec<usize> = shape.iter().rev().copied().collect();
            let want_fits: Vec<usize> = want.iter().rev().copied().collect();
            return Err(bad(format!(
                "NAXIS1..{ndim} = {fits_order:?} disagree with the header keywords ({why}), \
                 which require {want_fits:?}"
            )));
        }
        let len = usize::try_from(data_len).map_err(|_| {
            bad(format!(
                "{data_len} bytes cannot be mapped on this platform"
            ))
        })?;
        // SAFETY: the map is read-only and private to this process. Its bytes are only valid
        // while the file is not truncated below `start + len`: we checked above that the file
        // is that long now, and `check_unchanged` (called on every band access) re-checks the
        // length through the same open descriptor and refuses to touch the map otherwise.
        // A concurrent truncation racing that check can still fault; that is the documented
        // limit of memory-mapped input. The bytes are plain integers/floats of which every
        // bit pattern is valid, so concurrent *modification* cannot cause undefined behaviour
        // in safe code that reads them.
        let map = unsafe { MmapOptions::new().offset(start).len(len).map(&**file) }
            .map_err(|e| FramesError::io(&path, e))?;
        Ok(MappedImage {
            path,
            name,
            sample,
            shape,
            file: Arc::clone(file),
            file_len,
            data_start: start,
            map,
        })
    }

    /// numpy-order shape.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }
    /// Element type.
    pub fn sample(&self) -> SampleType {
        self.sample
    }
    /// EXTNAME of the HDU.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// Byte offset of the data unit in the file.
    pub fn data_start(&self) -> u64 {
        self.data_start
    }
    /// Byte length of the data unit (without padding).
    pub fn data_len(&self) -> u64 {
        self.map.len() as u64
    }
    fn ny(&self) -> usize {
        self.shape[self.shape.len() - 2]
    }
    fn nx(&self) -> usize {
        self.shape[self.shape.len() - 1]
    }
    /// Number of 2-D planes (product of all axes but the last two).
    pub fn planes(&self) -> usize {
        self.shape[..self.shape.len() - 2].iter().product()
    }

    /// Errors if the file has shrunk below what was mapped (reading the map would then raise
    /// SIGBUS). One `fstat` on the open descriptor.
    pub fn check_unchanged(&self) -> Result<()> {
        let now = self
            .file
            .metadata()
            .map_err(|e| FramesError::io(&self.path, e))?
            .len();
        if now < self.file_len {
            return Err(FramesError::invalid(
                &self.path,
                format!(
                    "the file shrank from {} to {now} bytes while it was being read",
                    self.file_len
                ),
            ));
        }
        Ok(())
    }

    /// Raw big-endian bytes of rows `y0..y1` of plane `plane` (one contiguous slice).
    pub fn rows_bytes(&self, plane: usize, y0: usize, y1: usize) -> Result<&[u8]> {
        if plane >= self.planes() || y0 > y1 || y1 > self.ny() {
            return Err(FramesError::invalid(
                &self.path,
                format!(
                    "{} HDU: band (plane {plane}, rows {y0}..{y1}) is outside the array of \
                     shape {:?}",
                    self.name, self.shape
                ),
            ));
        }
        self.check_unchanged()?;
        let row = self.nx() * self.sample.size();
        let start = (plane * self.ny() + y0) * row;
        let end = (plane * self.ny() + y1) * row;
        Ok(&self.map[start..end])
    }

    /// Tell the kernel that rows `y0..y1` of plane `plane` will not be read again soon, so their
    /// pages leave this process's resident set (they stay in the page cache). Streaming drivers
    /// call this after each band so resident memory does not grow with the file. Reading the
    /// rows again later is still correct: they are faulted back in from the file.
    pub fn release_rows(&self, plane: usize, y0: usize, y1: usize) {
        if y0 < y1 {
            self.release_span(plane, y0, plane, y1);
        }
    }

    /// Like [`MappedImage::release_rows`] for every byte from row `y0` of plane `first` to row
    /// `y1` of plane `last` (inclusive), in one call. A driver that reads the same rows of many
    /// consecutive planes releases them together: each release of mapped pages interrupts the
    /// process's other threads to flush their TLBs (an inter-processor interrupt, costly on
    /// virtual machines), so one call per span instead of one per plane saves most of that.
    /// Rows in between that were never read are not mapped and cost nothing.
    pub fn release_span(&self, first: usize, y0: usize, last: usize, y1: usize) {
        if first > last || last >= self.planes() || y1 > self.ny() || (first == last && y0 >= y1) {
            return;
        }
        let row = self.nx() * self.sample.size();
        // The kernel's fault-around maps a whole aligned window (64 KiB by default) around each
        // faulting page, and FITS data units are not page-aligned, so reading the last rows of
        // a plane also maps the first rows of the next plane (and the first rows map the end of
        // the previous one). Those pages would stay resident — one window per plane, a resident
        // set growing with NINTS — unless released too, so the range is widened by a margin
        // that crosses plane boundaries (clamped to the data unit). Releasing a neighbour's
        // pages early is harmless: they are faulted back in if read.
        let start = ((first * self.ny() + y0) * row).saturating_sub(RELEASE_MARGIN);
        let end = ((last * self.ny() + y1) * row + RELEASE_MARGIN).min(self.map.len());
        // SAFETY: MADV_DONTNEED on a read-only, file-backed mapping only drops resident pages;
        // the next access re-reads the same bytes from the file (we never write through this
        // map and never hand out references that outlive `&self` borrows, and the bytes are
        // unchanged by the advice). memmap2 checks the range lies inside the map. A refusal is
        // harmless (memory is merely not released), so the error is ignored.
        let _ = unsafe {
            self.map
                .unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, start, end - start)
        };
    }

    /// The whole data unit as big-endian bytes.
    pub fn all_bytes(&self) -> Result<&[u8]> {
        self.check_unchanged()?;
        Ok(&self.map)
    }

    fn check_out(&self, have: usize, need: usize) -> Result<()> {
        if have != need {
            return Err(FramesError::invalid(
                &self.path,
                format!(
                    "{} HDU: output buffer holds {have} values but the band has {need}",
                    self.name
                ),
            ));
        }
        Ok(())
    }

    fn expect(&self, sample: SampleType) -> Result<()> {
        if self.sample != sample {
            return Err(FramesError::invalid(
                &self.path,
                format!(
                    "{} HDU holds {}, not {}",
                    self.name,
                    self.sample.name(),
                    sample.name()
                ),
            ));
        }
        Ok(())
    }

    /// Decodes rows `y0..y1` of `plane` (uint16 data) into `out` (length (y1-y0)*nx).
    pub fn read_rows_u16(&self, plane: usize, y0: usize, y1: usize, out: &mut [u16]) -> Result<()> {
        self.expect(SampleType::U16)?;
        let b = self.rows_bytes(plane, y0, y1)?;
        self.check_out(out.len(), b.len() / 2)?;
        decode_u16_offset_be(b, out);
        Ok(())
    }

    /// Decodes rows `y0..y1` of `plane` (uint16 or float32 data) into `f32`.
    pub fn read_rows_f32(&self, plane: usize, y0: usize, y1: usize, out: &mut [f32]) -> Result<()> {
        let b = self.rows_bytes(plane, y0, y1)?;
        match self.sample {
            SampleType::U16 => {
                self.check_out(out.len(), b.len() / 2)?;
                decode_u16_offset_be_to_f32(b, out);
            }
            SampleType::F32 => {
                self.check_out(out.len(), b.len() / 4)?;
                decode_f32_be(b, out);
            }
            _ => return self.expect(SampleType::F32),
        }
        Ok(())
    }

    /// Decodes rows `y0..y1` of `plane` (uint32 data) into `out`.
    pub fn read_rows_u32(&self, plane: usize, y0: usize, y1: usize, out: &mut [u32]) -> Result<()> {
        self.expect(SampleType::U32)?;
        let b = self.rows_bytes(plane, y0, y1)?;
        self.check_out(out.len(), b.len() / 4)?;
        decode_u32_offset_be(b, out);
        Ok(())
    }
}

// ------------------------------------------------------------------------------------------
// What raw and ramp files share: metadata, primary header, tables.
// ------------------------------------------------------------------------------------------

/// The small, eagerly read parts of an exposure file.
#[derive(Debug, Clone)]
pub struct ExposureHeader {
    pub meta: ExposureMeta,
    /// Primary header cards (writers copy them into products).
    pub primary_cards: Vec<String>,
    pub int_times: Option<IntTimes>,
    pub group_table: Option<GroupTable>,
}

impl ExposureHeader {
    fn read(r: &mut FitsReader, meta: ExposureMeta) -> Result<Self> {
        Ok(ExposureHeader {
            meta,
            primary_cards: r.cards(0)?,
            int_times: IntTimes::read(r)?,
            group_table: GroupTable::read(r)?,
        })
    }
}

fn open_file(path: &Path) -> Result<(Arc<File>, u64)> {
    let file = File::open(path).map_err(|e| FramesError::io(path, e))?;
    let len = file.metadata().map_err(|e| FramesError::io(path, e))?.len();
    Ok((Arc::new(file), len))
}

/// Bytes released beyond each side of a released row range (see [`MappedImage::release_rows`]):
/// twice the kernel's default fault-around window, which also covers a window straddling the
/// range's unaligned ends.
const RELEASE_MARGIN: usize = 128 << 10;

const CUBE_KEYS: &str = "SUBSIZE1, SUBSIZE2, NGROUPS, INTEND-INTSTART+1";
const FRAME_KEYS: &str = "SUBSIZE1, SUBSIZE2";
const ZEROFRAME_KEYS: &str = "SUBSIZE1, SUBSIZE2, INTEND-INTSTART+1";

// ------------------------------------------------------------------------------------------
// Raw exposures.
// ------------------------------------------------------------------------------------------

/// A raw `_uncal.fits` exposure (or one segment of it): metadata, tables, and the uint16 SCI
/// cube memory-mapped for band-wise decoding. `Send + Sync`: share one among threads.
#[derive(Debug)]
pub struct RawExposure {
    path: PathBuf,
    header: ExposureHeader,
    sci: MappedImage,
    zeroframe: Option<MappedImage>,
}

impl RawExposure {
    /// Opens and validates a raw exposure. See the module docs for what is checked.
    pub fn open(path: impl AsRef<Path>) -> Result<RawExposure> {
        let path = path.as_ref().to_path_buf();
        let mut r = FitsReader::open(&path)?;
        let (file, file_len) = open_file(&path)?;
        // The SCI cube is validated right after the keywords, before any later HDU is
        // visited, so a broken cube is reported as such (reaching a later HDU means walking
        // past the cube's declared size).
        let sci_hdu = r.require_hdu("SCI")?;
        let meta = ExposureMeta::from_reader(&mut r)?;
        let cube = [
            meta.nints_in_file(),
            meta.ngroups,
            meta.subsize2,
            meta.subsize1,
        ];
        let sci = MappedImage::open(
            &mut r,
            &file,
            file_len,
            sci_hdu,
            SampleType::U16,
            &cube,
            CUBE_KEYS,
        )?;
        let header = ExposureHeader::read(&mut r, meta)?;
        let m = &header.meta;
        let zeroframe = match r.find_hdu("ZEROFRAME")? {
            Some(h) => Some(MappedImage::open(
                &mut r,
                &file,
                file_len,
                h,
                SampleType::U16,
                &[m.nints_in_file(), m.subsize2, m.subsize1],
                ZEROFRAME_KEYS,
            )?),
            None => None,
        };
        Ok(RawExposure {
            path,
            header,
            sci,
            zeroframe,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
    pub fn meta(&self) -> &ExposureMeta {
        &self.header.meta
    }
    /// Metadata, primary header cards and tables.
    pub fn header(&self) -> &ExposureHeader {
        &self.header
    }
    pub fn int_times(&self) -> Option<&IntTimes> {
        self.header.int_times.as_ref()
    }
    pub fn group_table(&self) -> Option<&GroupTable> {
        self.header.group_table.as_ref()
    }
    pub fn primary_cards(&self) -> &[String] {
        &self.header.primary_cards
    }
    /// Integrations in this file.
    pub fn nints(&self) -> usize {
        self.sci.shape()[0]
    }
    pub fn ngroups(&self) -> usize {
        self.sci.shape()[1]
    }
    pub fn ny(&self) -> usize {
        self.sci.shape()[2]
    }
    pub fn nx(&self) -> usize {
        self.sci.shape()[3]
    }
    /// numpy shape (nints in file, ngroups, ny, nx).
    pub fn shape(&self) -> [usize; 4] {
        [self.nints(), self.ngroups(), self.ny(), self.nx()]
    }
    /// The mapped SCI cube (for offsets/sizes).
    pub fn sci(&self) -> &MappedImage {
        &self.sci
    }
    pub fn has_zeroframe(&self) -> bool {
        self.zeroframe.is_some()
    }
    /// Errors if the file shrank since it was opened.
    pub fn check_unchanged(&self) -> Result<()> {
        self.sci.check_unchanged()
    }

    fn plane(&self, int: usize, group: usize) -> Result<usize> {
        if int >= self.nints() || group >= self.ngroups() {
            return Err(FramesError::invalid(
                &self.path,
                format!(
                    "(integration {int}, group {group}) is outside the file's {} x {} ramp",
                    self.nints(),
                    self.ngroups()
                ),
            ));
        }
        Ok(int * self.ngroups() + group)
    }

    /// Big-endian bytes of rows `y0..y1` of (local integration `int`, group `group`): one slice.
    pub fn band_bytes(&self, int: usize, group: usize, y0: usize, y1: usize) -> Result<&[u8]> {
        self.sci.rows_bytes(self.plane(int, group)?, y0, y1)
    }
    /// Drop rows `y0..y1` of one group from the resident set (see [`MappedImage::release_rows`]).
    pub fn release_band(&self, int: usize, group: usize, y0: usize, y1: usize) {
        if let Ok(plane) = self.plane(int, group) {
            self.sci.release_rows(plane, y0, y1);
        }
    }
    /// Drop rows `y0..y1` of every group of local integration `int` from the resident set in
    /// one call (see [`MappedImage::release_span`]): the span also covers the other rows of
    /// those frames, which is harmless.
    pub fn release_integration(&self, int: usize, y0: usize, y1: usize) {
        if int >= self.nints() {
            return;
        }
        let ng = self.ngroups();
        self.sci.release_span(int * ng, y0, (int + 1) * ng - 1, y1);
    }
    /// Decodes one whole group frame (ny*nx values).
    pub fn read_group_u16(&self, int: usize, group: usize, out: &mut [u16]) -> Result<()> {
        self.sci
            .read_rows_u16(self.plane(int, group)?, 0, self.ny(), out)
    }
    /// Decodes rows `y0..y1` of one group ((y1-y0)*nx values).
    pub fn read_band_u16(
        &self,
        int: usize,
        group: usize,
        y0: usize,
        y1: usize,
        out: &mut [u16],
    ) -> Result<()> {
        self.sci.read_rows_u16(self.plane(int, group)?, y0, y1, out)
    }
    /// Decodes rows `y0..y1` of one group as f32 (exact).
    pub fn read_band_f32(
        &self,
        int: usize,
        group: usize,
        y0: usize,
        y1: usize,
        out: &mut [f32],
    ) -> Result<()> {
        self.sci.read_rows_f32(self.plane(int, group)?, y0, y1, out)
    }

    fn zeroframe_plane(&self, int: usize) -> Result<&MappedImage> {
        let z = self
            .zeroframe
            .as_ref()
            .ok_or_else(|| FramesError::invalid(&self.path, "the file has no ZEROFRAME HDU"))?;
        if int >= self.nints() {
            return Err(FramesError::invalid(
                &self.path,
                format!(
                    "ZEROFRAME integration {int} is outside the file's {} integrations",
                    self.nints()
                ),
            ));
        }
        Ok(z)
    }
    /// Decodes rows `y0..y1` of the ZEROFRAME of local integration `int`.
    pub fn read_zeroframe_band_u16(
        &self,
        int: usize,
        y0: usize,
        y1: usize,
        out: &mut [u16],
    ) -> Result<()> {
        self.zeroframe_plane(int)?.read_rows_u16(int, y0, y1, out)
    }
    /// As [`read_zeroframe_band_u16`](Self::read_zeroframe_band_u16), as f32.
    pub fn read_zeroframe_band_f32(
        &self,
        int: usize,
        y0: usize,
        y1: usize,
        out: &mut [f32],
    ) -> Result<()> {
        self.zeroframe_plane(int)?.read_rows_f32(int, y0, y1, out)
    }
}

// ------------------------------------------------------------------------------------------
// Ramp products.
// ------------------------------------------------------------------------------------------

/// A `_ramp.fits` product (RampModel): SCI float32 (nints, ngroups, ny, nx) and GROUPDQ uint8
/// of the same shape, memory-mapped; PIXELDQ uint32 (ny, nx) and the optional AVDRKCUR
/// float32 (ny, nx) loaded (they are small); optional ZEROFRAME float32 (nints, ny, nx) mapped.
#[derive(Debug)]
pub struct RampFile {
    path: PathBuf,
    header: ExposureHeader,
    sci: MappedImage,
    groupdq: MappedImage,
    pixeldq: Vec<u32>,
    avdrkcur: Option<Vec<f32>>,
    zeroframe: Option<MappedImage>,
}

impl RampFile {
    /// Opens and validates a ramp product.
    pub fn open(path: impl AsRef<Path>) -> Result<RampFile> {
        let path = path.as_ref().to_path_buf();
        let mut r = FitsReader::open(&path)?;
        let (file, file_len) = open_file(&path)?;
        let sci_hdu = r.require_hdu("SCI")?;
        let meta = ExposureMeta::from_reader(&mut r)?;
        let cube = [
            meta.nints_in_file(),
            meta.ngroups,
            meta.subsize2,
            meta.subsize1,
        ];
        let frame = [meta.subsize2, meta.subsize1];
        let sci = MappedImage::open(
            &mut r,
            &file,
            file_len,
            sci_hdu,
            SampleType::F32,
            &cube,
            CUBE_KEYS,
        )?;
        let pdq_hdu = r.require_hdu("PIXELDQ")?;
        let pdq = MappedImage::open(
            &mut r,
            &file,
            file_len,
            pdq_hdu,
            SampleType::U32,
            &frame,
            FRAME_KEYS,
        )?;
        let gdq_hdu = r.require_hdu("GROUPDQ")?;
        let groupdq = MappedImage::open(
            &mut r,
            &file,
            file_len,
            gdq_hdu,
            SampleType::U8,
            &cube,
            CUBE_KEYS,
        )?;
        let mut pixeldq = vec![0u32; frame[0] * frame[1]];
        pdq.read_rows_u32(0, 0, frame[0], &mut pixeldq)?;
        let avdrkcur = match r.find_hdu("AVDRKCUR")? {
            Some(h) => {
                let a = MappedImage::open(
                    &mut r,
                    &file,
                    file_len,
                    h,
                    SampleType::F32,
                    &frame,
                    FRAME_KEYS,
                )?;
                let mut v = vec![0f32; frame[0] * frame[1]];
                a.read_rows_f32(0, 0, frame[0], &mut v)?;
                Some(v)
            }
            None => None,
        };
        let zeroframe = match r.find_hdu("ZEROFRAME")? {
            Some(h) => Some(MappedImage::open(
                &mut r,
                &file,
                file_len,
                h,
                SampleType::F32,
                &[meta.nints_in_file(), frame[0], frame[1]],
                ZEROFRAME_KEYS,
            )?),
            None => None,
        };
        let header = ExposureHeader::read(&mut r, meta)?;
        Ok(RampFile {
            path,
            header,
            sci,
            groupdq,
            pixeldq,
            avdrkcur,
            zeroframe,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
    pub fn meta(&self) -> &ExposureMeta {
        &self.header.meta
    }
    pub fn header(&self) -> &ExposureHeader {
        &self.header
    }
    pub fn int_times(&self) -> Option<&IntTimes> {
        self.header.int_times.as_ref()
    }
    pub fn group_table(&self) -> Option<&GroupTable> {
        self.header.group_table.as_ref()
    }
    pub fn nints(&self) -> usize {
        self.sci.shape()[0]
    }
    pub fn ngroups(&self) -> usize {
        self.sci.shape()[1]
    }
    pub fn ny(&self) -> usize {
        self.sci.shape()[2]
    }
    pub fn nx(&self) -> usize {
        self.sci.shape()[3]
    }
    pub fn shape(&self) -> [usize; 4] {
        [self.nints(), self.ngroups(), self.ny(), self.nx()]
    }
    /// PIXELDQ, row-major (ny*nx).
    pub fn pixeldq(&self) -> &[u32] {
        &self.pixeldq
    }
    /// AVDRKCUR, row-major (ny*nx), when the file has it.
    pub fn avdrkcur(&self) -> Option<&[f32]> {
        self.avdrkcur.as_deref()
    }
    pub fn has_zeroframe(&self) -> bool {
        self.zeroframe.is_some()
    }
    pub fn check_unchanged(&self) -> Result<()> {
        self.sci.check_unchanged()
    }

    fn plane(&self, int: usize, group: usize) -> Result<usize> {
        if int >= self.nints() || group >= self.ngroups() {
            return Err(FramesError::invalid(
                &self.path,
                format!(
                    "(integration {int}, group {group}) is outside the file's {} x {} ramp",
                    self.nints(),
                    self.ngroups()
                ),
            ));
        }
        Ok(int * self.ngroups() + group)
    }

    /// Big-endian float32 bytes of SCI rows `y0..y1` of (int, group).
    pub fn sci_band_bytes(&self, int: usize, group: usize, y0: usize, y1: usize) -> Result<&[u8]> {
        self.sci.rows_bytes(self.plane(int, group)?, y0, y1)
    }
    /// Decodes SCI rows `y0..y1` of (int, group).
    pub fn read_band_f32(
        &self,
        int: usize,
        group: usize,
        y0: usize,
        y1: usize,
        out: &mut [f32],
    ) -> Result<()> {
        self.sci.read_rows_f32(self.plane(int, group)?, y0, y1, out)
    }
    /// GROUPDQ rows `y0..y1` of (int, group): uint8 needs no decoding, so this is the map.
    pub fn groupdq_band(&self, int: usize, group: usize, y0: usize, y1: usize) -> Result<&[u8]> {
        self.groupdq.rows_bytes(self.plane(int, group)?, y0, y1)
    }
    /// Decodes ZEROFRAME rows `y0..y1` of local integration `int`.
    pub fn read_zeroframe_band_f32(
        &self,
        int: usize,
        y0: usize,
        y1: usize,
        out: &mut [f32],
    ) -> Result<()> {
        let z = self
            .zeroframe
            .as_ref()
            .ok_or_else(|| FramesError::invalid(&self.path, "the file has no ZEROFRAME HDU"))?;
        z.read_rows_f32(int, y0, y1, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoders_match_fits_conventions() {
        // int16 -32768 -> 0, -1 -> 32767, 0 -> 32768, 32767 -> 65535
        let raw: Vec<u8> = [-32768i16, -1, 0, 32767]
            .iter()
            .flat_map(|v| v.to_be_bytes())
            .collect();
        let mut u = [0u16; 4];
        decode_u16_offset_be(&raw, &mut u);
        assert_eq!(u, [0, 32767, 32768, 65535]);
        let mut f = [0f32; 4];
        decode_u16_offset_be_to_f32(&raw, &mut f);
        assert_eq!(f, [0.0, 32767.0, 32768.0, 65535.0]);
        let raw32: Vec<u8> = [i32::MIN, -1, 0, i32::MAX]
            .iter()
            .flat_map(|v| v.to_be_bytes())
            .collect();
        let mut d = [0u32; 4];
        decode_u32_offset_be(&raw32, &mut d);
        assert_eq!(d, [0, 0x7fff_ffff, 0x8000_0000, u32::MAX]);
        let rawf: Vec<u8> = [1.5f32, -0.0, f32::INFINITY]
            .iter()
            .flat_map(|v| v.to_be_bytes())
            .collect();
        let mut g = [0f32; 3];
        decode_f32_be(&rawf, &mut g);
        assert_eq!(g[0], 1.5);
        assert!(g[1] == 0.0 && g[1].is_sign_negative());
        assert_eq!(g[2], f32::INFINITY);
    }

    #[test]
    fn raw_exposure_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<RawExposure>();
        check::<RampFile>();
    }
}
