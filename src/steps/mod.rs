//! Pure calibration kernels, one module per algorithm (as stcal lays them out). A kernel works on
//! plain slices of one pixel, one row band or one frame; drivers decide the order.
