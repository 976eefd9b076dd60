//! A thin FITS writer over `fitsio`/cfitsio with exact control over the header cards.
//!
//! The official files are written by astropy (through stdatamodels). To look the same, values are
//! formatted here the way astropy does it (shortest round-trip floats, strings padded to eight
//! characters, section title cards with a blank keyword) and handed to cfitsio as finished
//! 80-character records. Images and tables are created with cfitsio; the big science cube is
//! streamed into the image HDU with `write_section`, one group at a time.

use std::ffi::CString;
use std::path::{Path, PathBuf};

use fitsio::images::{ImageDescription, ImageType};
use fitsio::FitsFile;
use frames::FramesError;

/// A header value.
#[derive(Debug, Clone)]
pub enum Val {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
}

impl From<&str> for Val {
    fn from(s: &str) -> Self {
        Val::Str(s.to_string())
    }
}
impl From<String> for Val {
    fn from(s: String) -> Self {
        Val::Str(s)
    }
}
impl From<i64> for Val {
    fn from(v: i64) -> Self {
        Val::Int(v)
    }
}
impl From<usize> for Val {
    fn from(v: usize) -> Self {
        Val::Int(v as i64)
    }
}
impl From<i32> for Val {
    fn from(v: i32) -> Self {
        Val::Int(v as i64)
    }
}
impl From<u32> for Val {
    fn from(v: u32) -> Self {
        Val::Int(v as i64)
    }
}
impl From<f64> for Val {
    fn from(v: f64) -> Self {
        Val::Float(v)
    }
}
impl From<bool> for Val {
    fn from(v: bool) -> Self {
        Val::Bool(v)
    }
}

/// One header entry: a keyword card, or a section title (blank keyword, as stdatamodels writes
/// before each group of keywords).
#[derive(Debug, Clone)]
pub enum Card {
    Key {
        key: String,
        val: Val,
        comment: String,
    },
    Title(String),
}

/// A keyword card.
pub fn key(key: &str, val: impl Into<Val>, comment: &str) -> Card {
    Card::Key {
        key: key.to_string(),
        val: val.into(),
        comment: comment.to_string(),
    }
}

/// A section title card.
pub fn title(text: &str) -> Card {
    Card::Title(text.to_string())
}

/// A float the way astropy writes it: Python's shortest round-trip repr, exponent in upper case
/// with at least two digits, and always recognisably a float.
pub fn format_float(v: f64) -> String {
    if !v.is_finite() {
        // FITS has no NaN literal; never produced by the simulator's own keywords.
        return "0.0".to_string();
    }
    let s = format!("{v:?}");
    if let Some((mant, exp)) = s.split_once('e') {
        let (sign, digits) = match exp.strip_prefix('-') {
            Some(d) => ('-', d),
            None => ('+', exp),
        };
        format!("{mant}E{sign}{digits:0>2}")
    } else if s.contains('.') {
        s
    } else {
        format!("{s}.0")
    }
}

/// Format an 80-character header record.
pub fn format_card(card: &Card) -> String {
    let mut out = match card {
        Card::Title(text) => format!("        {text}"),
        Card::Key { key, val, comment } => {
            let value = match val {
                Val::Str(s) => {
                    let quoted = s.replace('\'', "''");
                    format!("'{quoted:<8}'")
                }
                Val::Int(i) => format!("{i:>20}"),
                Val::Float(f) => format!("{:>20}", format_float(*f)),
                Val::Bool(b) => format!("{:>20}", if *b { "T" } else { "F" }),
            };
            let mut c = format!("{key:<8}= {value}");
            if !comment.is_empty() {
                // Strings shorter than the numeric field are padded so comments line up.
                if c.len() < 30 {
                    c = format!("{c:<30}");
                }
                c.push_str(" / ");
                c.push_str(comment);
            }
            c
        }
    };
    out.truncate(80);
    out
}

/// A FITS file being written, with its path for error messages.
pub struct FitsOut {
    pub file: FitsFile,
    pub path: PathBuf,
}

impl FitsOut {
    /// Create (overwriting) `path` with an empty primary HDU (BITPIX 8, NAXIS 0, EXTEND T).
    pub fn create(path: &Path) -> frames::Result<Self> {
        if path.exists() {
            std::fs::remove_file(path).map_err(|e| FramesError::io(path, e))?;
        }
        let file = FitsFile::create(path)
            .open()
            .map_err(|e| FramesError::fits(path, e))?;
        let mut out = Self {
            file,
            path: path.to_path_buf(),
        };
        // cfitsio adds two COMMENT cards citing the FITS paper; astropy's files have none.
        for _ in 0..2 {
            let name = CString::new("COMMENT").map_err(|e| out.err(e))?;
            let mut status = 0;
            // SAFETY: valid file pointer and NUL-terminated keyword name.
            unsafe { fitsio::sys::ffdkey(out.file.as_raw(), name.as_ptr(), &mut status) };
            out.check(status, "removing cfitsio's COMMENT cards")?;
        }
        Ok(out)
    }

