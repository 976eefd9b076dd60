//! Thin, error-friendly helpers over cfitsio (through the `fitsio` crate).
//!
//! Everything here exists so that the rest of `frames` never sees a bare cfitsio status code:
//! every failure becomes a [`FramesError`] that names the file, the HDU and the keyword, e.g.
//! `x_uncal.fits: keyword NGROUPS missing from the primary header`.
//!
//! HDUs are numbered from 0 (the primary HDU), as in astropy; cfitsio's 1-based numbering stays
//! inside this module. The file is opened with `fits_open_diskfile`, which takes the path
//! literally (no cfitsio "extended filename" parsing of `[...]`, `-` or `mem://`).

use std::ffi::{CStr, CString};
use std::os::raw::{c_char, c_int};
use std::path::{Path, PathBuf};

use fitsio::sys;
use fitsio::FitsFile;

use crate::error::{FramesError, Result};

/// cfitsio status codes this module treats specially (see `fitsio.h`).
mod status {
    pub const END_OF_FILE: i32 = 107;
    pub const READ_ERROR: i32 = 108;
    pub const KEY_NO_EXIST: i32 = 202;
    pub const VALUE_UNDEFINED: i32 = 204;
}

/// What kind of HDU an extension is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HduKind {
    Image,
    AsciiTable,
    BinaryTable,
}

/// Byte layout of one HDU inside the file, from cfitsio's `ffghadll`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataSpan {
    /// Offset of the first header card.
    pub header_start: u64,
    /// Offset of the first byte of the data unit.
    pub data_start: u64,
    /// Offset one past the data unit *including* its padding to a 2880-byte block (i.e. where
    /// the next HDU starts).
    pub data_end_padded: u64,
}

/// The header facts that say how an image data unit is stored, read without trusting them.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageLayout {
    /// Index of the HDU (0 = primary).
    pub hdu: usize,
    /// EXTNAME (or `PRIMARY`).
    pub name: String,
    /// XTENSION (`None` for the primary HDU).
    pub xtension: Option<String>,
    /// BITPIX as written (8, 16, 32, 64, -32, -64).
    pub bitpix: i64,
    /// NAXISn in FITS order (NAXIS1 first, i.e. fastest axis first), as written.
    pub naxes: Vec<i64>,
    /// BZERO (0 when absent).
    pub bzero: f64,
    /// BSCALE (1 when absent).
    pub bscale: f64,
    /// Where the data unit lives in the file.
    pub span: DataSpan,
}

impl ImageLayout {
    /// Shape in numpy order (slowest axis first), as the JWST data models describe arrays.
    /// Fails on negative axes.
    pub fn numpy_shape(&self, path: &Path) -> Result<Vec<usize>> {
        self.naxes
            .iter()
            .rev()
            .enumerate()
            .map(|(i, &n)| {
                usize::try_from(n).map_err(|_| {
                    FramesError::invalid(
                        path,
                        format!(
                            "{} HDU: NAXIS{} = {n} is negative",
                            self.name,
                            self.naxes.len() - i
                        ),
                    )
                })
            })
            .collect()
    }

    /// Exact data length in bytes (without padding), or an error when NAXISn are negative or
    /// their product overflows. Computed from the header alone, so it can be checked against
    /// the file size before anything is mapped or allocated.
    pub fn data_len(&self, path: &Path) -> Result<u64> {
        let bytes_per = self.bitpix.unsigned_abs() / 8;
        let mut total = bytes_per;
        for (i, &n) in self.naxes.iter().enumerate() {
            let n = u64::try_from(n).map_err(|_| {
                FramesError::invalid(
                    path,
                    format!("{} HDU: NAXIS{} = {n} is negative", self.name, i + 1),
                )
            })?;
            total = total.checked_mul(n).ok_or_else(|| {
                FramesError::invalid(
                    path,
                    format!(
                        "{} HDU: NAXIS values {:?} describe more than 2^64 bytes",
                        self.name, self.naxes
                    ),
                )
            })?;
        }
        if self.naxes.is_empty() {
            return Ok(0);
        }
        Ok(total)
    }
}

/// One line of an HDU listing (`sloper info`).
#[derive(Debug, Clone, PartialEq)]
pub struct HduSummary {
    pub index: usize,
    /// EXTNAME, or `PRIMARY` for HDU 0 without one.
    pub name: String,
    pub kind: HduKind,
    /// Image: BITPIX; tables: `None`.
    pub bitpix: Option<i64>,
    /// Image: BZERO if present.
    pub bzero: Option<f64>,
    /// Image: numpy-order shape; tables: `[nrows, ncols]`.
    pub shape: Vec<usize>,
}

