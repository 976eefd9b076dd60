//! A processing context in the shape of rav1e's encoder `Context`: the caller pushes frames in
//! with [`Context::send_frame`], pulls results out with [`Context::receive`], and ends the input
//! with [`Context::flush`].
//!
//! Work happens lazily inside `receive`, one queued frame at a time, so the caller decides when
//! to spend CPU. Back-pressure is explicit: the context holds at most `capacity` unprocessed
//! frames, and `send_frame` hands a frame back with [`SendError::EnoughData`] instead of queueing
//! it without bound — the caller must `receive` (and consume what comes out) before it may send
//! again. A slow consumer therefore slows the producer; nothing grows.
//!
//! The context is generic over a [`FrameProcessor`] (for sloper: the online detector1 engine,
//! whose output is one finished integration); it knows nothing about FITS or JWST.

use crate::frame::Frame;
use crate::source::{FrameSource, StreamError};
use std::collections::VecDeque;

/// Something that consumes frames in time order and now and then completes a unit of output
/// (for detector1: an integration's rate plane when its last group has been processed).
pub trait FrameProcessor {
    type Output;
    type Error;
    /// Consume one frame; `Some` when this frame completed an output.
    fn process(&mut self, frame: Frame) -> Result<Option<Self::Output>, Self::Error>;
    /// The input has ended (called once, after the last frame): finish the work; may yield one
    /// last output.
    fn finish(&mut self) -> Result<Option<Self::Output>, Self::Error>;
}

/// What [`Context::receive`] reports.
#[derive(Debug, PartialEq, Eq)]
pub enum Received<T> {
    /// An output is ready (for detector1: an integration is finished).
    Ready(T),
    /// Every queued frame is processed and none completed an output: send more frames.
    NeedMoreData,
    /// The input was flushed, every frame is processed and the processor has finished.
    End,
}

/// Why [`Context::send_frame`] refused a frame; the frame is handed back.
#[derive(Debug)]
pub enum SendError {
    /// The queue holds `capacity` unprocessed frames: call [`Context::receive`] first.
    EnoughData(Frame),
    /// [`Context::flush`] was called: no more frames are accepted.
    Flushed(Frame),
}

impl SendError {
    /// The frame that was not accepted.
    pub fn into_frame(self) -> Frame {
        match self {
            SendError::EnoughData(f) | SendError::Flushed(f) => f,
        }
    }
}

/// The context: a bounded queue of frames in front of a processor.
pub struct Context<P: FrameProcessor> {
    processor: P,
    queue: VecDeque<Frame>,
    capacity: usize,
    flushing: bool,
    finished: bool,
    high_water: usize,
}

impl<P: FrameProcessor> Context<P> {
    /// A context that queues at most `capacity` (at least 1) unprocessed frames.
    pub fn new(processor: P, capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Context {
            processor,
            queue: VecDeque::with_capacity(capacity),
            capacity,
            flushing: false,
            finished: false,
            high_water: 0,
        }
    }

    /// Queue a frame, or hand it back when the queue is full or the input was flushed.
    pub fn send_frame(&mut self, frame: Frame) -> Result<(), SendError> {
        if self.flushing {
            return Err(SendError::Flushed(frame));
        }
        if self.queue.len() >= self.capacity {
            return Err(SendError::EnoughData(frame));
        }
        self.queue.push_back(frame);
        self.high_water = self.high_water.max(self.queue.len());
        Ok(())
    }

    /// End of input: frames already queued are still processed, then the processor finishes.
    pub fn flush(&mut self) {
        self.flushing = true;
    }

    /// Process queued frames until one completes an output, or report why there is none.
    pub fn receive(&mut self) -> Result<Received<P::Output>, P::Error> {
        while let Some(frame) = self.queue.pop_front() {
            if let Some(out) = self.processor.process(frame)? {
                return Ok(Received::Ready(out));
            }
        }
        if self.flushing && !self.finished {
            self.finished = true;
            if let Some(out) = self.processor.finish()? {
                return Ok(Received::Ready(out));
            }
        }
        Ok(if self.finished {
            Received::End
        } else {
            Received::NeedMoreData
        })
    }

    /// Frames queued and not yet processed.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }
    pub fn capacity(&self) -> usize {
        self.capacity
    }
    /// The largest number of frames ever queued at once (never above `capacity`).
    pub fn high_water(&self) -> usize {
        self.high_water
    }
    pub fn processor(&self) -> &P {
        &self.processor
    }
    pub fn processor_mut(&mut self) -> &mut P {
        &mut self.processor
    }
    pub fn into_processor(self) -> P {
        self.processor
    }

