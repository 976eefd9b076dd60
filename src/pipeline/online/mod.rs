//! The online (group-major) detector1 driver (in progress).
