//! Integration planes: the unit the Stage 2/3 consumers stream.
//!
//! Detector1 finishes integrations one after another; every consumer downstream (flat field,
//! photometric calibration, TSO outlier detection, aperture photometry) works on one fitted
//! integration at a time, or on a bounded window of them. A [`RatePlane`] is one such
//! integration: the five (or six, after flat fielding) rate arrays of one `_rateints` plane plus
//! its index and its `INT_TIMES` row.
//!
//! A [`PlaneSource`] hands planes out in integration order and says explicitly when the
//! exposure is over (`Ok(None)`); a source that stops early reports
//! [`PlaneError::Truncated`], never a clean end. A [`PlaneSink`] takes planes and is told when
//! the stream is over ([`PlaneSink::finish`]), so window stages can flush what they hold.
//! [`plane_feed`] is a bounded channel between a producer thread (e.g. the online Detector1
//! driver) and a consumer chain, with back-pressure.
//!
//! The crate knows nothing of FITS: file-backed sources live in `sloper::consumers`.

use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, Sender};
use std::time::Duration;

/// Shape of every plane of a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlaneGeometry {
    /// Integrations the stream will deliver.
    pub nints: usize,
    pub ny: usize,
    pub nx: usize,
}

impl PlaneGeometry {
    pub fn pixels(&self) -> usize {
        self.ny * self.nx
    }
}

/// The `INT_TIMES` row of one integration (MJD UTC and BJD TDB, start / middle / end).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlaneTimes {
    /// 1-based integration number within the whole exposure.
    pub integration_number: i32,
    pub start_mjd_utc: f64,
    pub mid_mjd_utc: f64,
    pub end_mjd_utc: f64,
    pub start_bjd_tdb: f64,
    pub mid_bjd_tdb: f64,
    pub end_bjd_tdb: f64,
}

/// One integration of a rate product, owned. Every array is `ny·nx`, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct RatePlane {
    /// 0-based position of the plane in its stream (the integration index within the file or
    /// segment being processed).
    pub index: usize,
    pub ny: usize,
    pub nx: usize,
    pub sci: Vec<f32>,
    pub err: Vec<f32>,
    pub dq: Vec<u32>,
    pub var_poisson: Vec<f32>,
    pub var_rnoise: Vec<f32>,
    /// Present once flat_field has run (calints and later products).
    pub var_flat: Option<Vec<f32>>,
    /// The plane's `INT_TIMES` row, when the product has the table.
    pub times: Option<PlaneTimes>,
}

impl RatePlane {
    /// A plane of zeros (no VAR_FLAT, no times).
    pub fn zeros(index: usize, ny: usize, nx: usize) -> RatePlane {
        let n = ny * nx;
        RatePlane {
            index,
            ny,
            nx,
            sci: vec![0.0; n],
            err: vec![0.0; n],
            dq: vec![0; n],
            var_poisson: vec![0.0; n],
            var_rnoise: vec![0.0; n],
            var_flat: None,
            times: None,
        }
    }

    pub fn pixels(&self) -> usize {
        self.ny * self.nx
    }

    /// Bytes held by the arrays (for memory accounting).
    pub fn bytes(&self) -> usize {
        let arrays = 5 + usize::from(self.var_flat.is_some());
        arrays * 4 * self.pixels()
    }

    /// Checks every array has `ny·nx` values.
    pub fn check_shape(&self) -> Result<(), PlaneError> {
        let n = self.pixels();
        let lens = [
            ("SCI", self.sci.len()),
            ("ERR", self.err.len()),
            ("DQ", self.dq.len()),
            ("VAR_POISSON", self.var_poisson.len()),
            ("VAR_RNOISE", self.var_rnoise.len()),
            ("VAR_FLAT", self.var_flat.as_ref().map_or(n, Vec::len)),
        ];
        for (name, len) in lens {
            if len != n {
                return Err(PlaneError::BadShape {
                    index: self.index,
                    array: name,
                    got: len,
                    expected: n,
                });
            }
        }
        Ok(())
    }
}

/// Errors of a plane stream.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PlaneError {
    #[error("plane stream ended after {received} of {expected} integrations")]
    Truncated { received: usize, expected: usize },
    #[error("plane out of order: got integration {got}, expected {expected}")]
    OutOfOrder { got: usize, expected: usize },
    #[error("plane {index}: {array} holds {got} values, expected {expected}")]
    BadShape {
        index: usize,
        array: &'static str,
        got: usize,
        expected: usize,
    },
    #[error("no plane within {0:?}")]
    Timeout(Duration),
    #[error("the consumer has gone away")]
    Disconnected,
    /// A source failed (e.g. a read error); the message names the file.
    #[error("{0}")]
    Source(String),
    /// A sink failed (e.g. a write error); the message names the product.
    #[error("{0}")]
    Sink(String),
}

