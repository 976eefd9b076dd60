//! One segment's slope and variances (spec §12.5), in double precision with the exact operation
//! order of the C extension, so every intermediate rounds the same way.

use super::segments::{Segment, Timing};
use super::FitConfig;

/// Pixel constants in the units and precision the fit uses.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PixelFit {
    pub gain: f64,
    /// Per-group read noise in electrons: `readnoise_DN · gain / sqrt(2·NFRAMES)`, computed in
    /// double and stored as float32 (numpy's in-place `readnoise_2d *= ...` on a float32 array).
    pub rn: f64,
    pub dark_current: f64,
    /// PIXELDQ, plus DO_NOT_USE | NO_GAIN_VALUE when the gain is NaN or ≤ 0.
    pub pixel_dq: u32,
    /// `1 / rn²`, the optimal weights' scale.
    pub invrn2: f64,
}

impl PixelFit {
    pub fn new(cfg: &FitConfig, px: &super::PixelConsts) -> Self {
        let gain = px.gain as f64;
        let rn = (px.readnoise as f64 * (gain / cfg.sqrt_2nframes)) as f32 as f64;
        let mut pixel_dq = px.pixel_dq;
        if gain <= 0.0 || gain.is_nan() {
            pixel_dq |= frames::dq::DO_NOT_USE | frames::dq::NO_GAIN_VALUE;
        }
        PixelFit {
            gain,
            rn,
            dark_current: px.dark_current as f64,
            pixel_dq,
            invrn2: 1.0 / (rn * rn),
        }
    }
}

/// Slope (DN/s) of one segment (its read-noise variance is [`segment_var_r`]) of the pixel
/// selected in `memo`.
pub(crate) fn segment_slope(
    cfg: &FitConfig,
    memo: &mut PixelMemo,
    data: &[f64],
    seg: Segment,
    timing: Timing,
) -> f64 {
    let s = seg.start;
    match seg.len {
        1 => data[s] / timing.seconds(cfg),
        2 => (data[s + 1] - data[s]) / cfg.group_time,
        len => weighted_ols_slope(cfg, memo, &data[s..s + len], s) / cfg.group_time,
    }
}

/// The data-independent sums of one weighted fit (segment length, start and weight power of
/// one pixel): per-point weights `w` and `x·w`, and Σw, Σx·w, `1/(Σw·Σx²w − (Σxw)²)`, each
/// accumulated in the same order as the fit loop would, so they are the same numbers.
#[derive(Debug, Clone, Default)]
pub(crate) struct WeightSums {
    key: (usize, usize, usize),
    w: Vec<f64>,
    xw: Vec<f64>,
    sw: f64,
    sx: f64,
    inv_den: f64,
}

impl WeightSums {
    pub fn clear(&mut self) {
        self.w.clear();
        self.xw.clear();
    }

    pub fn compute(
        &mut self,
        table: &WeightTable,
        px: &PixelFit,
        len: usize,
        start: usize,
        power: usize,
    ) {
        self.key = (len, start, power);
        self.w.clear();
        self.xw.clear();
        let (mut sw, mut sx, mut sxx) = (0.0f64, 0.0f64, 0.0f64);
        for j in 0..len {
            let w = table.get(len, power, j) as f64 * px.invrn2;
            let x = (j + start) as f64;
            let xw = x * w;
            sw += w;
            sx += xw;
            sxx += x * xw;
            self.w.push(w);
            self.xw.push(xw);
        }
        self.sw = sw;
        self.sx = sx;
        self.inv_den = 1.0 / (sw * sxx - sx * sx);
    }
}

/// Number of weighted-fit sums [`PixelMemo`] keeps.
const SUMS_CACHE: usize = 4;

