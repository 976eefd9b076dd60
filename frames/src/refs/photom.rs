//! PHOTOM reference for NIRCam/NIRISS imaging (photom, spec §14.2): the PHOTOM table, optional
//! time-dependence tables, and PIXAR_SR/PIXAR_A2.

use std::path::Path;

use super::cfits::CFits;
use super::common;
use crate::{FramesError, Result};

/// One row of the PHOTOM table.
#[derive(Debug, Clone, PartialEq)]
pub struct PhotomRow {
    /// Upper-cased, trailing blanks removed (as the official match compares).
    pub filter: String,
    pub pupil: String,
    /// Present only when the table has a `subarray` column (newer files).
    pub subarray: Option<String>,
    /// MJy/sr per DN/s.
    pub photmjsr: f32,
    pub uncertainty: f32,
}

/// `TIMECOEFF_LINEAR` row: `1 − lossperyear·(t − t0)/365`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimeLinear {
    pub t0: f32,
    pub lossperyear: f32,
}

/// `TIMECOEFF_EXPONENTIAL` row: `amplitude·exp(−(t − t0)/tau) + const`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimeExponential {
    pub t0: f32,
    pub amplitude: f32,
    pub tau: f32,
    pub constant: f32,
}

/// `TIMECOEFF_POWERLAW` row: `(t − t0 + tsoft)^alpha / ((365 + tsoft)^alpha / year1value)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimePowerlaw {
    pub t0: f32,
    pub year1value: f32,
    pub tsoft: f32,
    pub alpha: f32,
}

/// A PHOTOM reference. Time tables, when present, have one row per PHOTOM row (the official
/// model validation requires it; checked here).
#[derive(Debug, Clone)]
pub struct PhotomRef {
    pub rows: Vec<PhotomRow>,
    pub timecoeff_linear: Option<Vec<TimeLinear>>,
    pub timecoeff_exponential: Option<Vec<TimeExponential>>,
    pub timecoeff_powerlaw: Option<Vec<TimePowerlaw>>,
    pub pixar_sr: Option<f64>,
    pub pixar_a2: Option<f64>,
}

impl PhotomRef {
    /// Load `path` (REFTYPE PHOTOM).
    pub fn load(path: &Path) -> Result<Self> {
        let mut cf = common::open_ref(path, "PHOTOM")?;
        let pixar_sr = cf.key_f64("PIXAR_SR")?;
        let pixar_a2 = cf.key_f64("PIXAR_A2")?;
        cf.require("PHOTOM")?;
        let filter = upper(cf.column_str("filter")?);
        let pupil = upper(cf.column_str("pupil")?);
        let subarray = match cf.column("subarray")? {
            Some(_) => Some(upper(cf.column_str("subarray")?)),
            None => None,
        };
        let photmjsr = cf.column_f32("photmjsr")?;
        let uncertainty = cf.column_f32("uncertainty")?;
        let n = filter.len();
        let rows = (0..n)
            .map(|i| PhotomRow {
                filter: filter[i].clone(),
                pupil: pupil[i].clone(),
                subarray: subarray.as_ref().map(|s| s[i].clone()),
                photmjsr: photmjsr[i],
                uncertainty: uncertainty[i],
            })
            .collect();
        let timecoeff_linear = time_table(&mut cf, "TIMECOEFF_LINEAR", n, &["t0", "lossperyear"])?
            .map(|c| {
                (0..n)
                    .map(|i| TimeLinear {
                        t0: c[0][i],
                        lossperyear: c[1][i],
                    })
                    .collect()
            });
        let timecoeff_exponential = time_table(
            &mut cf,
            "TIMECOEFF_EXPONENTIAL",
            n,
            &["t0", "amplitude", "tau", "const"],
        )?
        .map(|c| {
            (0..n)
                .map(|i| TimeExponential {
                    t0: c[0][i],
                    amplitude: c[1][i],
                    tau: c[2][i],
                    constant: c[3][i],
                })
                .collect()
        });
        let timecoeff_powerlaw = time_table(
            &mut cf,
            "TIMECOEFF_POWERLAW",
            n,
            &["t0", "year1value", "tsoft", "alpha"],
        )?
        .map(|c| {
            (0..n)
                .map(|i| TimePowerlaw {
                    t0: c[0][i],
                    year1value: c[1][i],
                    tsoft: c[2][i],
                    alpha: c[3][i],
                })
                .collect()
        });
        Ok(PhotomRef {
            rows,
            timecoeff_linear,
            timecoeff_exponential,
            timecoeff_powerlaw,
            pixar_sr,
            pixar_a2,
        })
    }

    /// Whether the table has a `subarray` column (then NIRCam imaging also matches on it).
    pub fn has_subarray_column(&self) -> bool {
        self.rows.first().is_some_and(|r| r.subarray.is_some())
    }

    /// The official `find_row` for NIRCam imaging: rows whose filter and pupil (and subarray,
    /// when the column exists) equal the science values upper-cased. `Ok(None)` when no row
    /// matches (photom then only warns); more than one match is an error, as in the official
    /// step.
    pub fn find_row(
        &self,
        path: &Path,
        filter: &str,
        pupil: &str,
        subarray: &str,
    ) -> Result<Option<usize>> {
        let (f, p, s) = (
            filter.to_uppercase(),
            pupil.to_uppercase(),
            subarray.to_uppercase(),
        );
        let hits: Vec<usize> = self
            .rows
            .iter()
            .enumerate()
            .filter(|(_, r)| {
                r.filter == f && r.pupil == p && r.subarray.as_ref().is_none_or(|rs| *rs == s)
            })
            .map(|(i, _)| i)
            .collect();
        match hits.len() {
            0 => Ok(None),
            1 => Ok(Some(hits[0])),
            n => Err(FramesError::invalid(
                path,
                format!("expected one PHOTOM row for {f}/{p}/{s}, found {n}"),
            )),
        }
    }
}

fn upper(v: Vec<String>) -> Vec<String> {
    v.into_iter().map(|s| s.to_uppercase()).collect()
}

fn time_table(
    cf: &mut CFits,
    ext: &str,
    nrows: usize,
    cols: &[&str],
) -> Result<Option<Vec<Vec<f32>>>> {
    if !cf.goto_name(ext)? {
        return Ok(None);
    }
    let n = cf.table_rows()?;
    if n != nrows {
        return Err(FramesError::invalid(
            cf.path(),
            format!("{ext} has {n} rows but PHOTOM has {nrows}"),
        ));
    }
    let mut out = Vec::with_capacity(cols.len());
    for c in cols {
        out.push(cf.column_f32(c)?);
    }
    Ok(Some(out))
}
