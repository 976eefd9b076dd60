//! Recycled plane buffers.
//!
//! Every integration plane of a stream has the same size (a 256 × 2048 plane is 2 MiB per
//! array, five or six arrays), and planes are made, copied for the product writers and dropped
//! at the integration rate. Freshly allocated buffers of that size come from the kernel as new
//! zeroed pages (a page fault and a page clear per 4 KiB, each time), so the stages hand the
//! buffers of planes they are done with back here ([`recycle`]) and take buffers from here
//! ([`take_f32`], [`take_u32`], [`copy_of`]) instead of allocating.
//!
//! A taken buffer has the requested length and **unspecified contents**: every user overwrites
//! all of it. New buffers are allocated only when none is free, so the buffers alive plus those
//! kept here never exceed the most that were alive at once; the pool also keeps at most
//! [`KEEP_BYTES`] in total.

use std::sync::Mutex;
use stream::plane::RatePlane;

/// Upper bound of the memory kept for reuse.
pub const KEEP_BYTES: usize = 256 << 20;

struct Free {
    f32s: Vec<Vec<f32>>,
    u32s: Vec<Vec<u32>>,
    bytes: usize,
}

static FREE: Mutex<Free> = Mutex::new(Free {
    f32s: Vec::new(),
    u32s: Vec::new(),
    bytes: 0,
});

fn lock() -> std::sync::MutexGuard<'static, Free> {
    // A panic while holding the lock leaves only a list of spare buffers behind: still valid.
    FREE.lock().unwrap_or_else(|e| e.into_inner())
}

/// A free buffer of length `n` from `list`, if one is kept (its bytes leave the pool's count).
fn take_from<T>(list: impl FnOnce(&mut Free) -> &mut Vec<Vec<T>>, n: usize) -> Option<Vec<T>> {
    let mut f = lock();
    let l = list(&mut f);
    let v = l.swap_remove(l.iter().rposition(|v| v.len() == n)?);
    f.bytes -= std::mem::size_of::<T>() * v.capacity();
    Some(v)
}

/// Keep `v` in `list` unless it is empty or the pool is full.
fn give_to<T>(list: impl FnOnce(&mut Free) -> &mut Vec<Vec<T>>, v: Vec<T>) {
    let b = std::mem::size_of::<T>() * v.capacity();
    if b == 0 {
        return;
    }
    let mut f = lock();
    if f.bytes + b <= KEEP_BYTES {
        f.bytes += b;
        list(&mut f).push(v);
    }
}

/// A buffer of `n` values, contents unspecified (recycled when one of that length is free).
pub fn take_f32(n: usize) -> Vec<f32> {
    take_from(|f| &mut f.f32s, n).unwrap_or_else(|| vec![0.0; n])
}

/// As [`take_f32`] for DQ arrays.
pub fn take_u32(n: usize) -> Vec<u32> {
    take_from(|f| &mut f.u32s, n).unwrap_or_else(|| vec![0; n])
}

/// Hand a buffer back (dropped when the pool is full or the buffer is empty).
pub fn give_f32(v: Vec<f32>) {
    give_to(|f| &mut f.f32s, v)
}

/// As [`give_f32`] for DQ arrays.
pub fn give_u32(v: Vec<u32>) {
    give_to(|f| &mut f.u32s, v)
}

/// Hand back every array of a plane that is no longer needed.
pub fn recycle(p: RatePlane) {
    give_f32(p.sci);
    give_f32(p.err);
    give_u32(p.dq);
    give_f32(p.var_poisson);
    give_f32(p.var_rnoise);
    if let Some(v) = p.var_flat {
        give_f32(v);
    }
}

fn copy_f32(src: &[f32]) -> Vec<f32> {
    let mut v = take_f32(src.len());
    v.copy_from_slice(src);
    v
}

/// A copy of `p` in recycled buffers (what `p.clone()` gives, without fresh pages).
pub fn copy_of(p: &RatePlane) -> RatePlane {
    let mut dq = take_u32(p.dq.len());
    dq.copy_from_slice(&p.dq);
    RatePlane {
        index: p.index,
        ny: p.ny,
        nx: p.nx,
        sci: copy_f32(&p.sci),
        err: copy_f32(&p.err),
        dq,
        var_poisson: copy_f32(&p.var_poisson),
        var_rnoise: copy_f32(&p.var_rnoise),
        var_flat: p.var_flat.as_deref().map(copy_f32),
        times: p.times,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_are_equal_and_buffers_come_back() {
        let mut p = RatePlane::zeros(3, 2, 3);
        p.sci[4] = 7.0;
        p.dq[1] = 5;
        p.var_flat = Some(vec![1.5; 6]);
        let q = copy_of(&p);
        assert_eq!(q, p);
        recycle(q);
        // A buffer of an unusual length is only reused for that length.
        let v = take_f32(6);
        assert_eq!(v.len(), 6);
        let w = take_f32(7);
        assert_eq!(w.len(), 7);
    }
}