    /// Drive the context from a source to the end: pull a frame, process it at once, and give
    /// every output to `sink` before pulling the next frame, so a slow sink slows the source and
    /// no frame waits in the queue longer than the processing of the one before it. A source error (e.g. a producer that stopped mid-integration) ends the run with
    /// that error; nothing is flushed, so the processor never finishes on partial input.
    pub fn run<S, F>(&mut self, source: &mut S, mut sink: F) -> Result<(), P::Error>
    where
        S: FrameSource + ?Sized,
        P::Error: From<StreamError>,
        F: FnMut(P::Output) -> Result<(), P::Error>,
    {
        let mut pending: Option<Frame> = None;
        loop {
            if pending.is_none() && !self.flushing {
                match source.next_frame()? {
                    Some(f) => pending = Some(f),
                    None => self.flush(),
                }
            }
            if let Some(f) = pending.take() {
                match self.send_frame(f) {
                    Ok(()) => {}
                    Err(SendError::EnoughData(f)) => pending = Some(f),
                    Err(SendError::Flushed(_)) => {
                        unreachable!("frames are only sent before flush")
                    }
                }
            }
            // Process at once (latency): every queued frame is handled before the next one is
            // pulled, so the source blocks while the sink is busy (back-pressure).
            loop {
                match self.receive()? {
                    Received::Ready(out) => sink(out)?,
                    Received::NeedMoreData => break,
                    Received::End => return Ok(()),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::FrameGeometry;
    use crate::source::live_feed;
    use std::thread;
    use std::time::Duration;

    const GEOM: FrameGeometry = FrameGeometry {
        nints: 3,
        ngroups: 4,
        ny: 2,
        nx: 3,
    };

    /// Sums the first pixel of every group; outputs the sum at each integration's last group.
    #[derive(Default)]
    struct Summer {
        sum: u64,
        seen: usize,
        finished: bool,
    }

    impl FrameProcessor for Summer {
        type Output = (usize, u64);
        type Error = StreamError;
        fn process(&mut self, f: Frame) -> Result<Option<(usize, u64)>, StreamError> {
            let mut px = [0u16; 6];
            f.pixels_into(&mut px);
            self.sum += px[0] as u64;
            self.seen += 1;
            if f.group + 1 == GEOM.ngroups {
                let s = std::mem::take(&mut self.sum);
                return Ok(Some((f.int, s)));
            }
            Ok(None)
        }
        fn finish(&mut self) -> Result<Option<(usize, u64)>, StreamError> {
            self.finished = true;
            Ok(None)
        }
    }

    fn frame(i: usize, g: usize) -> Frame {
        Frame::from_pixels(i, g, &[(10 * i + g) as u16; 6])
    }

    #[test]
    fn statuses_follow_the_rav1e_shape() {
        let mut ctx = Context::new(Summer::default(), 2);
        assert_eq!(ctx.receive().unwrap(), Received::NeedMoreData);
        ctx.send_frame(frame(0, 0)).unwrap();
        ctx.send_frame(frame(0, 1)).unwrap();
        // Full: the third frame is handed back.
        let back = ctx.send_frame(frame(0, 2)).unwrap_err().into_frame();
        assert_eq!((back.int, back.group), (0, 2));
        assert_eq!(ctx.receive().unwrap(), Received::NeedMoreData);
        ctx.send_frame(back).unwrap();
        ctx.send_frame(frame(0, 3)).unwrap();
        assert_eq!(ctx.receive().unwrap(), Received::Ready((0, 6)));
        ctx.flush();
        assert!(matches!(
            ctx.send_frame(frame(1, 0)),
            Err(SendError::Flushed(_))
        ));
        assert_eq!(ctx.receive().unwrap(), Received::End);
        assert!(ctx.processor().finished);
        assert_eq!(ctx.high_water(), 2);
    }

    #[test]
    fn run_drives_a_live_feed_to_the_end_with_a_bounded_queue() {
        let (tx, mut src) = live_feed(GEOM, 2);
        let h = thread::spawn(move || {
            let mut max_queued = 0;
            for i in 0..GEOM.nints {
                for g in 0..GEOM.ngroups {
                    tx.send(frame(i, g)).unwrap();
                    max_queued = max_queued.max(tx.queued());
                }
            }
            max_queued
        });
        let mut ctx = Context::new(Summer::default(), 3);
        let mut outs = Vec::new();
        ctx.run(&mut src, |o| {
            thread::sleep(Duration::from_millis(5)); // a slow sink
            outs.push(o);
            Ok(())
        })
        .unwrap();
        let max_queued = h.join().unwrap();
        assert!(max_queued <= 2);
        assert!(ctx.high_water() <= 3);
        assert_eq!(outs, vec![(0, 6), (1, 46), (2, 86)]);
        assert!(ctx.processor().finished);
    }

    #[test]
    fn a_truncated_source_is_an_error_and_never_finishes() {
        let (tx, mut src) = live_feed(GEOM, 8);
        for g in 0..GEOM.ngroups {
            tx.send(frame(0, g)).unwrap();
        }
        tx.send(frame(1, 0)).unwrap();
        drop(tx);
        let mut ctx = Context::new(Summer::default(), 2);
        let mut outs = Vec::new();
        let err = ctx
            .run(&mut src, |o| {
                outs.push(o);
                Ok(())
            })
            .unwrap_err();
        assert!(matches!(
            err,
            StreamError::Truncated {
                received: 5,
                int: 1,
                group: 1,
                ..
            }
        ));
        assert_eq!(outs, vec![(0, 6)]);
        assert!(!ctx.processor().finished);
    }
}
