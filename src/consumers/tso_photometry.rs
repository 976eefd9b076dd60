//! tso_photometry (spec §15.2; `jwst/tso_photometry/tso_photometry{,_step}.py`) as a plane
//! stage producing the official `_phot.ecsv` catalogue.
//!
//! Per integration, as it arrives: unit conversion (MJy/sr -> Jy with `1e6·PIXAR_SR`, DN/s ->
//! electrons with `EFFINTTM·gain`, both rounded to float32 as numpy does), the first centroid
//! pass (search box at XREF/YREF), and a [`Cutout`] + [`RankWindow`] kept for later. At the end
//! of the stream, the median of the first-pass centroids is known, and the second pass (fit
//! box, Gaussian PRF), the aperture centre (median of the second-pass centroids, or each
//! integration's own with `moving_centroid`) and the aperture/annulus sums are evaluated from
//! the kept cutouts — exactly what the official code computes on the whole cube. When the
//! centroid wanders outside the kept cutouts, the integrations are read again through the
//! `reread` callback (the `_crfints` product just written).

use super::aperture::{aperture_sums, Aperture, ApertureSums};
use super::centroid::{
    background_full, centroid_com, circle_pixels, psf_fit, Cutout, RankWindow, Subtracted,
};
use super::ecsv::{yaml_str, Column, Table};
use super::numeric::{nanmedian_f64, pairwise_sum};
use super::source::ProductInfo;
use super::wcs::SkyModel;
use stream::plane::{PlaneError, PlaneSink, PlaneTimes, RatePlane};

/// The step's parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PhotometryParams {
    pub radius: f64,
    pub radius_inner: f64,
    pub radius_outer: f64,
    pub centroid_source: bool,
    pub search_box_width: usize,
    pub fit_box_width: usize,
    pub moving_centroid: bool,
}

impl Default for PhotometryParams {
    fn default() -> Self {
        PhotometryParams {
            radius: 3.0,
            radius_inner: 4.0,
            radius_outer: 5.0,
            centroid_source: true,
            search_box_width: 41,
            fit_box_width: 11,
            moving_centroid: false,
        }
    }
}

/// How data are converted before photometry.
#[derive(Debug, Clone)]
pub enum Units {
    /// MJy/sr -> Jy: one float32 factor.
    Jy(f32),
    /// DN/s -> electron: a float32 factor per pixel.
    Electron(Vec<f32>),
    /// Anything else: left as is (the official step warns).
    AsIs(String),
}

impl Units {
    pub fn name(&self) -> &str {
        match self {
            Units::Jy(_) => "Jy",
            Units::Electron(_) => "electron",
            Units::AsIs(u) => u,
        }
    }
}

/// Everything decided before the first integration.
#[derive(Debug, Clone)]
pub struct PhotometrySetup {
    pub params: PhotometryParams,
    /// Planned position, 0-based (XREF_SCI − 1, YREF_SCI − 1).
    pub x_planned: f64,
    pub y_planned: f64,
    pub units: Units,
    pub sky: Option<SkyModel>,
    /// NIRCam SUB64P + WLP8: sum of the whole frame, no background.
    pub sub64p_wlp8: bool,
    /// Catalogue meta (instrument, detector, channel, subarray, filter, pupil, target_name).
    pub meta: Vec<(String, String)>,
}