impl HduSummary {
    /// numpy-like element type name of an image HDU (`uint16`, `float32`, ...).
    pub fn dtype(&self) -> Option<&'static str> {
        let bitpix = self.bitpix?;
        let bzero = self.bzero.unwrap_or(0.0);
        Some(match bitpix {
            8 => "uint8",
            16 if bzero == 32768.0 => "uint16",
            16 => "int16",
            32 if bzero == 2147483648.0 => "uint32",
            32 => "int32",
            64 => "int64",
            -32 => "float32",
            -64 => "float64",
            _ => "unknown",
        })
    }
}

/// A FITS file opened read-only, remembering its path for error messages.
///
/// Not `Send`: cfitsio handles are used from the thread that opened them. Types that must be
/// shared between threads (the memory-mapped exposures) read everything they need at open time
/// and drop the reader.
pub struct FitsReader {
    file: FitsFile,
    path: PathBuf,
}

impl std::fmt::Debug for FitsReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FitsReader")
            .field("path", &self.path)
            .finish()
    }
}

/// Text of a cfitsio status code plus whatever cfitsio left on its error-message stack (which
/// usually says *what* was wrong, e.g. "END keyword not found"). Clears the stack.
fn cfitsio_message(code: c_int) -> String {
    let mut text = [0 as c_char; 32];
    // SAFETY: ffgerr writes at most 30 chars + NUL into the 31+ byte buffer.
    unsafe { sys::ffgerr(code, text.as_mut_ptr()) };
    let mut out = format!("{} (status {code})", c_buf_to_string(&text));
    let mut details = Vec::new();
    loop {
        let mut msg = [0 as c_char; 96];
        // SAFETY: ffgmsg writes at most 80 chars + NUL; returns 0 when the stack is empty.
        let more = unsafe { sys::ffgmsg(msg.as_mut_ptr()) };
        if more == 0 {
            break;
        }
        let line: String = c_buf_to_string(&msg)
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        if !line.is_empty() && details.len() < 6 {
            details.push(line);
        }
    }
    if !details.is_empty() {
        out.push_str(": ");
        out.push_str(&details.join("; "));
    }
    out
}

fn c_buf_to_string(buf: &[c_char]) -> String {
    let bytes: Vec<u8> = buf
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    String::from_utf8_lossy(&bytes).trim_end().to_string()
}

fn path_to_cstring(path: &Path) -> Result<CString> {
    #[cfg(unix)]
    let bytes = {
        use std::os::unix::ffi::OsStrExt;
        path.as_os_str().as_bytes().to_vec()
    };
    #[cfg(not(unix))]
    let bytes = path
        .to_str()
        .ok_or_else(|| FramesError::invalid(path, "path is not valid UTF-8"))?
        .as_bytes()
        .to_vec();
    CString::new(bytes).map_err(|_| FramesError::invalid(path, "path contains a NUL byte"))
}

fn key_cstring(path: &Path, key: &str) -> Result<CString> {
    CString::new(key)
        .map_err(|_| FramesError::invalid(path, format!("keyword name {key:?} contains NUL")))
}

/// A keyword type that can be read from a header. Implemented for `i64`, `f64`, `bool` and
/// `String`.
pub trait KeyValue: Sized {
    /// Human name of the type for error messages ("an integer", ...).
    const KIND: &'static str;
    #[doc(hidden)]
    /// Reads `key` from the current HDU of `fptr`; leaves a cfitsio status in `status`.
    ///
    /// # Safety
    /// `fptr` must be a valid open cfitsio handle.
    unsafe fn read_raw(fptr: *mut sys::fitsfile, key: &CStr, status: &mut c_int) -> Self;
}

impl KeyValue for i64 {
    const KIND: &'static str = "an integer";
    unsafe fn read_raw(fptr: *mut sys::fitsfile, key: &CStr, status: &mut c_int) -> Self {
        let mut v: sys::LONGLONG = 0;
        // SAFETY: valid handle (caller), NUL-terminated key, out-pointers to locals.
        unsafe { sys::ffgkyjj(fptr, key.as_ptr(), &mut v, std::ptr::null_mut(), status) };
        v
    }
}

