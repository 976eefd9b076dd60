//! File-backed plane sources: a `_rate`, `_rateints`, `_calints` or `_crfints` product read one
//! integration at a time from a memory map, so a consumer holds one plane (not the cube).
//!
//! [`RateProduct::open`] validates the layout (SCI, ERR, DQ, VAR_POISSON, VAR_RNOISE, optional
//! VAR_FLAT, all of the same shape) and reads the few keywords the consumers need
//! ([`ProductInfo`]); [`RateProduct::plane`] decodes one plane; [`FilePlaneSource`] walks them in
//! order as a [`PlaneSource`]. Pages of a plane are released after it is read, so resident
//! memory does not grow with the file.

use frames::fits::FitsReader;
use frames::raw::{MappedImage, SampleType};
use frames::tables::IntTimes;
use frames::{ExposureMeta, FramesError, Result};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use stream::plane::{PlaneError, PlaneGeometry, PlaneSource, PlaneTimes, RatePlane};

/// The SIAF pointing keywords of the SCI header (what assign_wcs builds the sky transform from).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SiafPointing {
    /// arcsec
    pub v2_ref: f64,
    /// arcsec
    pub v3_ref: f64,
    /// deg
    pub v3i_yang: f64,
    pub vparity: f64,
    /// deg
    pub ra_ref: f64,
    /// deg
    pub dec_ref: f64,
    /// deg
    pub roll_ref: f64,
}

/// Keywords of a rate-like product the consumers use beyond [`ExposureMeta`].
#[derive(Debug, Clone, Default)]
pub struct ProductInfo {
    pub meta: ExposureMeta,
    /// BUNIT of SCI and of ERR (`DN/s`, `MJy/sr`, ...).
    pub bunit_data: Option<String>,
    pub bunit_err: Option<String>,
    /// XREF_SCI / YREF_SCI (1-based): the planned source position.
    pub xref_sci: Option<f64>,
    pub yref_sci: Option<f64>,
    pub pixar_sr: Option<f64>,
    pub pixar_a2: Option<f64>,
    pub photmjsr: Option<f64>,
    /// EXPMID [MJD], photom's time-dependence epoch.
    pub expmid: Option<f64>,
    /// TARGNAME (the catalogue name of the target).
    pub target_name: Option<String>,
    pub siaf: Option<SiafPointing>,
    /// DATAMODL of the file.
    pub datamodel: Option<String>,
}

impl ProductInfo {
    /// Reads the keywords from the primary header, then the SCI header.
    pub fn read(r: &mut FitsReader) -> Result<ProductInfo> {
        let meta = ExposureMeta::from_reader(r)?;
        let sci = r.require_hdu("SCI")?;
        let err = r.find_hdu("ERR")?;
        let hdus = [0, sci];
        let f = |r: &mut FitsReader, k: &str| r.key_in::<f64>(&[sci, 0], k);
        let siaf = (|| -> Result<Option<SiafPointing>> {
            let keys = [
                "V2_REF", "V3_REF", "V3I_YANG", "VPARITY", "RA_REF", "DEC_REF", "ROLL_REF",
            ];
            let mut v = [0.0; 7];
            for (slot, k) in v.iter_mut().zip(keys) {
                match f(r, k)? {
                    Some(x) => *slot = x,
                    None => return Ok(None),
                }
            }
            Ok(Some(SiafPointing {
                v2_ref: v[0],
                v3_ref: v[1],
                v3i_yang: v[2],
                vparity: v[3],
                ra_ref: v[4],
                dec_ref: v[5],
                roll_ref: v[6],
            }))
        })()?;
        Ok(ProductInfo {
            bunit_data: r.key::<String>(sci, "BUNIT")?,
            bunit_err: match err {
                Some(e) => r.key::<String>(e, "BUNIT")?,
                None => None,
            },
            xref_sci: f(r, "XREF_SCI")?,
            yref_sci: f(r, "YREF_SCI")?,
            pixar_sr: f(r, "PIXAR_SR")?,
            pixar_a2: f(r, "PIXAR_A2")?,
            photmjsr: f(r, "PHOTMJSR")?,
            expmid: r.key_in::<f64>(&hdus, "EXPMID")?,
            target_name: r.key_in::<String>(&hdus, "TARGNAME")?,
            siaf,
            datamodel: r.key::<String>(0, "DATAMODL")?,
            meta,
        })
    }
}

