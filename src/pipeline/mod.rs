//! Pipelines: compositions of the step kernels over a driver.

pub mod detector1;
pub mod naming;
pub mod online;