    fn err(&self, e: impl std::fmt::Display) -> FramesError {
        FramesError::fits(&self.path, e)
    }

    fn check(&self, status: i32, what: &str) -> frames::Result<()> {
        if status == 0 {
            Ok(())
        } else {
            let mut buf = [0 as std::os::raw::c_char; 31];
            // SAFETY: ffgerr writes at most 30 characters plus a NUL into a 31-byte buffer.
            unsafe { fitsio::sys::ffgerr(status, buf.as_mut_ptr()) };
            // SAFETY: the buffer is NUL-terminated by ffgerr (or still all zeros).
            let text = unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) }.to_string_lossy();
            Err(self.err(format!("{what}: cfitsio status {status} ({text})")))
        }
    }

    /// Append cards to the current HDU.
    pub fn cards(&mut self, cards: &[Card]) -> frames::Result<()> {
        for c in cards {
            let rec = format_card(c);
            let rec_c = CString::new(rec.clone()).map_err(|e| self.err(e))?;
            let mut status = 0;
            // SAFETY: the file pointer is valid while `self.file` lives; cfitsio copies the
            // NUL-terminated record and does not keep the pointer.
            unsafe { fitsio::sys::ffprec(self.file.as_raw(), rec_c.as_ptr(), &mut status) };
            self.check(status, &format!("writing header card {rec:?}"))?;
        }
        Ok(())
    }

    /// Create an image HDU (numpy-order `dims`) named `extname`, followed by `cards`; it becomes
    /// the current HDU and is returned for data writes.
    pub fn image(
        &mut self,
        extname: &str,
        ty: ImageType,
        dims: &[usize],
        cards: &[Card],
    ) -> frames::Result<fitsio::hdu::FitsHdu> {
        let desc = ImageDescription {
            data_type: ty,
            dimensions: dims,
        };
        let hdu = self
            .file
            .create_image(extname, &desc)
            .map_err(|e| self.err(e))?;
        self.cards(cards)?;
        Ok(hdu)
    }

    /// Create an image and write all of its data at once (references, truth images).
    pub fn image_with<T: fitsio::images::WriteImage>(
        &mut self,
        extname: &str,
        ty: ImageType,
        dims: &[usize],
        cards: &[Card],
        data: &[T],
    ) -> frames::Result<()> {
        let hdu = self.image(extname, ty, dims, cards)?;
        hdu.write_section(&mut self.file, 0, data.len(), data)
            .map_err(|e| self.err(e))
    }

    /// Write `data` at flat pixel offset `start` of image `hdu`.
    pub fn write_pixels<T: fitsio::images::WriteImage>(
        &mut self,
        hdu: &fitsio::hdu::FitsHdu,
        start: usize,
        data: &[T],
    ) -> frames::Result<()> {
        hdu.write_section(&mut self.file, start, start + data.len(), data)
            .map_err(|e| self.err(e))
    }

    /// Create a binary table HDU with `(TTYPE, TFORM)` columns and `nrows` rows, then append
    /// `cards`. cfitsio turns TFORM `V` into `J` with `TZERO = 2**31` (a uint32 column, as
    /// astropy writes DQ_DEF.VALUE).
    pub fn table(
        &mut self,
        extname: &str,
        columns: &[(&str, &str)],
        nrows: usize,
        cards: &[Card],
    ) -> frames::Result<()> {
        let names: Vec<CString> = columns
            .iter()
            .map(|c| CString::new(c.0).unwrap_or_default())
            .collect();
        let forms: Vec<CString> = columns
            .iter()
            .map(|c| CString::new(c.1).unwrap_or_default())
            .collect();
        let mut name_ptrs: Vec<*mut std::os::raw::c_char> =
            names.iter().map(|c| c.as_ptr() as *mut _).collect();
        let mut form_ptrs: Vec<*mut std::os::raw::c_char> =
            forms.iter().map(|c| c.as_ptr() as *mut _).collect();
        let ext = CString::new(extname).map_err(|e| self.err(e))?;
        let mut status = 0;
        // SAFETY: the pointer arrays hold `columns.len()` valid NUL-terminated strings that
        // outlive the call; a null TUNIT array means "no units"; cfitsio copies everything.
        unsafe {
            fitsio::sys::ffcrtb(
                self.file.as_raw(),
                2, // BINARY_TBL
                nrows as i64,
                columns.len() as i32,
                name_ptrs.as_mut_ptr(),
                form_ptrs.as_mut_ptr(),
                std::ptr::null_mut(),
                ext.as_ptr(),
                &mut status,
            )
        };
        self.check(status, &format!("creating table {extname}"))?;
        self.cards(cards)
    }

    fn put_col(
        &mut self,
        datatype: i32,
        col: usize,
        first_row: usize,
        n: usize,
        ptr: *mut std::os::raw::c_void,
    ) -> frames::Result<()> {
        if n == 0 {
            return Ok(());
        }
        let mut status = 0;
        // SAFETY: `ptr` points to `n` values of the C type named by `datatype` (checked by the
        // typed wrappers below) on the current table HDU; cfitsio only reads them.
        unsafe {
            fitsio::sys::ffpcl(
                self.file.as_raw(),
                datatype,
                col as i32,
                first_row as i64,
                1,
                n as i64,
                ptr,
                &mut status,
            )
        };
        self.check(status, &format!("writing table column {col}"))
    }

    /// Write column `col` (1-based) from row `first_row` (1-based) of the current table.
    pub fn col_i32(&mut self, col: usize, first_row: usize, v: &[i32]) -> frames::Result<()> {
        self.put_col(31, col, first_row, v.len(), v.as_ptr() as *mut _) // TINT
    }
    pub fn col_u32(&mut self, col: usize, first_row: usize, v: &[u32]) -> frames::Result<()> {
        self.put_col(30, col, first_row, v.len(), v.as_ptr() as *mut _) // TUINT
    }
    pub fn col_i16(&mut self, col: usize, first_row: usize, v: &[i16]) -> frames::Result<()> {
        self.put_col(21, col, first_row, v.len(), v.as_ptr() as *mut _) // TSHORT
    }
    pub fn col_u8(&mut self, col: usize, first_row: usize, v: &[u8]) -> frames::Result<()> {
        self.put_col(11, col, first_row, v.len(), v.as_ptr() as *mut _) // TBYTE
    }
    pub fn col_f32(&mut self, col: usize, first_row: usize, v: &[f32]) -> frames::Result<()> {
        self.put_col(42, col, first_row, v.len(), v.as_ptr() as *mut _) // TFLOAT
    }
    pub fn col_f64(&mut self, col: usize, first_row: usize, v: &[f64]) -> frames::Result<()> {
        self.put_col(82, col, first_row, v.len(), v.as_ptr() as *mut _) // TDOUBLE
    }
    pub fn col_str(&mut self, col: usize, first_row: usize, v: &[String]) -> frames::Result<()> {
        let owned: Vec<CString> = v
            .iter()
            .map(|s| CString::new(s.as_str()).unwrap_or_default())
            .collect();
        let mut ptrs: Vec<*mut std::os::raw::c_char> =
            owned.iter().map(|c| c.as_ptr() as *mut _).collect();
        self.put_col(16, col, first_row, ptrs.len(), ptrs.as_mut_ptr() as *mut _)
        // TSTRING
    }

    /// Append the `ASDF` HDU stdatamodels puts last in every file: a one-row table holding an
    /// ASDF document. The official pipeline needs it (strun's reference prefetch reads the
    /// metadata through it), but its content can be minimal: the readers take every value that
    /// has a FITS keyword or HDU from the FITS side when the tree lacks it (there is no
    /// `_fits_hash`, so the headers are never skipped).
    pub fn asdf_stub(&mut self, model_type: &str) -> frames::Result<()> {
        let doc = format!(
            "#ASDF 1.0.0\n#ASDF_STANDARD 1.6.0\n%YAML 1.1\n%TAG ! tag:stsci.edu:asdf/\n\
             --- !core/asdf-1.1.0\n\
             asdf_library: !core/software-1.0.0 {{author: sloper, homepage: 'https://example.invalid/sloper',\n  \
             name: sloper, version: {}}}\n\
             meta: {{model_type: {model_type}}}\n...\n",
            env!("CARGO_PKG_VERSION")
        );
        let form = format!("{}B", doc.len());
        self.table("ASDF", &[("ASDF_METADATA", form.as_str())], 1, &[])?;
        self.col_u8(1, 1, doc.as_bytes())
    }

    /// Flush and close; returns the file size in bytes.
    pub fn finish(self) -> frames::Result<u64> {
        let path = self.path.clone();
        drop(self.file); // fitsio closes the file (ffclos) on drop and pads the last HDU
        std::fs::metadata(&path)
            .map(|m| m.len())
            .map_err(|e| FramesError::io(&path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cards_look_like_astropy() {
        assert_eq!(format_float(0.014520000000000002), "0.014520000000000002");
        assert_eq!(format_float(10.0), "10.0");
        assert_eq!(format_float(1e-5), "1E-05");
        assert_eq!(format_float(2.5e20), "2.5E+20");
        let c = format_card(&key("TFRAME", 0.01452, "[s] Time between frames"));
        assert_eq!(
            c,
            "TFRAME  =              0.01452 / [s] Time between frames"
        );
        let c = format_card(&key("READPATT", "RAPID", "Readout pattern"));
        assert_eq!(c, "READPATT= 'RAPID   '           / Readout pattern");
        let c = format_card(&key("TSOVISIT", true, "x"));
        assert_eq!(c, "TSOVISIT=                    T / x");
        assert!(format_card(&key("DESCRIP", "a".repeat(100).as_str(), "c")).len() == 80);
    }
}
