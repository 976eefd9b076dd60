//! The raw exposure file in the official Level1bModel layout:
//! PRIMARY (metadata), SCI (uint16 stored as int16 with BZERO = 32768, numpy shape
//! (nints, ngroups, ny, nx)), GROUP and INT_TIMES binary tables. No ASDF HDU: the official reader
//! takes every value from the FITS headers and tables when it is absent.
//!
//! The header is written first, the SCI data unit is then streamed group by group, and the
//! tables follow once the cube is complete.

use std::path::{Path, PathBuf};

use fitsio::hdu::FitsHdu;
use fitsio::images::ImageType;

use super::config::{Plan, Segment, BJD_OFFSET_DAYS};
use super::fitsout::{key, title, Card, FitsOut};
use super::ExpType;

/// SIAF-like NRCA5 numbers used to give imaging exposures the WCS keywords assign_wcs needs.
const WCS_FULL_V2REF: f64 = 86.103;
const WCS_FULL_V3REF: f64 = -493.227;
const WCS_V3IDLYANG: f64 = -0.5596;
const WCS_VPARITY: i64 = -1;
pub(crate) const WCS_SCALE_LW: f64 = 0.0629;
const WCS_RA_REF: f64 = 80.4875;
const WCS_DEC_REF: f64 = -69.4988;
const WCS_ROLL_REF: f64 = 128.0;

/// (year, month, day) of a day count since 1970-01-01 (proleptic Gregorian).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// ISO time with milliseconds of an MJD (UTC, leap seconds ignored as astropy's `isot` of a UTC
/// MJD does within a day).
pub fn mjd_to_isot(mjd: f64) -> String {
    let total_ms = (mjd * 86_400_000.0).round() as i64;
    let days = total_ms.div_euclid(86_400_000);
    let ms_of_day = total_ms.rem_euclid(86_400_000);
    let (y, mo, d) = civil_from_days(days - 40_587);
    let (h, mi, s, ms) = (
        ms_of_day / 3_600_000,
        ms_of_day / 60_000 % 60,
        ms_of_day / 1000 % 60,
        ms_of_day % 1000,
    );
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{ms:03}")
}

/// The current UTC time for the DATE keyword.
pub fn now_isot() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    mjd_to_isot(40_587.0 + secs / 86_400.0)
}

/// The instrument keywords shared with the references.
pub fn instrument_cards(plan: &Plan, with_filter: bool) -> Vec<Card> {
    let mut v = vec![
        title("Instrument configuration information"),
        key("INSTRUME", "NIRCAM", "Instrument used to acquire the data"),
        key(
            "DETECTOR",
            "NRCALONG",
            "Name of detector used to acquire the data",
        ),
    ];
    if with_filter {
        v.push(key(
            "FILTER",
            plan.filter.as_str(),
            "Name of filter element used",
        ));
    }
    v
}

/// SUBARRAY..SLOWAXIS for a region with 1-based corner (xstart, ystart) and size (nx, ny).
pub fn subarray_cards(name: &str, xstart: usize, ystart: usize, nx: usize, ny: usize) -> Vec<Card> {
    vec![
        key("SUBARRAY", name, "Subarray used"),
        key("SUBSTRT1", xstart, "Starting pixel in axis 1 direction"),
        key("SUBSTRT2", ystart, "Starting pixel in axis 2 direction"),
        key("SUBSIZE1", nx, "Number of pixels in axis 1 direction"),
        key("SUBSIZE2", ny, "Number of pixels in axis 2 direction"),
        key("FASTAXIS", -1i64, "Fast readout axis direction"),
        key("SLOWAXIS", 2i64, "Slow readout axis direction"),
    ]
}

