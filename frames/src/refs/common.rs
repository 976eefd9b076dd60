//! What every CRDS reference loader shares: the REFTYPE check, the science-subarray window
//! (spec §2.1, `jwst.lib.reffile_utils.ref_matches_sci` + `get_subarray_model`), windowed reads
//! of float images, and DQ arrays in every layout met in real files, decoded through `DQ_DEF`
//! exactly as stdatamodels' `dynamic_mask` does when a reference model is opened.

use std::path::Path;

use ndarray::{Array2, Array3};

use super::cfits::{CFits, ImageInfo};
use crate::{dq, ExposureMeta, FramesError, Result};

/// Full-frame size of the near-IR detectors (and of MIRI: columns x rows).
const NIR_FULL: (usize, usize) = (2048, 2048);
const MIRI_FULL: (usize, usize) = (1024, 1032);

/// Rows/columns of a reference array that correspond to the science subarray (0-based, in the
/// reference array's own pixel grid).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub y0: usize,
    pub x0: usize,
    pub ny: usize,
    pub nx: usize,
}

impl Window {
    /// Rows `rows` (0-based, within this window) of the window: a loader's band of rows.
    /// `None`: the whole window. Rows beyond the window are an error naming `path`.
    pub(crate) fn band(self, path: &Path, rows: Option<std::ops::Range<usize>>) -> Result<Window> {
        let Some(r) = rows else { return Ok(self) };
        if r.start > r.end || r.end > self.ny {
            return Err(FramesError::invalid(
                path,
                format!(
                    "rows {}..{} requested of a {}-row science window",
                    r.start, r.end, self.ny
                ),
            ));
        }
        Ok(Window {
            y0: self.y0 + r.start,
            ny: r.end - r.start,
            ..self
        })
    }

    /// Whether the window is the whole reference array of shape `(ny, nx)`.
    pub fn is_whole(&self, ny: usize, nx: usize) -> bool {
        self.y0 == 0 && self.x0 == 0 && self.ny == ny && self.nx == nx
    }
}

/// Open `path`, check REFTYPE (when the keyword exists; old files may lack it) and return the
/// handle positioned on the primary HDU.
pub(crate) fn open_ref(path: &Path, expected_reftype: &str) -> Result<CFits> {
    let mut cf = CFits::open(path)?;
    if let Some(rt) = cf.key_str("REFTYPE")? {
        if !rt.eq_ignore_ascii_case(expected_reftype) {
            return Err(FramesError::invalid(
                path,
                format!("REFTYPE is {rt:?}, expected {expected_reftype:?}"),
            ));
        }
    }
    Ok(cf)
}

/// Subarray keywords of a reference (primary header): (SUBSTRT1, SUBSTRT2, SUBSIZE1, SUBSIZE2).
fn ref_subarray(cf: &mut CFits) -> Result<Option<(i64, i64, i64, i64)>> {
    cf.goto_index(0)?;
    let x = cf.key_i64("SUBSTRT1")?;
    let y = cf.key_i64("SUBSTRT2")?;
    let nx = cf.key_i64("SUBSIZE1")?;
    let ny = cf.key_i64("SUBSIZE2")?;
    Ok(match (x, y, nx, ny) {
        (Some(x), Some(y), Some(nx), Some(ny)) => Some((x, y, nx, ny)),
        _ => None,
    })
}

