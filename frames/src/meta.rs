//! Typed exposure metadata: every keyword a Stage 1 step needs (spec §2), read once when the
//! exposure is opened so steps never touch FITS headers.

/// Readout and subarray description of one exposure (or one segment of it).
#[derive(Debug, Clone, PartialEq)]
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
}

impl ExposureMeta {
    /// Integrations held in this file (INTEND − INTSTART + 1).
    pub fn nints_in_file(&self) -> usize {
        self.int_end + 1 - self.int_start
    }
    /// Rows and columns of one frame.
    pub fn frame_shape(&self) -> (usize, usize) {
        (self.subsize2, self.subsize1)
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
}
