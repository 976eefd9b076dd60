//! Integration and exposure combination (spec §12.6, §12.8) and the two driver entry points.
//!
//! Since stcal 1.19 (JP-4318) segment slopes are combined with inverse *read-noise* variance
//! weights only, so the rateints SCI and VAR_RNOISE and the rate SCI/VAR_RNOISE sums are known
//! integration by integration. The Poisson terms wait for the pixel's mean median rate; they are
//! rebuilt from the per-integration records in the same order the C code adds them.

use frames::dq::{
    DO_NOT_USE, G_CHARGELOSS, G_DO_NOT_USE, G_SATURATED, JUMP_DET, PERSISTENCE, SATURATED,
};

use super::fit::{segment_slope, segment_var_p, segment_var_r, PixelFit, PixelMemo};
use super::median_rate::integration_median_rate;
use super::record;
use super::segments::{find_segments, prepare_integration, Segment, Timing};
use super::{FitConfig, FitValues, PixelConsts, RampFitConfigError};

/// Variances at or above this are reported as 0 (the C code's LARGE_VARIANCE_THRESHOLD).
pub(crate) const LARGE_VARIANCE: f64 = 1.0e6;

/// Per-thread work buffers, sized once per exposure: fitting a pixel allocates nothing.
#[derive(Debug, Clone)]
pub struct RampScratch {
    orig: Vec<u8>,
    dq: Vec<u8>,
    data: Vec<f64>,
    sort: Vec<f64>,
    segs: Vec<Segment>,
    chargeloss_segs: Vec<Segment>,
    /// Record stream of the pixel being fitted by [`fit_pixel`].
    records: Vec<u16>,
    /// Per-pixel constants of the pixel being fitted.
    memo: PixelMemo,
}

impl RampScratch {
    pub fn new(cfg: &FitConfig) -> Self {
        let n = cfg.ngroups;
        RampScratch {
            orig: vec![0; n],
            dq: vec![0; n],
            data: vec![0.0; n],
            sort: vec![0.0; n],
            segs: Vec::with_capacity(n),
            chargeloss_segs: Vec::with_capacity(n),
            records: Vec::with_capacity(cfg.nints * 2 + 8),
            memo: PixelMemo::default(),
        }
    }
}

/// One integration of one pixel, as the fit reads it.
#[derive(Debug, Clone, Copy)]
pub struct IntegrationRamp<'a> {
    /// NGROUPS values, DN, after every Stage-1 correction.
    pub ramp: &'a [f32],
    /// NGROUPS final GROUPDQ values.
    pub gdq: &'a [u8],
    /// This integration's ZEROFRAME value, if the exposure has a ZEROFRAME.
    pub zeroframe: Option<f32>,
}

/// The rateints values of one integration that are final as soon as it is fitted.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct IntegEarly {
    pub sci: f32,
    pub dq: u32,
    pub var_rnoise: f32,
}

/// The rateints values that need the whole exposure (the pixel's mean median rate).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct IntegLate {
    pub var_poisson: f32,
    pub err: f32,
}

/// Everything one pixel carries from integration to integration (fixed size, `Copy`): running
/// sums in integration order plus the rate DQ bookkeeping.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PixelAccumulator {
    ints_done: u32,
    /// Σ per-integration median rates (NaN counted as 0 unless NGROUPS == 1).
    median_sum: f64,
    /// Σ over integrations of Σ_seg slope/var_r.
    slope_num: f64,
    /// Σ over integrations of Σ_seg 1/var_r.
    inv_var_r: f64,
    rate_dq: u32,
    dnu_ints: u32,
    sat_ints: u32,
    any_saturated_group: bool,
    /// CHARGELOSS pass: some integration had CHARGELOSS groups.
    chargeloss: bool,
    /// CHARGELOSS pass: Σ inverse read-noise variance, recomputed integrations included.
    chargeloss_inv_var_r: f64,
}

impl PixelAccumulator {
    pub fn new(cfg: &FitConfig, px: &PixelConsts) -> Self {
        let pf = PixelFit::new(cfg, px);
        PixelAccumulator {
            ints_done: 0,
            median_sum: 0.0,
            slope_num: 0.0,
            inv_var_r: 0.0,
            rate_dq: pf.pixel_dq,
            dnu_ints: 0,
            sat_ints: 0,
            any_saturated_group: false,
            chargeloss: false,
            chargeloss_inv_var_r: 0.0,
        }
    }

