//! photom for NIRCam and NIRISS imaging, including TSO imaging (spec §14.2;
//! `jwst/photom/photom.py`: `calc_nircam`, `calc_niriss`, `photom_io`, `save_area_info`,
//! `time_dependence.py`), one integration plane at a time.
//!
//! The conversion factor is decided once per exposure. Its precision follows the official
//! code's numpy types, because they decide the last bit of every calibrated pixel:
//! * without a time correction the factor is the table's float32 `photmjsr`, and data are
//!   multiplied in float32 (variances by the float32 square);
//! * with one, the factor becomes float64 (`float32 / float64`), and every float32 pixel is
//!   multiplied in float64 and rounded back to float32.
//!
//! The time-dependence terms are evaluated, as numpy does, in float32 (the table columns are
//! float32 and EXPMID enters as a weak Python float); only the product of the terms is float64.

use super::nanmatch::match_nans_and_flags;
use frames::refs::area::AreaRef;
use frames::refs::photom::PhotomRef;
use frames::write::{Card, KeyValue};
use frames::{ExposureMeta, FramesError, Result};
use std::path::Path;
use stream::plane::RatePlane;

/// `(MJy/sr) -> (uJy/arcsec²)`, as astropy computes it (jwst `MJSR_TO_UJA2`).
pub const MJSR_TO_UJA2: f64 = 23.50443053909789;

/// The conversion, in the numeric type the official code ends up with.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Conversion {
    /// The table value, float32 arithmetic.
    F32(f32),
    /// Divided by a time correction: float64 arithmetic.
    F64(f64),
}

impl Conversion {
    pub fn value(self) -> f64 {
        match self {
            Conversion::F32(c) => c as f64,
            Conversion::F64(c) => c,
        }
    }
    /// PHOTUJA2 as the official code computes it (`conversion * MJSR_TO_UJA2`: float32 when
    /// the conversion is a numpy float32, since the Python float is a weak scalar).
    pub fn photuja2(self) -> f64 {
        match self {
            Conversion::F32(c) => (c * MJSR_TO_UJA2 as f32) as f64,
            Conversion::F64(c) => c * MJSR_TO_UJA2,
        }
    }
}

/// What photom does to an exposure, decided once.
#[derive(Debug, Clone)]
pub struct Photom {
    /// `None`: no PHOTOM row matched; the data are left in DN/s (the official step only warns).
    pub conversion: Option<Conversion>,
    pub inverse: bool,
    /// Relative pixel-area map for the AREA extension, (ny·nx) row-major.
    pub area: Option<Vec<f32>>,
    pub pixar_sr: Option<f64>,
    pub pixar_a2: Option<f64>,
    /// Row used, for the log.
    pub row: Option<usize>,
    /// Multiplicative time correction, when one applied.
    pub time_correction: Option<f64>,
}

/// Product of the time-dependence corrections of `row` at `midtime` (MJD), `None` when the
/// reference has no time tables.
fn time_correction(r: &PhotomRef, row: usize, midtime: f64) -> Option<f64> {
    if r.timecoeff_linear.is_none()
        && r.timecoeff_exponential.is_none()
        && r.timecoeff_powerlaw.is_none()
    {
        return None;
    }
    let t = midtime as f32;
    let mut corr = 1.0f64;
    if let Some(l) = &r.timecoeff_linear {
        let p = l[row];
        let c: f32 = 1.0 - p.lossperyear * (t - p.t0) / 365.0;
        corr *= c as f64;
    }
    if let Some(e) = &r.timecoeff_exponential {
        let p = e[row];
        let c: f32 = p.amplitude * (-(t - p.t0) / p.tau).exp() + p.constant;
        corr *= c as f64;
    }
    if let Some(w) = &r.timecoeff_powerlaw {
        let p = w[row];
        let norm: f32 = (365.0 + p.tsoft).powf(p.alpha) / p.year1value;
        let c: f32 = (t - p.t0 + p.tsoft).powf(p.alpha) / norm;
        corr *= c as f64;
    }
    Some(corr)
}

