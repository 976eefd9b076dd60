//! Frame sources and the live feed.
//!
//! A source hands out frames in time order (integration-major, group-minor). The live feed is a
//! bounded channel: the producer blocks when `capacity` frames are queued, so a slow consumer
//! slows the producer instead of letting memory grow (back-pressure). A producer that goes away
//! before the last group of the exposure is reported as [`StreamError::Truncated`], never as a
//! clean end.

use crate::frame::{Frame, FrameGeometry};
use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, Sender, TryRecvError, TrySendError};
use std::time::Duration;

/// Errors a stream can report.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StreamError {
    #[error("stream ended after {received} of {expected} frames (integration {int}, group {group} was next)")]
    Truncated {
        received: usize,
        expected: usize,
        int: usize,
        group: usize,
    },
    #[error("frame out of order: got integration {got_int} group {got_group}, expected integration {int} group {group}")]
    OutOfOrder {
        got_int: usize,
        got_group: usize,
        int: usize,
        group: usize,
    },
    #[error("frame of {got} bytes, expected {expected}")]
    BadFrameSize { got: usize, expected: usize },
    #[error("no frame within {0:?}")]
    Timeout(Duration),
    #[error("the consumer has gone away")]
    Disconnected,
    #[error("{0}")]
    Source(String),
}

/// Anything that yields the frames of one exposure in time order.
pub trait FrameSource: Send {
    fn geometry(&self) -> FrameGeometry;
    /// The next frame, `Ok(None)` after the last frame of the exposure.
    fn next_frame(&mut self) -> Result<Option<Frame>, StreamError>;
    /// The next frame if it is already here, without waiting: [`TryFrame::NotYet`] lets the
    /// caller use the wait (a live feed between two groups) for other work. Sources whose frames
    /// are always at hand (a file) keep this default, which is [`FrameSource::next_frame`].
    fn try_next_frame(&mut self) -> Result<TryFrame, StreamError> {
        self.next_frame().map(TryFrame::Ready)
    }
}

/// What [`FrameSource::try_next_frame`] found.
#[derive(Debug)]
pub enum TryFrame {
    /// A frame, or `None` after the last frame of the exposure (as `next_frame`).
    Ready(Option<Frame>),
    /// No frame has arrived yet.
    NotYet,
}

/// Create a live feed carrying at most `capacity` queued frames.
pub fn live_feed(geometry: FrameGeometry, capacity: usize) -> (FeedProducer, LiveSource) {
    let (tx, rx) = bounded(capacity.max(1));
    (
        FeedProducer { tx, geometry },
        LiveSource {
            rx,
            geometry,
            next: 0,
            timeout: None,
        },
    )
}

/// The sending half of a live feed.
pub struct FeedProducer {
    tx: Sender<Frame>,
    geometry: FrameGeometry,
}

impl FeedProducer {
    /// Send a frame, blocking while the queue is full (back-pressure).
    pub fn send(&self, frame: Frame) -> Result<(), StreamError> {
        self.check(&frame)?;
        self.tx.send(frame).map_err(|_| StreamError::Disconnected)
    }
    /// Send without blocking: `Ok(false)` when the queue is full (the frame is handed back to the
    /// caller by being dropped; callers that cannot drop data use [`FeedProducer::send`]).
    pub fn try_send(&self, frame: Frame) -> Result<bool, StreamError> {
        self.check(&frame)?;
        match self.tx.try_send(frame) {
            Ok(()) => Ok(true),
            Err(TrySendError::Full(_)) => Ok(false),
            Err(TrySendError::Disconnected(_)) => Err(StreamError::Disconnected),
        }
    }
    /// Frames currently queued.
    pub fn queued(&self) -> usize {
        self.tx.len()
    }
    fn check(&self, frame: &Frame) -> Result<(), StreamError> {
        let expected = self.geometry.frame_bytes();
        if frame.data.len() != expected {
            return Err(StreamError::BadFrameSize {
                got: frame.data.len(),
                expected,
            });
        }
        Ok(())
    }
}

/// The receiving half of a live feed: a [`FrameSource`].
pub struct LiveSource {
    rx: Receiver<Frame>,
    geometry: FrameGeometry,
    next: usize,
    timeout: Option<Duration>,
}

impl LiveSource {
    /// Give up (with [`StreamError::Timeout`]) when no frame arrives for `timeout`.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
    /// Frames currently queued.
    pub fn queued(&self) -> usize {
        self.rx.len()
    }
}

impl FrameSource for LiveSource {
    fn geometry(&self) -> FrameGeometry {
        self.geometry
    }

    fn next_frame(&mut self) -> Result<Option<Frame>, StreamError> {
        let total = self.geometry.frames();
        if self.next >= total {
            return Ok(None);
        }
        let received = match self.timeout {
            Some(t) => match self.rx.recv_timeout(t) {
                Ok(f) => Some(f),
                Err(RecvTimeoutError::Timeout) => return Err(StreamError::Timeout(t)),
                Err(RecvTimeoutError::Disconnected) => None,
            },
            None => self.rx.recv().ok(),
        };
        self.accept(received).map(Some)
    }

