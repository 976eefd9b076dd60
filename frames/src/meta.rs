//! Typed exposure metadata: every keyword a Stage 1 step needs (spec §2), read once when the
//! exposure is opened so steps never touch FITS headers.
//!
//! Keywords are read from the primary header, with the SCI header as a fallback (JWST keeps a
//! few, e.g. XPOSURE/TELAPSE, there). Required keywords missing -> an error that names the file
//! and the keyword. Optional keywords get the value the official pipeline effectively uses when
//! they are absent (stdatamodels gives `None`, and the steps treat `None` as written below).

use std::path::Path;

use crate::error::{FramesError, Result};
use crate::fits::FitsReader;

/// Readout and subarray description of one exposure (or one segment of it).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ExposureMeta {
    // --- instrument ---
    pub instrument: String, // INSTRUME, e.g. "NIRCAM"
    pub detector: String,   // DETECTOR, e.g. "NRCALONG"
    pub exp_type: String,   // EXP_TYPE, e.g. "NRC_TSGRISM"
    pub tso_visit: bool,    // TSOVISIT
    pub filter: Option<String>,
    pub pupil: Option<String>,
    // --- readout ---
    pub readpatt: String, // READPATT
    pub nints: usize,     // NINTS: integrations of the whole exposure
    pub ngroups: usize,   // NGROUPS
    pub nframes: usize,   // NFRAMES
    pub groupgap: usize,  // GROUPGAP
    /// FRMDIVSR; `None` when the keyword is absent (group_scale then decides by NFRAMES).
    pub frame_divisor: Option<usize>,
    pub drop_frames1: Option<usize>, // DRPFRMS1
    pub tframe: f64,                 // TFRAME [s]
    pub tgroup: f64,                 // TGROUP [s]
    pub effinttm: Option<f64>,       // EFFINTTM [s]
    pub noutputs: usize,             // NOUTPUTS
    pub zero_frame: bool,            // ZEROFRAM
    // --- segment ---
    /// INTSTART/INTEND: 1-based inclusive range of integrations held in this file.
    pub int_start: usize,
    pub int_end: usize,
    pub exseg_num: Option<usize>, // EXSEGNUM
    pub exseg_tot: Option<usize>, // EXSEGTOT
    // --- subarray ---
    pub subarray: String, // SUBARRAY
    pub substrt1: usize,  // SUBSTRT1 (1-based column of the first pixel)
    pub substrt2: usize,  // SUBSTRT2 (1-based row)
    pub subsize1: usize,  // SUBSIZE1 (columns)
    pub subsize2: usize,  // SUBSIZE2 (rows)
    pub fastaxis: i32,    // FASTAXIS
    pub slowaxis: i32,    // SLOWAXIS
    // --- added by the reader (informational; no step depends on them) ---
    /// DATAMODL (`Level1bModel`, `RampModel`, ...), when present.
    pub datamodel: Option<String>,
    pub module: Option<String>,  // MODULE (NIRCam)
    pub channel: Option<String>, // CHANNEL (NIRCam)
    /// EXPSTART / EXPEND [MJD UTC].
    pub expstart: Option<f64>,
    pub expend: Option<f64>,
}

impl ExposureMeta {
    /// Reads the metadata of the exposure file at `path` (uncal, ramp, rate, rateints...).
    pub fn read(path: impl AsRef<Path>) -> Result<Self> {
        let mut reader = FitsReader::open(path)?;
        Self::from_reader(&mut reader)
    }

