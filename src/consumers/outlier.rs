//! TSO outlier_detection (spec §15.1; `jwst/outlier_detection/tso.py`, stcal
//! `compute_weight_threshold`, `flag_crs`) as a bounded sliding-window stage over integrations.
//!
//! Official behaviour reproduced:
//! * weight = 1 where DQ passes `good_bits` (default `~DO_NOT_USE`), else 0; the threshold is
//!   `maskpt` × the mean of the sigma-clipped non-zero weights, which for 0/1 weights is
//!   `maskpt` itself (and NaN, i.e. nothing masked, if no pixel at all is good);
//! * `1 < rolling_window_width < nints`: pixels below the threshold become NaN, then
//!   `np.median` (NaN-propagating) over windows of `w` integrations, stored at the window centre
//!   `start + w//2` in float64 (`out=` a float64 array, so even windows average in float64);
//!   the first `w//2` integrations copy the first median, the last ones the last median, with
//!   numpy's slicing quirk for even windows (`out[-hw+1:]`, which for `w = 2` is the whole
//!   array: every integration gets the last median);
//! * otherwise one `np.nanmedian` over all integrations, float32, without the weight mask;
//! * flag where `|SCI − median| > snr₁ · nan_to_num(ERR)` (`snr₁` rounded to float32, the
//!   product in float32, the difference in the median's precision): DQ |= DO_NOT_USE|OUTLIER,
//!   then match_nans_and_flags.
//!
//! Streaming: the rolling median is kept per pixel as a sorted window of `w` values (one
//! removal and one insertion per integration), and an integration leaves the stage as soon as
//! the window that holds its median is complete — `w//2` integrations of latency (`w − 1` for
//! the first ones, which wait for the first full window). Memory: the sorted window (`w` keys
//! per pixel) and the masked SCI of the integrations already emitted but still in the window
//! (their keys leave it later). The integrations waiting to be flagged are held whole unless
//! they can be read back ([`RefetchSlot`]: the `_calints` image2 has just written, or the input
//! file), in which case only their index is kept and each is read again, unchanged, when its
//! median is ready — so the stage holds no plane at all between windows. The all-integration
//! median (and the `w = 2` quirk) needs every integration, so it holds the whole exposure (by
//! default only when nints <= 25).
//!
//! One deliberate difference: "no good pixel anywhere in the exposure" (threshold NaN) cannot
//! be known before the end, so the stage assumes some pixel is good. It only matters for inputs
//! whose DO_NOT_USE pixels are not already NaN (never after image2), and then only for the
//! OUTLIER bit.

use super::nanmatch::match_nans_and_flags;
use frames::dq;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use stream::plane::{PlaneError, PlaneSink, PlaneTimes, RatePlane};

/// Reads plane `k` of the stream back, exactly as it was pushed.
pub type Refetch = Box<dyn FnMut(usize) -> Result<RatePlane, PlaneError>>;

/// Where the planes of a stream can be read back, once known (filled by whoever writes or
/// reads the file the planes are in; shared with the detector, which holds whole planes while
/// it is empty).
#[derive(Clone, Default)]
pub struct RefetchSlot(Rc<RefCell<Option<Refetch>>>);

impl RefetchSlot {
    pub fn set(&self, f: Refetch) {
        *self.0.borrow_mut() = Some(f);
    }
    pub fn is_set(&self) -> bool {
        self.0.borrow().is_some()
    }
    fn fetch(&self, k: usize) -> Result<RatePlane, PlaneError> {
        match self.0.borrow_mut().as_mut() {
            Some(f) => f(k),
            None => Err(PlaneError::Sink(format!(
                "outlier_detection: integration {k} cannot be read back"
            ))),
        }
    }
}

/// A plane waiting for its median: whole, or only what is needed to read it back.
enum Held {
    Whole(RatePlane),
    Later {
        index: usize,
        times: Option<PlaneTimes>,
        var_flat: bool,
    },
}

