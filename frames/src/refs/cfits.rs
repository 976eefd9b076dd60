//! A thin, owned handle on one cfitsio file, with exactly the calls the reference loaders and the
//! product writers need (keyword lookup that distinguishes "absent" from "broken", windowed image
//! reads, contiguous pixel writes, header-card copy, HDU copy, checksums).
//!
//! Why not the `fitsio` high-level API: we need the raw BITPIX/BZERO of an HDU (to accept the
//! old uint8/int32 DQ layouts), "keyword absent" as `None`, windowed reads of a 3-D cube without
//! reading it whole, byte offsets of a data unit for memory maps, and HDU copies and checksums,
//! none of which the high-level API exposes. Every cfitsio status is turned into a
//! [`FramesError`] naming the file.
//!
//! All `unsafe` here is FFI: each call passes pointers to live, correctly sized Rust buffers and
//! the `fitsfile` pointer owned by the handle (never null while the handle exists).

use std::ffi::{CStr, CString};
use std::os::raw::{c_char, c_int, c_long, c_void};
use std::path::{Path, PathBuf};

use fitsio::sys;

use crate::{FramesError, Result};

const KEY_NO_EXIST: c_int = sys::KEY_NO_EXIST as c_int;
const VALUE_UNDEFINED: c_int = sys::VALUE_UNDEFINED as c_int;
const BAD_HDU_NUM: c_int = sys::BAD_HDU_NUM as c_int;
const COL_NOT_FOUND: c_int = sys::COL_NOT_FOUND as c_int;

/// Structural keywords that describe an HDU's shape/encoding: never copied between HDUs.
pub(crate) const STRUCTURAL: &[&str] = &[
    "SIMPLE", "XTENSION", "BITPIX", "NAXIS", "EXTEND", "PCOUNT", "GCOUNT", "BZERO", "BSCALE",
    "BLANK", "EXTNAME", "EXTVER", "EXTLEVEL", "CHECKSUM", "DATASUM", "END", "TFIELDS", "THEAP",
    "ZIMAGE", "ZBITPIX", "ZNAXIS", "ZTILE", "ZCMPTYPE",
];

/// Whether `key` (upper case) is structural, including the indexed families (NAXISn, TFORMn...).
pub(crate) fn is_structural(key: &str) -> bool {
    if STRUCTURAL.contains(&key) {
        return true;
    }
    const FAMILIES: &[&str] = &[
        "NAXIS", "TFORM", "TTYPE", "TUNIT", "TSCAL", "TZERO", "TNULL", "TDISP", "TDIM", "TBCOL",
        "ZNAXIS", "ZTILE", "ZNAME", "ZVAL",
    ];
    FAMILIES.iter().any(|f| {
        key.len() > f.len()
            && key.starts_with(f)
            && key[f.len()..].bytes().all(|b| b.is_ascii_digit())
    })
}

/// Shape and encoding of the current image HDU.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ImageInfo {
    /// BITPIX as written in the header (8, 16, 32, 64, -32, -64).
    pub bitpix: i32,
    /// BZERO (0 when absent).
    pub bzero: f64,
    /// BSCALE (1 when absent).
    pub bscale: f64,
    /// Axis lengths in numpy (C) order: slowest first.
    pub shape: Vec<usize>,
}

/// An open cfitsio file. Closed on drop.
pub(crate) struct CFits {
    ptr: *mut sys::fitsfile,
    path: PathBuf,
}

// SAFETY: the handle exclusively owns its `fitsfile`; every call that touches it goes through
// `&mut self` (or `&self` for read-only queries that are only made while no other thread can hold
// the handle), and cfitsio is built reentrant (fitsio-sys enables `--enable-reentrant`), so moving
// the handle to another thread is sound.
unsafe impl Send for CFits {}

fn cstring(path: &Path, s: &str) -> Result<CString> {
    CString::new(s).map_err(|_| FramesError::invalid(path, format!("string with NUL byte: {s:?}")))
}

fn status_text(status: c_int) -> String {
    let mut buf = [0 as c_char; 81];
    // SAFETY: ffgerr writes at most 31 chars + NUL into the 81-byte buffer.
    unsafe { sys::ffgerr(status, buf.as_mut_ptr()) };
    let mut text = c_buf_to_string(&buf);
    // Drain cfitsio's error-message stack for detail (keeps the stack from growing too).
    loop {
        let mut msg = [0 as c_char; 81];
        // SAFETY: ffgmsg writes at most 80 chars + NUL.
        let n = unsafe { sys::ffgmsg(msg.as_mut_ptr()) };
        if n == 0 {
            break;
        }
        let m = c_buf_to_string(&msg);
        if !m.is_empty() && !text.contains(&m) {
            text.push_str("; ");
            text.push_str(&m);
        }
    }
    format!("{text} (cfitsio status {status})")
}

fn c_buf_to_string(buf: &[c_char]) -> String {
    // SAFETY: the buffers handed to cfitsio are NUL-initialised and cfitsio NUL-terminates them.
    unsafe { CStr::from_ptr(buf.as_ptr()) }
        .to_string_lossy()
        .trim_end()
        .to_string()
}

