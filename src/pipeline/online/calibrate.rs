//! Group-major calibration: every frame, as it arrives, goes through the same kernels as the
//! exact driver — group_scale, dq_init, saturation, ipc, superbias, refpix, linearity, dark —
//! on the whole frame at once.
//!
//! Saturation is the only step that is not per group. Its forward pass (sticky threshold test,
//! A/D floor, box growth) needs the frame itself and one bit per pixel of history ("ever at or
//! above threshold"); its diluted-saturation test for group g and its second-group test need
//! the forward flags of group g+1. So with frame averaging (NFRAMES > 1 and `use_readpatt`)
//! group g is final when group g+1 arrives (one group of latency; the last group at once), and
//! without it every group is final on arrival (the two tests cannot fire when NFRAMES = 1).
//!
//! To stay bit-identical the window of frames a decision depends on is handed to the very same
//! kernel, `saturation::flag_integration`, as a small tile of 2 groups (`[g, g+1]`, or `[0, 1,
//! 2]` when the second-group test applies to group 1), with the flags of earlier groups
//! represented by seeding SATURATED where the pixel was already saturated: the kernel's forward
//! pass ORs that seed into the growth mask exactly as its own sticky flag would.

use crate::pipeline::detector1::prepare::{Prepared, SaturationBufs};
use crate::steps::refpix::{Frame as RefFrame, RefpixPlan, RefpixStatus};
use crate::steps::saturation::{self, ReadPattern, SaturationParams, SaturationScratch, Tile};
use crate::steps::{dq_init, group_scale, linearity, superbias};
use anyhow::Result;
use frames::dq;
use ndarray::ArrayViewMut2;

/// Working memory for the float64 dark of a few rows.
const DARK_ROWS_BYTES: usize = 256 << 10;

/// `out = dq_init flags of mask`, plus SATURATED where `ever` (when given).
fn seed(mask: &[u32], ever: Option<&[bool]>, out: &mut [u8]) {
    out.fill(0);
    dq_init::seed_plane(out, mask);
    if let Some(ever) = ever {
        for (q, &e) in out.iter_mut().zip(ever) {
            if e {
                *q |= dq::G_SATURATED;
            }
        }
    }
}

/// `ever |= value >= threshold`, pixel by pixel (the forward pass's sticky test).
fn mark_reached(ever: &mut [bool], values: &[f32], threshold: &[f32]) {
    for ((e, &v), &t) in ever.iter_mut().zip(values).zip(threshold) {
        if v >= t {
            *e = true;
        }
    }
}

/// One group whose flags are final and whose values are fully calibrated.
pub struct CalibratedGroup<'a> {
    pub group: usize,
    pub values: &'a [f32],
    pub gdq: &'a [u8],
}

/// Per-exposure calibration state for the current integration. Memory: a few frames
/// (4 bytes per pixel each) plus one "ever saturated" flag per pixel; nothing grows.
pub struct FrameCalibrator {
    ny: usize,
    nx: usize,
    ngroups: usize,
    sat_params: Option<SaturationParams>,
    refpix: Option<RefpixPlan>,
    /// Whether saturation needs the next group before a group is final.
    latency: bool,
    /// Rows per band of the reference reads (the frame's height when they are in memory), and
    /// the rows read around a band for saturation growth.
    band: usize,
    halo: usize,
    /// Group-scaled raw frames, slot `g % slots` (3 slots with latency, else 1).
    raw: Vec<Vec<f32>>,
    /// Per pixel: some group before the current window reached the threshold.
    ever: Vec<bool>,
    /// Flags of the window tile (up to 3 planes of a band and its halo).
    window_dq: Vec<u8>,
    /// Values of the window tile (up to 3 planes of a band and its halo), copied from `raw`.
    window_vals: Vec<f32>,
    /// Calibrated values of the group being emitted.
    work: Vec<f32>,
    /// Final flags of the group being emitted.
    work_dq: Vec<u8>,
    dark: Vec<f64>,
    scratch: SaturationScratch,
    /// Bands of references read back from scratch files, reused from band to band (an
    /// allocation of a MiB or more per band would be fresh pages every time).
    mask_buf: Vec<u32>,
    sat_bufs: SaturationBufs,
    ref_buf: Vec<f32>,
    /// Next group expected (within the current integration).
    next_group: usize,
    integration: usize,
    /// Groups of this integration in which every pixel has DO_NOT_USE after saturation.
    pub fully_dnu_groups: usize,
}