    /// Number of integrations pushed so far.
    pub fn integrations_done(&self) -> usize {
        self.ints_done as usize
    }

    /// Fits the next integration of this pixel. Appends the integration's record to `records`
    /// and returns the rateints values that are final now.
    ///
    /// # Panics
    /// If `input.ramp` or `input.gdq` is shorter than NGROUPS (a driver bug, not bad input).
    pub fn push_integration(
        &mut self,
        cfg: &FitConfig,
        px: &PixelConsts,
        input: IntegrationRamp<'_>,
        scratch: &mut RampScratch,
        records: &mut Vec<u16>,
    ) -> IntegEarly {
        let n = cfg.ngroups;
        assert!(
            input.ramp.len() >= n && input.gdq.len() >= n,
            "ramp_fit: integration shorter than NGROUPS"
        );
        let pf = scratch.memo.select(cfg, px);
        if let Some(c) = super::clean::fit_clean(cfg, &mut scratch.memo, input.ramp, input.gdq) {
            return self.push_clean(pf.pixel_dq, n, c, records);
        }
        self.push_general(cfg, &pf, input, scratch, records)
    }

    /// [`push_integration`](Self::push_integration) by the general path, for the pixel
    /// selected in `scratch.memo` (whose constants are `pf`).
    fn push_general(
        &mut self,
        cfg: &FitConfig,
        pf: &PixelFit,
        input: IntegrationRamp<'_>,
        scratch: &mut RampScratch,
        records: &mut Vec<u16>,
    ) -> IntegEarly {
        let IntegrationRamp {
            ramp,
            gdq,
            zeroframe,
        } = input;
        let n = cfg.ngroups;
        let RampScratch {
            orig,
            dq: wdq,
            data,
            sort,
            segs,
            chargeloss_segs,
            memo,
            ..
        } = scratch;
        let (stats, timing) = prepare_integration(cfg, ramp, gdq, zeroframe, orig, wdq, data);
        let (wdq, data) = (&wdq[..n], &data[..n]);

        self.median_sum += integration_median_rate(cfg, data, wdq, timing, sort);
        self.ints_done += 1;

        let mut dq = pf.pixel_dq;
        if stats.jump {
            dq |= JUMP_DET;
            self.rate_dq |= JUMP_DET;
        }
        if stats.persistence {
            dq |= PERSISTENCE;
            self.rate_dq |= PERSISTENCE;
        }

        // An integration saturated in group 0 has no slope.
        let mut sci = 0.0f64;
        if wdq[0] & G_SATURATED != 0 {
            dq |= DO_NOT_USE | SATURATED;
            sci = f64::NAN;
            segs.clear();
        } else {
            find_segments(wdq, segs);
        }

        let mut var_rnoise = 0.0f64;
        let mut fitted = false;
        if stats.dnu_or_sat == n as i64 {
            dq |= DO_NOT_USE;
            if stats.saturated == n {
                dq |= SATURATED;
            }
        } else if !segs.is_empty() {
            fitted = true;
            let (mut inv_var_r, mut slope_num) = (0.0f64, 0.0f64);
            for &seg in segs.iter() {
                let slope = segment_slope(cfg, memo, data, seg, timing);
                let (var_r, inv) = memo.var_r(cfg, seg.len, timing);
                inv_var_r += inv;
                slope_num += slope / var_r;
            }
            var_rnoise = 1.0 / inv_var_r;
            if var_rnoise >= LARGE_VARIANCE {
                var_rnoise = 0.0;
            }
            if dq & (DO_NOT_USE | SATURATED) != 0 {
                sci = f64::NAN;
                var_rnoise = 0.0;
            } else {
                sci = slope_num * var_rnoise;
            }
            self.inv_var_r += inv_var_r;
            self.slope_num += slope_num;
        }
        let fitted_lens = if fitted { &segs[..] } else { &[][..] };
        record::push(records, timing, fitted_lens.iter().map(|s| s.len));

        if dq & DO_NOT_USE != 0 {
            self.dnu_ints += 1;
            sci = f64::NAN;
        }
        if dq & SATURATED != 0 {
            self.sat_ints += 1;
            sci = f64::NAN;
        }
        // Partial saturation flags the integration but keeps its slope.
        if stats.saturated > 0 {
            dq |= SATURATED;
            self.any_saturated_group = true;
        }

        // CHARGELOSS: redo the read-noise variance as if the CHARGELOSS groups were usable.
        if stats.chargeloss {
            self.chargeloss = true;
            for q in orig[..n].iter_mut() {
                if *q & G_CHARGELOSS != 0 {
                    *q ^= G_DO_NOT_USE | G_CHARGELOSS;
                }
            }
            find_segments(&orig[..n], chargeloss_segs);
            let mut inv = 0.0f64;
            for seg in chargeloss_segs.iter() {
                let v = segment_var_r(cfg, pf, seg.len, timing);
                if v > 0.0 {
                    inv += 1.0 / v;
                }
            }
            var_rnoise = 1.0 / inv;
            if var_rnoise >= LARGE_VARIANCE {
                var_rnoise = 0.0;
            }
            self.chargeloss_inv_var_r += inv;
        } else if var_rnoise > 0.0 {
            self.chargeloss_inv_var_r += 1.0 / var_rnoise;
        }

        IntegEarly {
            sci: sci as f32,
            dq,
            var_rnoise: var_rnoise as f32,
        }
    }