impl CFits {
    fn check(&self, status: c_int, what: &str) -> Result<()> {
        if status == 0 {
            Ok(())
        } else {
            Err(FramesError::fits(
                &self.path,
                format!("{what}: {}", status_text(status)),
            ))
        }
    }

    /// The file this handle is on.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn open_mode(path: &Path, mode: u32) -> Result<Self> {
        if !path.exists() {
            return Err(FramesError::io(
                path,
                std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
            ));
        }
        let name = cstring(path, &path.to_string_lossy())?;
        let mut ptr: *mut sys::fitsfile = std::ptr::null_mut();
        let mut status = 0;
        // SAFETY: `name` is a valid C string; cfitsio sets `ptr` on success.
        unsafe { sys::ffopen(&mut ptr, name.as_ptr(), mode as c_int, &mut status) };
        if status != 0 || ptr.is_null() {
            return Err(FramesError::fits(
                path,
                format!("cannot open: {}", status_text(status)),
            ));
        }
        Ok(CFits {
            ptr,
            path: path.to_path_buf(),
        })
    }

    /// Open an existing file read-only.
    pub fn open(path: &Path) -> Result<Self> {
        Self::open_mode(path, sys::READONLY)
    }

    /// Open an existing file for reading and writing (a product resumed by its writer).
    pub fn open_readwrite(path: &Path) -> Result<Self> {
        Self::open_mode(path, sys::READWRITE)
    }

    /// Hand every buffered change to the operating system (cfitsio's `ffflus`), so the file on
    /// disk is a complete FITS file holding everything written so far.
    pub fn flush(&mut self) -> Result<()> {
        let mut status = 0;
        // SAFETY: open handle.
        unsafe { sys::ffflus(self.ptr, &mut status) };
        self.check(status, "flushing the file")
    }

    /// Create a new, empty file (fails if it exists).
    pub fn create(path: &Path) -> Result<Self> {
        if path.exists() {
            return Err(FramesError::invalid(
                path,
                "refusing to create: file exists",
            ));
        }
        let name = cstring(path, &path.to_string_lossy())?;
        let mut ptr: *mut sys::fitsfile = std::ptr::null_mut();
        let mut status = 0;
        // SAFETY: valid C string; cfitsio sets `ptr` on success.
        unsafe { sys::ffinit(&mut ptr, name.as_ptr(), &mut status) };
        if status != 0 || ptr.is_null() {
            return Err(FramesError::fits(
                path,
                format!("cannot create: {}", status_text(status)),
            ));
        }
        Ok(CFits {
            ptr,
            path: path.to_path_buf(),
        })
    }

    /// Close explicitly, reporting errors from the final flush (drop ignores them).
    pub fn close(mut self) -> Result<()> {
        let mut status = 0;
        // SAFETY: ptr is the open handle; it is nulled so Drop does not close it twice.
        unsafe { sys::ffclos(self.ptr, &mut status) };
        self.ptr = std::ptr::null_mut();
        self.check(status, "closing file")
    }

    /// Number of HDUs in the file: walked one by one until cfitsio cannot move further (as its
    /// `ffthdu` does), checking each HDU's byte span so an overflowing data size is an error
    /// rather than an endless loop (see [`check_span`](Self::check_span)).
    pub fn num_hdus(&mut self) -> Result<usize> {
        let mut n = 0usize;
        while let Ok(num) = c_int::try_from(n + 1) {
            let mut status = 0;
            // SAFETY: open handle; a null HDU-type pointer is allowed.
            unsafe { sys::ffmahd(self.ptr, num, std::ptr::null_mut(), &mut status) };
            if status != 0 {
                // SAFETY: clearing cfitsio's message stack has no preconditions.
                unsafe { sys::ffcmsg() };
                break;
            }
            self.check_span(n)?;
            n += 1;
        }
        if n == 0 {
            self.goto_index(0)?;
        }
        Ok(n)
    }

    /// The current HDU (number `index`, for messages) must occupy a sane byte span: data after
    /// the header, data end not before data start. An overflowing NAXISn/PCOUNT/GCOUNT product
    /// wraps cfitsio's 64-bit sizes; cfitsio then finds "the next HDU" at this HDU's own place,
    /// again and again, and its name search and HDU count never end.
    fn check_span(&mut self, index: usize) -> Result<()> {
        let (mut h, mut d, mut e) = (0, 0, 0);
        let mut status = 0;
        // SAFETY: open handle positioned on an HDU; out-pointers to locals.
        unsafe { sys::ffghadll(self.ptr, &mut h, &mut d, &mut e, &mut status) };
        self.check(status, &format!("locating HDU {index}"))?;
        if h < 0 || d <= h || e < d {
            return Err(FramesError::invalid(
                &self.path,
                format!(
                    "HDU {index}: its header declares a data unit too large to address \
                     (NAXISn, PCOUNT or GCOUNT out of range)"
                ),
            ));
        }
        Ok(())
    }

    /// Move to HDU number `index` (0 = primary).
    pub fn goto_index(&mut self, index: usize) -> Result<()> {
        let num = c_int::try_from(index + 1)
            .map_err(|_| FramesError::invalid(&self.path, format!("HDU {index} out of range")))?;
        let mut status = 0;
        let mut exttype = 0;
        // SAFETY: open handle, valid out pointers.
        unsafe { sys::ffmahd(self.ptr, num, &mut exttype, &mut status) };
        self.check(status, &format!("moving to HDU {index}"))?;
        self.check_span(index)
    }

    /// Move to the extension named `name` (EXTNAME, any version). `Ok(false)` when absent.
    ///
    /// The HDUs are counted first: that walk stops on an impossible data size, which cfitsio's
    /// own name search would otherwise cycle on forever.
    pub fn goto_name(&mut self, name: &str) -> Result<bool> {
        self.num_hdus()?;
        let mut cname = cstring(&self.path, name)?.into_bytes_with_nul();
        let mut status = 0;
        // SAFETY: open handle; cfitsio only reads the NUL-terminated name buffer.
        unsafe {
            sys::ffmnhd(
                self.ptr,
                sys::ANY_HDU,
                cname.as_mut_ptr() as *mut c_char,
                0,
                &mut status,
            )
        };
        if status == BAD_HDU_NUM {
            // SAFETY: clearing cfitsio's message stack has no preconditions.
            unsafe { sys::ffcmsg() };
            return Ok(false);
        }
        self.check(status, &format!("looking for extension {name}"))?;
        Ok(true)
    }

    /// Move to `name`, or fail with "missing extension NAME".
    pub fn require(&mut self, name: &str) -> Result<()> {
        if self.goto_name(name)? {
            Ok(())
        } else {
            Err(FramesError::invalid(
                &self.path,
                format!("missing {name} extension"),
            ))
        }
    }

    fn key_raw(&mut self, key: &str) -> Result<Option<String>> {
        let ckey = cstring(&self.path, key)?;
        let mut value = [0 as c_char; 128];
        let mut status = 0;
        // SAFETY: value buffer is larger than a FITS card value (<= 70 chars + NUL); comment NULL.
        unsafe {
            sys::ffgkey(
                self.ptr,
                ckey.as_ptr(),
                value.as_mut_ptr(),
                std::ptr::null_mut(),
                &mut status,
            )
        };
        if status == KEY_NO_EXIST {
            // SAFETY: no preconditions.
            unsafe { sys::ffcmsg() };
            return Ok(None);
        }
        self.check(status, &format!("reading keyword {key}"))?;
        let v = c_buf_to_string(&value);
        Ok(if v.is_empty() { None } else { Some(v) })
    }

    /// String keyword of the current HDU; `None` when absent or undefined. Quotes are removed and
    /// trailing blanks trimmed (as astropy does).
    pub fn key_str(&mut self, key: &str) -> Result<Option<String>> {
        let Some(raw) = self.key_raw(key)? else {
            return Ok(None);
        };
        let t = raw.trim();
        if let Some(inner) = t.strip_prefix('\'') {
            let inner = inner.strip_suffix('\'').unwrap_or(inner);
            Ok(Some(inner.replace("''", "'").trim_end().to_string()))
        } else {
            Ok(Some(t.to_string()))
        }
    }

    /// Numeric keyword (integer or real) as f64; `None` when absent. A non-numeric value is an
    /// error naming the keyword.
    pub fn key_f64(&mut self, key: &str) -> Result<Option<f64>> {
        let ckey = cstring(&self.path, key)?;
        let mut v = 0f64;
        let mut status = 0;
        // SAFETY: valid key and out pointer.
        unsafe {
            sys::ffgkyd(
                self.ptr,
                ckey.as_ptr(),
                &mut v,
                std::ptr::null_mut(),
                &mut status,
            )
        };
        if status == KEY_NO_EXIST || status == VALUE_UNDEFINED {
            // SAFETY: no preconditions.
            unsafe { sys::ffcmsg() };
            return Ok(None);
        }
        self.check(status, &format!("keyword {key} is not a number"))?;
        Ok(Some(v))
    }

    /// Integer keyword; `None` when absent. A real with a fraction is an error.
    pub fn key_i64(&mut self, key: &str) -> Result<Option<i64>> {
        match self.key_f64(key)? {
            None => Ok(None),
            Some(v) if v.fract() == 0.0 && v.abs() < 9.0e15 => Ok(Some(v as i64)),
            Some(v) => Err(FramesError::invalid(
                &self.path,
                format!("keyword {key} = {v} is not an integer"),
            )),
        }
    }

    /// All header cards of the current HDU (80-character strings, without END).
    pub fn header_cards(&mut self) -> Result<Vec<String>> {
        let mut nexist = 0;
        let mut nmore = 0;
        let mut status = 0;
        // SAFETY: valid out pointers.
        unsafe { sys::ffghsp(self.ptr, &mut nexist, &mut nmore, &mut status) };
        self.check(status, "reading header size")?;
        let mut cards = Vec::with_capacity(nexist as usize);
        for i in 1..=nexist {
            let mut card = [0 as c_char; 96];
            // SAFETY: a card is 80 chars + NUL; buffer is 96.
            unsafe { sys::ffgrec(self.ptr, i, card.as_mut_ptr(), &mut status) };
            self.check(status, "reading header card")?;
            cards.push(c_buf_to_string(&card));
        }
        Ok(cards)
    }

    /// Shape and encoding of the current HDU, which must be an image.
    pub fn image_info(&mut self) -> Result<ImageInfo> {
        let mut status = 0;
        let mut hdutype = 0;
        // SAFETY: valid out pointers.
        unsafe { sys::ffghdt(self.ptr, &mut hdutype, &mut status) };
        self.check(status, "reading HDU type")?;
        if hdutype != sys::IMAGE_HDU as c_int {
            let name = self.key_str("EXTNAME")?.unwrap_or_else(|| "primary".into());
            return Err(FramesError::invalid(
                &self.path,
                format!("{name} is not an image HDU"),
            ));
        }
        let bitpix = self
            .key_i64("BITPIX")?
            .ok_or_else(|| FramesError::invalid(&self.path, "image HDU without BITPIX"))?
            as i32;
        let mut naxis = 0;
        // SAFETY: valid out pointer.
        unsafe { sys::ffgidm(self.ptr, &mut naxis, &mut status) };
        self.check(status, "reading NAXIS")?;
        let mut naxes = vec![0i64; naxis.max(1) as usize];
        // SAFETY: naxes has room for `naxis` values.
        unsafe { sys::ffgiszll(self.ptr, naxis, naxes.as_mut_ptr(), &mut status) };
        self.check(status, "reading NAXISn")?;
        naxes.truncate(naxis as usize);
        let shape = naxes.iter().rev().map(|&n| n as usize).collect();
        Ok(ImageInfo {
            bitpix,
            bzero: self.key_f64("BZERO")?.unwrap_or(0.0),
            bscale: self.key_f64("BSCALE")?.unwrap_or(1.0),
            shape,
        })
    }

    /// Byte offsets (header start, data start, data end) of the current HDU.
    pub fn hdu_offsets(&mut self) -> Result<(u64, u64, u64)> {
        let (mut h, mut d, mut e) = (0i64, 0i64, 0i64);
        let mut status = 0;
        // SAFETY: valid out pointers.
        unsafe { sys::ffghadll(self.ptr, &mut h, &mut d, &mut e, &mut status) };
        self.check(status, "reading HDU offsets")?;
        Ok((h as u64, d as u64, e as u64))
    }

    /// Bytes of the current HDU's data unit, after checking that the data unit the header
    /// declares lies inside the file (up to the final block's padding, which some writers omit).
    /// Every read that allocates from header counts (NAXISn, NAXIS2 rows, TFORM widths) bounds
    /// its allocation by this first, so a hostile header cannot ask for terabytes.
    fn data_bytes(&mut self) -> Result<u64> {
        let (_, d, e) = self.hdu_offsets()?;
        let file_len = std::fs::metadata(&self.path)
            .map_err(|e| FramesError::io(&self.path, e))?
            .len();
        if e < d || e > file_len.div_ceil(2880) * 2880 {
            return Err(FramesError::invalid(
                &self.path,
                format!(
                    "the header declares a data unit ending at byte {e}, past the end of the \
                     file ({file_len} bytes): truncated, or NAXISn/PCOUNT wrong"
                ),
            ));
        }
        Ok(e - d)
    }

    /// Refuse to allocate `count` items for a data unit of `bytes` bytes that cannot hold them
    /// (each item needs at least `min_item_bytes` bytes of the file).
    fn check_fits_in_data(&mut self, count: usize, min_item_bytes: u64, what: &str) -> Result<()> {
        let bytes = self.data_bytes()?;
        if (count as u64).saturating_mul(min_item_bytes) > bytes {
            return Err(FramesError::invalid(
                &self.path,
                format!(
                    "{what}: the header declares {count} values, more than its {bytes}-byte data \
                     unit can hold"
                ),
            ));
        }
        Ok(())
    }

    /// Read a window of the current image, converting to `T` with cfitsio's scaling (BZERO and
    /// BSCALE applied). `start`/`len` are per axis in numpy order (slowest first) and must lie
    /// inside the image. Returns the values in C order.
    pub fn read_window<T: Pixel>(&mut self, start: &[usize], len: &[usize]) -> Result<Vec<T>> {
        let n = start.len();
        let mut blc: Vec<c_long> = (0..n).rev().map(|i| start[i] as c_long + 1).collect();
        let mut trc: Vec<c_long> = (0..n)
            .rev()
            .map(|i| (start[i] + len[i]) as c_long)
            .collect();
        let mut inc: Vec<c_long> = vec![1; n];
        let total = len
            .iter()
            .try_fold(1usize, |a, &l| a.checked_mul(l))
            .ok_or_else(|| FramesError::invalid(&self.path, "image window size overflows"))?;
        self.check_fits_in_data(total, 1, "image")?;
        let mut out = vec![T::default(); total];
        if total == 0 {
            return Ok(out);
        }
        let mut status = 0;
        let mut anynul = 0;
        // SAFETY: blc/trc/inc have one entry per axis; `out` holds exactly the window's pixels;
        // a NULL nulval disables null substitution (NaNs pass through unchanged).
        unsafe {
            sys::ffgsv(
                self.ptr,
                T::DATATYPE,
                blc.as_mut_ptr(),
                trc.as_mut_ptr(),
                inc.as_mut_ptr(),
                std::ptr::null_mut(),
                out.as_mut_ptr() as *mut c_void,
                &mut anynul,
                &mut status,
            )
        };
        self.check(status, "reading image pixels")?;
        Ok(out)
    }

    /// Create a new image HDU after the last one and make it current. `bitpix` uses cfitsio's
    /// codes (8, -32, 40 = uint32 stored as BITPIX 32 + BZERO 2^31); `shape` is numpy order.
    pub fn create_image(&mut self, bitpix: i32, shape: &[usize]) -> Result<()> {
        let mut naxes: Vec<i64> = shape.iter().rev().map(|&n| n as i64).collect();
        let mut status = 0;
        // SAFETY: naxes has `shape.len()` entries.
        unsafe {
            sys::ffcrimll(
                self.ptr,
                bitpix,
                naxes.len() as c_int,
                naxes.as_mut_ptr(),
                &mut status,
            )
        };
        self.check(status, "creating image HDU")
    }

    /// Reserve room for `n` more header cards in the current (just created) HDU, so keywords
    /// added later do not force cfitsio to shift every following HDU.
    pub fn reserve_cards(&mut self, n: usize) -> Result<()> {
        let mut status = 0;
        // SAFETY: open handle.
        unsafe { sys::ffhdef(self.ptr, n as c_int, &mut status) };
        self.check(status, "reserving header space")
    }

    /// Write (update or append) a keyword in the current HDU.
    pub fn set_key(&mut self, key: &str, value: &KeyValue, comment: Option<&str>) -> Result<()> {
        let ckey = cstring(&self.path, key)?;
        let ccomm = comment.map(|c| cstring(&self.path, c)).transpose()?;
        let comm_ptr = ccomm.as_ref().map_or(std::ptr::null(), |c| c.as_ptr());
        let mut status = 0;
        // SAFETY: all pointers are valid C strings / values living across the call; a NULL
        // comment keeps the existing comment when updating.
        unsafe {
            match value {
                KeyValue::Str(s) => {
                    let cs = cstring(&self.path, s)?;
                    sys::ffukys(self.ptr, ckey.as_ptr(), cs.as_ptr(), comm_ptr, &mut status);
                }
                KeyValue::Int(i) => {
                    sys::ffukyj(self.ptr, ckey.as_ptr(), *i, comm_ptr, &mut status);
                }
                KeyValue::Float(f) => {
                    return self.set_float_key(key, *f, comment);
                }
                KeyValue::Bool(b) => {
                    sys::ffukyl(self.ptr, ckey.as_ptr(), *b as c_int, comm_ptr, &mut status);
                }
            }
        }
        self.check(status, &format!("writing keyword {key}"))
    }

    /// Write a real keyword with the shortest decimal that round-trips the f64 (as astropy
    /// writes Python floats: `0.0`, `50.442277892561975`, `9.2993E-14`). A `None` comment keeps
    /// the comment of an existing card.
    fn set_float_key(&mut self, key: &str, v: f64, comment: Option<&str>) -> Result<()> {
        let mut text = if v.is_finite() {
            format!("{v:?}").to_uppercase()
        } else {
            return Err(FramesError::invalid(
                &self.path,
                format!("{key}: {v} is not a FITS number"),
            ));
        };
        if !text.contains('.') && !text.contains('E') {
            text.push_str(".0");
        }
        let keep;
        let comment = match comment {
            Some(c) => Some(c),
            None => {
                keep = self.key_comment(key)?;
                keep.as_deref()
            }
        };
        let ckey = cstring(&self.path, key)?;
        let mut cval = cstring(&self.path, &text)?.into_bytes_with_nul();
        let ccomm = comment.map(|c| cstring(&self.path, c)).transpose()?;
        let comm_ptr = ccomm.as_ref().map_or(std::ptr::null(), |c| c.as_ptr());
        let mut card = [0 as c_char; 96];
        let mut status = 0;
        // SAFETY: valid C strings; the card buffer holds 80 chars + NUL.
        unsafe {
            sys::ffmkky(
                ckey.as_ptr(),
                cval.as_mut_ptr() as *mut c_char,
                comm_ptr,
                card.as_mut_ptr(),
                &mut status,
            );
            sys::ffucrd(self.ptr, ckey.as_ptr(), card.as_ptr(), &mut status);
        }
        self.check(status, &format!("writing keyword {key}"))
    }

    /// Comment of an existing keyword, `None` when the keyword is absent.
    fn key_comment(&mut self, key: &str) -> Result<Option<String>> {
        let ckey = cstring(&self.path, key)?;
        let mut value = [0 as c_char; 128];
        let mut comm = [0 as c_char; 128];
        let mut status = 0;
        // SAFETY: buffers are larger than a card's value/comment + NUL.
        unsafe {
            sys::ffgkey(
                self.ptr,
                ckey.as_ptr(),
                value.as_mut_ptr(),
                comm.as_mut_ptr(),
                &mut status,
            )
        };
        if status == KEY_NO_EXIST {
            // SAFETY: no preconditions.
            unsafe { sys::ffcmsg() };
            return Ok(None);
        }
        self.check(status, &format!("reading keyword {key}"))?;
        Ok(Some(c_buf_to_string(&comm)))
    }

    /// Append a raw 80-character card to the current header.
    pub fn append_card(&mut self, card: &str) -> Result<()> {
        let c = cstring(&self.path, card)?;
        let mut status = 0;
        // SAFETY: valid C string.
        unsafe { sys::ffprec(self.ptr, c.as_ptr(), &mut status) };
        self.check(status, "writing header card")
    }

    /// Append a copy of `src`'s current HDU at the end of this file (reserving `more_keys` spare
    /// header cards) and make it current.
    pub fn copy_hdu_from(&mut self, src: &mut CFits, more_keys: usize) -> Result<()> {
        let mut status = 0;
        // SAFETY: both handles are open; cfitsio reads from src and appends to self.
        unsafe { sys::ffcopy(src.ptr, self.ptr, more_keys as c_int, &mut status) };
        self.check(
            status,
            &format!("copying an HDU from {}", src.path.display()),
        )
    }

    /// Compute and write DATASUM and CHECKSUM for the current HDU.
    pub fn write_checksum(&mut self) -> Result<()> {
        let mut status = 0;
        // SAFETY: open handle.
        unsafe { sys::ffpcks(self.ptr, &mut status) };
        self.check(status, "writing CHECKSUM")
    }

    /// Write DATASUM = `datasum` (the data unit's 32-bit ones'-complement sum, computed by the
    /// caller as the data were written) and the CHECKSUM it implies for the current HDU: the
    /// same cards, comments included, as [`write_checksum`](Self::write_checksum) (`ffpcks`)
    /// writes over the creation placeholders (CHECKSUM `'0000000000000000'`, DATASUM `'0'`),
    /// but summing only the header instead of reading the whole data unit back. Other starting
    /// cards go through `ffpcks` itself.
    pub fn write_checksum_with_datasum(&mut self, datasum: u32) -> Result<()> {
        let placeholders = self.key_str("CHECKSUM")?.as_deref() == Some("0000000000000000")
            && self.key_str("DATASUM")?.as_deref() == Some("0");
        if !placeholders {
            return self.write_checksum();
        }
        let mut status = 0;
        // Close the header (END and blank fill) and re-read its structure, as ffpcks does.
        // SAFETY: open handle.
        unsafe { sys::ffrdef(self.ptr, &mut status) };
        self.check(status, "closing the header")?;
        if datasum != 0 {
            let mut date: [c_char; 20] = [0; 20];
            // SAFETY: `date` holds the 20 bytes ffgstm writes at most; NULL timeref allowed.
            unsafe { sys::ffgstm(date.as_mut_ptr(), std::ptr::null_mut(), &mut status) };
            self.check(status, "reading the system date")?;
            // SAFETY: ffgstm wrote a NUL-terminated string into `date`.
            let date = unsafe { CStr::from_ptr(date.as_ptr()) }
                .to_string_lossy()
                .into_owned();
            let key = cstring(&self.path, "DATASUM")?;
            let value = cstring(&self.path, &datasum.to_string())?;
            let comment = cstring(&self.path, &format!("data unit checksum updated {date}"))?;
            // SAFETY: open handle; live NUL-terminated strings.
            unsafe {
                sys::ffmkys(
                    self.ptr,
                    key.as_ptr(),
                    value.as_ptr(),
                    comment.as_ptr(),
                    &mut status,
                )
            };
            self.check(status, "writing DATASUM")?;
        }
        let (head, data, _) = self.hdu_offsets()?;
        let mut sum: std::os::raw::c_ulong = datasum as _;
        let mut ascii: [c_char; 17] = [0; 17];
        // SAFETY: open handle; the header occupies whole 2880-byte records from `head` to
        // `data`; `ascii` holds the 16 characters and NUL ffesum writes.
        unsafe {
            sys::ffmbyt(self.ptr, head as _, 0, &mut status);
            sys::ffcsum(
                self.ptr,
                ((data - head) / 2880) as c_long,
                &mut sum,
                &mut status,
            );
        }
        self.check(status, "summing the header")?;
        // SAFETY: see above.
        unsafe { sys::ffesum(sum, 1, ascii.as_mut_ptr()) };
        let key = cstring(&self.path, "CHECKSUM")?;
        let keep = cstring(&self.path, "&")?;
        // SAFETY: open handle; ffesum NUL-terminated `ascii`; "&" keeps the card's comment.
        unsafe {
            sys::ffmkys(
                self.ptr,
                key.as_ptr(),
                ascii.as_ptr(),
                keep.as_ptr(),
                &mut status,
            )
        };
        self.check(status, "writing CHECKSUM")
    }

    /// Verify CHECKSUM/DATASUM of the current HDU: (data ok, hdu ok), each true when the sum is
    /// present and correct.
    ///
    /// The data unit the header declares must lie inside the file: cfitsio sums whatever size
    /// the header claims, so an absurd NAXISn (say 2^63) would otherwise keep it busy for hours.
    pub fn verify_checksum(&mut self) -> Result<(bool, bool)> {
        let (mut head, mut data, mut end) = (0, 0, 0);
        let mut status = 0;
        // SAFETY: open handle positioned on an HDU; out-pointers to locals.
        unsafe { sys::ffghadll(self.ptr, &mut head, &mut data, &mut end, &mut status) };
        self.check(status, "locating the HDU")?;
        let file_len = std::fs::metadata(&self.path)
            .map_err(|e| FramesError::io(&self.path, e))?
            .len();
        if data < 0 || end < data || end as u64 > file_len {
            return Err(FramesError::invalid(
                &self.path,
                format!(
                    "HDU at byte {head}: its header declares a data unit ending at byte {end}, \
                     past the end of the file ({file_len} bytes)"
                ),
            ));
        }
        let (mut d, mut h) = (0, 0);
        // SAFETY: valid out pointers.
        unsafe { sys::ffvcks(self.ptr, &mut d, &mut h, &mut status) };
        self.check(status, "verifying CHECKSUM")?;
        Ok((d == 1, h == 1))
    }

    /// Number of rows of the current binary table.
    pub fn table_rows(&mut self) -> Result<usize> {
        let mut n = 0i64;
        let mut status = 0;
        // SAFETY: valid out pointer.
        unsafe { sys::ffgnrwll(self.ptr, &mut n, &mut status) };
        self.check(status, "reading table row count")?;
        Ok(n as usize)
    }

    /// 1-based column number of `name` (case-insensitive, exact), or `None`.
    pub fn column(&mut self, name: &str) -> Result<Option<c_int>> {
        let mut cname = cstring(&self.path, name)?.into_bytes_with_nul();
        let mut col = 0;
        let mut status = 0;
        // SAFETY: NUL-terminated template; cfitsio does not write into it.
        unsafe {
            sys::ffgcno(
                self.ptr,
                0,
                cname.as_mut_ptr() as *mut c_char,
                &mut col,
                &mut status,
            )
        };
        if status == COL_NOT_FOUND || status == sys::COL_NOT_UNIQUE as c_int {
            // SAFETY: no preconditions.
            unsafe { sys::ffcmsg() };
            return Ok(None);
        }
        self.check(status, &format!("looking for column {name}"))?;
        Ok(Some(col))
    }

    fn require_column(&mut self, name: &str) -> Result<c_int> {
        self.column(name)?
            .ok_or_else(|| FramesError::invalid(&self.path, format!("table has no column {name}")))
    }

    /// Read a numeric column as f32 (cfitsio converts, rounding to nearest).
    pub fn column_f32(&mut self, name: &str) -> Result<Vec<f32>> {
        let col = self.require_column(name)?;
        let n = self.table_rows()?;
        self.check_fits_in_data(n, 1, &format!("column {name}"))?;
        let mut out = vec![0f32; n];
        if n == 0 {
            return Ok(out);
        }
        let mut status = 0;
        let mut anynul = 0;
        // SAFETY: `out` holds n values.
        unsafe {
            sys::ffgcve(
                self.ptr,
                col,
                1,
                1,
                n as i64,
                0.0,
                out.as_mut_ptr(),
                &mut anynul,
                &mut status,
            )
        };
        self.check(status, &format!("reading column {name}"))?;
        Ok(out)
    }

    /// Read an integer column as i64 (TZERO applied: a uint32 column comes back unsigned).
    pub fn column_i64(&mut self, name: &str) -> Result<Vec<i64>> {
        let col = self.require_column(name)?;
        let n = self.table_rows()?;
        self.check_fits_in_data(n, 1, &format!("column {name}"))?;
        let mut out = vec![0i64; n];
        if n == 0 {
            return Ok(out);
        }
        let mut status = 0;
        let mut anynul = 0;
        // SAFETY: `out` holds n values.
        unsafe {
            sys::ffgcvjj(
                self.ptr,
                col,
                1,
                1,
                n as i64,
                0,
                out.as_mut_ptr(),
                &mut anynul,
                &mut status,
            )
        };
        self.check(status, &format!("reading column {name}"))?;
        Ok(out)
    }

    /// Read a character column; trailing blanks are removed (as astropy does).
    pub fn column_str(&mut self, name: &str) -> Result<Vec<String>> {
        let col = self.require_column(name)?;
        let n = self.table_rows()?;
        let (mut typecode, mut repeat, mut width) = (0, 0i64, 0i64);
        let mut status = 0;
        // SAFETY: valid out pointers.
        unsafe {
            sys::ffgtclll(
                self.ptr,
                col,
                &mut typecode,
                &mut repeat,
                &mut width,
                &mut status,
            )
        };
        self.check(status, &format!("reading column {name} type"))?;
        if typecode != sys::TSTRING as c_int {
            return Err(FramesError::invalid(
                &self.path,
                format!("column {name} is not text"),
            ));
        }
        let w = (repeat.max(width).max(0) as usize).saturating_add(1);
        self.check_fits_in_data(n, w as u64 - 1, &format!("column {name}"))?;
        let mut bufs: Vec<Vec<c_char>> = (0..n).map(|_| vec![0 as c_char; w]).collect();
        let mut ptrs: Vec<*mut c_char> = bufs.iter_mut().map(|b| b.as_mut_ptr()).collect();
        let mut nulstr = [0 as c_char; 2];
        let mut anynul = 0;
        if n > 0 {
            // SAFETY: each of the n buffers holds the column width + NUL.
            unsafe {
                sys::ffgcvs(
                    self.ptr,
                    col,
                    1,
                    1,
                    n as i64,
                    nulstr.as_mut_ptr(),
                    ptrs.as_mut_ptr(),
                    &mut anynul,
                    &mut status,
                )
            };
            self.check(status, &format!("reading column {name}"))?;
        }
        Ok(bufs.iter().map(|b| c_buf_to_string(b)).collect())
    }
}

