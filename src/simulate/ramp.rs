//! The up-the-ramp generator: frame-by-frame charge accumulation and readout, streamed in
//! batches of groups.
//!
//! Forward model for a pixel and frame (DN unless noted), as in the oracle generator:
//!
//! ```text
//! electrons += Poisson((flux + dark) * TFRAME) (+ cosmic-ray charge)
//! T   = min(electrons, full well) / gain                  linear DN
//! M   = L^-1(T)                                            exact inverse of the LINEARITY polynomial
//! raw = bias + M + drift[amp, column parity](frame) + N(0, readnoise / sqrt 2)
//! group = round(sum of the NFRAMES reads / FRMDIVSR), clipped to 0..65535
//! ```
//!
//! Reference pixels get only bias + drift + noise. Frames dropped by GROUPGAP accumulate charge
//! but are never read.
//!
//! Only one frame of per-pixel state exists (accumulated electrons, last M, running group sum).
//! Work is split by rows: a row task runs every frame of a batch of groups while the row's state
//! is hot in cache, and draws its noise from the stream keyed by (integration, frame, row), so the
//! output does not depend on how many threads run or in which order.

use rayon::prelude::*;

use super::config::{Plan, FULL};
use super::detector::{lin_inverse, Pixel, NCOEFF};
use super::rng::{domain, Stream};
use super::scene::Scene;

/// Standard deviation (DN) of the per-frame amplifier/column-parity offsets that refpix removes.
pub const DRIFT_SIGMA_DN: f64 = 15.0;

/// A cosmic-ray hit: charge appearing in a pixel just before the read of `frame`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CosmicRay {
    /// 1-based frame index since the reset.
    pub frame: usize,
    pub y: usize,
    pub x: usize,
    pub electrons: f64,
    /// false for the charge spilled into a neighbour of a primary hit.
    pub primary: bool,
}

/// Per-pixel constants of the ramp model (kept compact: it is streamed once per frame).
#[derive(Debug, Clone, Copy)]
struct PxConst {
    bias: f32,
    inv_gain: f32,
    /// Mean electrons per frame (scene + dark), out of transit.
    lam: f32,
    /// sqrt(lam), precomputed for the normal approximation of the Poisson draws.
    sqrt_lam: f32,
    /// Mean electrons per frame of the imaging star alone (0 elsewhere).
    star_lam: f32,
    /// Full well in linear DN.
    fullwell_dn: f32,
    coeffs: [f32; NCOEFF],
    /// Single-frame read noise (DN).
    sigma: f32,
    /// Index into the drift table: amplifier * 2 + detector column parity.
    drift: u8,
    /// false for reference pixels (no charge at all).
    active: bool,
}

/// Per-pixel state carried from frame to frame.
#[derive(Debug, Clone, Copy, Default)]
struct PxState {
    electrons: f32,
    /// Measured (non-linear) DN at the last read, and its change since the read before: their
    /// sum (a linear extrapolation) starts the Newton solve of the next read.
    m: f32,
    dm: f32,
    /// Sum of the reads of the current group.
    gsum: f32,
}

/// A batch of consecutive groups of one integration, laid out `[row][group][column]` (the order
/// the row tasks fill it in); [`Batch::group_rows`] gathers one group in FITS order.
#[derive(Debug)]
pub struct Batch {
    pub int: usize,
    pub g0: usize,
    pub ngroups: usize,
    pub ny: usize,
    pub nx: usize,
    pub data: Vec<u16>,
}

impl Batch {
    /// Copy group `g0 + k` into `dst` (ny * nx, row-major).
    pub fn gather_group(&self, k: usize, dst: &mut [u16]) {
        let (ng, nx) = (self.ngroups, self.nx);
        for (y, out) in dst.chunks_exact_mut(nx).enumerate() {
            let src = (y * ng + k) * nx;
            out.copy_from_slice(&self.data[src..src + nx]);
        }
    }
}

pub struct RampSim {
    plan: Plan,
    consts: Vec<PxConst>,
    state: Vec<PxState>,
    /// Subarray pixel indices that can receive cosmic rays (not reference pixels).
    n_sci: usize,
    refpix: Vec<bool>,
}