/// Anything that yields the planes of one exposure (or segment) in integration order.
pub trait PlaneSource: Send {
    fn geometry(&self) -> PlaneGeometry;
    /// The next plane, `Ok(None)` after the last one.
    fn next_plane(&mut self) -> Result<Option<RatePlane>, PlaneError>;
}

impl<S: PlaneSource + ?Sized> PlaneSource for Box<S> {
    fn geometry(&self) -> PlaneGeometry {
        (**self).geometry()
    }
    fn next_plane(&mut self) -> Result<Option<RatePlane>, PlaneError> {
        (**self).next_plane()
    }
}

/// Anything that takes the planes of a stream in order.
pub trait PlaneSink {
    /// Take the next plane.
    fn accept(&mut self, plane: RatePlane) -> Result<(), PlaneError>;
    /// The stream is over: flush anything held back (window stages emit their tail here).
    fn finish(&mut self) -> Result<(), PlaneError>;
}

/// Pump every plane of `source` into `sink`, then finish the sink. Checks order and shape, and
/// that the source delivered as many planes as its geometry announced. Returns the count.
pub fn drain<S: PlaneSource + ?Sized, K: PlaneSink + ?Sized>(
    source: &mut S,
    sink: &mut K,
) -> Result<usize, PlaneError> {
    let geom = source.geometry();
    let mut n = 0;
    while let Some(plane) = source.next_plane()? {
        if plane.index != n {
            return Err(PlaneError::OutOfOrder {
                got: plane.index,
                expected: n,
            });
        }
        if plane.ny != geom.ny || plane.nx != geom.nx {
            return Err(PlaneError::BadShape {
                index: plane.index,
                array: "plane",
                got: plane.pixels(),
                expected: geom.pixels(),
            });
        }
        plane.check_shape()?;
        sink.accept(plane)?;
        n += 1;
    }
    if n != geom.nints {
        return Err(PlaneError::Truncated {
            received: n,
            expected: geom.nints,
        });
    }
    sink.finish()?;
    Ok(n)
}

/// A source over planes already in memory (tests, small products).
pub struct VecPlaneSource {
    geometry: PlaneGeometry,
    planes: std::vec::IntoIter<RatePlane>,
}

impl VecPlaneSource {
    pub fn new(geometry: PlaneGeometry, planes: Vec<RatePlane>) -> Self {
        VecPlaneSource {
            geometry,
            planes: planes.into_iter(),
        }
    }
}

impl PlaneSource for VecPlaneSource {
    fn geometry(&self) -> PlaneGeometry {
        self.geometry
    }
    fn next_plane(&mut self) -> Result<Option<RatePlane>, PlaneError> {
        Ok(self.planes.next())
    }
}

/// Create a bounded plane feed holding at most `capacity` queued planes.
pub fn plane_feed(geometry: PlaneGeometry, capacity: usize) -> (PlaneProducer, PlaneFeed) {
    let (tx, rx) = bounded(capacity.max(1));
    (
        PlaneProducer {
            tx,
            geometry,
            sent: 0,
        },
        PlaneFeed {
            rx,
            geometry,
            received: 0,
            timeout: None,
        },
    )
}

/// Sending half of a plane feed. Dropping it before `geometry.nints` planes were sent makes the
/// receiving side report [`PlaneError::Truncated`].
pub struct PlaneProducer {
    tx: Sender<Result<RatePlane, PlaneError>>,
    geometry: PlaneGeometry,
    sent: usize,
}

impl PlaneProducer {
    /// Send the next plane, blocking while the queue is full (back-pressure).
    pub fn send(&mut self, plane: RatePlane) -> Result<(), PlaneError> {
        if plane.index != self.sent {
            return Err(PlaneError::OutOfOrder {
                got: plane.index,
                expected: self.sent,
            });
        }
        if plane.ny != self.geometry.ny || plane.nx != self.geometry.nx {
            return Err(PlaneError::BadShape {
                index: plane.index,
                array: "plane",
                got: plane.pixels(),
                expected: self.geometry.pixels(),
            });
        }
        plane.check_shape()?;
        self.tx
            .send(Ok(plane))
            .map_err(|_| PlaneError::Disconnected)?;
        self.sent += 1;
        Ok(())
    }

    /// Report a failure of the producer; the consumer's next read returns it.
    pub fn fail(self, error: PlaneError) {
        let _ = self.tx.send(Err(error));
    }

    /// Planes currently queued.
    pub fn queued(&self) -> usize {
        self.tx.len()
    }
}