/// outlier_detection parameters used in TSO mode.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OutlierParams {
    pub rolling_window_width: i64,
    /// First value of `snr`.
    pub snr: f64,
    pub maskpt: f64,
    /// DQ bits that do not make a pixel bad; `None`: every pixel is good.
    pub good_bits_ignored: Option<u32>,
}

impl Default for OutlierParams {
    fn default() -> Self {
        OutlierParams {
            rolling_window_width: 25,
            snr: 5.0,
            maskpt: 0.7,
            good_bits_ignored: Some(!dq::DO_NOT_USE),
        }
    }
}

/// astropy `interpret_bit_flags` for the `good_bits` string: an integer, flag names joined by
/// `,` or `+`, optionally prefixed by `~` (all bits but those). `None`/empty: `None`.
pub fn parse_good_bits(s: &str) -> Result<Option<u32>, String> {
    let t = s.trim();
    if t.is_empty() || t.eq_ignore_ascii_case("none") {
        return Ok(None);
    }
    let (flip, body) = match t.strip_prefix('~') {
        Some(b) => (true, b.trim()),
        None => (false, t),
    };
    let mut bits = 0u32;
    for part in body
        .split([',', '+'])
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        bits |= if let Ok(v) = part.parse::<u64>() {
            u32::try_from(v).map_err(|_| format!("good_bits: {v} does not fit 32 bits"))?
        } else {
            dq::by_name(&part.to_ascii_uppercase())
                .ok_or_else(|| format!("good_bits: unknown DQ flag {part:?}"))?
        };
    }
    Ok(Some(if flip { !bits } else { bits }))
}

/// First number of the `snr` parameter ("5.0 4.0" -> 5.0).
pub fn parse_snr(s: &str) -> Result<f64, String> {
    let mut it = s.split_whitespace();
    let a = it
        .next()
        .ok_or("snr: expected two numbers, e.g. \"5.0 4.0\"")?;
    let b = it.next().ok_or("snr: expected two numbers")?;
    b.parse::<f64>()
        .map_err(|_| format!("snr: {b:?} is not a number"))?;
    a.parse::<f64>()
        .map_err(|_| format!("snr: {a:?} is not a number"))
}

/// Total-order key of a float32 with every NaN mapped to one key above +inf, so a per-pixel
/// sorted window can remove exactly what it inserted and NaN sorts last.
#[inline]
fn key(v: f32) -> u32 {
    if v.is_nan() {
        return u32::MAX;
    }
    let b = v.to_bits();
    if b & 0x8000_0000 != 0 {
        !b
    } else {
        b | 0x8000_0000
    }
}

#[inline]
fn unkey(k: u32) -> f32 {
    if k == u32::MAX {
        return f32::NAN;
    }
    if k & 0x8000_0000 != 0 {
        f32::from_bits(k & 0x7FFF_FFFF)
    } else {
        f32::from_bits(!k)
    }
}

/// `np.median(window, out=float64)` of one pixel's full sorted window: NaN if any value is NaN
/// (NaN keys sort last), the middle value, or the float64 mean of the two middle ones.
#[inline]
fn median_of(win: &[u32]) -> f64 {
    let w = win.len();
    if win[w - 1] == u32::MAX {
        return f64::NAN;
    }
    if w % 2 == 1 {
        unkey(win[w / 2]) as f64
    } else {
        (unkey(win[w / 2 - 1]) as f64 + unkey(win[w / 2]) as f64) / 2.0
    }
}

/// Which pixels the rolling median sees as NaN (weight below the threshold).
#[derive(Debug, Clone, Copy)]
struct Masking {
    good_masked: bool,
    bad_masked: bool,
    ignored: Option<u32>,
}

impl Masking {
    #[inline]
    fn key_of(&self, sci: f32, dq: u32) -> u32 {
        let good = match self.ignored {
            None => true,
            Some(ig) => dq & !ig == 0,
        };
        let masked = if good {
            self.good_masked
        } else {
            self.bad_masked
        };
        if masked {
            key(f32::NAN)
        } else {
            key(sci)
        }
    }
}