impl FrameCalibrator {
    pub fn new(
        prep: &Prepared,
        ngroups: usize,
        sat_params: Option<SaturationParams>,
        refpix: Option<RefpixPlan>,
    ) -> Self {
        let (ny, nx) = (prep.ny, prep.nx);
        let np = ny * nx;
        let latency = sat_params.is_some()
            && prep
                .saturation
                .as_ref()
                .and_then(|s| s.read_pattern.as_ref())
                .is_some_and(|rp| rp.nframes > 1);
        let slots = if latency { 3 } else { 1 };
        let window = if latency { 3.min(ngroups) } else { 1 };
        let refpix = refpix.filter(|p| p.status() == RefpixStatus::Complete);
        let band = if prep.mask.in_memory() {
            ny.max(1)
        } else {
            crate::pipeline::detector1::prepare::band_rows(ny, nx)
        };
        // Growth reaches n_pix_grow_sat pixels; the diluted-saturation test looks at the next
        // group's grown flags and grows its own hits again: twice that with a read pattern.
        let grow = sat_params.map_or(0, |p| p.n_pix_grow_sat);
        let halo = if latency { 2 * grow } else { grow };
        // A band and its halo (the whole frame when one band covers it).
        let area = if band >= ny {
            np
        } else {
            (band + 2 * halo).min(ny) * nx
        };
        FrameCalibrator {
            ny,
            nx,
            ngroups,
            sat_params,
            refpix,
            latency,
            band,
            halo,
            raw: (0..slots).map(|_| vec![0f32; np]).collect(),
            ever: vec![false; np],
            window_dq: vec![0; window * area],
            window_vals: if latency {
                vec![0f32; window * area]
            } else {
                Vec::new()
            },
            work: vec![0f32; np],
            work_dq: vec![0; np],
            dark: if prep.dark.is_some() {
                vec![0f64; nx * (DARK_ROWS_BYTES / (8 * nx.max(1))).clamp(1, ny.max(1))]
            } else {
                Vec::new()
            },
            scratch: SaturationScratch::default(),
            mask_buf: Vec::new(),
            sat_bufs: SaturationBufs::default(),
            ref_buf: Vec::new(),
            next_group: 0,
            integration: 0,
            fully_dnu_groups: 0,
        }
    }

    /// Touch every buffer page and read the dark of every group once, so the first frames of
    /// the stream do not pay for page faults (the set-up does).
    pub fn warm_up(&mut self, prep: &Prepared) -> Result<()> {
        for r in &mut self.raw {
            r.fill(0.0);
        }
        self.window_vals.fill(0.0);
        self.window_dq.fill(0);
        self.work.fill(0.0);
        self.work_dq.fill(0);
        if let Some(d) = &prep.dark {
            let rows = (self.dark.len() / self.nx).max(1);
            for g in 0..self.ngroups {
                for y0 in (0..self.ny).step_by(rows) {
                    let r = rows.min(self.ny - y0);
                    let view =
                        ArrayViewMut2::from_shape((r, self.nx), &mut self.dark[..r * self.nx])
                            .expect("dark buffer holds whole rows");
                    d.fill_group_band(g, y0, view)?;
                }
                // The group is now in the page cache; its pages need not stay mapped.
                d.release_pages();
            }
        }
        Ok(())
    }

    /// Read the references in bands of `rows` rows (tests: the band-wise path on small frames).
    #[cfg(test)]
    fn set_band(&mut self, rows: usize) {
        self.band = rows.clamp(1, self.ny.max(1));
        let window = if self.latency { 3.min(self.ngroups) } else { 1 };
        let area = (self.band + 2 * self.halo).min(self.ny) * self.nx;
        self.window_dq = vec![0; window * area];
        if self.latency {
            self.window_vals = vec![0f32; window * area];
        }
    }

    /// Whether saturation makes a group final only when the next one arrives.
    pub fn has_latency(&self) -> bool {
        self.latency
    }

    fn np(&self) -> usize {
        self.ny * self.nx
    }