    /// The rest of [`push_integration`](Self::push_integration) for a clean integration (one
    /// segment of all `n` groups, nothing flagged): the general path's bookkeeping with every
    /// flag test that cannot fire left out.
    #[inline]
    fn push_clean(
        &mut self,
        pixel_dq: u32,
        n: usize,
        c: super::clean::CleanFit,
        records: &mut Vec<u16>,
    ) -> IntegEarly {
        self.median_sum += c.median_rate;
        self.ints_done += 1;
        let dq = pixel_dq;
        let mut var_rnoise = c.var_rnoise;
        let mut sci = if dq & (DO_NOT_USE | SATURATED) != 0 {
            var_rnoise = 0.0;
            f64::NAN
        } else {
            c.slope_num * var_rnoise
        };
        self.inv_var_r += c.inv_var_r;
        self.slope_num += c.slope_num;
        record::push(records, Timing::Group, std::iter::once(n));
        if dq & DO_NOT_USE != 0 {
            self.dnu_ints += 1;
            sci = f64::NAN;
        }
        if dq & SATURATED != 0 {
            self.sat_ints += 1;
            sci = f64::NAN;
        }
        if var_rnoise > 0.0 {
            self.chargeloss_inv_var_r += c.inv_var_rnoise;
        }
        IntegEarly {
            sci: sci as f32,
            dq,
            var_rnoise: var_rnoise as f32,
        }
    }