fn primary_cards(plan: &Plan, seg: &Segment) -> Vec<Card> {
    let nints = plan.nints;
    let (start0, _, _) = plan.int_times(0);
    let (_, _, end_last) = plan.int_times(nints - 1);
    let t_eff = plan.t_int_eff();
    let mut v = vec![
        key("DATE", now_isot(), "UTC date file created"),
        key("FILENAME", seg.file_name(), "Name of the file"),
        key("DATAMODL", "Level1bModel", "Type of data model"),
        key("TELESCOP", "JWST", "Telescope used to acquire the data"),
        title("Observation identifiers"),
        key(
            "DATE-OBS",
            "2024-03-01",
            "[yyyy-mm-dd] UTC date at start of exposure",
        ),
        key(
            "TIME-OBS",
            "00:00:00.000",
            "[hh:mm:ss.sss] UTC time at start of exposure",
        ),
        key("PROGRAM", "01234", "Program number"),
        key("OBSERVTN", "001", "Observation number"),
        key("VISIT", "001", "Visit number"),
        title("Visit information"),
        key(
            "TSOVISIT",
            plan.exp_type != ExpType::NrcImage,
            "Time Series Observation visit indicator",
        ),
        title("Target information"),
    ];
    if plan.imaging() {
        v.push(key(
            "TARGPROP",
            "SYNTHETIC",
            "Proposer's name for the target",
        ));
    }
    v.push(key(
        "TARGNAME",
        "SYNTHETIC",
        "Standard astronomical catalog name for target",
    ));
    if plan.imaging() {
        v.push(key(
            "TARG_RA",
            WCS_RA_REF,
            "[deg] Target RA at mid time of exposure",
        ));
        v.push(key(
            "TARG_DEC",
            WCS_DEC_REF,
            "[deg] Target Dec at mid time of exposure",
        ));
    }
    v.extend([
        title("Instrument configuration information"),
        key("INSTRUME", "NIRCAM", "Instrument used to acquire the data"),
        key(
            "DETECTOR",
            "NRCALONG",
            "Name of detector used to acquire the data",
        ),
        key("MODULE", "A", "NIRCam module: A, B or MULTIPLE"),
        key("CHANNEL", "LONG", "Instrument channel"),
        key(
            "FILTER",
            plan.filter.as_str(),
            "Name of the filter element used",
        ),
        key(
            "PUPIL",
            plan.pupil.as_str(),
            "Name of the pupil element used",
        ),
        title("Exposure parameters"),
        key(
            "EXP_TYPE",
            plan.exp_type.keyword(),
            "Type of data in the exposure",
        ),
        key("EXPSTART", start0, "[d] exposure start time in MJD"),
        key(
            "EXPMID",
            0.5 * (start0 + end_last),
            "[d] exposure mid time in MJD",
        ),
        key("EXPEND", end_last, "[d] exposure end time in MJD"),
        key("READPATT", plan.readpatt.keyword(), "Readout pattern"),
    ]);
    if seg.total > 1 {
        v.push(key("EXSEGNUM", seg.number, "Sequential segment number"));
        v.push(key("EXSEGTOT", seg.total, "Total number of segments"));
    }
    let measure =
        t_eff * nints as f64 * (plan.ngroups + 1) as f64 / (plan.ngroups - 1).max(1) as f64;
    v.extend([
        key("NOUTPUTS", plan.noutputs, "Number of detector outputs used"),
        key("NINTS", nints, "Number of integrations in exposure"),
        key(
            "INTSTART",
            seg.int0 + 1,
            "Starting integration number in this segment",
        ),
        key(
            "INTEND",
            seg.int1,
            "Ending integration number in this segment",
        ),
        key("NGROUPS", plan.ngroups, "Number of groups in integration"),
        key("NFRAMES", plan.nframes, "Number of frames per group"),
        key(
            "FRMDIVSR",
            plan.frame_divisor,
            "Divisor applied to frame-averaged groups",
        ),
        key(
            "GROUPGAP",
            plan.groupgap,
            "Number of frames dropped between groups",
        ),
        key(
            "DRPFRMS1",
            0i64,
            "Number of frames dropped prior to 1st integration",
        ),
        key(
            "DRPFRMS3",
            0i64,
            "Number of frames dropped between integrations",
        ),
        key("NSAMPLES", 1i64, "Number of A/D samples per pixel"),
        key("TSAMPLE", 10.0, "[us] Time between samples"),
        key("TFRAME", plan.tframe, "[s] Time between frames"),
        key("TGROUP", plan.tgroup, "[s] Time between groups"),
        key("EFFINTTM", t_eff, "[s] Effective integration time"),
        key(
            "EFFEXPTM",
            t_eff * nints as f64,
            "[s] Effective exposure time",
        ),
        key("TMEASURE", measure, "[s] Measurement time"),
        key(
            "DURATION",
            plan.t_int_total() * nints as f64,
            "[s] Total duration of exposure",
        ),
        key(
            "NRSTSTRT",
            1i64,
            "Number of reset frames at start of exposure",
        ),
        key(
            "NRESETS",
            1i64,
            "Number of reset frames between integrations",
        ),
        key("ZEROFRAM", false, "Zero frame was downlinked separately"),
        key(
            "PRIMECRS",
            plan.cr_rate * 1000.0,
            "Cosmic Ray rate per thousand pixels per second",
        ),
        title("Subarray parameters"),
    ]);
    v.extend(subarray_cards(
        &plan.subarray,
        plan.xstart,
        plan.ystart,
        plan.nx,
        plan.ny,
    ));
    v
}

