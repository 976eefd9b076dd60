//! Product writers (in progress).