/// Receiving half of a plane feed: a [`PlaneSource`].
pub struct PlaneFeed {
    rx: Receiver<Result<RatePlane, PlaneError>>,
    geometry: PlaneGeometry,
    received: usize,
    timeout: Option<Duration>,
}

impl PlaneFeed {
    /// Give up (with [`PlaneError::Timeout`]) when no plane arrives for `timeout`.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
}

impl PlaneSource for PlaneFeed {
    fn geometry(&self) -> PlaneGeometry {
        self.geometry
    }

    fn next_plane(&mut self) -> Result<Option<RatePlane>, PlaneError> {
        if self.received == self.geometry.nints {
            return Ok(None);
        }
        let got = match self.timeout {
            Some(t) => match self.rx.recv_timeout(t) {
                Ok(p) => Some(p),
                Err(RecvTimeoutError::Timeout) => return Err(PlaneError::Timeout(t)),
                Err(RecvTimeoutError::Disconnected) => None,
            },
            None => self.rx.recv().ok(),
        };
        match got {
            Some(Ok(p)) => {
                self.received += 1;
                Ok(Some(p))
            }
            Some(Err(e)) => Err(e),
            None => Err(PlaneError::Truncated {
                received: self.received,
                expected: self.geometry.nints,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Collect(Vec<usize>, bool);
    impl PlaneSink for Collect {
        fn accept(&mut self, plane: RatePlane) -> Result<(), PlaneError> {
            self.0.push(plane.index);
            Ok(())
        }
        fn finish(&mut self) -> Result<(), PlaneError> {
            self.1 = true;
            Ok(())
        }
    }

    fn geom(nints: usize) -> PlaneGeometry {
        PlaneGeometry {
            nints,
            ny: 2,
            nx: 3,
        }
    }

    #[test]
    fn drains_in_order_and_finishes() {
        let planes = (0..4).map(|i| RatePlane::zeros(i, 2, 3)).collect();
        let mut src = VecPlaneSource::new(geom(4), planes);
        let mut sink = Collect(vec![], false);
        assert_eq!(drain(&mut src, &mut sink), Ok(4));
        assert_eq!(sink.0, vec![0, 1, 2, 3]);
        assert!(sink.1);
    }

    #[test]
    fn short_source_is_truncated_not_finished() {
        let planes = (0..2).map(|i| RatePlane::zeros(i, 2, 3)).collect();
        let mut src = VecPlaneSource::new(geom(3), planes);
        let mut sink = Collect(vec![], false);
        assert_eq!(
            drain(&mut src, &mut sink),
            Err(PlaneError::Truncated {
                received: 2,
                expected: 3
            })
        );
        assert!(!sink.1);
    }

    #[test]
    fn bad_shapes_and_order_are_refused() {
        let mut p = RatePlane::zeros(0, 2, 3);
        p.err.pop();
        assert!(matches!(
            p.check_shape(),
            Err(PlaneError::BadShape { array: "ERR", .. })
        ));
        let mut src = VecPlaneSource::new(geom(1), vec![RatePlane::zeros(1, 2, 3)]);
        let mut sink = Collect(vec![], false);
        assert_eq!(
            drain(&mut src, &mut sink),
            Err(PlaneError::OutOfOrder {
                got: 1,
                expected: 0
            })
        );
    }

    #[test]
    fn feed_carries_planes_and_reports_early_hangup() {
        let (mut tx, mut rx) = plane_feed(geom(3), 1);
        let h = std::thread::spawn(move || {
            tx.send(RatePlane::zeros(0, 2, 3)).unwrap();
            tx.send(RatePlane::zeros(1, 2, 3)).unwrap();
            // dropped before the third plane
        });
        assert_eq!(rx.next_plane().unwrap().unwrap().index, 0);
        assert_eq!(rx.next_plane().unwrap().unwrap().index, 1);
        h.join().unwrap();
        assert_eq!(
            rx.next_plane(),
            Err(PlaneError::Truncated {
                received: 2,
                expected: 3
            })
        );
    }

    #[test]
    fn feed_forwards_producer_errors_and_ends_cleanly() {
        let (mut tx, mut rx) = plane_feed(geom(1), 2);
        tx.send(RatePlane::zeros(0, 2, 3)).unwrap();
        assert!(tx.send(RatePlane::zeros(5, 2, 3)).is_err());
        assert_eq!(rx.next_plane().unwrap().unwrap().index, 0);
        assert_eq!(rx.next_plane(), Ok(None));
        let (tx, mut rx) = plane_feed(geom(2), 2);
        tx.fail(PlaneError::Source("x_uncal.fits: read error".into()));
        assert_eq!(
            rx.next_plane(),
            Err(PlaneError::Source("x_uncal.fits: read error".into()))
        );
    }
}