fn sci_cards(plan: &Plan) -> Vec<Card> {
    let mut v = vec![
        key(
            "XPOSURE",
            plan.t_int_eff() * plan.nints as f64,
            "[s] Effective exposure time",
        ),
        key(
            "TELAPSE",
            plan.t_int_total() * plan.nints as f64,
            "[s] Total elapsed exposure time",
        ),
    ];
    if plan.imaging() {
        // Reference point at the subarray centre; V2/V3 from a linear SIAF-like model.
        let (xref, yref) = ((plan.nx as f64 + 1.0) / 2.0, (plan.ny as f64 + 1.0) / 2.0);
        let dx = (plan.xstart as f64 - 1.0 + xref) - 1024.5;
        let dy = (plan.ystart as f64 - 1.0 + yref) - 1024.5;
        let (xi, yi) = (WCS_SCALE_LW * dx, WCS_SCALE_LW * dy);
        let th = WCS_V3IDLYANG.to_radians();
        let p = WCS_VPARITY as f64;
        v.extend([
            title("WCS parameters"),
            key(
                "V2_REF",
                WCS_FULL_V2REF + p * xi * th.cos() + yi * th.sin(),
                "[arcsec] Telescope V2 coord of reference point",
            ),
            key(
                "V3_REF",
                WCS_FULL_V3REF - p * xi * th.sin() + yi * th.cos(),
                "[arcsec] Telescope V3 coord of reference point",
            ),
            key(
                "VPARITY",
                WCS_VPARITY,
                "Relative sense of rotation between Ideal xy and V2V3",
            ),
            key(
                "V3I_YANG",
                WCS_V3IDLYANG,
                "[deg] Angle from V3 axis to Ideal y axis",
            ),
            key(
                "RA_REF",
                WCS_RA_REF,
                "[deg] Right Ascension of the reference point",
            ),
            key(
                "DEC_REF",
                WCS_DEC_REF,
                "[deg] Declination of the reference point",
            ),
            key(
                "ROLL_REF",
                WCS_ROLL_REF,
                "[deg] V3 roll angle at the ref point (N over E)",
            ),
            key("XREF_SCI", xref, "Aperture X reference point in SCI frame"),
            key("YREF_SCI", yref, "Aperture Y reference point in SCI frame"),
        ]);
    }
    v
}

/// One raw file being written.
pub struct UncalFile {
    out: FitsOut,
    sci: FitsHdu,
    seg: Segment,
    group_pixels: usize,
    ngroups: usize,
}

impl UncalFile {
    pub fn create(plan: &Plan, seg: &Segment) -> frames::Result<UncalFile> {
        let path = plan.outdir.join(seg.file_name());
        let mut out = FitsOut::create(&path)?;
        out.cards(&primary_cards(plan, seg))?;
        let dims = [seg.int1 - seg.int0, plan.ngroups, plan.ny, plan.nx];
        let sci = out.image("SCI", ImageType::UnsignedShort, &dims, &sci_cards(plan))?;
        Ok(UncalFile {
            out,
            sci,
            seg: seg.clone(),
            group_pixels: plan.ny * plan.nx,
            ngroups: plan.ngroups,
        })
    }

    pub fn path(&self) -> &Path {
        &self.out.path
    }

    pub fn segment(&self) -> &Segment {
        &self.seg
    }

    /// Write group `g` of exposure integration `i` (which must belong to this segment).
    pub fn write_group(&mut self, i: usize, g: usize, data: &[u16]) -> frames::Result<()> {
        let local = i - self.seg.int0;
        let start = (local * self.ngroups + g) * self.group_pixels;
        self.out.write_pixels(&self.sci, start, data)
    }

    /// Append the GROUP and INT_TIMES tables, close, and return (path, bytes).
    pub fn finish(mut self, plan: &Plan) -> frames::Result<(PathBuf, u64)> {
        write_group_table(&mut self.out, plan, &self.seg)?;
        write_int_times(&mut self.out, plan, self.seg.int0, self.seg.int1)?;
        self.out.asdf_stub("Level1bModel")?;
        let path = self.out.path.clone();
        let size = self.out.finish()?;
        Ok((path, size))
    }
}