/// Slide the sorted windows of a run of pixels: drop each pixel's `old` key (none while the
/// window fills: `old` empty, `count` values held) and insert the new one, shifting the values
/// in between by one place; then take the window's median when `med` is not empty.
#[allow(clippy::too_many_arguments)]
fn slide_pixels(
    sorted: &mut [u32],
    w: usize,
    count: usize,
    sci: &[f32],
    dq: &[u32],
    old: &[f32],
    rule: Masking,
    med: &mut [f64],
) {
    for (p, win) in sorted.chunks_exact_mut(w).enumerate() {
        let nk = rule.key_of(sci[p], dq[p]);
        if !old.is_empty() {
            let ok = key(old[p]);
            if nk != ok {
                // Ranks by counting (branch-free, vectorised) rather than searching: `ok` sits
                // at `lo`, the first of its copies; `nk` goes before the first key >= it.
                let (mut lo, mut ln) = (0u32, 0u32);
                for &x in win.iter() {
                    lo += u32::from(x < ok);
                    ln += u32::from(x < nk);
                }
                let (lo, ln) = (lo as usize, ln as usize);
                if nk > ok {
                    // `ok` (< nk) leaves: the keys between move down one place.
                    let j = ln - 1;
                    for t in lo..j {
                        win[t] = win[t + 1];
                    }
                    win[j] = nk;
                } else {
                    for t in (ln..lo).rev() {
                        win[t + 1] = win[t];
                    }
                    win[ln] = nk;
                }
            }
        } else {
            let mut i = count;
            while i > 0 && win[i - 1] > nk {
                win[i] = win[i - 1];
                i -= 1;
            }
            win[i] = nk;
        }
        if !med.is_empty() {
            med[p] = median_of(win);
        }
    }
}

/// The median a plane is compared with.
enum Median<'m> {
    /// Rolling path (float64 medians).
    F64(&'m [f64]),
    /// All-integration path (float32 medians).
    F32(&'m [f32]),
}

/// How the stage computes medians for this stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutlierMode {
    /// `w` integrations per window.
    Rolling { w: usize },
    /// One nanmedian over every integration.
    AllIntegrations,
    /// `w = 2`: every integration compared with the median of the last two.
    LastPair,
}

/// The sliding-window detector. Push planes in order; flagged planes come out in order.
pub struct OutlierDetector {
    params: OutlierParams,
    mode: OutlierMode,
    nints: usize,
    npix: usize,
    snr32: f32,
    /// Planes received but not yet emitted (front = next to emit).
    pending: VecDeque<Held>,
    refetch: RefetchSlot,
    /// Index of the next plane to emit.
    next_emit: usize,
    received: usize,
    // --- rolling window state ---
    /// Per pixel, `w` sorted keys (pixel-major).
    sorted: Vec<u32>,
    /// Masked SCI of the planes emitted but still in the window (front = oldest), as
    /// (index, values): what leaves the sorted windows when the window moves past them.
    emitted: VecDeque<(usize, Vec<f32>)>,
    /// Median of the centre to apply to planes up to and including `median_upto`.
    current: Option<(Vec<f64>, usize)>,
    /// Outliers flagged so far.
    pub flagged: usize,
}

impl OutlierDetector {
    pub fn new(params: OutlierParams, nints: usize, ny: usize, nx: usize) -> OutlierDetector {
        let w = params.rolling_window_width;
        let mode = if w > 1 && (w as u64) < nints as u64 {
            if w == 2 {
                OutlierMode::LastPair
            } else {
                OutlierMode::Rolling { w: w as usize }
            }
        } else {
            OutlierMode::AllIntegrations
        };
        let npix = ny * nx;
        let sorted = match mode {
            OutlierMode::Rolling { w } => vec![0u32; npix * w],
            _ => Vec::new(),
        };
        OutlierDetector {
            snr32: params.snr as f32,
            params,
            mode,
            nints,
            npix,
            pending: VecDeque::new(),
            refetch: RefetchSlot::default(),
            next_emit: 0,
            received: 0,
            sorted,
            emitted: VecDeque::new(),
            current: None,
            flagged: 0,
        }
    }

