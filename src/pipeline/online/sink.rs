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
}

/// A sink that drops every plane.
#[derive(Debug, Default)]
pub struct NullSink;

impl PlaneSink for NullSink {
    fn accept(&mut self, _plane: &IntegrationPlane) -> anyhow::Result<()> {
        Ok(())
    }
}

impl<F: FnMut(&IntegrationPlane) -> anyhow::Result<()>> PlaneSink for F {
    fn accept(&mut self, plane: &IntegrationPlane) -> anyhow::Result<()> {
        self(plane)
    }
}
