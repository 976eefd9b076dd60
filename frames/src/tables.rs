//! The two per-exposure binary tables JWST raw files carry: `INT_TIMES` (one row per
//! integration; copied into rateints and used by TSO photometry for its time columns) and
//! `GROUP` (one row per (integration, group); copied into the ramp product).
//!
//! Absent table -> `Ok(None)`; a table that is there but lacks a column, has a non-scalar or
//! wrong-typed column, or declares more rows than the file holds -> an error naming the file.

use crate::error::Result;
use crate::fits::FitsReader;

/// One row of `INT_TIMES` (times of one integration).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IntTimesRow {
    /// 1-based integration number within the whole exposure.
    pub integration_number: i32,
    pub int_start_mjd_utc: f64,
    pub int_mid_mjd_utc: f64,
    pub int_end_mjd_utc: f64,
    pub int_start_bjd_tdb: f64,
    pub int_mid_bjd_tdb: f64,
    pub int_end_bjd_tdb: f64,
}

/// The `INT_TIMES` table.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct IntTimes {
    pub rows: Vec<IntTimesRow>,
}

impl IntTimes {
    /// Column names and FITS formats, in file order (for writers that copy the table).
    pub const COLUMNS: [(&'static str, &'static str); 7] = [
        ("integration_number", "J"),
        ("int_start_MJD_UTC", "D"),
        ("int_mid_MJD_UTC", "D"),
        ("int_end_MJD_UTC", "D"),
        ("int_start_BJD_TDB", "D"),
        ("int_mid_BJD_TDB", "D"),
        ("int_end_BJD_TDB", "D"),
    ];

    /// Reads `INT_TIMES` from an opened file.
    pub fn read(r: &mut FitsReader) -> Result<Option<IntTimes>> {
        const T: &str = "INT_TIMES";
        let Some(hdu) = r.find_hdu(T)? else {
            return Ok(None);
        };
        let n = r.table_rows(hdu)?;
        let num = r.column_i64(hdu, T, "integration_number", n)?;
        let mut f = |c: &str| r.column_f64(hdu, T, c, n);
        let (s_utc, m_utc, e_utc) = (
            f("int_start_MJD_UTC")?,
            f("int_mid_MJD_UTC")?,
            f("int_end_MJD_UTC")?,
        );
        let (s_tdb, m_tdb, e_tdb) = (
            f("int_start_BJD_TDB")?,
            f("int_mid_BJD_TDB")?,
            f("int_end_BJD_TDB")?,
        );
        let rows = (0..n)
            .map(|i| IntTimesRow {
                integration_number: num[i] as i32,
                int_start_mjd_utc: s_utc[i],
                int_mid_mjd_utc: m_utc[i],
                int_end_mjd_utc: e_utc[i],
                int_start_bjd_tdb: s_tdb[i],
                int_mid_bjd_tdb: m_tdb[i],
                int_end_bjd_tdb: e_tdb[i],
            })
            .collect();
        Ok(Some(IntTimes { rows }))
    }

    /// The row of 1-based integration `number`, if present.
    pub fn row(&self, number: usize) -> Option<&IntTimesRow> {
        self.rows
            .iter()
            .find(|r| r.integration_number as i64 == number as i64)
    }
}

/// One row of the `GROUP` table (one group of one integration).
#[derive(Debug, Clone, PartialEq)]
pub struct GroupRow {
    pub integration_number: i32,
    pub group_number: i16,
    pub end_day: i16,
    pub end_milliseconds: i32,
    pub end_submilliseconds: i16,
    pub group_end_time: String,
    pub number_of_columns: i16,
    pub number_of_rows: i16,
    pub number_of_gaps: i16,
    pub completion_code_number: i16,
    pub completion_code_text: String,
    pub bary_end_time: f64,
    pub helio_end_time: f64,
}

/// The `GROUP` table.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GroupTable {
    pub rows: Vec<GroupRow>,
}

impl GroupTable {
    /// Column names and FITS formats, in file order (level1b schema).
    pub const COLUMNS: [(&'static str, &'static str); 13] = [
        ("integration_number", "J"),
        ("group_number", "I"),
        ("end_day", "I"),
        ("end_milliseconds", "J"),
        ("end_submilliseconds", "I"),
        ("group_end_time", "26A"),
        ("number_of_columns", "I"),
        ("number_of_rows", "I"),
        ("number_of_gaps", "I"),
        ("completion_code_number", "I"),
        ("completion_code_text", "36A"),
        ("bary_end_time", "D"),
        ("helio_end_time", "D"),
    ];

    /// Reads `GROUP` from an opened file.
    pub fn read(r: &mut FitsReader) -> Result<Option<GroupTable>> {
        const T: &str = "GROUP";
        let Some(hdu) = r.find_hdu(T)? else {
            return Ok(None);
        };
        let n = r.table_rows(hdu)?;
        let mut int = |c: &str| r.column_i64(hdu, T, c, n);
        let integration_number = int("integration_number")?;
        let group_number = int("group_number")?;
        let end_day = int("end_day")?;
        let end_ms = int("end_milliseconds")?;
        let end_subms = int("end_submilliseconds")?;
        let ncols = int("number_of_columns")?;
        let nrows = int("number_of_rows")?;
        let ngaps = int("number_of_gaps")?;
        let code = int("completion_code_number")?;
        let end_time = r.column_str(hdu, T, "group_end_time", n)?;
        let code_text = r.column_str(hdu, T, "completion_code_text", n)?;
        let bary = r.column_f64(hdu, T, "bary_end_time", n)?;
        let helio = r.column_f64(hdu, T, "helio_end_time", n)?;
        // The FITS types are I (16-bit) and J (32-bit); cfitsio has already range-checked the
        // values it converted, so the narrowing below only undoes our i64 read.
        let rows = (0..n)
            .map(|i| GroupRow {
                integration_number: integration_number[i] as i32,
                group_number: group_number[i] as i16,
                end_day: end_day[i] as i16,
                end_milliseconds: end_ms[i] as i32,
                end_submilliseconds: end_subms[i] as i16,
                group_end_time: end_time[i].clone(),
                number_of_columns: ncols[i] as i16,
                number_of_rows: nrows[i] as i16,
                number_of_gaps: ngaps[i] as i16,
                completion_code_number: code[i] as i16,
                completion_code_text: code_text[i].clone(),
                bary_end_time: bary[i],
                helio_end_time: helio[i],
            })
            .collect();
        Ok(Some(GroupTable { rows }))
    }
}