    /// Read the planes waiting for their median back from `slot` once it is filled, instead
    /// of holding them (rolling mode).
    pub fn with_refetch(mut self, slot: RefetchSlot) -> Self {
        self.refetch = slot;
        self
    }

    pub fn mode(&self) -> OutlierMode {
        self.mode
    }

    /// Whole planes currently held (for memory accounting).
    pub fn held_planes(&self) -> usize {
        self.pending
            .iter()
            .filter(|h| matches!(h, Held::Whole(_)))
            .count()
    }

    fn is_good(&self, d: u32) -> bool {
        match self.params.good_bits_ignored {
            None => true,
            Some(ignored) => d & !ignored == 0,
        }
    }

    /// SCI with low-weight pixels set to NaN (the copy the rolling median sees), written into
    /// `out` (reused between integrations).
    fn masked_sci_into(&self, p: &RatePlane, out: &mut Vec<f32>) {
        let thr = self.params.maskpt;
        let (good_masked, bad_masked) = (1.0 < thr, 0.0 < thr);
        out.clear();
        out.extend(p.sci.iter().zip(&p.dq).map(|(&s, &d)| {
            let masked = if self.is_good(d) {
                good_masked
            } else {
                bad_masked
            };
            if masked {
                f32::NAN
            } else {
                s
            }
        }));
    }

    /// SCI with low-weight pixels set to NaN (the copy the rolling median sees).
    fn masked_sci(&self, p: &RatePlane) -> Vec<f32> {
        // weight (0 or 1) < maskpt × 1.0 (the clipped mean of the non-zero weights).
        let thr = self.params.maskpt;
        let good_masked = 1.0 < thr;
        let bad_masked = 0.0 < thr;
        p.sci
            .iter()
            .zip(&p.dq)
            .map(|(&s, &d)| {
                let masked = if self.is_good(d) {
                    good_masked
                } else {
                    bad_masked
                };
                if masked {
                    f32::NAN
                } else {
                    s
                }
            })
            .collect()
    }

    /// Take the next plane; returns the planes that are now flagged, in order.
    pub fn push(&mut self, plane: RatePlane) -> Result<Vec<RatePlane>, PlaneError> {
        let mut ready = Vec::new();
        self.push_into(plane, &mut |p| {
            ready.push(p);
            Ok(())
        })?;
        Ok(ready)
    }

    /// [`push`](Self::push), handing each plane that is now flagged to `out` as soon as it is
    /// (one at a time: the first window releases `w//2 + 1` planes at once).
    pub fn push_into(
        &mut self,
        plane: RatePlane,
        out: &mut dyn FnMut(RatePlane) -> Result<(), PlaneError>,
    ) -> Result<(), PlaneError> {
        let k = self.received;
        self.received += 1;
        match self.mode {
            OutlierMode::Rolling { w } => {
                // Plane k − w (emitted by now) leaves the window as plane k enters it.
                let old = if k >= w {
                    match self.emitted.pop_front() {
                        Some((i, v)) if i == k - w => Some(v),
                        _ => {
                            return Err(PlaneError::Sink(format!(
                                "outlier_detection: integration {} left the window unseen",
                                k - w
                            )))
                        }
                    }
                } else {
                    None
                };
                let full = k + 1 >= w;
                let mut med = self.current.take().map(|(m, _)| m).unwrap_or_default();
                // The window's median is taken in the same pass over the sorted windows.
                let old_vals = old.as_deref().unwrap_or(&[]);
                self.slide(k, w, &plane, old_vals, full.then_some(&mut med));
                if let Some(v) = old {
                    super::pool::give_f32(v);
                }
                if self.refetch.is_set() {
                    self.pending.push_back(Held::Later {
                        index: plane.index,
                        times: plane.times,
                        var_flat: plane.var_flat.is_some(),
                    });
                    super::pool::recycle(plane);
                } else {
                    self.pending.push_back(Held::Whole(plane));
                }
                if full {
                    let s = k + 1 - w;
                    let hw = w / 2;
                    let c = s + hw;
                    // Planes this median serves: the centre, plus the head for the first window
                    // and the tail for the last one (numpy's edge fills).
                    let upto = if s + w == self.nints {
                        self.nints - 1
                    } else {
                        c
                    };
                    self.current = Some((med, upto));
                    return self.emit_ready(out);
                }
                Ok(())
            }
            OutlierMode::AllIntegrations | OutlierMode::LastPair => {
                self.pending.push_back(Held::Whole(plane));
                Ok(())
            }
        }
    }