/// The window of a reference whose data arrays have `data_shape = (rows, cols)` (the last two
/// axes) that matches the science subarray, per spec §2.1:
///
/// * reference subarray keywords missing: assumed full frame when the array is 2048x2048
///   (MIRI 1024x1032), else an error;
/// * SUBSIZE1/2 that disagree with the array are replaced by the array size for the *match*
///   test (as `ref_matches_sci` does);
/// * match (same corner and size) → the whole array;
/// * otherwise cut `[y0 : y0 + SUBSIZE2_sci, x0 : x0 + SUBSIZE1_sci]` with
///   `x0 = SUBSTRT1_sci − SUBSTRT1_ref`, `y0 = SUBSTRT2_sci − SUBSTRT2_ref`; a cut outside the
///   reference is an error naming the file and both sets of keywords.
pub(crate) fn science_window(
    cf: &mut CFits,
    data_shape: (usize, usize),
    meta: &ExposureMeta,
) -> Result<Window> {
    let path = cf.path().to_path_buf();
    let (rows, cols) = data_shape;
    let miri = meta.instrument.eq_ignore_ascii_case("MIRI");
    let (x_ref, y_ref, hdr_nx, hdr_ny) = match ref_subarray(cf)? {
        Some(k) => k,
        None => {
            let full = if miri { MIRI_FULL } else { NIR_FULL };
            if (rows, cols) == full {
                (1, 1, full.1 as i64, full.0 as i64)
            } else {
                return Err(FramesError::invalid(
                    &path,
                    format!(
                        "subarray keywords SUBSTRT1/SUBSTRT2/SUBSIZE1/SUBSIZE2 missing and the \
                         {rows}x{cols} array is not a full frame; cannot place it on the detector"
                    ),
                ));
            }
        }
    };
    if x_ref < 1 || y_ref < 1 {
        return Err(FramesError::invalid(
            &path,
            format!("invalid subarray corner SUBSTRT1={x_ref} SUBSTRT2={y_ref}"),
        ));
    }
    let (x_sci, y_sci) = (meta.substrt1 as i64, meta.substrt2 as i64);
    let (nx_sci, ny_sci) = (meta.subsize1, meta.subsize2);
    if x_sci < 1 || y_sci < 1 {
        return Err(FramesError::invalid(
            &path,
            format!("science subarray corner SUBSTRT1={x_sci} SUBSTRT2={y_sci} is invalid"),
        ));
    }
    if x_ref == x_sci && y_ref == y_sci && cols == nx_sci && rows == ny_sci {
        return Ok(Window {
            y0: 0,
            x0: 0,
            ny: rows,
            nx: cols,
        });
    }
    let x0 = x_sci - x_ref;
    let y0 = y_sci - y_ref;
    let xstop = x0 + nx_sci as i64;
    let ystop = y0 + ny_sci as i64;
    // The official bound is the header size; the array must hold the cut too (numpy would
    // silently truncate and fail later on a shape mismatch).
    let lim_x = hdr_nx.min(cols as i64);
    let lim_y = hdr_ny.min(rows as i64);
    if x0 < 0 || y0 < 0 || xstop > lim_x || ystop > lim_y {
        return Err(FramesError::invalid(
            &path,
            format!(
                "science subarray (SUBSTRT1={x_sci}, SUBSTRT2={y_sci}, SUBSIZE1={nx_sci}, \
                 SUBSIZE2={ny_sci}) lies outside this reference (SUBSTRT1={x_ref}, \
                 SUBSTRT2={y_ref}, SUBSIZE1={hdr_nx}, SUBSIZE2={hdr_ny}, array {rows}x{cols})"
            ),
        ));
    }
    Ok(Window {
        y0: y0 as usize,
        x0: x0 as usize,
        ny: ny_sci,
        nx: nx_sci,
    })
}

/// Shape of image extension `ext` (numpy order), or `None` when the extension is absent.
pub(crate) fn ext_info(cf: &mut CFits, ext: &str) -> Result<Option<ImageInfo>> {
    if !cf.goto_name(ext)? {
        return Ok(None);
    }
    Ok(Some(cf.image_info()?))
}

/// Shape of image extension `ext`, which the reference must have (else an error naming it).
pub(crate) fn required_ext(cf: &mut CFits, path: &Path, ext: &str) -> Result<ImageInfo> {
    ext_info(cf, ext)?.ok_or_else(|| FramesError::invalid(path, format!("missing {ext} extension")))
}

/// Check that `info` is `ndim`-dimensional, else an error naming the extension.
pub(crate) fn require_ndim(path: &Path, ext: &str, info: &ImageInfo, ndim: usize) -> Result<()> {
    if info.shape.len() != ndim {
        return Err(FramesError::invalid(
            path,
            format!(
                "{ext} has shape {:?}; expected a {ndim}-D array",
                info.shape
            ),
        ));
    }
    Ok(())
}

/// Last two axes of a shape.
pub(crate) fn yx(shape: &[usize]) -> (usize, usize) {
    let n = shape.len();
    (shape[n - 2], shape[n - 1])
}

/// Read the window of 2-D float extension `ext` as f32 (cfitsio converts other numeric types,
/// rounding to nearest like numpy's `astype`).
pub(crate) fn read_f32_2d(cf: &mut CFits, ext: &str, w: Window) -> Result<Array2<f32>> {
    cf.require(ext)?;
    let v = cf.read_window::<f32>(&[w.y0, w.x0], &[w.ny, w.nx])?;
    Array2::from_shape_vec((w.ny, w.nx), v)
        .map_err(|e| FramesError::invalid(cf.path(), format!("{ext}: {e}")))
}

/// Read planes `p0..p0+np` of the window of 3-D extension `ext` as f32.
pub(crate) fn read_f32_3d(
    cf: &mut CFits,
    ext: &str,
    planes: std::ops::Range<usize>,
    w: Window,
) -> Result<Array3<f32>> {
    cf.require(ext)?;
    let np = planes.len();
    let v = cf.read_window::<f32>(&[planes.start, w.y0, w.x0], &[np, w.ny, w.nx])?;
    Array3::from_shape_vec((np, w.ny, w.nx), v)
        .map_err(|e| FramesError::invalid(cf.path(), format!("{ext}: {e}")))
}

