//! Run a plane sink on its own thread behind a bounded channel, so writing a product (cfitsio
//! encoding, checksums, the kernel's copy) overlaps the computing of the next integrations.
//! At most `capacity` planes are queued: memory stays bounded and a slow writer slows the
//! producer down (back-pressure) instead of letting planes pile up.

use crossbeam_channel::{bounded, Sender};
use std::thread::JoinHandle;
use stream::plane::{PlaneError, PlaneSink, RatePlane};

/// A [`PlaneSink`] whose work happens on a worker thread. `finish` waits for the worker and
/// returns its result; the inner sink is handed back by [`Offload::into_inner`].
pub struct Offload<S: PlaneSink + Send + 'static> {
    tx: Option<Sender<RatePlane>>,
    handle: Option<JoinHandle<Result<S, PlaneError>>>,
    done: Option<S>,
}

impl<S: PlaneSink + Send + 'static> Offload<S> {
    pub fn spawn(mut sink: S, capacity: usize) -> Offload<S> {
        let (tx, rx) = bounded::<RatePlane>(capacity.max(1));
        let handle = std::thread::spawn(move || -> Result<S, PlaneError> {
            for plane in rx {
                sink.accept(plane)?;
            }
            sink.finish()?;
            Ok(sink)
        });
        Offload {
            tx: Some(tx),
            handle: Some(handle),
            done: None,
        }
    }

    fn join(&mut self) -> Result<(), PlaneError> {
        self.tx.take();
        if let Some(h) = self.handle.take() {
            let s = h
                .join()
                .map_err(|_| PlaneError::Sink("a writer thread panicked".into()))??;
            self.done = Some(s);
        }
        Ok(())
    }

    /// Close the queue without waiting: the worker handles what is queued, then finishes its
    /// sink (e.g. checksums and syncs a product) while the caller goes on; [`PlaneSink::finish`]
    /// waits for it and returns its result.
    pub fn close(&mut self) {
        self.tx.take();
    }

    /// The inner sink after `finish`.
    pub fn into_inner(mut self) -> Option<S> {
        self.done.take()
    }

    pub fn inner(&self) -> Option<&S> {
        self.done.as_ref()
    }
}

impl<S: PlaneSink + Send + 'static> PlaneSink for Offload<S> {
    fn accept(&mut self, plane: RatePlane) -> Result<(), PlaneError> {
        let tx = self
            .tx
            .as_ref()
            .ok_or_else(|| PlaneError::Sink("plane after finish".into()))?;
        if tx.send(plane).is_err() {
            // The worker stopped: report why.
            self.join()?;
            return Err(PlaneError::Sink("the writer thread stopped early".into()));
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<(), PlaneError> {
        self.join()
    }
}

impl<S: PlaneSink + Send + 'static> Drop for Offload<S> {
    fn drop(&mut self) {
        // Close the queue and wait, so an abandoned product's temporary file is removed by the
        // worker's writer before the caller goes on.
        self.tx.take();
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Count(usize, bool, Option<usize>);
    impl PlaneSink for Count {
        fn accept(&mut self, _p: RatePlane) -> Result<(), PlaneError> {
            self.0 += 1;
            if Some(self.0) == self.2 {
                return Err(PlaneError::Sink("disk full".into()));
            }
            Ok(())
        }
        fn finish(&mut self) -> Result<(), PlaneError> {
            self.1 = true;
            Ok(())
        }
    }

    #[test]
    fn work_happens_and_errors_come_back() {
        let mut o = Offload::spawn(Count(0, false, None), 2);
        for i in 0..5 {
            o.accept(RatePlane::zeros(i, 1, 1)).unwrap();
        }
        o.finish().unwrap();
        let c = o.into_inner().unwrap();
        assert_eq!((c.0, c.1), (5, true));
        let mut o = Offload::spawn(Count(0, false, Some(2)), 1);
        let mut err = None;
        for i in 0..10 {
            if let Err(e) = o.accept(RatePlane::zeros(i, 1, 1)) {
                err = Some(e);
                break;
            }
        }
        let e = err.or_else(|| o.finish().err()).unwrap();
        assert_eq!(e, PlaneError::Sink("disk full".into()));
    }
}
