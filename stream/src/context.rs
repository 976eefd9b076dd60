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
use crate::source::{FrameSource, StreamError, TryFrame};
use std::collections::VecDeque;

/// Something that consumes frames in time order and now and then completes a unit of output
/// (for detector1: an integration's rate plane when its last group has been processed).
pub trait FrameProcessor {
    type Output;
    type Error;
    /// Consume one frame; `Some` when this frame completed an output.
    fn process(&mut self, frame: Frame) -> Result<Option<Self::Output>, Self::Error>;
    /// The input has ended (called once, after the last frame): finish the work (including
    /// any background work still pending); may yield one last output.
    fn finish(&mut self) -> Result<Option<Self::Output>, Self::Error>;
    /// One slice of deferred work, done while no frame is waiting — e.g. finishing an
    /// integration a block of pixels at a time between the groups of the next one, so a
    /// group arriving meanwhile waits for one slice, not for the whole integration. Slices
    /// should be short (milliseconds). A processor must not depend on this being called: it
    /// does the pending work itself when it needs the result (or in `finish`). Default: none.
    fn background(&mut self) -> Result<Background<Self::Output>, Self::Error> {
        Ok(Background::Idle)
    }
}

/// What one call of [`FrameProcessor::background`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum Background<T> {
    /// No deferred work: the caller may block waiting for the next frame.
    Idle,
    /// A slice was done and more remains.
    Progress,
    /// A slice completed an output.
    Ready(T),
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

    /// Do all the processor's deferred work, giving its outputs to `sink`.
    fn complete_background<F>(&mut self, sink: &mut F) -> Result<(), P::Error>
    where
        F: FnMut(P::Output) -> Result<(), P::Error>,
    {
        loop {
            match self.processor.background()? {
                Background::Idle => return Ok(()),
                Background::Progress => {}
                Background::Ready(out) => sink(out)?,
            }
        }
    }

    /// Drive the context from a source to the end: pull a frame, process it at once, and give
    /// every output to `sink` before pulling the next frame, so a slow sink slows the source and
    /// no frame waits in the queue longer than the processing of the one before it.
    ///
    /// While the source has no frame yet, the processor's [`FrameProcessor::background`] work
    /// runs a slice at a time (so a frame arriving meanwhile waits for one slice at most); the
    /// context blocks on the source only when there is none.
    ///
    /// A source error (e.g. a producer that stopped mid-integration) ends the run with that
    /// error after the deferred work on the frames already processed is completed and
    /// delivered; nothing is flushed, so the processor never finishes on partial input.
    pub fn run<S, F>(&mut self, source: &mut S, mut sink: F) -> Result<(), P::Error>
    where
        S: FrameSource + ?Sized,
        P::Error: From<StreamError>,
        F: FnMut(P::Output) -> Result<(), P::Error>,
    {
        let mut pending: Option<Frame> = None;
        loop {
            if pending.is_none() && !self.flushing {
                // Take a frame that is already here; while none is, do the processor's
                // background work a slice at a time, and block only when it has none.
                let next = match source.try_next_frame() {
                    Ok(TryFrame::NotYet) => match self.processor.background()? {
                        Background::Progress => continue,
                        Background::Ready(out) => {
                            sink(out)?;
                            continue;
                        }
                        Background::Idle => source.next_frame(),
                    },
                    Ok(TryFrame::Ready(f)) => Ok(f),
                    Err(e) => Err(e),
                };
                match next {
                    Ok(Some(f)) => pending = Some(f),
                    Ok(None) => self.flush(),
                    Err(e) => {
                        // The input broke off: what was complete before it (deferred work on
                        // frames already processed) is still finished and delivered.
                        self.complete_background(&mut sink)?;
                        return Err(e.into());
                    }
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

    /// Defers each integration's output to background slices (3 per integration); must finish
    /// pending slices itself before the next integration ends and in `finish`.
    #[derive(Default)]
    struct Deferred {
        sum: u64,
        pending: std::collections::VecDeque<(usize, u64, usize)>,
        slices_in_background: usize,
        slices_forced: usize,
    }

    impl Deferred {
        fn slice(&mut self) -> Option<(usize, u64)> {
            let job = self.pending.front_mut()?;
            job.2 += 1;
            if job.2 == 3 {
                let (i, s, _) = self.pending.pop_front().expect("front");
                return Some((i, s));
            }
            None
        }
    }

    impl FrameProcessor for Deferred {
        type Output = Vec<(usize, u64)>;
        type Error = StreamError;
        fn process(&mut self, f: Frame) -> Result<Option<Self::Output>, StreamError> {
            let mut px = [0u16; 6];
            f.pixels_into(&mut px);
            self.sum += px[0] as u64;
            let mut out = Vec::new();
            if f.group + 1 == GEOM.ngroups {
                // At most one integration may wait: finish the older one first.
                while !self.pending.is_empty() {
                    self.slices_forced += 1;
                    out.extend(self.slice());
                }
                self.pending
                    .push_back((f.int, std::mem::take(&mut self.sum), 0));
            }
            Ok((!out.is_empty()).then_some(out))
        }
        fn finish(&mut self) -> Result<Option<Self::Output>, StreamError> {
            let mut out = Vec::new();
            while !self.pending.is_empty() {
                self.slices_forced += 1;
                out.extend(self.slice());
            }
            Ok((!out.is_empty()).then_some(out))
        }
        fn background(&mut self) -> Result<Background<Self::Output>, StreamError> {
            if self.pending.is_empty() {
                return Ok(Background::Idle);
            }
            self.slices_in_background += 1;
            Ok(match self.slice() {
                Some(o) => Background::Ready(vec![o]),
                None => Background::Progress,
            })
        }
    }

    #[test]
    fn background_work_fills_the_waits_of_a_slow_feed() {
        let (tx, mut src) = live_feed(GEOM, 2);
        let h = thread::spawn(move || {
            for i in 0..GEOM.nints {
                for g in 0..GEOM.ngroups {
                    thread::sleep(Duration::from_millis(20));
                    tx.send(frame(i, g)).unwrap();
                }
            }
        });
        let mut ctx = Context::new(Deferred::default(), 2);
        let mut outs = Vec::new();
        ctx.run(&mut src, |o| {
            outs.extend(o);
            Ok(())
        })
        .unwrap();
        h.join().unwrap();
        assert_eq!(outs, vec![(0, 6), (1, 46), (2, 86)]);
        // The feed waits 20 ms between frames: the first two integrations are finished in the
        // waits; the last one at the end of the input, by `finish`.
        let p = ctx.processor();
        assert_eq!(p.slices_in_background, 6, "forced: {}", p.slices_forced);
        assert_eq!(p.slices_forced, 3);
    }

    #[test]
    fn without_waits_deferred_work_is_done_when_needed() {
        // A file-like source always has the next frame: no background slice ever runs.
        struct AllAtHand(usize);
        impl FrameSource for AllAtHand {
            fn geometry(&self) -> FrameGeometry {
                GEOM
            }
            fn next_frame(&mut self) -> Result<Option<Frame>, StreamError> {
                let k = self.0;
                self.0 += 1;
                Ok((k < GEOM.frames()).then(|| frame(k / GEOM.ngroups, k % GEOM.ngroups)))
            }
        }
        let mut ctx = Context::new(Deferred::default(), 2);
        let mut outs = Vec::new();
        ctx.run(&mut AllAtHand(0), |o| {
            outs.extend(o);
            Ok(())
        })
        .unwrap();
        assert_eq!(outs, vec![(0, 6), (1, 46), (2, 86)]);
        assert_eq!(ctx.processor().slices_in_background, 0);
        assert_eq!(ctx.processor().slices_forced, 9);
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