    /// Finishes the pixel after its last integration: calls `per_integration(i, late)` for every
    /// integration in order and returns the rate values. `records` is the concatenation of the
    /// records [`push_integration`](Self::push_integration) appended, in integration order.
    pub fn finish(
        &self,
        cfg: &FitConfig,
        px: &PixelConsts,
        records: &[u16],
        mut per_integration: impl FnMut(usize, IntegLate),
    ) -> Result<FitValues, RampFitConfigError> {
        if self.ints_done as usize != cfg.nints {
            return Err(RampFitConfigError::IncompletePixel(
                self.ints_done as usize,
                cfg.nints,
            ));
        }
        let pf = PixelFit::new(cfg, px);
        let mr = self.median_sum / cfg.nints as f64;
        let invalid = pf.pixel_dq & (DO_NOT_USE | SATURATED) != 0;

        let mut inv_var_p_sum = 0.0f64;
        // Integrations with the same segments give the same values: reuse the last ones.
        let mut last: Option<(Timing, &[u16], f64, IntegLate)> = None;
        let mut stream = records;
        for i in 0..cfg.nints {
            let (rec, rest) =
                record::split_first(stream).ok_or(RampFitConfigError::BadRecords(i))?;
            stream = rest;
            if rec.lens.is_empty() {
                per_integration(i, IntegLate::default());
                continue;
            }
            let (inv_p, late) = match last {
                Some((timing, lens, inv_p, late))
                    if timing == rec.timing && same_lens(lens, rec.lens) =>
                {
                    (inv_p, late)
                }
                _ => {
                    let (inv_p, late) = integration_poisson(cfg, &pf, mr, invalid, rec);
                    last = Some((rec.timing, rec.lens, inv_p, late));
                    (inv_p, late)
                }
            };
            if inv_p > 0.0 {
                inv_var_p_sum += inv_p;
            }
            per_integration(i, late);
        }

        let nints = cfg.nints as u32;
        let mut dq = self.rate_dq;
        if self.dnu_ints == nints {
            dq |= DO_NOT_USE;
        }
        if self.sat_ints == nints {
            dq |= SATURATED;
        }
        let mut var_poisson = inv_var_p_sum;
        if var_poisson > 0.0 {
            var_poisson = 1.0 / var_poisson;
        }
        // Spelled as the C test: a NaN would pass through (a range `contains` would zero it).
        #[allow(clippy::manual_range_contains)]
        if var_poisson >= LARGE_VARIANCE || var_poisson < 0.0 {
            var_poisson = 0.0;
        }
        let mut var_rnoise = self.inv_var_r;
        if var_rnoise > 0.0 {
            var_rnoise = 1.0 / var_rnoise;
        }
        if var_rnoise >= LARGE_VARIANCE {
            var_rnoise = 0.0;
        }
        let mut err = (var_poisson + var_rnoise).sqrt();
        let mut sci = self.slope_num;
        if dq & (DO_NOT_USE | SATURATED) != 0 {
            sci = f64::NAN;
            var_poisson = 0.0;
            var_rnoise = 0.0;
            err = 0.0;
        }
        if self.any_saturated_group {
            dq |= SATURATED;
        }
        if !sci.is_nan() {
            sci *= var_rnoise;
        }
        if self.chargeloss {
            if self.chargeloss_inv_var_r > 0.0 {
                var_rnoise = 1.0 / self.chargeloss_inv_var_r;
            }
            if var_rnoise >= LARGE_VARIANCE {
                var_rnoise = 0.0;
            }
        }
        Ok(FitValues {
            sci: sci as f32,
            err: err as f32,
            dq,
            var_poisson: var_poisson as f32,
            var_rnoise: var_rnoise as f32,
        })
    }
}