/// Read a 2-D DQ-like extension (`DQ`) cut to `w`, in any integer layout seen in CRDS files:
/// uint32 (BITPIX=32, BZERO=2^31), plain int32, uint8/int16/int64. Values are converted to u32
/// the way numpy's `astype(uint32)` does (two's complement for negative int32). `Ok(None)` when
/// the extension is absent (the official model then uses zeros).
///
/// The raw bits are then decoded through the file's `DQ_DEF` table (when present and not empty),
/// exactly like stdatamodels' `dynamic_mask`: for each row, pixels having any bit of `VALUE` get
/// the standard flag named `NAME` (exact, stripped name; unknown names are ignored).
pub(crate) fn read_dq_2d(cf: &mut CFits, ext: &str, w: Window) -> Result<Option<Array2<u32>>> {
    let Some(info) = ext_info(cf, ext)? else {
        return Ok(None);
    };
    let path = cf.path().to_path_buf();
    if info.bitpix < 0 {
        return Err(FramesError::invalid(
            &path,
            format!(
                "{ext} has floating-point BITPIX={}; expected an integer DQ",
                info.bitpix
            ),
        ));
    }
    require_ndim(&path, ext, &info, 2)?;
    let raw = cf.read_window::<i64>(&[w.y0, w.x0], &[w.ny, w.nx])?;
    let mut dqv: Vec<u32> = raw.into_iter().map(|v| v as u32).collect();
    if let Some(map) = read_dq_def(cf)? {
        for v in dqv.iter_mut() {
            *v = decode_dq(*v, &map);
        }
    }
    let arr = Array2::from_shape_vec((w.ny, w.nx), dqv)
        .map_err(|e| FramesError::invalid(&path, format!("{ext}: {e}")))?;
    Ok(Some(arr))
}

/// `(VALUE bits in the file, standard flag)` pairs of a `DQ_DEF` table; `None` when the table
/// is absent or empty (then DQ values are taken as standard flags).
pub(crate) fn read_dq_def(cf: &mut CFits) -> Result<Option<Vec<(u32, u32)>>> {
    if !cf.goto_name("DQ_DEF")? {
        return Ok(None);
    }
    if cf.table_rows()? == 0 {
        return Ok(None);
    }
    let values = cf.column_i64("VALUE")?;
    let names = cf.column_str("NAME")?;
    let map = values
        .into_iter()
        .zip(names)
        .filter_map(|(v, name)| standard_flag(name.trim()).map(|f| (v as u32, f)))
        .collect();
    Ok(Some(map))
}

/// Standard flag value of an exact mnemonic (`dqflags.pixel` keys are case-sensitive).
fn standard_flag(name: &str) -> Option<u32> {
    if name == "GOOD" {
        return Some(dq::GOOD);
    }
    dq::ALL.iter().find(|(_, n)| *n == name).map(|(v, _)| *v)
}

/// Decode one stored DQ value through a DQ_DEF map (see [`read_dq_def`]).
pub(crate) fn decode_dq(stored: u32, map: &[(u32, u32)]) -> u32 {
    map.iter()
        .filter(|(bits, _)| stored & bits != 0)
        .fold(0, |acc, (_, flag)| acc | flag)
}

/// The DQ cut to the window, or zeros when the reference has none.
pub(crate) fn dq_or_zeros(cf: &mut CFits, ext: &str, w: Window) -> Result<Array2<u32>> {
    Ok(read_dq_2d(cf, ext, w)?.unwrap_or_else(|| Array2::zeros((w.ny, w.nx))))
}

/// Numeric primary-header keyword.
pub(crate) fn primary_f64(cf: &mut CFits, key: &str) -> Result<Option<f64>> {
    cf.goto_index(0)?;
    cf.key_f64(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_maps_bits_and_drops_unknown() {
        // file bit 1 means NO_LIN_CORR, file bit 2 means DO_NOT_USE
        let map = vec![(1, dq::NO_LIN_CORR), (2, dq::DO_NOT_USE)];
        assert_eq!(decode_dq(0, &map), 0);
        assert_eq!(decode_dq(1, &map), dq::NO_LIN_CORR);
        assert_eq!(decode_dq(3, &map), dq::NO_LIN_CORR | dq::DO_NOT_USE);
        assert_eq!(
            decode_dq(4, &map),
            0,
            "bits without a DQ_DEF row are dropped"
        );
        assert_eq!(
            standard_flag("no_lin_corr"),
            None,
            "names are case-sensitive"
        );
        assert_eq!(standard_flag("REFERENCE_PIXEL"), Some(dq::REFERENCE_PIXEL));
    }
}