    /// Take group `group` of integration `int` (raw u16 pixels) and call `emit` for every group
    /// that became final (in order): none, one or two groups.
    pub fn ingest(
        &mut self,
        prep: &Prepared,
        int: usize,
        group: usize,
        pixels: &[u16],
        mut emit: impl FnMut(CalibratedGroup<'_>) -> Result<()>,
    ) -> Result<()> {
        let np = self.np();
        anyhow::ensure!(
            pixels.len() == np,
            "frame of {} pixels, expected {np}",
            pixels.len()
        );
        anyhow::ensure!(
            group == self.next_group
                && (group > 0 || int == self.integration || int == self.integration + 1),
            "frame (integration {int}, group {group}) out of order"
        );
        if group == 0 {
            self.integration = int;
            self.ever.fill(false);
            self.fully_dnu_groups = 0;
        }
        let slot = group % self.raw.len();
        {
            let raw = &mut self.raw[slot];
            for (r, &p) in raw.iter_mut().zip(pixels) {
                *r = p as f32;
            }
            if let Some(f) = prep.group_scale {
                group_scale::apply(raw, f);
            }
        }
        self.next_group = if group + 1 == self.ngroups {
            0
        } else {
            group + 1
        };
        if !self.latency {
            self.finalize_alone(prep, group)?;
            return self.correct_and_emit(prep, group, &mut emit);
        }
        if group >= 1 {
            self.finalize_in_window(prep, group - 1)?;
            self.correct_and_emit(prep, group - 1, &mut emit)?;
        }
        if group + 1 == self.ngroups {
            self.finalize_alone(prep, group)?;
            self.correct_and_emit(prep, group, &mut emit)?;
        }
        Ok(())
    }

    /// Bands of rows `(y0, y1)` and the rows `(a0, a1)` read around each for saturation.
    fn bands(&self) -> impl Iterator<Item = (usize, usize, usize, usize)> + '_ {
        (0..self.ny).step_by(self.band).map(move |y0| {
            let y1 = (y0 + self.band).min(self.ny);
            (
                y0,
                y1,
                y0.saturating_sub(self.halo),
                (y1 + self.halo).min(self.ny),
            )
        })
    }

    /// `ever |= raw >= threshold` for group `group`'s frame, once its flags are all final (a
    /// later band's halo must still see the earlier groups only).
    fn mark_group_reached(&mut self, prep: &Prepared, group: usize) -> Result<()> {
        let Some(sat) = &prep.saturation else {
            return Ok(());
        };
        let nx = self.nx;
        let raw = &self.raw[group % self.raw.len()];
        for y0 in (0..self.ny).step_by(self.band) {
            let y1 = (y0 + self.band).min(self.ny);
            let span = y0 * nx..y1 * nx;
            let threshold = sat.threshold.rows_in(y0..y1, &mut self.ref_buf)?;
            mark_reached(&mut self.ever[span.clone()], &raw[span], threshold);
        }
        Ok(())
    }

    /// Flags of `group` from the forward pass alone (no later group can change them).
    fn finalize_alone(&mut self, prep: &Prepared, group: usize) -> Result<()> {
        let slot = group % self.raw.len();
        let nx = self.nx;
        let mut flags = std::mem::take(&mut self.work_dq);
        let bands: Vec<_> = self.bands().collect();
        for (y0, y1, a0, a1) in bands {
            let area = a0 * nx..a1 * nx;
            let mask = prep.mask.rows_in(a0..a1, &mut self.mask_buf)?;
            let sat = match (&prep.saturation, &self.sat_params) {
                (Some(sat), Some(sp)) => Some((sat, sp)),
                _ => None,
            };
            let ever = sat.map(|_| &self.ever[area.clone()]);
            let whole = a0 == 0 && a1 == self.ny;
            // In place on the whole frame, else a band and its halo in the window buffer.
            let out: &mut [u8] = if whole {
                &mut flags
            } else {
                &mut self.window_dq[..area.len()]
            };
            seed(mask, ever, out);
            if let Some((sat, sp)) = sat {
                let cut = sat.rows_in(a0..a1, &mut self.sat_bufs)?;
                let tile = Tile {
                    rows: a1 - a0,
                    cols: nx,
                    ngroups: 1,
                };
                saturation::flag_integration(
                    tile,
                    &self.raw[slot][area.clone()],
                    out,
                    &cut.thresholds(),
                    sp,
                    None,
                    &mut self.scratch,
                );
            }
            if !whole {
                let core = (y0 - a0) * nx..(y1 - a0) * nx;
                flags[y0 * nx..y1 * nx].copy_from_slice(&self.window_dq[core]);
            }
        }
        self.work_dq = flags;
        self.mark_group_reached(prep, group)
    }