    fn try_next_frame(&mut self) -> Result<TryFrame, StreamError> {
        if self.next >= self.geometry.frames() {
            return Ok(TryFrame::Ready(None));
        }
        match self.rx.try_recv() {
            Ok(f) => self.accept(Some(f)).map(|f| TryFrame::Ready(Some(f))),
            Err(TryRecvError::Empty) => Ok(TryFrame::NotYet),
            Err(TryRecvError::Disconnected) => self.accept(None).map(|f| TryFrame::Ready(Some(f))),
        }
    }
}

impl LiveSource {
    /// Check a received frame (`None`: the producer has gone away) against the next expected
    /// one and count it.
    fn accept(&mut self, received: Option<Frame>) -> Result<Frame, StreamError> {
        let total = self.geometry.frames();
        let (int, group) = (
            self.next / self.geometry.ngroups,
            self.next % self.geometry.ngroups,
        );
        let Some(frame) = received else {
            return Err(StreamError::Truncated {
                received: self.next,
                expected: total,
                int,
                group,
            });
        };
        if frame.int != int || frame.group != group {
            return Err(StreamError::OutOfOrder {
                got_int: frame.int,
                got_group: frame.group,
                int,
                group,
            });
        }
        self.next += 1;
        Ok(frame)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::thread;

    const GEOM: FrameGeometry = FrameGeometry {
        nints: 3,
        ngroups: 4,
        ny: 8,
        nx: 16,
    };

    fn frame(i: usize, g: usize) -> Frame {
        let px: Vec<u16> = (0..GEOM.pixels())
            .map(|k| (k + 100 * g + 1000 * i) as u16)
            .collect();
        Frame::from_pixels(i, g, &px)
    }

    #[test]
    fn frames_arrive_in_order_and_end_cleanly() {
        let (tx, mut src) = live_feed(GEOM, 2);
        let h = thread::spawn(move || {
            for i in 0..GEOM.nints {
                for g in 0..GEOM.ngroups {
                    tx.send(frame(i, g)).unwrap();
                }
            }
        });
        let mut n = 0;
        let mut px = vec![0u16; GEOM.pixels()];
        while let Some(f) = src.next_frame().unwrap() {
            f.pixels_into(&mut px);
            assert_eq!(px[5], (5 + 100 * f.group + 1000 * f.int) as u16);
            n += 1;
        }
        h.join().unwrap();
        assert_eq!(n, GEOM.frames());
    }

    #[test]
    fn slow_consumer_bounds_the_queue() {
        let cap = 3;
        let (tx, mut src) = live_feed(GEOM, cap);
        let max_seen = Arc::new(AtomicUsize::new(0));
        let seen = max_seen.clone();
        let h = thread::spawn(move || {
            for i in 0..GEOM.nints {
                for g in 0..GEOM.ngroups {
                    tx.send(frame(i, g)).unwrap();
                    seen.fetch_max(tx.queued(), Ordering::SeqCst);
                }
            }
        });
        while let Some(_f) = src.next_frame().unwrap() {
            thread::sleep(Duration::from_millis(3));
        }
        h.join().unwrap();
        assert!(max_seen.load(Ordering::SeqCst) <= cap);
    }

    #[test]
    fn producer_stopping_mid_integration_is_an_error() {
        let (tx, mut src) = live_feed(GEOM, 8);
        for g in 0..GEOM.ngroups {
            tx.send(frame(0, g)).unwrap();
        }
        tx.send(frame(1, 0)).unwrap();
        drop(tx);
        for _ in 0..5 {
            assert!(src.next_frame().unwrap().is_some());
        }
        assert_eq!(
            src.next_frame().unwrap_err(),
            StreamError::Truncated {
                received: 5,
                expected: 12,
                int: 1,
                group: 1
            }
        );
    }

    #[test]
    fn wrong_size_and_order_are_refused() {
        let (tx, mut src) = live_feed(GEOM, 8);
        assert!(matches!(
            tx.send(Frame::from_pixels(0, 0, &[1, 2, 3])),
            Err(StreamError::BadFrameSize { got: 6, .. })
        ));
        tx.send(frame(0, 1)).unwrap();
        assert!(matches!(
            src.next_frame(),
            Err(StreamError::OutOfOrder {
                got_group: 1,
                group: 0,
                ..
            })
        ));
    }

    #[test]
    fn timeout_is_reported() {
        let (_tx, src) = live_feed(GEOM, 1);
        let mut src = src.with_timeout(Duration::from_millis(10));
        assert!(matches!(src.next_frame(), Err(StreamError::Timeout(_))));
    }
}