impl KeyValue for f64 {
    const KIND: &'static str = "a number";
    unsafe fn read_raw(fptr: *mut sys::fitsfile, key: &CStr, status: &mut c_int) -> Self {
        let mut v = 0.0f64;
        // SAFETY: as for i64.
        unsafe { sys::ffgkyd(fptr, key.as_ptr(), &mut v, std::ptr::null_mut(), status) };
        v
    }
}

impl KeyValue for bool {
    const KIND: &'static str = "a logical (T/F)";
    unsafe fn read_raw(fptr: *mut sys::fitsfile, key: &CStr, status: &mut c_int) -> Self {
        let mut v: c_int = 0;
        // SAFETY: as for i64.
        unsafe { sys::ffgkyl(fptr, key.as_ptr(), &mut v, std::ptr::null_mut(), status) };
        v != 0
    }
}

impl KeyValue for String {
    const KIND: &'static str = "a string";
    unsafe fn read_raw(fptr: *mut sys::fitsfile, key: &CStr, status: &mut c_int) -> Self {
        let mut p: *mut c_char = std::ptr::null_mut();
        // SAFETY: ffgkls allocates the (possibly CONTINUE-long) value and stores the pointer in
        // `p`; we copy it out and release it with fffree, as cfitsio documents.
        unsafe {
            sys::ffgkls(fptr, key.as_ptr(), &mut p, std::ptr::null_mut(), status);
            if p.is_null() {
                return String::new();
            }
            let s = CStr::from_ptr(p).to_string_lossy().trim_end().to_string();
            let mut free_status = 0;
            sys::fffree(p as *mut std::ffi::c_void, &mut free_status);
            s
        }
    }
}

