//! Frame sources over raw exposure files: the memory-mapped file read group by group in time
//! order, and a replay producer that pushes the same frames into a live feed at the detector's
//! cadence.

use frames::raw::RawExposure;
use std::sync::Arc;
use std::time::{Duration, Instant};
use stream::{FeedProducer, Frame, FrameGeometry, FrameSource, StreamError};

/// Geometry of the frames of a raw exposure file.
pub fn geometry_of(raw: &RawExposure) -> FrameGeometry {
    FrameGeometry {
        nints: raw.nints(),
        ngroups: raw.ngroups(),
        ny: raw.ny(),
        nx: raw.nx(),
    }
}

/// A [`FrameSource`] over a memory-mapped `_uncal.fits`: group frames in time order.
pub struct RawFileSource {
    raw: Arc<RawExposure>,
    next: usize,
    pixels: Vec<u16>,
}

impl RawFileSource {
    pub fn new(raw: Arc<RawExposure>) -> Self {
        let n = raw.ny() * raw.nx();
        RawFileSource {
            raw,
            next: 0,
            pixels: vec![0; n],
        }
    }

    /// Read frame `k` (integration-major) of the file.
    pub fn read_frame(
        raw: &RawExposure,
        k: usize,
        pixels: &mut [u16],
    ) -> Result<Frame, StreamError> {
        let (i, g) = (k / raw.ngroups(), k % raw.ngroups());
        raw.check_unchanged()
            .and_then(|_| raw.read_group_u16(i, g, pixels))
            .map_err(|e| StreamError::Source(e.to_string()))?;
        // The frame is copied out; drop its mapped pages from the resident set so memory does
        // not grow with the file (they stay in the page cache).
        raw.release_band(i, g, 0, raw.ny());
        Ok(Frame::from_pixels(i, g, pixels))
    }
}

impl FrameSource for RawFileSource {
    fn geometry(&self) -> FrameGeometry {
        geometry_of(&self.raw)
    }

    fn next_frame(&mut self) -> Result<Option<Frame>, StreamError> {
        if self.next >= self.geometry().frames() {
            return Ok(None);
        }
        let f = Self::read_frame(&self.raw, self.next, &mut self.pixels)?;
        self.next += 1;
        Ok(Some(f))
    }
}

/// How fast a replay feeds frames.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Speed {
    /// `factor` times the detector's own cadence (one group per TGROUP / factor).
    Cadence(f64),
    /// As fast as the consumer takes them.
    Max,
}

impl Speed {
    pub fn parse(s: &str) -> Option<Speed> {
        if s.eq_ignore_ascii_case("max") {
            return Some(Speed::Max);
        }
        s.parse::<f64>()
            .ok()
            .filter(|f| f.is_finite() && *f > 0.0)
            .map(Speed::Cadence)
    }

    /// Time between two groups at this speed.
    pub fn interval(self, tgroup: f64) -> Option<Duration> {
        match self {
            Speed::Max => None,
            Speed::Cadence(f) => Some(Duration::from_secs_f64(tgroup / f)),
        }
    }
}

/// Push every frame of `raw` into `tx` at `interval` (or at once), stopping after `limit`
/// frames if given (a producer that stops early). Frames are stamped on arrival: when they are
/// handed to the feed. Returns the number of frames sent.
pub fn replay_frames(
    raw: &RawExposure,
    tx: FeedProducer,
    interval: Option<Duration>,
    limit: Option<usize>,
) -> Result<usize, StreamError> {
    let total = geometry_of(raw).frames();
    let n = limit.map_or(total, |l| l.min(total));
    let mut pixels = vec![0u16; raw.ny() * raw.nx()];
    let start = Instant::now();
    for k in 0..n {
        let mut f = RawFileSource::read_frame(raw, k, &mut pixels)?;
        if let Some(dt) = interval {
            let due = start + dt.mul_f64(k as f64);
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
        }
        f.arrived = Instant::now();
        tx.send(f)?;
    }
    Ok(n)
}