    /// Flags of `group` once `group + 1` has arrived: run the kernel on the window.
    fn finalize_in_window(&mut self, prep: &Prepared, group: usize) -> Result<()> {
        let nx = self.nx;
        let (Some(sat), Some(sp)) = (&prep.saturation, &self.sat_params) else {
            unreachable!("latency implies saturation")
        };
        let Some(rp) = sat.read_pattern.as_ref() else {
            unreachable!("latency implies a read pattern")
        };
        // Groups in the window and the read pattern the kernel sees for them.
        let second_group_test = group == 1 && self.ngroups > 2;
        let (first, count, pattern) = if second_group_test {
            // Local indices equal global ones: the original pattern applies as is.
            (0, 3, rp.clone())
        } else {
            let local = ReadPattern {
                dilution: vec![rp.dilution[group], 1.0],
                mean_first: rp.mean_first,
                last_of_third: rp.last_of_third,
                nframes: rp.nframes,
            };
            (group, 2, local)
        };
        let mut vals = std::mem::take(&mut self.window_vals);
        let mut flags = std::mem::take(&mut self.window_dq);
        // The seed stands for the groups before the window start: with the second-group window
        // that start is group 0 itself, so nothing is seeded.
        let use_ever = !second_group_test;
        let at = group - first;
        let bands: Vec<_> = self.bands().collect();
        for (y0, y1, a0, a1) in bands {
            let area = a0 * nx..a1 * nx;
            let n = area.len();
            let mask = prep.mask.rows_in(a0..a1, &mut self.mask_buf)?;
            for j in 0..count {
                let g = first + j;
                vals[j * n..(j + 1) * n]
                    .copy_from_slice(&self.raw[g % self.raw.len()][area.clone()]);
                let ever = use_ever.then(|| &self.ever[area.clone()]);
                seed(mask, ever, &mut flags[j * n..(j + 1) * n]);
            }
            let cut = sat.rows_in(a0..a1, &mut self.sat_bufs)?;
            let tile = Tile {
                rows: a1 - a0,
                cols: nx,
                ngroups: count,
            };
            saturation::flag_integration(
                tile,
                &vals[..count * n],
                &mut flags[..count * n],
                &cut.thresholds(),
                sp,
                Some(&pattern),
                &mut self.scratch,
            );
            let core = at * n + (y0 - a0) * nx..at * n + (y1 - a0) * nx;
            self.work_dq[y0 * nx..y1 * nx].copy_from_slice(&flags[core]);
        }
        self.window_vals = vals;
        self.window_dq = flags;
        self.mark_group_reached(prep, group)
    }