    /// The plane a held entry stands for, as it was pushed.
    fn unhold(&self, h: Held) -> Result<RatePlane, PlaneError> {
        match h {
            Held::Whole(p) => Ok(p),
            Held::Later {
                index,
                times,
                var_flat,
            } => {
                let mut p = self.refetch.fetch(index)?;
                if p.index != index || p.pixels() != self.npix {
                    return Err(PlaneError::Sink(format!(
                        "outlier_detection: integration {index} read back as a different plane"
                    )));
                }
                p.times = times;
                if !var_flat {
                    // A product writes VAR_FLAT zeros for a plane without one: drop them again.
                    if let Some(v) = p.var_flat.take() {
                        super::pool::give_f32(v);
                    }
                }
                Ok(p)
            }
        }
    }

    /// Replace plane `k − w`'s values (`old`, empty while the window fills) with plane `k`'s in
    /// every pixel's sorted window: one pass that drops the old key and inserts the new one.
    fn slide(
        &mut self,
        k: usize,
        w: usize,
        plane: &RatePlane,
        old: &[f32],
        median: Option<&mut Vec<f64>>,
    ) {
        use rayon::prelude::*;
        let count = k.min(w); // values in the window before this plane
        let thr = self.params.maskpt;
        let rule = Masking {
            good_masked: 1.0 < thr,
            bad_masked: 0.0 < thr,
            ignored: self.params.good_bits_ignored,
        };
        let want_median = median.is_some();
        let mut scratch = Vec::new();
        let med: &mut Vec<f64> = match median {
            Some(m) => m,
            None => &mut scratch,
        };
        med.clear();
        med.resize(if want_median { self.npix } else { 0 }, 0.0);
        // Pixels are independent: chunks of them slide in parallel.
        const CHUNK: usize = 8192;
        let npix = self.npix;
        let old_of = |p0: usize, n: usize| -> &[f32] {
            if !old.is_empty() {
                &old[p0..p0 + n]
            } else {
                &[]
            }
        };
        let work = |(c, win): (usize, &mut [u32]), med: &mut [f64]| {
            let p0 = c * CHUNK;
            let n = win.len() / w;
            slide_pixels(
                win,
                w,
                count,
                &plane.sci[p0..p0 + n],
                &plane.dq[p0..p0 + n],
                old_of(p0, n),
                rule,
                med,
            );
        };
        if want_median {
            self.sorted[..npix * w]
                .par_chunks_mut(CHUNK * w)
                .enumerate()
                .zip(med.par_chunks_mut(CHUNK))
                .for_each(|(cw, m)| work(cw, m));
        } else {
            self.sorted[..npix * w]
                .par_chunks_mut(CHUNK * w)
                .enumerate()
                .for_each(|cw| work(cw, &mut []));
        }
    }

    fn emit_ready(
        &mut self,
        out: &mut dyn FnMut(RatePlane) -> Result<(), PlaneError>,
    ) -> Result<(), PlaneError> {
        let Some((med, upto)) = self.current.take() else {
            return Ok(());
        };
        let mut result = Ok(());
        while self.next_emit <= upto {
            let Some(h) = self.pending.pop_front() else {
                break;
            };
            let mut p = match self.unhold(h) {
                Ok(p) => p,
                Err(e) => {
                    result = Err(e);
                    break;
                }
            };
            // Its keys leave the sorted windows later: keep them (before flagging).
            let mut m = super::pool::take_f32(self.npix);
            self.masked_sci_into(&p, &mut m);
            self.emitted.push_back((p.index, m));
            self.flagged += flag(&mut p, &Median::F64(&med), self.snr32);
            self.next_emit += 1;
            if let Err(e) = out(p) {
                result = Err(e);
                break;
            }
        }
        self.current = Some((med, upto));
        result
    }