    /// Reads the metadata from an opened file: primary header first, SCI header as fallback.
    ///
    /// Required (error when absent): INSTRUME, DETECTOR, EXP_TYPE, READPATT, NINTS, NGROUPS,
    /// NFRAMES, GROUPGAP, TFRAME, TGROUP, NOUTPUTS, SUBARRAY, SUBSTRT1/2, SUBSIZE1/2,
    /// FASTAXIS, SLOWAXIS.
    ///
    /// Optional, with the official pipeline's behaviour when absent:
    /// TSOVISIT -> false (`is_tso` treats `None` as false); FRMDIVSR, DRPFRMS1, EFFINTTM,
    /// EXSEGNUM, EXSEGTOT, FILTER, PUPIL -> `None`; ZEROFRAM -> false (steps test
    /// `if meta.exposure.zero_frame`); INTSTART -> 1 and INTEND -> NINTS (the steps that
    /// look at them use the whole exposure when they are `None`).
    pub fn from_reader(r: &mut FitsReader) -> Result<Self> {
        let path = r.path().to_path_buf();
        let mut hdus = vec![0usize];
        if let Some(sci) = r.find_hdu("SCI")? {
            hdus.push(sci);
        }
        let hdus = hdus.as_slice();

        // Required keyword, with a message naming the primary header (where it belongs).
        macro_rules! req {
            ($t:ty, $k:expr) => {
                match r.key_in::<$t>(hdus, $k)? {
                    Some(v) => v,
                    None => {
                        return Err(FramesError::invalid(
                            &path,
                            format!("keyword {} missing from the primary header", $k),
                        ))
                    }
                }
            };
        }
        let count = |key: &str, v: i64, min: i64| -> Result<usize> {
            if v < min || v > u32::MAX as i64 {
                return Err(FramesError::invalid(
                    &path,
                    format!("keyword {key} = {v} is out of range (expected >= {min})"),
                ));
            }
            Ok(v as usize)
        };
        let opt_count = |key: &str, v: Option<i64>, min: i64| -> Result<Option<usize>> {
            v.map(|v| count(key, v, min)).transpose()
        };

        let instrument = req!(String, "INSTRUME");
        let detector = req!(String, "DETECTOR");
        let exp_type = req!(String, "EXP_TYPE");
        let tso_visit = r.key_in::<bool>(hdus, "TSOVISIT")?.unwrap_or(false);
        let filter = r.key_in::<String>(hdus, "FILTER")?;
        let pupil = r.key_in::<String>(hdus, "PUPIL")?;

        let readpatt = req!(String, "READPATT");
        let nints = count("NINTS", req!(i64, "NINTS"), 1)?;
        let ngroups = count("NGROUPS", req!(i64, "NGROUPS"), 1)?;
        let nframes = count("NFRAMES", req!(i64, "NFRAMES"), 1)?;
        let groupgap = count("GROUPGAP", req!(i64, "GROUPGAP"), 0)?;
        let frame_divisor = opt_count("FRMDIVSR", r.key_in::<i64>(hdus, "FRMDIVSR")?, 1)?;
        let drop_frames1 = opt_count("DRPFRMS1", r.key_in::<i64>(hdus, "DRPFRMS1")?, 0)?;
        let tframe = req!(f64, "TFRAME");
        let tgroup = req!(f64, "TGROUP");
        for (k, v) in [("TFRAME", tframe), ("TGROUP", tgroup)] {
            if !v.is_finite() || v < 0.0 {
                return Err(FramesError::invalid(
                    &path,
                    format!("keyword {k} = {v} is not a valid time"),
                ));
            }
        }
        let effinttm = r.key_in::<f64>(hdus, "EFFINTTM")?;
        let noutputs = count("NOUTPUTS", req!(i64, "NOUTPUTS"), 1)?;
        let zero_frame = r.key_in::<bool>(hdus, "ZEROFRAM")?.unwrap_or(false);

        let int_start = opt_count("INTSTART", r.key_in::<i64>(hdus, "INTSTART")?, 1)?.unwrap_or(1);
        let int_end = opt_count("INTEND", r.key_in::<i64>(hdus, "INTEND")?, 1)?.unwrap_or(nints);
        if int_end < int_start || int_end > nints {
            return Err(FramesError::invalid(
                &path,
                format!(
                    "INTSTART = {int_start}, INTEND = {int_end} do not describe a range of \
                     integrations within NINTS = {nints}"
                ),
            ));
        }
        let exseg_num = opt_count("EXSEGNUM", r.key_in::<i64>(hdus, "EXSEGNUM")?, 1)?;
        let exseg_tot = opt_count("EXSEGTOT", r.key_in::<i64>(hdus, "EXSEGTOT")?, 1)?;

        let subarray = req!(String, "SUBARRAY");
        let substrt1 = count("SUBSTRT1", req!(i64, "SUBSTRT1"), 1)?;
        let substrt2 = count("SUBSTRT2", req!(i64, "SUBSTRT2"), 1)?;
        let subsize1 = count("SUBSIZE1", req!(i64, "SUBSIZE1"), 1)?;
        let subsize2 = count("SUBSIZE2", req!(i64, "SUBSIZE2"), 1)?;
        let axis = |key: &str, v: i64| -> Result<i32> {
            if matches!(v, -2 | -1 | 1 | 2) {
                Ok(v as i32)
            } else {
                Err(FramesError::invalid(
                    &path,
                    format!("keyword {key} = {v} is not one of -2, -1, 1, 2"),
                ))
            }
        };
        let fastaxis = axis("FASTAXIS", req!(i64, "FASTAXIS"))?;
        let slowaxis = axis("SLOWAXIS", req!(i64, "SLOWAXIS"))?;

        Ok(ExposureMeta {
            instrument,
            detector,
            exp_type,
            tso_visit,
            filter,
            pupil,
            readpatt,
            nints,
            ngroups,
            nframes,
            groupgap,
            frame_divisor,
            drop_frames1,
            tframe,
            tgroup,
            effinttm,
            noutputs,
            zero_frame,
            int_start,
            int_end,
            exseg_num,
            exseg_tot,
            subarray,
            substrt1,
            substrt2,
            subsize1,
            subsize2,
            fastaxis,
            slowaxis,
            datamodel: r.key::<String>(0, "DATAMODL")?,
            module: r.key_in::<String>(hdus, "MODULE")?,
            channel: r.key_in::<String>(hdus, "CHANNEL")?,
            expstart: r.key_in::<f64>(hdus, "EXPSTART")?,
            expend: r.key_in::<f64>(hdus, "EXPEND")?,
        })
    }