impl FitsReader {
    /// Opens `path` read-only. Errors name the file (missing file, not FITS, broken primary
    /// header).
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        // Give a plain OS error (not found, permission) before cfitsio's vaguer one.
        std::fs::metadata(&path).map_err(|e| FramesError::io(&path, e))?;
        let cpath = path_to_cstring(&path)?;
        let mut fptr: *mut sys::fitsfile = std::ptr::null_mut();
        let mut st: c_int = 0;
        // SAFETY: out-pointer to a local, NUL-terminated path; READONLY = 0.
        unsafe { sys::ffdkopn(&mut fptr, cpath.as_ptr(), 0, &mut st) };
        if st != 0 || fptr.is_null() {
            if !fptr.is_null() {
                let mut s2 = 0;
                // SAFETY: fptr came from ffdkopn; closing releases it.
                unsafe { sys::ffclos(fptr, &mut s2) };
            }
            return Err(FramesError::fits(
                &path,
                format!("cannot open as FITS: {}", cfitsio_message(st)),
            ));
        }
        // SAFETY: fptr is a valid handle just created by cfitsio for a readable FITS file;
        // FitsFile takes ownership and closes it on drop.
        let file = unsafe { FitsFile::from_raw(fptr, fitsio::FileOpenMode::READONLY) }
            .map_err(|e| FramesError::fits(&path, e))?;
        Ok(FitsReader { file, path })
    }

    /// The file this reader was opened on.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The underlying `fitsio` handle, for table reads (`FitsHdu::read_col`, ...).
    pub fn fits_file(&mut self) -> &mut FitsFile {
        &mut self.file
    }

    /// Current size of the file on disk.
    pub fn file_len(&self) -> Result<u64> {
        std::fs::metadata(&self.path)
            .map(|m| m.len())
            .map_err(|e| FramesError::io(&self.path, e))
    }

    fn raw(&mut self) -> *mut sys::fitsfile {
        // SAFETY: the handle stays valid as long as `self.file` lives; we only pass it to
        // cfitsio calls made while `self` is borrowed mutably.
        unsafe { self.file.as_raw() }
    }

    fn fits_err(&self, what: impl std::fmt::Display, code: c_int) -> FramesError {
        FramesError::fits(&self.path, format!("{what}: {}", cfitsio_message(code)))
    }

    /// Human label of an HDU for messages: "primary header" / "SCI header" / "HDU 3 header".
    pub fn hdu_label(&mut self, hdu: usize) -> String {
        if hdu == 0 {
            return "primary header".to_string();
        }
        match self.hdu_name(hdu) {
            Ok(n) if !n.is_empty() => format!("{n} header"),
            _ => format!("HDU {hdu} header"),
        }
    }

    /// Makes `hdu` (0-based) current and returns its kind.
    pub fn select(&mut self, hdu: usize) -> Result<HduKind> {
        let num = c_int::try_from(hdu + 1)
            .map_err(|_| FramesError::invalid(&self.path, format!("HDU {hdu} out of range")))?;
        let mut kind: c_int = 0;
        let mut st: c_int = 0;
        // SAFETY: valid handle, out-pointers to locals.
        unsafe { sys::ffmahd(self.raw(), num, &mut kind, &mut st) };
        if st != 0 {
            let hint = if st == status::END_OF_FILE || st == status::READ_ERROR {
                " (the file ends inside this HDU's header: truncated?)"
            } else {
                ""
            };
            return Err(self.fits_err(format!("cannot read HDU {hdu}{hint}"), st));
        }
        self.check_span(hdu)?;
        Ok(match kind {
            1 => HduKind::AsciiTable,
            2 => HduKind::BinaryTable,
            _ => HduKind::Image,
        })
    }

    /// Number of HDUs: the HDUs are walked one by one until cfitsio cannot move further (as its
    /// own `ffthdu` does), but every HDU's byte span is checked on the way, so a header whose
    /// data size overflows (which makes cfitsio find "the next HDU" at the same place, forever)
    /// is an error instead of an endless loop.
    pub fn num_hdus(&mut self) -> Result<usize> {
        let mut n = 0usize;
        while let Ok(num) = c_int::try_from(n + 1) {
            let mut st: c_int = 0;
            // SAFETY: valid handle, out-pointers to locals (a null HDU-type pointer is allowed).
            unsafe { sys::ffmahd(self.raw(), num, std::ptr::null_mut(), &mut st) };
            if st != 0 {
                // SAFETY: clearing cfitsio's message stack has no preconditions.
                unsafe { sys::ffcmsg() };
                break;
            }
            self.check_span(n)?;
            n += 1;
        }
        if n == 0 {
            self.select(0)?;
        }
        Ok(n)
    }

    /// The current HDU (number `hdu`, for messages) must occupy a sane byte span: data after the
    /// header, data end not before data start. An overflowing NAXISn/PCOUNT/GCOUNT product wraps
    /// cfitsio's 64-bit sizes and breaks this; without the check the next HDU would be "found"
    /// at this HDU's own position again and again.
    fn check_span(&mut self, hdu: usize) -> Result<()> {
        let (mut h, mut d, mut e): (sys::LONGLONG, sys::LONGLONG, sys::LONGLONG) = (0, 0, 0);
        let mut st: c_int = 0;
        // SAFETY: valid, positioned handle; out-pointers to locals.
        unsafe { sys::ffghadll(self.raw(), &mut h, &mut d, &mut e, &mut st) };
        if st != 0 {
            return Err(self.fits_err(format!("cannot locate HDU {hdu}"), st));
        }
        if h < 0 || d <= h || e < d {
            return Err(FramesError::invalid(
                &self.path,
                format!(
                    "HDU {hdu}: its header declares a data unit too large to address \
                     (NAXISn, PCOUNT or GCOUNT out of range)"
                ),
            ));
        }
        Ok(())
    }

    /// Index of the first HDU whose EXTNAME is `extname` (case-insensitive, blanks trimmed),
    /// or `None` when the file has none.
    ///
    /// The HDUs are walked one by one (cfitsio's own name search reports any unreadable HDU
    /// as "not found"): reaching the end of the file right after a complete HDU means "not
    /// found", but a header that cannot be read before that (cut mid-card, negative NAXISn,
    /// ...) is an error.
    pub fn find_hdu(&mut self, extname: &str) -> Result<Option<usize>> {
        let file_len = self.file_len()?;
        let mut prev_end = 0u64;
        for i in 0usize.. {
            if let Err(e) = self.select(i) {
                if i > 0 && prev_end >= file_len {
                    return Ok(None);
                }
                return Err(match e {
                    FramesError::Fits { path, message } => FramesError::Fits {
                        path,
                        message: format!("while looking for the {extname} HDU: {message}"),
                    },
                    other => other,
                });
            }
            let name = self.key::<String>(i, "EXTNAME")?;
            if name.is_some_and(|n| n.trim().eq_ignore_ascii_case(extname.trim())) {
                return Ok(Some(i));
            }
            prev_end = self.data_span(i)?.data_end_padded;
        }
        Ok(None)
    }

    /// Like [`find_hdu`](Self::find_hdu) but a missing HDU is an error ("no SCI HDU").
    pub fn require_hdu(&mut self, extname: &str) -> Result<usize> {
        self.find_hdu(extname)?.ok_or_else(|| {
            FramesError::invalid(
                &self.path,
                format!("no {extname} HDU (extension) in the file"),
            )
        })
    }

    /// EXTNAME of `hdu` (`PRIMARY` for HDU 0 without one, empty when an extension has none).
    pub fn hdu_name(&mut self, hdu: usize) -> Result<String> {
        let name = self.key::<String>(hdu, "EXTNAME")?;
        Ok(match name {
            Some(n) => n,
            None if hdu == 0 => "PRIMARY".to_string(),
            None => String::new(),
        })
    }

    /// Reads keyword `key` of HDU `hdu`. `Ok(None)` when it is absent or has no value; an error
    /// when it is present with a value of the wrong type.
    pub fn key<T: KeyValue>(&mut self, hdu: usize, key: &str) -> Result<Option<T>> {
        self.select(hdu)?;
        let ckey = key_cstring(&self.path, key)?;
        let mut st: c_int = 0;
        // SAFETY: `select` succeeded so the handle is valid and positioned.
        let v = unsafe { T::read_raw(self.raw(), &ckey, &mut st) };
        match st {
            0 => Ok(Some(v)),
            status::KEY_NO_EXIST | status::VALUE_UNDEFINED => {
                let _ = cfitsio_message(st);
                Ok(None)
            }
            _ => {
                let detail = cfitsio_message(st);
                // The label is made from EXTNAME: an unreadable EXTNAME must not ask for it
                // again (that recursed until the stack overflowed).
                let label = if key.eq_ignore_ascii_case("EXTNAME") && hdu > 0 {
                    format!("HDU {hdu} header")
                } else {
                    self.hdu_label(hdu)
                };
                Err(FramesError::invalid(
                    &self.path,
                    format!("keyword {key} in the {label} is not {}: {detail}", T::KIND),
                ))
            }
        }
    }

    /// Reads a required keyword: absent -> "keyword NGROUPS missing from the primary header".
    pub fn require<T: KeyValue>(&mut self, hdu: usize, key: &str) -> Result<T> {
        match self.key::<T>(hdu, key)? {
            Some(v) => Ok(v),
            None => {
                let label = self.hdu_label(hdu);
                Err(FramesError::invalid(
                    &self.path,
                    format!("keyword {key} missing from the {label}"),
                ))
            }
        }
    }

    /// Reads `key` from the first of `hdus` that has it (e.g. primary, then SCI).
    pub fn key_in<T: KeyValue>(&mut self, hdus: &[usize], key: &str) -> Result<Option<T>> {
        for &h in hdus {
            if let Some(v) = self.key::<T>(h, key)? {
                return Ok(Some(v));
            }
        }
        Ok(None)
    }

    /// All header cards of `hdu` (80-character records without the END card), in order. Writers
    /// copy the primary header of the input from this.
    pub fn cards(&mut self, hdu: usize) -> Result<Vec<String>> {
        self.select(hdu)?;
        let mut nexist: c_int = 0;
        let mut st: c_int = 0;
        // SAFETY: valid, positioned handle; out-pointers to locals; nmore may be NULL.
        unsafe { sys::ffghsp(self.raw(), &mut nexist, std::ptr::null_mut(), &mut st) };
        if st != 0 {
            return Err(self.fits_err(format!("cannot read header of HDU {hdu}"), st));
        }
        let mut cards = Vec::with_capacity(nexist.max(0) as usize);
        for i in 1..=nexist {
            let mut buf = [0 as c_char; 96];
            // SAFETY: ffgrec writes one card (<= 80 chars + NUL) into the 96-byte buffer.
            unsafe { sys::ffgrec(self.raw(), i, buf.as_mut_ptr(), &mut st) };
            if st != 0 {
                return Err(self.fits_err(format!("cannot read card {i} of HDU {hdu}"), st));
            }
            cards.push(c_buf_to_string(&buf));
        }
        Ok(cards)
    }

    /// Byte offsets of `hdu`'s header and data unit in the file.
    pub fn data_span(&mut self, hdu: usize) -> Result<DataSpan> {
        self.select(hdu)?;
        let (mut h, mut d, mut e): (sys::LONGLONG, sys::LONGLONG, sys::LONGLONG) = (0, 0, 0);
        let mut st: c_int = 0;
        // SAFETY: valid, positioned handle; out-pointers to locals.
        unsafe { sys::ffghadll(self.raw(), &mut h, &mut d, &mut e, &mut st) };
        if st != 0 {
            return Err(self.fits_err(format!("cannot locate the data of HDU {hdu}"), st));
        }
        let to_u64 = |v: sys::LONGLONG| u64::try_from(v).unwrap_or(0);
        Ok(DataSpan {
            header_start: to_u64(h),
            data_start: to_u64(d),
            data_end_padded: to_u64(e),
        })
    }

    /// The storage description of image HDU `hdu`, read from its header cards. Nothing is
    /// validated beyond "it is an image HDU"; callers check what they need.
    pub fn image_layout(&mut self, hdu: usize) -> Result<ImageLayout> {
        let kind = self.select(hdu)?;
        let name = self.hdu_name(hdu)?;
        if kind != HduKind::Image {
            return Err(FramesError::invalid(
                &self.path,
                format!("{name} HDU is a table, not an image (XTENSION IMAGE expected)"),
            ));
        }
        let xtension = if hdu == 0 {
            None
        } else {
            self.key::<String>(hdu, "XTENSION")?
        };
        let bitpix = self.require::<i64>(hdu, "BITPIX")?;
        let naxis = self.require::<i64>(hdu, "NAXIS")?;
        if !(0..=999).contains(&naxis) {
            return Err(FramesError::invalid(
                &self.path,
                format!("{name} HDU: NAXIS = {naxis} is not a valid axis count"),
            ));
        }
        let mut naxes = Vec::with_capacity(naxis as usize);
        for i in 1..=naxis {
            naxes.push(self.require::<i64>(hdu, &format!("NAXIS{i}"))?);
        }
        let bzero = self.key::<f64>(hdu, "BZERO")?.unwrap_or(0.0);
        let bscale = self.key::<f64>(hdu, "BSCALE")?.unwrap_or(1.0);
        let span = self.data_span(hdu)?;
        Ok(ImageLayout {
            hdu,
            name,
            xtension,
            bitpix,
            naxes,
            bzero,
            bscale,
            span,
        })
    }

    /// One summary line per HDU (name, kind, type, shape).
    pub fn hdu_summaries(&mut self) -> Result<Vec<HduSummary>> {
        let n = self.num_hdus()?;
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            let kind = self.select(i)?;
            let name = self.hdu_name(i)?;
            let summary = match kind {
                HduKind::Image => {
                    let l = self.image_layout(i)?;
                    let shape = l.numpy_shape(&self.path)?;
                    HduSummary {
                        index: i,
                        name,
                        kind,
                        bitpix: Some(l.bitpix),
                        bzero: self.key::<f64>(i, "BZERO")?,
                        shape,
                    }
                }
                _ => {
                    let rows = self.key::<i64>(i, "NAXIS2")?.unwrap_or(0).max(0) as usize;
                    let cols = self.key::<i64>(i, "TFIELDS")?.unwrap_or(0).max(0) as usize;
                    HduSummary {
                        index: i,
                        name,
                        kind,
                        bitpix: None,
                        bzero: None,
                        shape: vec![rows, cols],
                    }
                }
            };
            out.push(summary);
        }
        Ok(out)
    }
}