impl RampSim {
    /// `det` and `scene` hold the subarray's pixels, row-major.
    pub fn new(plan: &Plan, det: &[Pixel], scene: &Scene) -> RampSim {
        let (ny, nx) = (plan.ny, plan.nx);
        assert_eq!(det.len(), ny * nx);
        let tframe = plan.tframe;
        let consts = (0..ny * nx)
            .map(|k| {
                let p = &det[k];
                let fx = plan.xstart - 1 + k % nx;
                // NRCALONG has FASTAXIS = -1: detector columns run opposite to DMS columns.
                let detx = FULL - 1 - fx;
                let amp = if plan.noutputs == 4 {
                    (detx / 512).min(3)
                } else {
                    0
                };
                let star = scene.star_e.as_ref().map_or(0.0, |s| s[k] as f64);
                let lam = (scene.flux_e[k] as f64 + p.dark_e as f64) * tframe;
                PxConst {
                    bias: p.bias,
                    inv_gain: 1.0 / p.gain,
                    lam: lam as f32,
                    sqrt_lam: lam.sqrt() as f32,
                    star_lam: (star * tframe) as f32,
                    fullwell_dn: p.fullwell_e / p.gain,
                    coeffs: p.coeffs,
                    sigma: p.readnoise / std::f32::consts::SQRT_2,
                    drift: (amp * 2 + detx % 2) as u8,
                    active: !p.refpix,
                }
            })
            .collect();
        let refpix: Vec<bool> = det.iter().map(|p| p.refpix).collect();
        let n_sci = refpix.iter().filter(|r| !**r).count();
        RampSim {
            plan: plan.clone(),
            consts,
            state: vec![PxState::default(); ny * nx],
            n_sci,
            refpix,
        }
    }

    /// The cosmic rays of integration `i`, sorted by (row, frame, column). Primary hits arrive
    /// at a rate of `cr_rate` per science pixel per second (at least two per integration), in a
    /// random frame from the second on, with 200-20000 e-; 40 % spill 2-10 % of their charge into
    /// each 4-neighbour that is a science pixel.
    pub fn cosmic_rays(&self, i: usize) -> Vec<CosmicRay> {
        let p = &self.plan;
        let mut out = Vec::new();
        if self.n_sci == 0 || p.cr_rate <= 0.0 {
            return out;
        }
        let mut s = Stream::for_key(p.seed, domain::COSMIC_RAYS, i as u64, 0, 0);
        let mean = p.cr_rate * self.n_sci as f64 * p.nframes_total as f64 * p.tframe;
        let n = (s.poisson(mean) as usize).max(2);
        let (ny, nx) = (p.ny, p.nx);
        for _ in 0..n {
            let (y, x) = loop {
                let k = s.below((ny * nx) as u64) as usize;
                if !self.refpix[k] {
                    break (k / nx, k % nx);
                }
            };
            let frame = 2 + s.below((p.nframes_total - 1) as u64) as usize;
            let e = 10f64.powf(s.uniform_in(2.3, 4.3));
            out.push(CosmicRay {
                frame,
                y,
                x,
                electrons: e,
                primary: true,
            });
            if s.uniform() < 0.4 {
                for (dy, dx) in [(0i64, 1i64), (1, 0), (0, -1), (-1, 0)] {
                    let (yy, xx) = (y as i64 + dy, x as i64 + dx);
                    if yy < 0 || xx < 0 || yy >= ny as i64 || xx >= nx as i64 {
                        continue;
                    }
                    let (yy, xx) = (yy as usize, xx as usize);
                    if self.refpix[yy * nx + xx] {
                        continue;
                    }
                    let e2 = e * s.uniform_in(0.02, 0.1);
                    out.push(CosmicRay {
                        frame,
                        y: yy,
                        x: xx,
                        electrons: e2,
                        primary: false,
                    });
                }
            }
        }
        out.sort_by_key(|c| (c.y, c.frame, c.x));
        out
    }

    /// Reset every pixel: the start of an integration.
    pub fn reset(&mut self) {
        self.state
            .par_iter_mut()
            .for_each(|s| *s = PxState::default());
    }

    /// The drift offsets of frame `fr` of integration `i`, indexed by amplifier * 2 + parity.
    fn drift(&self, i: usize, fr: usize) -> [f32; 8] {
        let mut s = Stream::for_key(self.plan.seed, domain::DRIFT, i as u64, fr as u64, 0);
        std::array::from_fn(|_| (DRIFT_SIGMA_DN * s.normal()) as f32)
    }