impl PhotometrySetup {
    /// From a product's keywords; `gain`: the GAIN reference cut to the subarray (needed only
    /// for DN/s data). Errors as the official step: missing XREF_SCI/YREF_SCI or BUNIT.
    pub fn new(
        params: PhotometryParams,
        info: &ProductInfo,
        gain: Option<&[f32]>,
    ) -> Result<PhotometrySetup, String> {
        let mut params = params;
        for b in [&mut params.search_box_width, &mut params.fit_box_width] {
            if *b % 2 == 0 {
                // The official step rounds even widths down, with a warning.
                *b = b.saturating_sub(1);
            }
        }
        let xref = info.xref_sci.ok_or("tso_photometry: XREF_SCI is missing")?;
        let yref = info.yref_sci.ok_or("tso_photometry: YREF_SCI is missing")?;
        let bunit = info
            .bunit_data
            .clone()
            .ok_or("tso_photometry: BUNIT for the data array is missing")?;
        if info.bunit_err.is_none() {
            return Err("tso_photometry: BUNIT for the error array is missing".into());
        }
        let m = &info.meta;
        let units = match bunit.as_str() {
            "MJy/sr" => {
                let sr = info.pixar_sr.ok_or(
                    "tso_photometry: data are in MJy/sr but PIXAR_SR is missing (photom sets it)",
                )?;
                Units::Jy((1e6 * sr) as f32)
            }
            "DN/s" if gain.is_some() => {
                let t = info
                    .meta
                    .effinttm
                    .ok_or("tso_photometry: data are in DN/s but EFFINTTM is missing")?
                    as f32;
                Units::Electron(gain.unwrap_or_default().iter().map(|g| t * g).collect())
            }
            other => Units::AsIs(other.to_string()),
        };
        let s = |v: Option<&str>| v.map_or("null".to_string(), yaml_str);
        let meta = vec![
            ("instrument".into(), s(Some(&m.instrument))),
            ("detector".into(), s(Some(&m.detector))),
            ("channel".into(), s(m.channel.as_deref())),
            ("subarray".into(), s(Some(&m.subarray))),
            ("filter".into(), s(m.filter.as_deref())),
            ("pupil".into(), s(m.pupil.as_deref())),
            ("target_name".into(), s(info.target_name.as_deref())),
        ];
        // Pixel scale: √PIXAR_A2 (set by photom), else the detector's nominal scale.
        let scale = info
            .pixar_a2
            .map(f64::sqrt)
            .or_else(|| super::wcs::nominal_scale(&m.instrument, &m.detector));
        let sky = match (info.siaf, scale) {
            (Some(siaf), Some(scale)) => Some(SkyModel {
                siaf,
                x_ref: xref - 1.0,
                y_ref: yref - 1.0,
                scale,
            }),
            _ => None,
        };
        Ok(PhotometrySetup {
            params,
            x_planned: xref - 1.0,
            y_planned: yref - 1.0,
            units,
            sky,
            sub64p_wlp8: m.pupil.as_deref() == Some("WLP8") && m.subarray == "SUB64P",
            meta,
        })
    }

    /// Convert one plane's data and errors in place (float32, as numpy's in-place multiply).
    pub fn convert(&self, sci: &mut [f32], err: &mut [f32]) {
        match &self.units {
            Units::Jy(f) => {
                for v in sci.iter_mut().chain(err.iter_mut()) {
                    *v *= f;
                }
            }
            Units::Electron(g) => {
                for (v, f) in sci.iter_mut().zip(g) {
                    *v *= f;
                }
                for (v, f) in err.iter_mut().zip(g) {
                    *v *= f;
                }
            }
            Units::AsIs(_) => {}
        }
    }

    fn apertures_text(&self) -> String {
        if self.sub64p_wlp8 {
            "Photometry measured as the sum of all values in the subarray.  No background \
             subtraction was performed."
                .to_string()
        } else {
            let p = &self.params;
            format!(
                "Photometry measured in a circular aperture of r={} pixels.  Background \
                 calculated as the mean in a circular annulus with r_inner={} pixels and \
                 r_outer={} pixels.",
                super::ecsv::py_float(p.radius),
                super::ecsv::py_float(p.radius_inner),
                super::ecsv::py_float(p.radius_outer)
            )
        }
    }
}

/// Second-pass centroid (x, y) and Gaussian fit (sigma_x, sigma_y, flux) of one integration.
type SecondPass = ((f64, f64), (f64, f64, f64));

/// What is kept of one integration until the end of the stream.
struct Kept {
    times: Option<PlaneTimes>,
    c1: (f64, f64),
    cut: Cutout,
    rank: RankWindow,
    /// SUB64P/WLP8: (nansum data, sqrt(nansum err²)) in float32.
    whole: Option<(f32, f32)>,
}

/// Re-read integration `k` of the stream (already flagged), for the rare fallback.
pub type Reread<'a> = Box<dyn FnMut(usize) -> anyhow::Result<RatePlane> + 'a>;

/// tso_photometry as a [`PlaneSink`]; the catalogue is available after `finish`.
pub struct PhotometrySink<'a> {
    setup: PhotometrySetup,
    kept: Vec<Kept>,
    reread: Option<Reread<'a>>,
    scratch: Vec<f32>,
    /// Half-size of the kept cutout around the planned position.
    half: usize,
    table: Option<Table>,
    /// Median centroid used (or the planned position), for the log.
    pub centre: Option<(f64, f64)>,
    /// Integrations that needed the fallback re-read.
    pub reread_count: usize,
}