impl Photom {
    /// Decide the calibration of an exposure described by `meta` (and EXPMID, needed only when
    /// the reference has time-dependence tables). `area`: the AREA reference, or `None` for
    /// "N/A" (PIXAR_* then come from the PHOTOM header).
    pub fn new(
        photom_path: &Path,
        photom: &PhotomRef,
        area: Option<&AreaRef>,
        meta: &ExposureMeta,
        expmid: Option<f64>,
        inverse: bool,
        apply_time_correction: bool,
    ) -> Result<Photom> {
        let filter = meta.filter.clone().unwrap_or_default();
        let pupil = meta.pupil.clone().unwrap_or_default();
        let row = match meta.instrument.to_ascii_uppercase().as_str() {
            // calc_nircam matches (filter, pupil[, subarray]); calc_niriss (filter, pupil).
            "NIRCAM" => photom.find_row(photom_path, &filter, &pupil, &meta.subarray)?,
            "NIRISS" => {
                let mut t = photom.clone();
                for r in &mut t.rows {
                    r.subarray = None;
                }
                t.find_row(photom_path, &filter, &pupil, "")?
            }
            other => {
                return Err(FramesError::invalid(
                    photom_path,
                    format!(
                    "photom: sloper calibrates NIRCam and NIRISS imaging only (INSTRUME = {other})"
                ),
                ))
            }
        };
        let (pixar_sr, pixar_a2) = match area {
            Some(a) => (a.pixar_sr, a.pixar_a2),
            None => (photom.pixar_sr, photom.pixar_a2),
        };
        let mut time_corr = None;
        let conversion = match row {
            None => None,
            Some(i) => {
                let c32 = photom.rows[i].photmjsr;
                let corr = if photom.timecoeff_linear.is_some()
                    || photom.timecoeff_exponential.is_some()
                    || photom.timecoeff_powerlaw.is_some()
                {
                    let t = expmid.ok_or_else(|| {
                        FramesError::invalid(
                            photom_path,
                            "photom: the reference has time-dependence tables but the science \
                             file has no EXPMID",
                        )
                    })?;
                    time_correction(photom, i, t)
                } else {
                    None
                };
                match corr {
                    Some(c) if apply_time_correction && c != 1.0 => {
                        time_corr = Some(c);
                        Some(Conversion::F64(c32 as f64 / c))
                    }
                    _ => Some(Conversion::F32(c32)),
                }
            }
        };
        Ok(Photom {
            conversion,
            inverse,
            area: area.map(|a| a.area.iter().copied().collect()),
            pixar_sr,
            pixar_a2,
            row,
            time_correction: time_corr,
        })
    }

    /// BUNIT of the calibrated SCI/ERR.
    pub fn bunit(&self) -> &'static str {
        match (self.conversion, self.inverse) {
            (Some(_), false) => "MJy/sr",
            _ => "DN/s",
        }
    }

    /// SCI-header keywords photom sets (PHOTMJSR, PHOTUJA2, PIXAR_SR, PIXAR_A2).
    pub fn sci_cards(&self) -> Vec<Card> {
        let mut v = Vec::new();
        if let Some(c) = self.conversion {
            v.push(Card::new("PHOTMJSR", KeyValue::Float(c.value())));
            v.push(Card::new("PHOTUJA2", KeyValue::Float(c.photuja2())));
        }
        if let Some(s) = self.pixar_sr {
            v.push(Card::new("PIXAR_SR", KeyValue::Float(s)));
        }
        if let Some(a) = self.pixar_a2 {
            v.push(Card::new("PIXAR_A2", KeyValue::Float(a)));
        }
        v
    }

    /// Calibrate one plane in place (nothing when no row matched, as the official step).
    pub fn apply(&self, p: &mut RatePlane) {
        self.apply_scaled(p, true)
    }

    /// As [`Photom::apply`]; `match_nans` = false skips the final match_nans_and_flags when
    /// the caller knows NaN and DO_NOT_USE already agree.
    pub fn apply_scaled(&self, p: &mut RatePlane, match_nans: bool) {
        let Some(conv) = self.conversion else {
            return;
        };
        let inv = self.inverse;
        match conv {
            Conversion::F32(c) => {
                let c2 = c * c;
                let scale = |v: &mut [f32], k: f32| {
                    for x in v {
                        if inv {
                            *x /= k;
                        } else {
                            *x *= k;
                        }
                    }
                };
                scale(&mut p.sci, c);
                scale(&mut p.err, c);
                scale(&mut p.var_poisson, c2);
                scale(&mut p.var_rnoise, c2);
                if let Some(v) = p.var_flat.as_mut() {
                    scale(v, c2);
                }
            }
            Conversion::F64(c) => {
                let c2 = c * c;
                let scale = |v: &mut [f32], k: f64| {
                    for x in v {
                        *x = if inv { *x as f64 / k } else { *x as f64 * k } as f32;
                    }
                };
                scale(&mut p.sci, c);
                scale(&mut p.err, c);
                scale(&mut p.var_poisson, c2);
                scale(&mut p.var_rnoise, c2);
                if let Some(v) = p.var_flat.as_mut() {
                    scale(v, c2);
                }
            }
        }
        if match_nans {
            match_nans_and_flags(p);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn photuja2_in_float32() {
        // The official PHOTUJA2 for PHOTMJSR = float32(0.217) (golden header value).
        assert_eq!(Conversion::F32(0.217).photuja2(), 5.100461483001709);
        assert_eq!(Conversion::F32(0.217).value(), 0.21699999272823334);
    }
}