/// A binary-table column, located and checked (scalar cell, known type).
struct Column {
    num: c_int,
    typecode: c_int,
    width: i64,
}

/// cfitsio type codes of table columns (`fitsio.h`).
const TSTRING: c_int = 16;

impl FitsReader {
    /// Rows of table HDU `hdu`, after checking that the table's declared size fits in the file
    /// (so a corrupt NAXIS2 cannot make us allocate gigabytes).
    pub fn table_rows(&mut self, hdu: usize) -> Result<usize> {
        let kind = self.select(hdu)?;
        let name = self.hdu_name(hdu)?;
        if kind == HduKind::Image {
            return Err(FramesError::invalid(
                &self.path,
                format!("{name} HDU is an image, not a table"),
            ));
        }
        let row_bytes = self.require::<i64>(hdu, "NAXIS1")?;
        let nrows = self.require::<i64>(hdu, "NAXIS2")?;
        let span = self.data_span(hdu)?;
        let file_len = self.file_len()?;
        let need = u64::try_from(row_bytes)
            .ok()
            .zip(u64::try_from(nrows).ok())
            .and_then(|(a, b)| a.checked_mul(b))
            .and_then(|n| n.checked_add(span.data_start));
        match need {
            Some(end) if end <= file_len => Ok(nrows as usize),
            _ => Err(FramesError::invalid(
                &self.path,
                format!(
                    "{name} table: {nrows} rows of {row_bytes} bytes do not fit in the file \
                     ({file_len} bytes; data start at byte {})",
                    span.data_start
                ),
            )),
        }
    }