impl<'a> PhotometrySink<'a> {
    pub fn new(setup: PhotometrySetup, reread: Option<Reread<'a>>) -> Self {
        let p = &setup.params;
        let half = p.search_box_width / 2 + p.fit_box_width + p.radius_outer.ceil() as usize + 3;
        PhotometrySink {
            setup,
            kept: Vec::new(),
            reread,
            scratch: Vec::new(),
            half,
            table: None,
            centre: None,
            reread_count: 0,
        }
    }

    /// The catalogue (after `finish`).
    pub fn table(&self) -> Option<&Table> {
        self.table.as_ref()
    }
    pub fn into_table(self) -> Option<Table> {
        self.table
    }

    fn rank_margin(&self) -> usize {
        let r = self.setup.params.radius_inner.ceil() as usize;
        (2 * r + 1) * (2 * r + 1) + 2
    }

    fn keep(&mut self, p: &mut RatePlane) -> Kept {
        self.setup.convert(&mut p.sci, &mut p.err);
        let (ny, nx) = (p.ny, p.nx);
        let (xp, yp) = (self.setup.x_planned, self.setup.y_planned);
        let par = self.setup.params;
        let whole = self.setup.sub64p_wlp8.then(|| {
            let d: Vec<f32> = p
                .sci
                .iter()
                .map(|v| if v.is_nan() { 0.0 } else { *v })
                .collect();
            let e: Vec<f32> = p
                .err
                .iter()
                .map(|v| if v.is_nan() { 0.0 } else { v * v })
                .collect();
            (pairwise_sum(&d), pairwise_sum(&e).sqrt())
        });
        let c1 = if par.centroid_source {
            let bg = background_full(&p.sci, ny, nx, xp, yp, par.radius_inner, &mut self.scratch);
            // Only the search box is read by the centre of mass.
            let b = par.search_box_width;
            let rows = super::centroid::box_bounds(yp, b, ny).unwrap_or((0, 0));
            let cols = super::centroid::box_bounds(xp, b, nx).unwrap_or((0, 0));
            let boxed = Cutout::take(ny, nx, &p.sci, &p.err, &p.dq, rows, cols);
            let img = Subtracted {
                cut: &boxed,
                background: bg,
            };
            centroid_com(&img, xp, yp, par.search_box_width).unwrap_or((f64::NAN, f64::NAN))
        } else {
            (f64::NAN, f64::NAN)
        };
        let h = self.half as f64;
        let lo = |c: f64| (c - h).floor().max(0.0) as usize;
        let hi = |c: f64| (c + h).ceil().max(0.0) as usize + 1;
        let cut = Cutout::take(
            ny,
            nx,
            &p.sci,
            &p.err,
            &p.dq,
            (lo(yp), hi(yp)),
            (lo(xp), hi(xp)),
        );
        let rank = RankWindow::new(&p.sci, self.rank_margin(), &mut self.scratch);
        Kept {
            times: p.times,
            c1,
            cut,
            rank,
            whole,
        }
    }

    /// Replace integration `k`'s cutout with the whole frame (fallback).
    fn widen(&mut self, k: usize) -> Result<(), PlaneError> {
        let f = self.reread.as_mut().ok_or_else(|| {
            PlaneError::Sink(format!(
                "tso_photometry: integration {k}: the centroid left the region kept in memory and \
                 the integrations cannot be read again; run `sloper tso3` on the _crfints file"
            ))
        })?;
        let mut p = f(k).map_err(|e| PlaneError::Sink(format!("tso_photometry: {e:#}")))?;
        self.setup.convert(&mut p.sci, &mut p.err);
        let (ny, nx) = (p.ny, p.nx);
        self.kept[k].cut = Cutout::take(ny, nx, &p.sci, &p.err, &p.dq, (0, ny), (0, nx));
        self.kept[k].rank = RankWindow::new(&p.sci, ny * nx, &mut self.scratch);
        self.reread_count += 1;
        Ok(())
    }

    /// Background of integration `k` outside the circle of `radius_inner` around (xc, yc).
    fn background(&self, k: usize, xc: f64, yc: f64) -> Option<f32> {
        let kept = &self.kept[k];
        let c = &kept.cut;
        let pix = circle_pixels(c.ny, c.nx, xc, yc, self.setup.params.radius_inner);
        let mut excluded = Vec::with_capacity(pix.len());
        for (y, x) in pix {
            if !super::aperture::Pixels::holds(c, y, x) {
                return None;
            }
            excluded.push(super::aperture::Pixels::data(c, y, x));
        }
        kept.rank.median_excluding(&excluded)
    }