impl Drop for CFits {
    fn drop(&mut self) {
        if !self.ptr.is_null() {
            let mut status = 0;
            // SAFETY: ptr is the open handle, closed exactly once.
            unsafe { sys::ffclos(self.ptr, &mut status) };
            if status != 0 {
                // Errors on a drop-time close cannot be reported; clear the message stack.
                // SAFETY: no preconditions.
                unsafe { sys::ffcmsg() };
            }
        }
    }
}

/// A keyword value to write.
#[derive(Debug, Clone, PartialEq)]
pub enum KeyValue {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
}

/// Pixel types cfitsio can convert to and from.
pub(crate) trait Pixel: Copy + Default {
    /// cfitsio datatype code used to read/write this type.
    const DATATYPE: c_int;
    /// cfitsio image type this Rust type is stored as in our products (0: not used).
    const IMG: i32;
    /// Append the bytes of this value as stored in an image of type [`Self::IMG`]: big-endian,
    /// and for `u32` (ULONG_IMG: BITPIX 32, BZERO 2³¹) offset into the signed range.
    fn put_fits_bytes(self, out: &mut Vec<u8>);
    /// [`Pixel::put_fits_bytes`] of every value of a contiguous slice: written into fixed-size
    /// chunks, so the byte swap vectorises (the writer thread converts ~200 M values on the
    /// 70-integration benchmark).
    fn put_fits_slice(values: &[Self], out: &mut Vec<u8>) {
        for &v in values {
            v.put_fits_bytes(out);
        }
    }
}

