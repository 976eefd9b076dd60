//! The unit a live stream carries: one group of one integration, as it leaves the detector.

use bytes::Bytes;
use std::time::Instant;

/// Shape of every frame of a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameGeometry {
    pub nints: usize,
    pub ngroups: usize,
    pub ny: usize,
    pub nx: usize,
}

impl FrameGeometry {
    pub fn pixels(&self) -> usize {
        self.ny * self.nx
    }
    /// Bytes of one frame of native-endian u16 pixels.
    pub fn frame_bytes(&self) -> usize {
        self.pixels() * 2
    }
    pub fn frames(&self) -> usize {
        self.nints * self.ngroups
    }
}

/// One group readout. `data` holds `ny·nx` native-endian `u16` pixel values, row-major.
#[derive(Debug, Clone)]
pub struct Frame {
    pub int: usize,
    pub group: usize,
    pub data: Bytes,
    /// When the frame reached the process (for latency metrics).
    pub arrived: Instant,
}

impl Frame {
    pub fn new(int: usize, group: usize, data: Bytes) -> Frame {
        Frame {
            int,
            group,
            data,
            arrived: Instant::now(),
        }
    }

    /// Decode the pixels into `out` (length `ny·nx`).
    pub fn pixels_into(&self, out: &mut [u16]) {
        for (o, c) in out.iter_mut().zip(self.data.chunks_exact(2)) {
            *o = u16::from_ne_bytes([c[0], c[1]]);
        }
    }

    /// Build a frame from pixel values (copies them into a new buffer).
    pub fn from_pixels(int: usize, group: usize, pixels: &[u16]) -> Frame {
        let mut v = Vec::with_capacity(pixels.len() * 2);
        for p in pixels {
            v.extend_from_slice(&p.to_ne_bytes());
        }
        Frame::new(int, group, Bytes::from(v))
    }
}