    /// ipc, superbias, refpix, linearity and dark on the group whose flags are in `work_dq`.
    fn correct_and_emit(
        &mut self,
        prep: &Prepared,
        group: usize,
        emit: &mut impl FnMut(CalibratedGroup<'_>) -> Result<()>,
    ) -> Result<()> {
        let slot = group % self.raw.len();
        let nx = self.nx;
        self.work.copy_from_slice(&self.raw[slot]);
        if self.work_dq.iter().all(|&q| q & dq::G_DO_NOT_USE != 0) {
            self.fully_dnu_groups += 1;
        }
        if let Some(ipc) = &prep.ipc {
            ipc.correct_frame(
                &mut self.work,
                &mut crate::steps::ipc::IpcScratch::default(),
            );
        }
        if let Some(b) = &prep.superbias {
            for y0 in (0..self.ny).step_by(self.band) {
                let y1 = (y0 + self.band).min(self.ny);
                let bias = b.rows_in(y0..y1, &mut self.ref_buf)?;
                superbias::subtract_plane(&mut self.work[y0 * nx..y1 * nx], bias);
            }
        }
        if let Some(plan) = &self.refpix {
            plan.correct_frame(
                RefFrame::Group {
                    integration: self.integration,
                    group,
                },
                &mut self.work,
            )?;
        }
        if let Some(lin) = &prep.linearity {
            for y0 in (0..self.ny).step_by(self.band) {
                let y1 = (y0 + self.band).min(self.ny);
                let span = y0 * nx..y1 * nx;
                linearity::correct_plane(
                    &mut self.work[span.clone()],
                    &self.work_dq[span],
                    lin.coeffs.rows_in(y0..y1, &mut self.ref_buf)?,
                    lin.ncoeff,
                );
            }
        }
        if let Some(d) = &prep.dark {
            // A few rows at a time: the float64 dark of the whole frame would cost 8 bytes per
            // pixel of resident memory for nothing.
            let rows = (self.dark.len() / self.nx).max(1);
            for y0 in (0..self.ny).step_by(rows) {
                let r = rows.min(self.ny - y0);
                let buf = &mut self.dark[..r * self.nx];
                let view = ArrayViewMut2::from_shape((r, self.nx), &mut *buf)
                    .expect("dark buffer holds whole rows");
                d.fill_group_band(group, y0, view)?;
                let out = &mut self.work[y0 * self.nx..(y0 + r) * self.nx];
                for (x, &dv) in out.iter_mut().zip(buf.iter()) {
                    *x = ((*x as f64) - dv) as f32;
                }
            }
            // One group's dark is read once per frame: drop its mapped pages again (4 bytes
            // per pixel per dark group otherwise stay resident).
            d.release_pages();
        }
        emit(CalibratedGroup {
            group,
            values: &self.work,
            gdq: &self.work_dq,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::detector1::prepare::{RefArray, SaturationInputs};
    use rand::{Rng, SeedableRng};

    fn prepared(ny: usize, nx: usize, ngroups: usize, nframes: usize, seed: u64) -> Prepared {
        let np = ny * nx;
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let threshold: Vec<f32> = (0..np).map(|_| rng.random_range(900.0..1100.0)).collect();
        let nosat: Vec<bool> = (0..np).map(|_| rng.random_range(0..20) == 0).collect();
        let mask: Vec<u32> = (0..np)
            .map(|_| {
                if rng.random_range(0..25) == 0 {
                    dq::DO_NOT_USE
                } else {
                    0
                }
            })
            .collect();
        let bias: Vec<f32> = (0..np).map(|_| rng.random_range(50.0..150.0)).collect();
        let arr = |v: Vec<f32>| RefArray::from_vec(ny, nx, 1, v);
        Prepared {
            ny,
            nx,
            group_scale: None,
            mask: RefArray::from_vec(ny, nx, 1, mask),
            saturation: Some(SaturationInputs {
                threshold: arr(threshold),
                nosat: RefArray::from_vec(ny, nx, 1, nosat),
                bias: Some(arr(bias)),
                read_pattern: Some(ReadPattern::new(nframes, ngroups)),
            }),
            ipc: None,
            superbias: None,
            linearity: None,
            dark: None,
            jump_gain_own: None,
            jump_readnoise_own: None,
            jump_gain_median: None,
            gain: arr(vec![0.0; np]),
            readnoise: arr(vec![0.0; np]),
            gain_factor: None,
            average_dark_current: arr(vec![0.0; np]),
            pixeldq_refpix: RefArray::from_vec(ny, nx, 1, vec![0; np]),
            pixeldq_pre_jump: RefArray::from_vec(ny, nx, 1, vec![0; np]),
            pixeldq_after: vec![],
            cal_steps: vec![],
            ref_files: vec![],
        }
    }

    /// The same references in scratch files.
    fn in_files(mut p: Prepared) -> Prepared {
        let (ny, nx) = (p.ny, p.nx);
        let f32s =
            |a: &RefArray<f32>| RefArray::file_backed(ny, nx, 1, &a.whole().unwrap()).unwrap();
        p.mask = RefArray::file_backed(ny, nx, 1, &p.mask.whole().unwrap()).unwrap();
        let s = p.saturation.as_mut().unwrap();
        s.threshold = f32s(&s.threshold);
        s.nosat = RefArray::file_backed(ny, nx, 1, &s.nosat.whole().unwrap()).unwrap();
        s.bias = s.bias.as_ref().map(f32s);
        assert!(!p.mask.in_memory());
        p
    }

    /// Streaming saturation (one group of latency, windows of 2–3 groups) gives exactly the
    /// flags of the kernel run on the whole integration, including diluted saturation, the
    /// second-group test and box growth, over several integrations.
    #[test]
    fn streaming_saturation_equals_the_whole_integration_kernel() {
        for (ngroups, nframes, seed) in [(6, 4, 1), (3, 8, 2), (2, 4, 3), (5, 1, 4), (1, 4, 5)] {
            let (ny, nx) = (9, 11);
            let np = ny * nx;
            // The whole frame in memory, and references in scratch files read in bands of 1, 2
            // and 4 rows (with the growth halo).
            // Growth of 1 and 2 pixels.
            for (band, grow) in [(0, 1), (1, 1), (2, 1), (4, 1), (0, 2), (1, 2), (3, 2)] {
                let prep = prepared(ny, nx, ngroups, nframes, seed);
                let prep = if band > 0 { in_files(prep) } else { prep };
                let sp = SaturationParams {
                    n_pix_grow_sat: grow,
                    ..SaturationParams::default()
                };
                let mut cal = FrameCalibrator::new(&prep, ngroups, Some(sp), None);
                if band > 0 {
                    cal.set_band(band);
                }
                assert_eq!(cal.has_latency(), nframes > 1);
                let mut rng = rand::rngs::StdRng::seed_from_u64(seed + 100);
                let mut diluted_or_second = 0;
                for int in 0..3 {
                    // Ramps from 0 to ~2.5 thresholds; some start at 0 (A/D floor), some jump.
                    let mut frames = vec![0u16; ngroups * np];
                    for p in 0..np {
                        let slope: f32 = rng.random_range(0.0..600.0);
                        let start: f32 = rng.random_range(0.0..400.0);
                        let jump_at = rng.random_range(0..ngroups + 3);
                        for g in 0..ngroups {
                            let mut v = start + slope * g as f32;
                            if g >= jump_at {
                                v += 900.0;
                            }
                            frames[g * np + p] = v.clamp(0.0, 65535.0) as u16;
                        }
                    }
                    let vals: Vec<f32> = frames.iter().map(|&v| v as f32).collect();
                    let mut expect = vec![0u8; ngroups * np];
                    for g in 0..ngroups {
                        dq_init::seed_plane(
                            &mut expect[g * np..(g + 1) * np],
                            &prep.mask.whole().unwrap(),
                        );
                    }
                    let sat = prep.saturation.as_ref().unwrap();
                    let cut = sat.rows(0..prep.ny).unwrap();
                    let thr = cut.thresholds();
                    let mut forward_only = expect.clone();
                    let tile = Tile {
                        rows: ny,
                        cols: nx,
                        ngroups,
                    };
                    let mut scratch = SaturationScratch::default();
                    saturation::flag_integration(
                        tile,
                        &vals,
                        &mut expect,
                        &thr,
                        &sp,
                        sat.read_pattern.as_ref(),
                        &mut scratch,
                    );
                    saturation::flag_integration(
                        tile,
                        &vals,
                        &mut forward_only,
                        &thr,
                        &sp,
                        None,
                        &mut scratch,
                    );
                    diluted_or_second += expect
                        .iter()
                        .zip(&forward_only)
                        .filter(|(a, b)| a != b)
                        .count();
                    let mut got = vec![0u8; ngroups * np];
                    let mut order = Vec::new();
                    for g in 0..ngroups {
                        cal.ingest(&prep, int, g, &frames[g * np..(g + 1) * np], |cg| {
                            order.push(cg.group);
                            got[cg.group * np..(cg.group + 1) * np].copy_from_slice(cg.gdq);
                            assert_eq!(cg.values, &vals[cg.group * np..(cg.group + 1) * np]);
                            Ok(())
                        })
                        .unwrap();
                    }
                    assert_eq!(order, (0..ngroups).collect::<Vec<_>>());
                    assert_eq!(
                        got, expect,
                        "ngroups {ngroups}, nframes {nframes}, int {int}, band {band}, grow {grow}"
                    );
                }
                if nframes > 1 && ngroups > 1 {
                    assert!(
                        diluted_or_second > 0,
                        "the test data must exercise the read-pattern tests"
                    );
                }
            }
        }
    }
}