    fn column(&mut self, hdu: usize, table: &str, col: &str) -> Result<Option<Column>> {
        self.select(hdu)?;
        let mut templ = key_cstring(&self.path, col)?.into_bytes_with_nul();
        let mut num: c_int = 0;
        let mut st: c_int = 0;
        // SAFETY: valid, positioned handle; the template is a NUL-terminated local buffer
        // (cfitsio may not modify it but takes *mut); CASEINSEN = 0.
        unsafe {
            sys::ffgcno(
                self.raw(),
                0,
                templ.as_mut_ptr() as *mut c_char,
                &mut num,
                &mut st,
            )
        };
        if st != 0 {
            let _ = cfitsio_message(st);
            return Ok(None);
        }
        let (mut typecode, mut repeat, mut width): (c_int, sys::LONGLONG, sys::LONGLONG) =
            (0, 0, 0);
        // SAFETY: valid handle, column number from ffgcno, out-pointers to locals.
        unsafe {
            sys::ffgtclll(
                self.raw(),
                num,
                &mut typecode,
                &mut repeat,
                &mut width,
                &mut st,
            )
        };
        if st != 0 {
            return Err(self.fits_err(format!("{table} table: cannot describe column {col}"), st));
        }
        let scalar = if typecode.abs() == TSTRING {
            true
        } else {
            repeat == 1
        };
        if typecode < 0 || !scalar {
            return Err(FramesError::invalid(
                &self.path,
                format!("{table} table: column {col} is not a scalar column (repeat {repeat})"),
            ));
        }
        Ok(Some(Column {
            num,
            typecode,
            width,
        }))
    }