    /// Second pass for integration `k` around `g`: (centroid, psf) or `None` when the cutout is
    /// too small.
    fn second_pass(&self, k: usize, g: (f64, f64)) -> Option<SecondPass> {
        let bg = self.background(k, g.0, g.1)?;
        let img = Subtracted {
            cut: &self.kept[k].cut,
            background: bg,
        };
        let fb = self.setup.params.fit_box_width;
        let c = centroid_com(&img, g.0, g.1, fb)?;
        let psf = if c.0.is_nan() || c.1.is_nan() {
            (f64::NAN, f64::NAN, f64::NAN)
        } else {
            psf_fit(&img, c.0, c.1, fb)?
        };
        Some((c, psf))
    }

    fn sums(&self, k: usize, xc: f64, yc: f64) -> Option<(ApertureSums, ApertureSums)> {
        let p = &self.setup.params;
        let c = &self.kept[k].cut;
        let a = aperture_sums(
            c,
            &Aperture::Circle {
                x: xc,
                y: yc,
                r: p.radius,
            },
        )?;
        let b = aperture_sums(
            c,
            &Aperture::Annulus {
                x: xc,
                y: yc,
                r_in: p.radius_inner,
                r_out: p.radius_outer,
            },
        )?;
        Some((a, b))
    }

