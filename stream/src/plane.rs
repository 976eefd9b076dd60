//! Integration planes: the unit downstream consumers stream (in progress).
