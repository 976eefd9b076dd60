//! Pure calibration kernels, one module per algorithm (as stcal lays them out). A kernel works on
//! plain slices of one pixel, one row band or one frame; drivers decide the order and never the
//! arithmetic, so the exact (band-major) and online (group-major) drivers give the same numbers.

pub mod dark_current;
pub mod dq_init;
pub mod gain_scale;
pub mod group_scale;
pub mod ipc;
pub mod jump;
pub mod linearity;
pub mod ramp_fit;
pub mod refpix;
pub mod saturation;
pub mod sort_network;
pub mod superbias;