    fn require_column(&mut self, hdu: usize, table: &str, col: &str) -> Result<Column> {
        self.column(hdu, table, col)?.ok_or_else(|| {
            FramesError::invalid(&self.path, format!("{table} table has no column {col}"))
        })
    }

    /// Numeric column `col` of table HDU `hdu` as f64 (any numeric FITS type converts).
    pub fn column_f64(
        &mut self,
        hdu: usize,
        table: &str,
        col: &str,
        nrows: usize,
    ) -> Result<Vec<f64>> {
        let c = self.require_column(hdu, table, col)?;
        self.check_numeric(table, col, &c)?;
        let mut out = vec![0f64; nrows];
        if nrows == 0 {
            return Ok(out);
        }
        let mut st: c_int = 0;
        // SAFETY: valid handle; `out` holds exactly `nrows` elements, the count we ask for.
        unsafe {
            sys::ffgcvd(
                self.raw(),
                c.num,
                1,
                1,
                nrows as sys::LONGLONG,
                f64::NAN,
                out.as_mut_ptr(),
                std::ptr::null_mut(),
                &mut st,
            )
        };
        if st != 0 {
            return Err(self.fits_err(format!("{table} table: cannot read column {col}"), st));
        }
        Ok(out)
    }

    /// Integer column `col` of table HDU `hdu` as i64.
    pub fn column_i64(
        &mut self,
        hdu: usize,
        table: &str,
        col: &str,
        nrows: usize,
    ) -> Result<Vec<i64>> {
        let c = self.require_column(hdu, table, col)?;
        self.check_numeric(table, col, &c)?;
        let mut out = vec![0i64; nrows];
        if nrows == 0 {
            return Ok(out);
        }
        let mut st: c_int = 0;
        // SAFETY: valid handle; `out` holds exactly `nrows` elements, the count we ask for.
        unsafe {
            sys::ffgcvjj(
                self.raw(),
                c.num,
                1,
                1,
                nrows as sys::LONGLONG,
                0,
                out.as_mut_ptr(),
                std::ptr::null_mut(),
                &mut st,
            )
        };
        if st != 0 {
            return Err(self.fits_err(format!("{table} table: cannot read column {col}"), st));
        }
        Ok(out)
    }

