//! Process-wide allocator policy for bounded memory.
//!
//! glibc's malloc serves a freed large block's size from its heap afterwards (the "dynamic
//! mmap threshold" rises to the largest block freed, up to 32 MiB), and a heap only shrinks
//! from its top: the exact driver's per-tile product buffers (20–40 MB, allocated by the
//! compute threads and freed by the writer thread) then leave holes that stay resident, by an
//! amount that depends on thread timing. Measured on 200 x 10 x 256 x 2048 (sigma-clip mode,
//! 256 MiB budget): peak RSS 240–308 MB from run to run with the default policy, 205–223 MB
//! with a fixed threshold, against 180–190 MB at 10 integrations. Blocks of 16 MiB or more are
//! therefore always mapped and unmapped, so their memory returns to the system when freed.
//! Smaller blocks stay with the heap: with a 1 MiB threshold the online driver's per-group
//! buffers (8 MiB frames of a full-frame exposure) were mapped and faulted in afresh for every
//! group, ~50 ms more CPU per 2048 x 2048 group (86 ms with 16 MiB).

/// Install the policy (call once, before the work starts). Without glibc: nothing to do.
pub fn install() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes malloc's tuning parameters; called before other threads
    // allocate (glibc serialises it with its own locks anyway).
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 16 << 20);
    }
}