/// Per-pixel values of the fit that do not change from one integration to the next, computed
/// once per pixel instead of once per integration: the pixel's [`PixelFit`] and, per segment
/// length ≥ 2 (whose timing is always TGROUP), the read-noise variance and its inverse. The
/// values are the same expressions evaluated once, so results are unchanged to the bit.
#[derive(Debug, Clone, Default)]
pub(crate) struct PixelMemo {
    key: Option<[u32; 4]>,
    pub pf: Option<PixelFit>,
    /// `(var_r, 1/var_r)` by segment length; NaN = not computed yet.
    var_r: Vec<(f64, f64)>,
    /// Weight sums of the last few weighted fits (most integrations of a pixel repeat them: a
    /// ramp split by one jump alternates between two), replaced in turn.
    sums: [WeightSums; SUMS_CACHE],
    /// The entry of `sums` to replace next.
    sums_next: usize,
    /// Constants of the clean-integration fast path.
    pub clean: super::clean::CleanMemo,
}

impl PixelMemo {
    /// Makes the memo describe pixel `px` (cleared when it held another pixel's values).
    pub fn select(&mut self, cfg: &FitConfig, px: &super::PixelConsts) -> PixelFit {
        let key = [
            px.gain.to_bits(),
            px.readnoise.to_bits(),
            px.dark_current.to_bits(),
            px.pixel_dq,
        ];
        if self.key != Some(key) || self.pf.is_none() {
            self.key = Some(key);
            self.pf = Some(PixelFit::new(cfg, px));
            self.var_r.clear();
            self.var_r.resize(cfg.ngroups + 1, (f64::NAN, f64::NAN));
            // Forces a recompute: the weights scale with this pixel's rn.
            self.sums.iter_mut().for_each(WeightSums::clear);
            self.clean.clear();
        }
        self.pf.expect("set above")
    }

    /// `(var_r, 1/var_r)` of a segment of `len` groups of the selected pixel.
    #[inline]
    pub fn var_r(&mut self, cfg: &FitConfig, len: usize, timing: Timing) -> (f64, f64) {
        let pf = self.pf.as_ref().expect("PixelMemo::select first");
        if len < 2 || len >= self.var_r.len() {
            let v = segment_var_r(cfg, pf, len, timing);
            return (v, 1.0 / v);
        }
        let slot = &mut self.var_r[len];
        if slot.0.is_nan() {
            let v = segment_var_r(cfg, pf, len, timing);
            *slot = (v, 1.0 / v);
        }
        *slot
    }
}

/// Read-noise variance of a segment, recomputable from its length and timing alone (the
/// CHARGELOSS pass and the Poisson finish need it without the data).
pub(crate) fn segment_var_r(cfg: &FitConfig, px: &PixelFit, len: usize, timing: Timing) -> f64 {
    match len {
        1 => var_r_short(px, timing.seconds(cfg)),
        2 => var_r_short(px, cfg.group_time),
        len => var_r_long(cfg, px, len),
    }
}

/// Poisson variance of a segment given the pixel median rate `mr`. Negative or NaN `mr` keeps
/// only the dark current (which is used as is, in whatever units it came).
pub(crate) fn segment_var_p(
    cfg: &FitConfig,
    px: &PixelFit,
    mr: f64,
    len: usize,
    timing: Timing,
) -> f64 {
    let pden = match len {
        1 => timing.seconds(cfg) * px.gain,
        2 => cfg.group_time * px.gain,
        len => cfg.group_time * px.gain * (len as f64 - 1.0),
    };
    if mr > 0.0 {
        (mr + px.dark_current) / pden
    } else {
        px.dark_current / pden
    }
}

/// `12·(rn/t)² / (6·gain²)` for 1- and 2-group segments. No gain test here (unlike the long
/// form): a zero gain gives an infinite variance, as in the C code.
fn var_r_short(px: &PixelFit, t: f64) -> f64 {
    let r = px.rn / t;
    (12.0 * r * r) / (6.0 * px.gain * px.gain)
}

/// `12·(rn/TGROUP)² / ((L³ − L)·gain²)`, 0 for a NaN or non-positive gain.
fn var_r_long(cfg: &FitConfig, px: &PixelFit, len: usize) -> f64 {
    if px.gain <= 0.0 || px.gain.is_nan() {
        return 0.0;
    }
    let r = px.rn / cfg.group_time;
    let l = len as f64;
    (12.0 * r * r) / ((l * l * l - l) * px.gain * px.gain)
}