    /// Simulate groups `g0 .. g0 + ng` of integration `i` (the previous groups of the
    /// integration must have been simulated already, after a [`RampSim::reset`]). `crs` is the
    /// integration's cosmic-ray list from [`RampSim::cosmic_rays`]; `buf` is reused for the batch.
    pub fn batch(
        &mut self,
        i: usize,
        g0: usize,
        ng: usize,
        crs: &[CosmicRay],
        mut buf: Vec<u16>,
    ) -> Batch {
        let plan = &self.plan;
        let (ny, nx) = (plan.ny, plan.nx);
        buf.resize(ny * ng * nx, 0);
        let first_frame = *plan.group_frames(g0).start();
        let last_frame = *plan.group_frames(g0 + ng - 1).end();
        let drifts: Vec<[f32; 8]> = (first_frame..=last_frame)
            .map(|fr| self.drift(i, fr))
            .collect();
        let dip = if plan.imaging() {
            (1.0 - plan.lightcurve(i)) as f32
        } else {
            0.0
        };
        let seed = plan.seed;
        let inv_div = 1.0 / plan.frame_divisor as f64;
        let consts = &self.consts;
        buf.par_chunks_mut(ng * nx)
            .zip(self.state.par_chunks_mut(nx))
            .enumerate()
            .for_each(|(y, (out_row, state))| {
                let cst = &consts[y * nx..(y + 1) * nx];
                let lo = crs.partition_point(|c| c.y < y);
                let hi = crs.partition_point(|c| c.y <= y);
                let row_crs = &crs[lo..hi];
                let mut m_scratch = vec![0.0f64; nx];
                for k in 0..ng {
                    let g = g0 + k;
                    let frames = plan.group_frames(g);
                    let last_read = *frames.end();
                    for fr in frames {
                        for c in row_crs.iter().filter(|c| c.frame == fr) {
                            state[c.x].electrons += c.electrons as f32;
                        }
                        let mut s = Stream::for_key(
                            seed,
                            domain::FRAME_NOISE,
                            i as u64,
                            fr as u64,
                            y as u64,
                        );
                        let drift = &drifts[fr - first_frame];
                        if !plan.is_read(fr) {
                            accumulate(cst, state, dip, &mut s);
                            continue;
                        }
                        read_frame(cst, state, dip, drift, &mut s, &mut m_scratch);
                        if fr == last_read {
                            let out = &mut out_row[k * nx..(k + 1) * nx];
                            for (o, st) in out.iter_mut().zip(state.iter_mut()) {
                                // Round half up (the values are continuous, so ties do not
                                // occur); truncation avoids a libm call per pixel.
                                let v = (st.gsum as f64 * inv_div).clamp(0.0, 65535.0);
                                *o = (v + 0.5) as u16;
                                st.gsum = 0.0;
                            }
                        }
                    }
                }
            });
        Batch {
            int: i,
            g0,
            ngroups: ng,
            ny,
            nx,
            data: buf,
        }
    }
}

/// Electrons collected by a pixel in one frame. Out of transit the precomputed sqrt is used;
/// the imaging star's pixels dimmed by the transit need a fresh one.
#[inline]
fn photons(c: &PxConst, dip: f32, s: &mut Stream) -> f32 {
    if dip != 0.0 && c.star_lam != 0.0 {
        s.poisson((c.lam - dip * c.star_lam) as f64) as f32
    } else {
        s.poisson_with_sqrt(c.lam as f64, c.sqrt_lam as f64) as f32
    }
}

/// A dropped frame: charge only.
fn accumulate(cst: &[PxConst], state: &mut [PxState], dip: f32, s: &mut Stream) {
    for (c, st) in cst.iter().zip(state.iter_mut()) {
        if c.active {
            st.electrons += photons(c, dip, s);
        }
    }
}

/// A read frame: charge, then the non-linear readout with bias, drift and read noise.
///
/// Done in three passes over the row so that the Newton solves, which are long dependency
/// chains, sit in a tight loop of independent pixels the CPU can overlap, instead of between
/// random draws that serialise on the stream state. `m` is scratch for the row's measured DN.
#[inline]
fn read_frame(
    cst: &[PxConst],
    state: &mut [PxState],
    dip: f32,
    drift: &[f32; 8],
    s: &mut Stream,
    m: &mut [f64],
) {
    for (c, st) in cst.iter().zip(state.iter_mut()) {
        if c.active {
            st.electrons += photons(c, dip, s);
        }
    }
    for ((c, st), mx) in cst.iter().zip(state.iter_mut()).zip(m.iter_mut()) {
        *mx = if c.active {
            let t = (st.electrons * c.inv_gain).min(c.fullwell_dn) as f64;
            let v = lin_inverse(&c.coeffs, t, (st.m + st.dm) as f64);
            st.dm = (v - st.m as f64) as f32;
            st.m = v as f32;
            v
        } else {
            0.0
        };
    }
    for ((c, st), mx) in cst.iter().zip(state.iter_mut()).zip(m.iter()) {
        let v = c.bias as f64 + mx + drift[c.drift as usize] as f64 + c.sigma as f64 * s.normal();
        st.gsum += v as f32;
    }
}