    /// The stream is over: flag and return everything still held.
    pub fn finish(&mut self) -> Result<Vec<RatePlane>, PlaneError> {
        let pending: Vec<RatePlane> = std::mem::take(&mut self.pending)
            .into_iter()
            .map(|h| self.unhold(h))
            .collect::<Result<_, _>>()?;
        self.pending.clear();
        Ok(match self.mode {
            OutlierMode::Rolling { .. } => {
                // Every plane was emitted when the last window completed.
                for (_, v) in self.emitted.drain(..) {
                    super::pool::give_f32(v);
                }
                pending
            }
            OutlierMode::AllIntegrations => {
                let mut scratch = Vec::with_capacity(pending.len());
                let med: Vec<f32> = (0..self.npix)
                    .map(|i| {
                        super::numeric::nanmedian_f32(
                            pending.iter().map(|p| p.sci[i]),
                            &mut scratch,
                        )
                    })
                    .collect();
                let m = Median::F32(&med);
                let mut out = pending;
                for p in &mut out {
                    self.flagged += flag(p, &m, self.snr32);
                }
                out
            }
            OutlierMode::LastPair => {
                let n = pending.len();
                let mut out = pending;
                if n >= 2 {
                    let a = self.masked_sci(&out[n - 2]);
                    let b = self.masked_sci(&out[n - 1]);
                    let med: Vec<f64> = a
                        .iter()
                        .zip(&b)
                        .map(|(&x, &y)| {
                            if x.is_nan() || y.is_nan() {
                                f64::NAN
                            } else {
                                (x as f64 + y as f64) / 2.0
                            }
                        })
                        .collect();
                    let m = Median::F64(&med);
                    for p in &mut out {
                        self.flagged += flag(p, &m, self.snr32);
                    }
                }
                out
            }
        })
    }
}

/// Flag one plane against its median; returns the number of pixels flagged.
fn flag(p: &mut RatePlane, med: &Median, snr: f32) -> usize {
    let mut n = 0;
    for i in 0..p.pixels() {
        let e = p.err[i];
        let e = if e.is_nan() {
            0.0
        } else if e == f32::INFINITY {
            f32::MAX
        } else if e == f32::NEG_INFINITY {
            f32::MIN
        } else {
            e
        };
        let limit = snr * e;
        let out = match med {
            Median::F64(m) => (p.sci[i] as f64 - m[i]).abs() > limit as f64,
            Median::F32(m) => (p.sci[i] - m[i]).abs() > limit,
        };
        if out {
            p.dq[i] |= dq::DO_NOT_USE | dq::OUTLIER;
            n += 1;
        }
    }
    match_nans_and_flags(p);
    n
}

/// The detector as a [`PlaneSink`] forwarding flagged planes to `next`.
pub struct OutlierSink<'a> {
    pub detector: OutlierDetector,
    next: &'a mut dyn PlaneSink,
}

impl<'a> OutlierSink<'a> {
    pub fn new(detector: OutlierDetector, next: &'a mut dyn PlaneSink) -> Self {
        OutlierSink { detector, next }
    }
}

