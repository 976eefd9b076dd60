//! What the online driver hands out when an integration is finished, and where it goes.

use std::time::Instant;

/// One finished integration: its rateints values that are final when it is fitted (SCI, DQ,
/// VAR_RNOISE, gain-scaled as in the product). VAR_POISSON and ERR depend on every integration
/// and only reach the product file at the end of the exposure.
#[derive(Debug, Clone)]
pub struct IntegrationPlane {
    /// Integration index within the file (0-based).
    pub int: usize,
    /// Integrations in the file.
    pub nints: usize,
    pub ny: usize,
    pub nx: usize,
    pub sci: Vec<f32>,
    pub dq: Vec<u32>,
    pub var_rnoise: Vec<f32>,
    /// JUMP_DET groups found by detection in this integration (before neighbour flagging).
    pub primary_jumps: u64,
    /// The integration's final GROUPDQ, pixel-major (`[pixel][group]`), when
    /// `OnlineOptions::keep_groupdq` asked for it.
    pub groupdq: Option<Vec<u8>>,
    /// When the integration's last group reached the process.
    pub last_group_arrived: Instant,
    /// When the plane was written to the rateints product (provisional ERR/VAR_POISSON).
    pub written: Instant,
}

impl IntegrationPlane {
    /// Seconds from the last group's arrival to the plane being written.
    pub fn latency_secs(&self) -> f64 {
        self.written
            .saturating_duration_since(self.last_group_arrived)
            .as_secs_f64()
    }
}

/// A consumer of finished integrations (quick-look images, light curves, downstream stages).
/// Called synchronously by the driver: a slow sink slows the whole stream down to the source
/// (back-pressure), it never makes anything queue up.
pub trait PlaneSink {
    fn accept(&mut self, plane: &IntegrationPlane) -> anyhow::Result<()>;
    /// Whether the sink reads the planes' values (SCI, DQ, VAR_RNOISE). A sink that does not
    /// (it only counts or times integrations) receives empty planes and saves the driver 12
    /// bytes per pixel of memory.
    fn wants_planes(&self) -> bool {
        true
    }
}

/// A sink that drops every plane.
#[derive(Debug, Default)]
pub struct NullSink;

impl PlaneSink for NullSink {
    fn accept(&mut self, _plane: &IntegrationPlane) -> anyhow::Result<()> {
        Ok(())
    }
    fn wants_planes(&self) -> bool {
        false
    }
}

impl<F: FnMut(&IntegrationPlane) -> anyhow::Result<()>> PlaneSink for F {
    fn accept(&mut self, plane: &IntegrationPlane) -> anyhow::Result<()> {
        self(plane)
    }
}

/// Feeds finished integrations into a [`stream::plane::PlaneSink`] (the Stage 2/3 consumer
/// chain) as [`stream::plane::RatePlane`]s, while the exposure is still arriving.
///
/// Quick-look grade: SCI, DQ and VAR_RNOISE are final, but VAR_POISSON and ERR need every
/// integration (spec §12.10), so the planes carry VAR_POISSON = 0 and ERR = sqrt(VAR_RNOISE)
/// (read noise only). Consumers that need the final errors read the `_rateints` product once
/// the run has finished. `finish` is called on the inner sink when the last integration has
/// been handed over.
pub struct ToPlaneSink<K> {
    pub inner: K,
}

impl<K: stream::plane::PlaneSink> PlaneSink for ToPlaneSink<K> {
    fn accept(&mut self, p: &IntegrationPlane) -> anyhow::Result<()> {
        let plane = stream::plane::RatePlane {
            index: p.int,
            ny: p.ny,
            nx: p.nx,
            sci: p.sci.clone(),
            err: p.var_rnoise.iter().map(|v| v.sqrt()).collect(),
            dq: p.dq.clone(),
            var_poisson: vec![0.0; p.sci.len()],
            var_rnoise: p.var_rnoise.clone(),
            var_flat: None,
            times: None,
        };
        self.inner.accept(plane)?;
        if p.int + 1 == p.nints {
            self.inner.finish()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stream::plane::{PlaneError, RatePlane};

    #[derive(Default)]
    struct Collect {
        planes: Vec<RatePlane>,
        finished: bool,
    }
    impl stream::plane::PlaneSink for Collect {
        fn accept(&mut self, plane: RatePlane) -> Result<(), PlaneError> {
            self.planes.push(plane);
            Ok(())
        }
        fn finish(&mut self) -> Result<(), PlaneError> {
            self.finished = true;
            Ok(())
        }
    }

    #[test]
    fn integration_planes_become_rate_planes() {
        let mut s = ToPlaneSink {
            inner: Collect::default(),
        };
        for int in 0..2 {
            let p = IntegrationPlane {
                int,
                nints: 2,
                ny: 1,
                nx: 2,
                sci: vec![1.0, f32::NAN],
                dq: vec![0, 1],
                var_rnoise: vec![4.0, 0.0],
                primary_jumps: 0,
                groupdq: None,
                last_group_arrived: Instant::now(),
                written: Instant::now(),
            };
            s.accept(&p).unwrap();
            assert_eq!(s.inner.finished, int == 1);
        }
        let q = &s.inner.planes[1];
        assert_eq!(
            (q.index, q.err[0], q.var_poisson[0], q.dq[1]),
            (1, 2.0, 0.0, 1)
        );
        q.check_shape().unwrap();
    }
}
