//! sloper's quick-look white-light curve for spectroscopic TSOs (`_whtlt.ecsv`).
//!
//! NOT the official product: calwebb_tso3 builds its white light from extract_1d spectra
//! (wavelength calibration, extraction reference, photom for SOSS), which sloper does not run.
//! This is a box extraction straight from the calibrated integrations: per integration, the
//! sum over every column of the rows `ycenter ± half_height` (NaN pixels skipped), minus, per
//! column, the median of background rows on both sides of the box (`bkg_gap` rows away,
//! `bkg_height` rows thick) times the box height. Errors add ERR² over the box. MJy/sr data are
//! converted to Jy with `1e6·PIXAR_SR` as tso_photometry does, so the sum is a flux density.
//! The trace row, when not given, is the brightest row of the first integration (sum of its
//! finite pixels). Everything is per integration: one plane in memory. The catalogue's meta says
//! what it is.

use super::ecsv::{yaml_str, Column, Table};
use super::numeric::median_f32_in_place;
use super::source::ProductInfo;
use stream::plane::{PlaneError, PlaneSink, RatePlane};

/// Box-extraction parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WhiteLightParams {
    /// 0-based trace row; `None`: brightest row of the first integration.
    pub ycenter: Option<f64>,
    pub half_height: usize,
    pub bkg_gap: usize,
    pub bkg_height: usize,
}

impl Default for WhiteLightParams {
    fn default() -> Self {
        WhiteLightParams {
            ycenter: None,
            half_height: 4,
            bkg_gap: 4,
            bkg_height: 4,
        }
    }
}

/// The white-light stage.
pub struct WhiteLightSink {
    params: WhiteLightParams,
    factor: f32,
    unit: String,
    meta: Vec<(String, String)>,
    row: Option<usize>,
    mjd: Vec<f64>,
    bjd: Vec<f64>,
    flux: Vec<f64>,
    err: Vec<f64>,
    table: Option<Table>,
}

impl WhiteLightSink {
    pub fn new(params: WhiteLightParams, info: &ProductInfo) -> Self {
        let (factor, unit) = match (info.bunit_data.as_deref(), info.pixar_sr) {
            (Some("MJy/sr"), Some(sr)) => ((1e6 * sr) as f32, "Jy".to_string()),
            (Some(u), _) => (1.0, u.to_string()),
            (None, _) => (1.0, "DN/s".to_string()),
        };
        let m = &info.meta;
        let s = |v: Option<&str>| v.map_or("null".to_string(), yaml_str);
        let meta = vec![
            ("instrument".into(), s(Some(&m.instrument))),
            ("detector".into(), s(Some(&m.detector))),
            ("exp_type".into(), s(Some(&m.exp_type))),
            ("subarray".into(), s(Some(&m.subarray))),
            ("filter".into(), s(m.filter.as_deref())),
            ("pupil".into(), s(m.pupil.as_deref())),
            ("target_name".into(), s(info.target_name.as_deref())),
        ];
        WhiteLightSink {
            params,
            factor,
            unit,
            meta,
            row: params.ycenter.map(|y| y.round().max(0.0) as usize),
            mjd: Vec::new(),
            bjd: Vec::new(),
            flux: Vec::new(),
            err: Vec::new(),
            table: None,
        }
    }

    pub fn into_table(self) -> Option<Table> {
        self.table
    }

    /// Brightest row: the largest sum of finite pixels.
    fn find_row(p: &RatePlane) -> usize {
        (0..p.ny)
            .map(|y| {
                let s: f64 = p.sci[y * p.nx..(y + 1) * p.nx]
                    .iter()
                    .filter(|v| v.is_finite())
                    .map(|&v| v as f64)
                    .sum();
                (y, s)
            })
            .fold((0, f64::NEG_INFINITY), |a, b| if b.1 > a.1 { b } else { a })
            .0
    }

    fn extract(&self, p: &RatePlane, yc: usize) -> (f64, f64) {
        let h = self.params.half_height;
        let (y0, y1) = (yc.saturating_sub(h), (yc + h + 1).min(p.ny));
        let nrows = (y1 - y0) as f64;
        let g = self.params.bkg_gap;
        let bh = self.params.bkg_height;
        let mut bkg_rows: Vec<usize> = Vec::new();
        if bh > 0 {
            let below_end = y0.saturating_sub(g);
            bkg_rows.extend(below_end.saturating_sub(bh)..below_end);
            let above = (y1 + g).min(p.ny);
            bkg_rows.extend(above..(above + bh).min(p.ny));
        }
        let f = self.factor as f64;
        let (mut flux, mut var) = (0.0f64, 0.0f64);
        let mut col = Vec::new();
        for x in 0..p.nx {
            for y in y0..y1 {
                let v = p.sci[y * p.nx + x];
                if v.is_finite() {
                    flux += v as f64 * f;
                    let e = p.err[y * p.nx + x] as f64 * f;
                    if e.is_finite() {
                        var += e * e;
                    }
                }
            }
            if !bkg_rows.is_empty() {
                col.clear();
                col.extend(
                    bkg_rows
                        .iter()
                        .map(|&y| p.sci[y * p.nx + x])
                        .filter(|v| v.is_finite()),
                );
                let b = median_f32_in_place(&mut col);
                if b.is_finite() {
                    flux -= b as f64 * f * nrows;
                }
            }
        }
        (flux, var.sqrt())
    }
}

impl PlaneSink for WhiteLightSink {
    fn accept(&mut self, p: RatePlane) -> Result<(), PlaneError> {
        let yc = *self.row.get_or_insert_with(|| Self::find_row(&p));
        if yc >= p.ny {
            return Err(PlaneError::Sink(format!(
                "white_light: box_ycenter {yc} is outside the {} rows",
                p.ny
            )));
        }
        let (f, e) = self.extract(&p, yc);
        self.mjd.push(p.times.map_or(f64::NAN, |t| t.mid_mjd_utc));
        self.bjd.push(p.times.map_or(f64::NAN, |t| t.mid_bjd_tdb));
        self.flux.push(f);
        self.err.push(e);
        super::pool::recycle(p);
        Ok(())
    }

    fn finish(&mut self) -> Result<(), PlaneError> {
        let u = Some(self.unit.as_str());
        let mut meta = self.meta.clone();
        let p = self.params;
        meta.push((
            "description".into(),
            yaml_str(&format!(
                "sloper quick-look white light: box extraction of rows {} +- {} (background: \
                 per-column median of {} rows on each side, {} rows away). Not the official \
                 extract_1d + white_light product.",
                self.row.unwrap_or(0),
                p.half_height,
                p.bkg_height,
                p.bkg_gap
            )),
        ));
        self.table = Some(Table {
            columns: vec![
                Column::new("MJD", None, std::mem::take(&mut self.mjd)),
                Column::new("BJD_TDB", None, std::mem::take(&mut self.bjd)),
                Column::new("whitelight_flux", u, std::mem::take(&mut self.flux)),
                Column::new("whitelight_flux_err", u, std::mem::take(&mut self.err)),
            ],
            meta,
        });
        Ok(())
    }
}