    fn build(&mut self) -> Result<Table, PlaneError> {
        let n = self.kept.len();
        let par = self.setup.params;
        let (xp, yp) = (self.setup.x_planned, self.setup.y_planned);
        // --- centroids ---
        let mut centroids: Option<(Vec<f64>, Vec<f64>)> = None;
        let mut psf: Option<[Vec<f64>; 3]> = None;
        let (mut xc, mut yc) = (vec![xp; n], vec![yp; n]);
        if par.centroid_source {
            let c1x: Vec<f64> = self.kept.iter().map(|k| k.c1.0).collect();
            let c1y: Vec<f64> = self.kept.iter().map(|k| k.c1.1).collect();
            if c1x.iter().all(|v| !v.is_finite()) || c1y.iter().all(|v| !v.is_finite()) {
                // "Source could not be centroided": first-pass centroids, no PSF columns.
                centroids = Some((c1x, c1y));
            } else {
                let g = (nanmedian_f64(&c1x), nanmedian_f64(&c1y));
                let mut cx = vec![f64::NAN; n];
                let mut cy = vec![f64::NAN; n];
                let mut ps = [vec![f64::NAN; n], vec![f64::NAN; n], vec![f64::NAN; n]];
                for k in 0..n {
                    let r = match self.second_pass(k, g) {
                        Some(r) => r,
                        None => {
                            self.widen(k)?;
                            self.second_pass(k, g).ok_or_else(|| {
                                PlaneError::Sink(format!(
                                    "tso_photometry: integration {k}: second centroid pass failed"
                                ))
                            })?
                        }
                    };
                    (cx[k], cy[k]) = r.0;
                    (ps[0][k], ps[1][k], ps[2][k]) = r.1;
                }
                centroids = Some((cx, cy));
                psf = Some(ps);
            }
            if let Some((cx, cy)) = &centroids {
                if cx.iter().all(|v| v.is_nan()) || cy.iter().all(|v| v.is_nan()) {
                    // planned centre
                } else if !par.moving_centroid {
                    let (mx, my) = (nanmedian_f64(cx), nanmedian_f64(cy));
                    xc = vec![mx; n];
                    yc = vec![my; n];
                } else {
                    xc = cx.clone();
                    yc = cy.clone();
                }
            }
        }
        self.centre = Some((nanmedian_f64(&xc), nanmedian_f64(&yc)));
        // --- photometry ---
        let mut cols: Vec<Vec<f64>> = (0..6).map(|_| Vec::with_capacity(n)).collect();
        for k in 0..n {
            if self.setup.sub64p_wlp8 {
                let (s, e) = self.kept[k].whole.unwrap_or((f32::NAN, f32::NAN));
                cols[0].push(s as f64);
                cols[1].push(e as f64);
                continue;
            }
            let (a, b) = match self.sums(k, xc[k], yc[k]) {
                Some(v) => v,
                None => {
                    self.widen(k)?;
                    self.sums(k, xc[k], yc[k]).ok_or_else(|| {
                        PlaneError::Sink(format!("tso_photometry: integration {k}: no photometry"))
                    })?
                }
            };
            cols[0].push(a.sum);
            cols[1].push(a.sum_err);
            cols[2].push(a.sum_aper_area);
            cols[3].push(b.sum);
            cols[4].push(b.sum_err);
            cols[5].push(b.sum_aper_area);
        }
        // --- table ---
        let unit = self.setup.units.name().to_string();
        let u = Some(unit.as_str());
        let mut t = Table::default();
        let times = |f: fn(&PlaneTimes) -> f64| -> Vec<f64> {
            self.kept
                .iter()
                .map(|k| k.times.as_ref().map_or(f64::NAN, f))
                .collect()
        };
        t.columns
            .push(Column::new("MJD", None, times(|t| t.mid_mjd_utc)));
        t.columns
            .push(Column::new("BJD_TDB", None, times(|t| t.mid_bjd_tdb)));
        t.columns
            .push(Column::new("aperture_sum", u, cols[0].clone()));
        t.columns
            .push(Column::new("aperture_sum_err", u, cols[1].clone()));
        if !self.setup.sub64p_wlp8 {
            let (asum, aerr, aarea) = (&cols[0], &cols[1], &cols[2]);
            let (bsum, berr, barea) = (&cols[3], &cols[4], &cols[5]);
            let mean: Vec<f64> = (0..n).map(|i| bsum[i] / barea[i]).collect();
            let mean_err: Vec<f64> = (0..n).map(|i| berr[i] / barea[i]).collect();
            let bkg: Vec<f64> = (0..n).map(|i| mean[i] * aarea[i]).collect();
            let bkg_err: Vec<f64> = (0..n).map(|i| mean_err[i] * aarea[i]).collect();
            let net: Vec<f64> = (0..n).map(|i| asum[i] - bkg[i]).collect();
            let net_err: Vec<f64> = (0..n)
                .map(|i| (aerr[i] * aerr[i] + bkg_err[i] * bkg_err[i]).sqrt())
                .collect();
            t.columns.push(Column::new("annulus_sum", u, bsum.clone()));
            t.columns
                .push(Column::new("annulus_sum_err", u, berr.clone()));
            t.columns.push(Column::new("annulus_mean", u, mean));
            t.columns.push(Column::new("annulus_mean_err", u, mean_err));
            t.columns.push(Column::new("aperture_bkg", u, bkg));
            t.columns.push(Column::new("aperture_bkg_err", u, bkg_err));
            t.columns.push(Column::new("net_aperture_sum", u, net));
            t.columns
                .push(Column::new("net_aperture_sum_err", u, net_err));
        } else {
            for c in [
                "annulus_sum",
                "annulus_sum_err",
                "annulus_mean",
                "annulus_mean_err",
                "aperture_bkg",
                "aperture_bkg_err",
            ] {
                t.columns.push(Column::new(c, None, vec![f64::NAN; n]));
            }
            t.columns
                .push(Column::new("net_aperture_sum", u, cols[0].clone()));
            t.columns
                .push(Column::new("net_aperture_sum_err", u, cols[1].clone()));
        }
        t.columns
            .push(Column::new("aperture_x", Some("pix"), xc.clone()));
        t.columns
            .push(Column::new("aperture_y", Some("pix"), yc.clone()));
        let (ra, dec): (Vec<f64>, Vec<f64>) = match &self.setup.sky {
            Some(s) => (0..n).map(|i| s.sky(xc[i], yc[i])).unzip(),
            None => (vec![f64::NAN; n], vec![f64::NAN; n]),
        };
        t.columns
            .push(Column::new("aperture_ra_icrs", Some("deg"), ra));
        t.columns
            .push(Column::new("aperture_dec_icrs", Some("deg"), dec));
        if let Some((cx, cy)) = centroids {
            t.columns.push(Column::new("centroid_x", Some("pix"), cx));
            t.columns.push(Column::new("centroid_y", Some("pix"), cy));
        }
        if let Some([wx, wy, fl]) = psf {
            t.columns.push(Column::new("psf_width_x", Some("pix"), wx));
            t.columns.push(Column::new("psf_width_y", Some("pix"), wy));
            t.columns.push(Column::new("psf_flux", u, fl));
        }
        t.meta = self.setup.meta.clone();
        t.meta
            .push(("apertures".into(), yaml_str(&self.setup.apertures_text())));
        Ok(t)
    }
}

impl PlaneSink for PhotometrySink<'_> {
    fn accept(&mut self, mut plane: RatePlane) -> Result<(), PlaneError> {
        let k = self.keep(&mut plane);
        self.kept.push(k);
        super::pool::recycle(plane);
        Ok(())
    }

    fn finish(&mut self) -> Result<(), PlaneError> {
        let t = self.build()?;
        self.table = Some(t);
        self.kept.clear();
        Ok(())
    }
}