/// Index of the optimal weights' power for a segment whose last and first values differ by
/// `span` DN: from the signal-to-noise ratio `span·gain / sqrt(rn² + span·gain)` (0 when the
/// denominator is not positive or the gain is 0, and when negative). `rn2` is `rn·rn`.
pub(crate) fn weight_power(span: f64, gain: f64, rn2: f64) -> usize {
    let den = rn2 + span * gain;
    let snr = if den <= 0.0 || gain == 0.0 {
        0.0
    } else {
        let s = span * gain / den.sqrt();
        if s < 0.0 {
            0.0
        } else {
            s
        }
    };
    snr_power(snr)
}

/// Exponent of the optimal weights from the segment's end-point signal-to-noise ratio. A NaN SNR
/// (NaN data) fails every comparison and gets the largest power, as in the C code.
fn snr_power(snr: f64) -> usize {
    if snr < 5.0 {
        0
    } else if snr < 10.0 {
        1
    } else if snr < 20.0 {
        2
    } else if snr < 50.0 {
        3
    } else if snr < 100.0 {
        4
    } else {
        5
    }
}

/// The exponents `snr_power` selects, by index.
const POWERS: [f32; 6] = [0.0, 0.4, 1.0, 3.0, 6.0, 10.0];

/// Largest segment length whose weights are tabulated (longer ones compute `powf` directly).
const MAX_TABLE_LEN: usize = 512;

/// `powf(|(j − mid)/mid|, P)` (single precision, as the C code computes it) for every segment
/// length `3..=min(ngroups, MAX_TABLE_LEN)`, power index and position `j`.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct WeightTable {
    /// Start of the block of length `len` (6 powers × len values) in `values`.
    offsets: Vec<usize>,
    values: Vec<f32>,
}

fn weight_factor(len: usize, j: usize, power: f32) -> f32 {
    let mid = (len - 1) as f64 / 2.0;
    let invmid = 1.0 / mid;
    let base = ((j as f64 - mid) * invmid).abs();
    (base as f32).powf(power)
}

impl WeightTable {
    pub(crate) fn new(ngroups: usize) -> WeightTable {
        let top = ngroups.min(MAX_TABLE_LEN);
        let mut offsets = vec![0; top + 1];
        let mut values = Vec::new();
        for (len, offset) in offsets.iter_mut().enumerate().skip(3) {
            *offset = values.len();
            for &p in &POWERS {
                values.extend((0..len).map(|j| weight_factor(len, j, p)));
            }
        }
        WeightTable { offsets, values }
    }

    #[inline]
    pub(crate) fn get(&self, len: usize, power: usize, j: usize) -> f32 {
        if len < self.offsets.len() {
            self.values[self.offsets[len] + power * len + j]
        } else {
            weight_factor(len, j, POWERS[power])
        }
    }
}

/// Slope in DN per group of a segment of ≥ 3 groups, fitted with the "optimal" weights
/// `|(j − mid)/mid|^P / rn²`. The power is taken in single precision (`powf`: f32::powf calls
/// the same libm `powf`), X is the absolute group index, NaN values count as 0 in the sums.
fn weighted_ols_slope(cfg: &FitConfig, memo: &mut PixelMemo, y: &[f64], start: usize) -> f64 {
    let px = memo.pf.expect("PixelMemo::select first");
    let len = y.len();
    let power = weight_power(y[len - 1] - y[0], px.gain, px.rn * px.rn);

    let key = (len, start, power);
    let slot = match memo
        .sums
        .iter()
        .position(|s| s.key == key && s.w.len() == len)
    {
        Some(k) => k,
        None => {
            let k = memo.sums_next;
            memo.sums_next = (k + 1) % SUMS_CACHE;
            memo.sums[k].compute(&cfg.weights, &px, len, start, power);
            k
        }
    };
    let sums = &memo.sums[slot];
    let (mut sy, mut sxy) = (0.0f64, 0.0f64);
    for ((&yj, &w), &xw) in y.iter().zip(&sums.w).zip(&sums.xw) {
        let yv = if yj.is_nan() { 0.0 } else { yj };
        sy += yv * w;
        sxy += yv * xw;
    }
    let num = sums.sw * sxy - sums.sx * sy;
    num * sums.inv_den
}