/// Whether two records have the same segment lengths (inline: most are one word long).
#[inline]
fn same_lens(a: &[u16], b: &[u16]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

/// One integration's Σ 1/var_p over its segments and its late rateints values, from its record.
fn integration_poisson(
    cfg: &FitConfig,
    pf: &PixelFit,
    mr: f64,
    invalid: bool,
    rec: record::Record<'_>,
) -> (f64, IntegLate) {
    let (mut inv_p, mut inv_e) = (0.0f64, 0.0f64);
    for &len in rec.lens {
        let len = len as usize;
        let var_p = segment_var_p(cfg, pf, mr, len, rec.timing);
        let var_r = segment_var_r(cfg, pf, len, rec.timing);
        if var_p > 0.0 {
            inv_p += 1.0 / var_p;
        }
        inv_e += 1.0 / (var_p + var_r);
    }
    let mut var_poisson = if inv_p > 0.0 { 1.0 / inv_p } else { 0.0 };
    if var_poisson >= LARGE_VARIANCE {
        var_poisson = 0.0;
    }
    let err = if invalid {
        var_poisson = 0.0;
        0.0
    } else {
        let var_e = 1.0 / inv_e;
        if var_e > LARGE_VARIANCE {
            0.0
        } else {
            var_e.sqrt()
        }
    };
    let late = IntegLate {
        var_poisson: var_poisson as f32,
        err: err as f32,
    };
    (inv_p, late)
}

/// Exact (whole-exposure) driver entry: fits every integration of one pixel and writes the
/// rateints values into `ints_out` (one per integration) and the rate values into `rate_out`.
///
/// `ramp` and `gdq` are pixel-major: index `i·NGROUPS + g`. `zeroframe`, if the exposure has
/// one, holds this pixel's value per integration. Allocation-free once `scratch` is warm.
///
/// # Panics
/// If a slice length disagrees with NINTS/NGROUPS (a driver bug, not bad input).
#[allow(clippy::too_many_arguments)]
pub fn fit_pixel(
    cfg: &FitConfig,
    px: &PixelConsts,
    ramp: &[f32],
    gdq: &[u8],
    zeroframe: Option<&[f32]>,
    scratch: &mut RampScratch,
    ints_out: &mut [FitValues],
    rate_out: &mut FitValues,
) {
    let (nints, n) = (cfg.nints, cfg.ngroups);
    assert_eq!(
        ramp.len(),
        nints * n,
        "ramp_fit: ramp length is not NINTS*NGROUPS"
    );
    assert_eq!(
        gdq.len(),
        nints * n,
        "ramp_fit: GROUPDQ length is not NINTS*NGROUPS"
    );
    assert_eq!(
        ints_out.len(),
        nints,
        "ramp_fit: one rateints slot per integration needed"
    );
    if let Some(z) = zeroframe {
        assert_eq!(
            z.len(),
            nints,
            "ramp_fit: one ZEROFRAME value per integration needed"
        );
    }
    let mut records = std::mem::take(&mut scratch.records);
    records.clear();
    let mut acc = PixelAccumulator::new(cfg, px);
    let pf = scratch.memo.select(cfg, px);
    macro_rules! dispatch {
        ($($n:literal)*) => {
            match n {
                $($n if cfg.clean_path => push_all::<$n>(
                    &mut acc, cfg, &pf, ramp, gdq, zeroframe, scratch, &mut records, ints_out
                ),)*
                _ => push_all_general(
                    &mut acc, cfg, &pf, ramp, gdq, zeroframe, scratch, &mut records, ints_out
                ),
            }
        };
    }
    dispatch!(3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33);
    let rate = acc.finish(cfg, px, &records, |i, late| {
        ints_out[i].var_poisson = late.var_poisson;
        ints_out[i].err = late.err;
    });
    // The records were written just above for exactly NINTS integrations.
    *rate_out = rate.expect("ramp_fit: records written by fit_pixel are complete");
    scratch.records = records;
}

/// Every integration of one pixel (selected in `scratch.memo`, constants `pf`), in order: clean
/// integrations by the fast path for NGROUPS = `N`, the others by the general path.
#[allow(clippy::too_many_arguments)]
#[inline(never)]
fn push_all<const N: usize>(
    acc: &mut PixelAccumulator,
    cfg: &FitConfig,
    pf: &PixelFit,
    ramp: &[f32],
    gdq: &[u8],
    zeroframe: Option<&[f32]>,
    scratch: &mut RampScratch,
    records: &mut Vec<u16>,
    ints_out: &mut [FitValues],
) {
    let n = cfg.ngroups;
    for (i, out) in ints_out.iter_mut().enumerate() {
        let r = i * n..(i + 1) * n;
        let (ramp, gdq) = (&ramp[r.clone()], &gdq[r]);
        let e = match super::clean::kernel::<N>(cfg, &mut scratch.memo, ramp, gdq) {
            Some(c) => acc.push_clean(pf.pixel_dq, n, c, records),
            None => {
                let input = IntegrationRamp {
                    ramp,
                    gdq,
                    zeroframe: zeroframe.map(|z| z[i]),
                };
                acc.push_general(cfg, pf, input, scratch, records)
            }
        };
        out.sci = e.sci;
        out.dq = e.dq;
        out.var_rnoise = e.var_rnoise;
    }
}

/// [`push_all`] without the fast path.
#[allow(clippy::too_many_arguments)]
#[inline(never)]
fn push_all_general(
    acc: &mut PixelAccumulator,
    cfg: &FitConfig,
    pf: &PixelFit,
    ramp: &[f32],
    gdq: &[u8],
    zeroframe: Option<&[f32]>,
    scratch: &mut RampScratch,
    records: &mut Vec<u16>,
    ints_out: &mut [FitValues],
) {
    let n = cfg.ngroups;
    for (i, out) in ints_out.iter_mut().enumerate() {
        let r = i * n..(i + 1) * n;
        let input = IntegrationRamp {
            ramp: &ramp[r.clone()],
            gdq: &gdq[r],
            zeroframe: zeroframe.map(|z| z[i]),
        };
        let e = acc.push_general(cfg, pf, input, scratch, records);
        out.sci = e.sci;
        out.dq = e.dq;
        out.var_rnoise = e.var_rnoise;
    }
}