/// `put_fits_slice` for a type whose stored bytes are `$bytes(v)` of `$n` bytes.
macro_rules! put_slice_as {
    ($n:expr, $bytes:expr) => {
        fn put_fits_slice(values: &[Self], out: &mut Vec<u8>) {
            let start = out.len();
            out.resize(start + values.len() * $n, 0);
            for (d, &v) in out[start..].chunks_exact_mut($n).zip(values) {
                d.copy_from_slice(&$bytes(v));
            }
        }
    };
}
impl Pixel for f32 {
    const DATATYPE: c_int = sys::TFLOAT as c_int;
    const IMG: i32 = sys::FLOAT_IMG;
    fn put_fits_bytes(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_be_bytes());
    }
    put_slice_as!(4, f32::to_be_bytes);
}
impl Pixel for f64 {
    const DATATYPE: c_int = sys::TDOUBLE as c_int;
    const IMG: i32 = 0;
    fn put_fits_bytes(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_be_bytes());
    }
}
impl Pixel for i64 {
    const DATATYPE: c_int = sys::TLONGLONG as c_int;
    const IMG: i32 = 0;
    fn put_fits_bytes(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_be_bytes());
    }
}
impl Pixel for u32 {
    const DATATYPE: c_int = sys::TUINT as c_int;
    const IMG: i32 = sys::ULONG_IMG as i32;
    fn put_fits_bytes(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&(self ^ 0x8000_0000).to_be_bytes());
    }
    put_slice_as!(4, |v: u32| (v ^ 0x8000_0000).to_be_bytes());
}
impl Pixel for u8 {
    const DATATYPE: c_int = sys::TBYTE as c_int;
    const IMG: i32 = sys::BYTE_IMG as i32;
    fn put_fits_bytes(self, out: &mut Vec<u8>) {
        out.push(self);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn structural_families() {
        assert!(is_structural("NAXIS3"));
        assert!(is_structural("TFORM12"));
        assert!(is_structural("BZERO"));
        assert!(!is_structural("NAXISX"));
        assert!(!is_structural("XPOSURE"));
        assert!(!is_structural("TZEROX"));
    }
}
