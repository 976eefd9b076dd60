//! Reference files in the CRDS layouts (in progress).
