//! Taps: copies of the intermediate ramp at chosen points of the fused correction chain, for the
//! steps' own saved results (`--steps.<step>.save_results=true`).
//!
//! The exact driver never holds a whole intermediate ramp: each tile's reads are corrected one
//! chunk of integrations at a time inside `exact::process_tile`. A tap copies the tile's core
//! pixels at its point of the chain, for every integration and group, into a plane-major buffer
//! `[int][group][core row][core col]` that travels with the tile's products to the writer
//! thread. Each wanted point costs 4 bytes (values) or 1 byte (GROUPDQ) per pixel-read of a
//! tile, which the tile budget accounts for ([`TapRequest::bytes_per_read`]).

use super::exact::TileRect;

/// Points of the correction chain where the values of a tile's core pixels can be copied out
/// (for the steps' own saved results): after group_scale (also dq_init's and saturation's
/// values), ipc (just before superbias), superbias, refpix, linearity and dark_current.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueTap {
    GroupScale = 0,
    Ipc,
    Superbias,
    Refpix,
    Linearity,
    Dark,
}

/// Number of [`ValueTap`] points.
pub const VALUE_TAPS: usize = 6;

/// Points where GROUPDQ can be copied out: after dq_init, and after saturation (unchanged until
/// jump). The jump step's ramp is the calibrated ramp ([`super::exact::BandProducts::ramp`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagTap {
    DqInit = 0,
    Saturation,
}

/// Which taps a run wants.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TapRequest {
    pub values: [bool; VALUE_TAPS],
    pub flags: [bool; 2],
}

impl TapRequest {
    /// Bytes per pixel-read the taps of one tile hold.
    pub fn bytes_per_read(&self) -> u64 {
        4 * self.values.iter().filter(|&&v| v).count() as u64
            + self.flags.iter().filter(|&&v| v).count() as u64
    }
}

/// The taps of one tile: plane-major `[int][group][core row][core col]`.
#[derive(Debug, Default)]
pub struct Taps {
    pub values: [Option<Vec<f32>>; VALUE_TAPS],
    pub flags: [Option<Vec<u8>>; 2],
}

impl Taps {
    pub(super) fn new(req: &TapRequest, g: &TapGeometry, nints: usize) -> Taps {
        let len = nints * g.ngroups * g.rows * g.cols;
        Taps {
            values: req.values.map(|on| on.then(|| vec![0f32; len])),
            flags: req.flags.map(|on| on.then(|| vec![0u8; len])),
        }
    }

    /// Every integration `first..first + count`'s share of the taps.
    pub(super) fn split(&mut self, g: TapGeometry, first: usize, count: usize) -> Vec<TapInt<'_>> {
        let per = g.ngroups * g.rows * g.cols;
        let mut out: Vec<TapInt<'_>> = (0..count)
            .map(|_| TapInt {
                g,
                values: Default::default(),
                flags: Default::default(),
            })
            .collect();
        for (k, buf) in self.values.iter_mut().enumerate() {
            if let Some(b) = buf {
                for (t, c) in out
                    .iter_mut()
                    .zip(b[first * per..(first + count) * per].chunks_mut(per))
                {
                    t.values[k] = Some(c);
                }
            }
        }
        for (k, buf) in self.flags.iter_mut().enumerate() {
            if let Some(b) = buf {
                for (t, c) in out
                    .iter_mut()
                    .zip(b[first * per..(first + count) * per].chunks_mut(per))
                {
                    t.flags[k] = Some(c);
                }
            }
        }
        out
    }
}

/// Where a tile's core sits in its read region.
#[derive(Debug, Clone, Copy)]
pub(super) struct TapGeometry {
    pub(super) ngroups: usize,
    pub(super) rows: usize,
    pub(super) cols: usize,
    /// Core offset in the read region (rows, columns) and the read region's width.
    pub(super) dr: usize,
    pub(super) dc: usize,
    pub(super) rw: usize,
}

impl TapGeometry {
    pub(super) fn of(t: &TileRect, ngroups: usize) -> TapGeometry {
        TapGeometry {
            ngroups,
            rows: t.y1 - t.y0,
            cols: t.x1 - t.x0,
            dr: t.y0 - t.r0,
            dc: t.x0 - t.rx0,
            rw: t.rx1 - t.rx0,
        }
    }
}

/// One integration's share of the taps (filled by the correction chain).
pub(super) struct TapInt<'a> {
    g: TapGeometry,
    values: [Option<&'a mut [f32]>; VALUE_TAPS],
    flags: [Option<&'a mut [u8]>; 2],
}

impl TapInt<'_> {
    fn copy<T: Copy>(g: &TapGeometry, dst: &mut [T], group: usize, plane: &[T]) {
        let n = g.rows * g.cols;
        for (r, out) in dst[group * n..(group + 1) * n]
            .chunks_exact_mut(g.cols)
            .enumerate()
        {
            let src = (r + g.dr) * g.rw + g.dc;
            out.copy_from_slice(&plane[src..src + g.cols]);
        }
    }
    /// Copy group `group`'s read-region plane of values at `at`, when that tap is wanted.
    #[inline]
    pub(super) fn values(&mut self, at: ValueTap, group: usize, plane: &[f32]) {
        if let Some(dst) = self.values[at as usize].as_deref_mut() {
            Self::copy(&self.g, dst, group, plane);
        }
    }
    /// Copy group `group`'s read-region plane of GROUPDQ at `at`, when that tap is wanted.
    #[inline]
    pub(super) fn flags(&mut self, at: FlagTap, group: usize, plane: &[u8]) {
        if let Some(dst) = self.flags[at as usize].as_deref_mut() {
            Self::copy(&self.g, dst, group, plane);
        }
    }
}