    /// Integrations held in this file (INTEND − INTSTART + 1).
    pub fn nints_in_file(&self) -> usize {
        self.int_end + 1 - self.int_start
    }
    /// Rows and columns of one frame.
    pub fn frame_shape(&self) -> (usize, usize) {
        (self.subsize2, self.subsize1)
    }
    /// Whether this is a segment of a larger exposure (DMS `-segNNN` files).
    pub fn is_segment(&self) -> bool {
        self.int_start != 1 || self.int_end != self.nints || self.exseg_tot.is_some_and(|t| t > 1)
    }
    /// Full-frame detector (2048x2048 NIR) read out?
    pub fn is_full_frame(&self) -> bool {
        self.subarray.eq_ignore_ascii_case("FULL")
    }
    /// Whether this is a time-series exposure (`jwst.lib.pipe_utils.is_tso`, without the NINTS test).
    pub fn is_tso_mode(&self) -> bool {
        self.tso_visit
            || matches!(
                self.exp_type.as_str(),
                "NRC_TSIMAGE"
                    | "NRC_TSGRISM"
                    | "NIS_SOSS"
                    | "NRS_BRIGHTOBJ"
                    | "MIR_LRS-SLITLESS"
                    | "NRS_WATA"
                    | "NRS_TACQ"
            )
    }
    /// `jwst.lib.pipe_utils.is_tso`: TSO mode and more than one integration in the exposure.
    pub fn is_tso(&self) -> bool {
        self.is_tso_mode() && self.nints >= 2
    }
}