/// A rate-like product opened for plane-by-plane reading.
#[derive(Debug)]
pub struct RateProduct {
    path: PathBuf,
    info: ProductInfo,
    /// Planes in the file (1 for a 2-D `_rate`/`_cal`).
    nplanes: usize,
    ny: usize,
    nx: usize,
    cube: bool,
    sci: MappedImage,
    err: MappedImage,
    dq: MappedImage,
    var_poisson: MappedImage,
    var_rnoise: MappedImage,
    var_flat: Option<MappedImage>,
    int_times: Option<IntTimes>,
}

impl RateProduct {
    /// Opens a `_rate`/`_rateints`/`_cal`/`_calints`/`_crfints` file. Errors name the file and
    /// the problem (missing HDU, wrong type or shape).
    pub fn open(path: impl AsRef<Path>) -> Result<RateProduct> {
        let path = path.as_ref().to_path_buf();
        let mut r = FitsReader::open(&path)?;
        let file = File::open(&path).map_err(|e| FramesError::io(&path, e))?;
        let file_len = file
            .metadata()
            .map_err(|e| FramesError::io(&path, e))?
            .len();
        let file = Arc::new(file);
        let sci_hdu = r.require_hdu("SCI")?;
        let layout = r.image_layout(sci_hdu)?;
        let shape = layout.numpy_shape(&path)?;
        let (cube, nplanes, ny, nx) = match shape.as_slice() {
            [ny, nx] => (false, 1, *ny, *nx),
            [n, ny, nx] => (true, *n, *ny, *nx),
            other => {
                return Err(FramesError::invalid(
                    &path,
                    format!(
                        "SCI HDU is {}-D {other:?}: a rate product is 2-D (rate, cal) or 3-D \
                         (rateints, calints)",
                        other.len()
                    ),
                ))
            }
        };
        let want: Vec<usize> = if cube {
            vec![nplanes, ny, nx]
        } else {
            vec![ny, nx]
        };
        let why = "the SCI array's shape";
        let map = |r: &mut FitsReader, name: &str, sample: SampleType| -> Result<MappedImage> {
            let h = r.require_hdu(name)?;
            MappedImage::open(r, &file, file_len, h, sample, &want, why)
        };
        let sci = map(&mut r, "SCI", SampleType::F32)?;
        let err = map(&mut r, "ERR", SampleType::F32)?;
        let dq = map(&mut r, "DQ", SampleType::U32)?;
        let var_poisson = map(&mut r, "VAR_POISSON", SampleType::F32)?;
        let var_rnoise = map(&mut r, "VAR_RNOISE", SampleType::F32)?;
        let var_flat = match r.find_hdu("VAR_FLAT")? {
            Some(_) => Some(map(&mut r, "VAR_FLAT", SampleType::F32)?),
            None => None,
        };
        let int_times = IntTimes::read(&mut r)?;
        let info = ProductInfo::read(&mut r)?;
        if cube && nplanes != info.meta.nints_in_file() {
            return Err(FramesError::invalid(
                &path,
                format!(
                    "SCI holds {nplanes} integrations but INTSTART..INTEND say {}",
                    info.meta.nints_in_file()
                ),
            ));
        }
        Ok(RateProduct {
            path,
            info,
            nplanes,
            ny,
            nx,
            cube,
            sci,
            err,
            dq,
            var_poisson,
            var_rnoise,
            var_flat,
            int_times,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
    pub fn info(&self) -> &ProductInfo {
        &self.info
    }
    pub fn meta(&self) -> &ExposureMeta {
        &self.info.meta
    }
    /// Whether the file holds a cube of integrations (rateints-like) rather than one image.
    pub fn is_cube(&self) -> bool {
        self.cube
    }
    pub fn nplanes(&self) -> usize {
        self.nplanes
    }
    pub fn shape(&self) -> (usize, usize) {
        (self.ny, self.nx)
    }
    pub fn has_var_flat(&self) -> bool {
        self.var_flat.is_some()
    }
    pub fn int_times(&self) -> Option<&IntTimes> {
        self.int_times.as_ref()
    }
    pub fn geometry(&self) -> PlaneGeometry {
        PlaneGeometry {
            nints: self.nplanes,
            ny: self.ny,
            nx: self.nx,
        }
    }

    /// The INT_TIMES row of plane `k` (integration `INTSTART + k`), when the table has it.
    pub fn times_of(&self, k: usize) -> Option<PlaneTimes> {
        let number = self.info.meta.int_start + k;
        self.int_times
            .as_ref()
            .and_then(|t| t.row(number))
            .map(|r| PlaneTimes {
                integration_number: r.integration_number,
                start_mjd_utc: r.int_start_mjd_utc,
                mid_mjd_utc: r.int_mid_mjd_utc,
                end_mjd_utc: r.int_end_mjd_utc,
                start_bjd_tdb: r.int_start_bjd_tdb,
                mid_bjd_tdb: r.int_mid_bjd_tdb,
                end_bjd_tdb: r.int_end_bjd_tdb,
            })
    }

    /// Decode plane `k` (0-based within the file) and release its pages.
    pub fn plane(&self, k: usize) -> Result<RatePlane> {
        let n = self.ny * self.nx;
        // Every array is read whole below: recycled buffers will do.
        let take = super::pool::take_f32;
        let mut p = RatePlane {
            index: k,
            ny: self.ny,
            nx: self.nx,
            sci: take(n),
            err: take(n),
            dq: super::pool::take_u32(n),
            var_poisson: take(n),
            var_rnoise: take(n),
            var_flat: None,
            times: None,
        };
        let ny = self.ny;
        let rd = |img: &MappedImage, out: &mut [f32]| -> Result<()> {
            img.read_rows_f32(k, 0, ny, out)?;
            img.release_rows(k, 0, ny);
            Ok(())
        };
        rd(&self.sci, &mut p.sci)?;
        rd(&self.err, &mut p.err)?;
        self.dq.read_rows_u32(k, 0, ny, &mut p.dq)?;
        self.dq.release_rows(k, 0, ny);
        rd(&self.var_poisson, &mut p.var_poisson)?;
        rd(&self.var_rnoise, &mut p.var_rnoise)?;
        if let Some(vf) = &self.var_flat {
            let mut v = take(n);
            rd(vf, &mut v)?;
            p.var_flat = Some(v);
        }
        p.times = self.times_of(k);
        Ok(p)
    }
}

/// A [`PlaneSource`] over the planes of one file.
pub struct FilePlaneSource {
    product: Arc<RateProduct>,
    next: usize,
}

impl FilePlaneSource {
    pub fn new(product: Arc<RateProduct>) -> Self {
        FilePlaneSource { product, next: 0 }
    }
    pub fn product(&self) -> &RateProduct {
        &self.product
    }
}

impl PlaneSource for FilePlaneSource {
    fn geometry(&self) -> PlaneGeometry {
        self.product.geometry()
    }
    fn next_plane(&mut self) -> std::result::Result<Option<RatePlane>, PlaneError> {
        if self.next >= self.product.nplanes() {
            return Ok(None);
        }
        let p = self
            .product
            .plane(self.next)
            .map_err(|e| PlaneError::Source(e.to_string()))?;
        self.next += 1;
        Ok(Some(p))
    }
}