/// GROUP: one row per (integration, group) of the segment, with the end time of the group's last
/// read. Written in blocks so that memory stays bounded for any number of integrations.
fn write_group_table(out: &mut FitsOut, plan: &Plan, seg: &Segment) -> frames::Result<()> {
    let cols = [
        ("integration_number", "1J"),
        ("group_number", "1I"),
        ("end_day", "1I"),
        ("end_milliseconds", "1J"),
        ("end_submilliseconds", "1I"),
        ("group_end_time", "26A"),
        ("number_of_columns", "1I"),
        ("number_of_rows", "1I"),
        ("number_of_gaps", "1I"),
        ("completion_code_number", "1I"),
        ("completion_code_text", "36A"),
        ("bary_end_time", "1D"),
        ("helio_end_time", "1D"),
    ];
    let nrows = (seg.int1 - seg.int0) * plan.ngroups;
    out.table("GROUP", &cols, nrows, &[])?;
    let rows: Vec<(usize, usize)> = (seg.int0..seg.int1)
        .flat_map(|i| (0..plan.ngroups).map(move |g| (i, g)))
        .collect();
    const BLOCK: usize = 8192;
    for (b, chunk) in rows.chunks(BLOCK).enumerate() {
        let first = b * BLOCK + 1;
        let mut int_no = Vec::new();
        let mut grp_no = Vec::new();
        let mut day = Vec::new();
        let mut msec = Vec::new();
        let mut submsec = Vec::new();
        let mut iso = Vec::new();
        let mut bary = Vec::new();
        for &(i, g) in chunk {
            let (start, _, _) = plan.int_times(i);
            let t_end = start + plan.read_frame(g, plan.nframes - 1) as f64 * plan.tframe / 86400.0;
            let msec_f = (t_end - t_end.floor()) * 86_400e3;
            int_no.push((i + 1) as i32);
            grp_no.push((g + 1) as i16);
            // Days since 1958-01-01 (the JWST epoch), folded into an int16 as the DMS does.
            day.push(((t_end.floor() as i64 - 36_204) % 32_768) as i16);
            msec.push(msec_f as i32);
            submsec.push(((msec_f % 1.0) * 1000.0) as i16);
            iso.push(mjd_to_isot(t_end));
            bary.push((t_end + BJD_OFFSET_DAYS) * 86_400.0);
        }
        let n = chunk.len();
        out.col_i32(1, first, &int_no)?;
        out.col_i16(2, first, &grp_no)?;
        out.col_i16(3, first, &day)?;
        out.col_i32(4, first, &msec)?;
        out.col_i16(5, first, &submsec)?;
        out.col_str(6, first, &iso)?;
        out.col_i16(7, first, &vec![plan.nx as i16; n])?;
        out.col_i16(8, first, &vec![plan.ny as i16; n])?;
        out.col_i16(9, first, &vec![0; n])?;
        out.col_i16(10, first, &vec![0; n])?;
        out.col_str(11, first, &vec!["COMPLETE".to_string(); n])?;
        out.col_f64(12, first, &bary)?;
        out.col_f64(13, first, &bary)?;
    }
    Ok(())
}

/// INT_TIMES: start/mid/end of each integration in MJD UTC and (offset) BJD TDB.
pub fn write_int_times(
    out: &mut FitsOut,
    plan: &Plan,
    int0: usize,
    int1: usize,
) -> frames::Result<()> {
    let cols = [
        ("integration_number", "1J"),
        ("int_start_MJD_UTC", "1D"),
        ("int_mid_MJD_UTC", "1D"),
        ("int_end_MJD_UTC", "1D"),
        ("int_start_BJD_TDB", "1D"),
        ("int_mid_BJD_TDB", "1D"),
        ("int_end_BJD_TDB", "1D"),
    ];
    out.table("INT_TIMES", &cols, int1 - int0, &[])?;
    const BLOCK: usize = 8192;
    let mut i0 = int0;
    while i0 < int1 {
        let i1 = (i0 + BLOCK).min(int1);
        let first = i0 - int0 + 1;
        let t: Vec<(f64, f64, f64)> = (i0..i1).map(|i| plan.int_times(i)).collect();
        let num: Vec<i32> = (i0..i1).map(|i| (i + 1) as i32).collect();
        out.col_i32(1, first, &num)?;
        for (c, off) in [(2usize, 0.0), (5, BJD_OFFSET_DAYS)] {
            out.col_f64(c, first, &t.iter().map(|x| x.0 + off).collect::<Vec<_>>())?;
            out.col_f64(
                c + 1,
                first,
                &t.iter().map(|x| x.1 + off).collect::<Vec<_>>(),
            )?;
            out.col_f64(
                c + 2,
                first,
                &t.iter().map(|x| x.2 + off).collect::<Vec<_>>(),
            )?;
        }
        i0 = i1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::config::T0_MJD;
    use super::*;

    #[test]
    fn isot_of_mjd() {
        assert_eq!(mjd_to_isot(T0_MJD), "2024-03-01T00:00:00.000");
        assert_eq!(
            mjd_to_isot(T0_MJD + 0.5 + 0.057 / 86400.0),
            "2024-03-01T12:00:00.057"
        );
        assert_eq!(mjd_to_isot(51544.0), "2000-01-01T00:00:00.000");
    }
}