impl PlaneSink for OutlierSink<'_> {
    fn accept(&mut self, plane: RatePlane) -> Result<(), PlaneError> {
        let next = &mut *self.next;
        self.detector.push_into(plane, &mut |p| next.accept(p))
    }
    fn finish(&mut self) -> Result<(), PlaneError> {
        for p in self.detector.finish()? {
            self.next.accept(p)?;
        }
        self.next.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_order_like_floats() {
        let v = [-3.5f32, -0.0, 0.0, 1e-30, 2.0, f32::INFINITY];
        for w in v.windows(2) {
            assert!(key(w[0]) <= key(w[1]));
        }
        for x in v {
            assert_eq!(unkey(key(x)).to_bits(), x.to_bits());
        }
        assert!(unkey(key(f32::NAN)).is_nan());
        assert!(key(f32::INFINITY) < key(f32::NAN));
    }

    #[test]
    fn good_bits_like_astropy() {
        assert_eq!(parse_good_bits("~DO_NOT_USE"), Ok(Some(!1)));
        assert_eq!(parse_good_bits("DO_NOT_USE+SATURATED"), Ok(Some(3)));
        assert_eq!(parse_good_bits("6"), Ok(Some(6)));
        assert_eq!(parse_good_bits("None"), Ok(None));
        assert!(parse_good_bits("NOPE").is_err());
        assert_eq!(parse_snr("5.0 4.0"), Ok(5.0));
    }

    #[allow(clippy::needless_range_loop)]
    /// Rolling median of a brute-force reference (numpy's moving_median_over_zeroth_axis
    /// rewritten plainly) against the streaming stage, odd and even windows.
    #[test]
    fn streaming_equals_whole_cube_rolling_median() {
        for (nints, w) in [(9usize, 5i64), (10, 4), (7, 3), (6, 2)] {
            let (ny, nx) = (2, 3);
            let mut planes = Vec::new();
            for k in 0..nints {
                let mut p = RatePlane::zeros(k, ny, nx);
                for i in 0..ny * nx {
                    p.sci[i] =
                        ((k * 7 + i * 13) % 11) as f32 + if k == 4 && i == 2 { 40.0 } else { 0.0 };
                    p.err[i] = 1.0;
                }
                planes.push(p);
            }
            planes[1].sci[5] = f32::NAN;
            planes[1].dq[5] = dq::DO_NOT_USE;
            // reference medians
            let wu = w as usize;
            let hw = wu / 2;
            let mut med = vec![vec![f64::NAN; ny * nx]; nints];
            for s in 0..=nints - wu {
                for i in 0..ny * nx {
                    let mut v: Vec<f32> = (s..s + wu).map(|t| planes[t].sci[i]).collect();
                    med[s + hw][i] = if v.iter().any(|x| x.is_nan()) {
                        f64::NAN
                    } else {
                        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
                        if wu % 2 == 1 {
                            v[hw] as f64
                        } else {
                            (v[hw - 1] as f64 + v[hw] as f64) / 2.0
                        }
                    };
                }
            }
            let first = med[hw].clone();
            for m in med.iter_mut().take(hw) {
                *m = first.clone();
            }
            if wu % 2 == 1 {
                let last = med[nints - hw - 1].clone();
                for m in med.iter_mut().skip(nints - hw) {
                    *m = last.clone();
                }
            } else {
                let last = med[nints - hw].clone();
                // out[-hw + 1:]: for hw = 1 that is out[0:], the whole array.
                let from = if hw == 1 { 0 } else { nints - hw + 1 };
                for m in med.iter_mut().skip(from) {
                    *m = last.clone();
                }
            }
            let params = OutlierParams {
                rolling_window_width: w,
                snr: 0.5,
                ..Default::default()
            };
            let mut want = planes.clone();
            for (t, p) in want.iter_mut().enumerate() {
                flag(p, &Median::F64(&med[t]), 0.5);
            }
            // Holding whole planes, and reading them back from a store.
            for refetch in [false, true] {
                let slot = RefetchSlot::default();
                if refetch {
                    let store = planes.clone();
                    slot.set(Box::new(move |k| Ok(store[k].clone())));
                }
                let mut det = OutlierDetector::new(params, nints, ny, nx).with_refetch(slot);
                let mut got = Vec::new();
                for p in planes.clone() {
                    got.extend(det.push(p).unwrap());
                    if refetch && matches!(det.mode(), OutlierMode::Rolling { .. }) {
                        assert_eq!(det.held_planes(), 0);
                    }
                }
                got.extend(det.finish().unwrap());
                assert_eq!(got.len(), nints, "w={w}");
                for (a, b) in got.iter().zip(&want) {
                    assert_eq!(a.index, b.index);
                    assert_eq!(a.dq, b.dq, "w={w} plane {}", a.index);
                    assert_eq!(a.sci.len(), b.sci.len());
                    for (x, y) in a.sci.iter().zip(&b.sci) {
                        assert_eq!(x.to_bits(), y.to_bits());
                    }
                }
            }
        }
    }
}