    /// String column `col` of table HDU `hdu` (trailing blanks removed).
    pub fn column_str(
        &mut self,
        hdu: usize,
        table: &str,
        col: &str,
        nrows: usize,
    ) -> Result<Vec<String>> {
        let c = self.require_column(hdu, table, col)?;
        if c.typecode != TSTRING {
            return Err(FramesError::invalid(
                &self.path,
                format!("{table} table: column {col} is not a string column"),
            ));
        }
        let width = usize::try_from(c.width).unwrap_or(0).clamp(1, 1 << 16);
        let mut out = Vec::with_capacity(nrows);
        let mut buf = vec![0 as c_char; width + 1];
        let mut nul = [0 as c_char; 1];
        for row in 0..nrows {
            let mut ptrs = [buf.as_mut_ptr()];
            let mut st: c_int = 0;
            // SAFETY: valid handle; one element of at most `width` chars + NUL goes into `buf`
            // (width+1 bytes), through the one-element pointer array.
            unsafe {
                sys::ffgcvs(
                    self.raw(),
                    c.num,
                    row as sys::LONGLONG + 1,
                    1,
                    1,
                    nul.as_mut_ptr(),
                    ptrs.as_mut_ptr(),
                    std::ptr::null_mut(),
                    &mut st,
                )
            };
            if st != 0 {
                return Err(self.fits_err(format!("{table} table: cannot read column {col}"), st));
            }
            out.push(c_buf_to_string(&buf));
        }
        Ok(out)
    }

    fn check_numeric(&self, table: &str, col: &str, c: &Column) -> Result<()> {
        if c.typecode == TSTRING || c.typecode == 1 || c.typecode == 14 {
            // TSTRING, TBIT, TLOGICAL
            return Err(FramesError::invalid(
                &self.path,
                format!("{table} table: column {col} is not numeric"),
            ));
        }
        Ok(())
    }
}

/// Verify the CHECKSUM/DATASUM keywords of every HDU of `path` that carries them (FITS checksum
/// convention, cfitsio's `ffvcks`), for `--verify-checksums`. Returns how many HDUs carried
/// sums (0: nothing to verify, not an error). A sum that does not match is an error naming the
/// file and the HDU: a corrupted byte in the data unit fails DATASUM, one in the header fails
/// CHECKSUM (which covers header and data).
pub fn verify_checksums(path: impl AsRef<Path>) -> Result<usize> {
    let path = path.as_ref();
    let mut r = FitsReader::open(path)?;
    let n = r.num_hdus()?;
    let file_len = r.file_len()?;
    let mut verified = 0;
    for hdu in 0..n {
        r.select(hdu)?;
        // cfitsio sums whatever size the header declares: check it lies inside the file first.
        let span = r.data_span(hdu)?;
        if span.data_end_padded > file_len.div_ceil(2880) * 2880 {
            return Err(FramesError::invalid(
                path,
                format!(
                    "{}: the data unit ends at byte {}, past the end of the file ({file_len} bytes)",
                    r.hdu_label(hdu),
                    span.data_end_padded
                ),
            ));
        }
        let (mut data_ok, mut hdu_ok): (c_int, c_int) = (0, 0);
        let mut st: c_int = 0;
        // SAFETY: valid handle positioned on `hdu`; out-pointers to locals.
        unsafe { sys::ffvcks(r.raw(), &mut data_ok, &mut hdu_ok, &mut st) };
        if st != 0 {
            let what = format!("cannot verify the checksums of the {}", r.hdu_label(hdu));
            return Err(r.fits_err(what, st));
        }
        // ffvcks: 1 = present and correct, 0 = keyword absent, -1 = present and wrong.
        let problem = if data_ok < 0 {
            Some("DATASUM does not match its data unit (corrupted data)")
        } else if hdu_ok < 0 {
            Some("CHECKSUM does not match (corrupted header)")
        } else {
            None
        };
        if let Some(problem) = problem {
            return Err(FramesError::invalid(
                path,
                format!("{}: {problem}", r.hdu_label(hdu)),
            ));
        }
        if data_ok > 0 || hdu_ok > 0 {
            verified += 1;
        }
    }
    Ok(verified)
}

/// `true` for a cfitsio "end of file" failure (a truncated file); used by callers that want
/// to reword it.
pub fn is_end_of_file(err: &FramesError) -> bool {
    matches!(err, FramesError::Fits { message, .. } if message.contains(&format!("status {}", status::END_OF_FILE)))
}
