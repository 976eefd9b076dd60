//! Plane-major → pixel-major transposition of a tile, and the large tile buffers it fills.
//!
//! The fused corrections work plane by plane (`[slot][row][col]`, one slot per integration and
//! group) because the map is laid out that way; jump and ramp fitting need each pixel's whole
//! exposure contiguous (`[pixel][slot]`). The pixel-major region is tens of megabytes, so every
//! store of the transpose lands in a different cache line and a different page: the cost is
//! TLB and store misses, not arithmetic. Two things measured on the 70 × 10 × 256 × 2048
//! benchmark tile (8 integrations per round, 2 800-byte pixel records):
//!
//! * blocks of exactly [`PIXELS`] pixels with compile-time length (so the inner copies are
//!   unrolled and bounds-checked once) move a value in ~2 ns against ~4–5 ns with 16-pixel
//!   runtime-length blocks;
//! * transparent huge pages on the big buffers ([`sized_huge`]) take a further ~10 % off by
//!   cutting TLB misses (Linux, `madvise(MADV_HUGEPAGE)`; elsewhere a plain allocation).

/// Pixels moved per block: 8 destination records (8 × the slot run) stay in L1 while the
/// source planes are read 8 values (32 bytes) at a time.
pub const PIXELS: usize = 8;

/// Where one round of slots sits in the plane-major scratch and goes in the pixel-major region.
#[derive(Debug, Clone, Copy)]
pub struct TransposeGeometry {
    /// Values per plane of the scratch (`rows × row_width`).
    pub plane_len: usize,
    /// Row width of the scratch planes.
    pub row_width: usize,
    /// Offset (rows, cols) of the pixel-major region inside the scratch planes.
    pub row_offset: usize,
    pub col_offset: usize,
    /// Width of the pixel-major region (pixels per row).
    pub width: usize,
    /// Slots per pixel record (NINTS × NGROUPS).
    pub record: usize,
    /// First slot of this round (the scratch's plane 0 goes there).
    pub first_slot: usize,
    /// Number of planes (slots) in the scratch this round.
    pub slots: usize,
}

/// Copy one row of the pixel-major region (`row` of `width` pixels; `vrow`/`qrow` hold that
/// row's records) from the plane-major scratch `vals`/`gdq`.
pub fn transpose_row(
    geo: &TransposeGeometry,
    row: usize,
    vals: &[f32],
    gdq: &[u8],
    vrow: &mut [f32],
    qrow: &mut [u8],
) {
    let TransposeGeometry {
        plane_len,
        row_width,
        row_offset,
        col_offset,
        width,
        record,
        first_slot,
        slots,
    } = *geo;
    debug_assert_eq!(vrow.len(), width * record);
    debug_assert_eq!(qrow.len(), width * record);
    let base = (row + row_offset) * row_width + col_offset;
    let whole = width / PIXELS * PIXELS;
    if whole > 0 && slots > 0 {
        // Every index the blocks touch, checked once here instead of at each of the 16 stores
        // per slot (with those checks the loop spent most of its time in compares and
        // spills): the last block's last source value and its last record's last slot.
        let last_src = (slots - 1) * plane_len + base + whole - 1;
        let last_dst = (whole - 1) * record + first_slot + slots - 1;
        assert!(
            last_src < vals.len() && last_src < gdq.len(),
            "transpose source"
        );
        assert!(first_slot + slots <= record && last_dst < vrow.len() && last_dst < qrow.len());
        for c0 in (0..whole).step_by(PIXELS) {
            for local in 0..slots {
                let src = local * plane_len + base + c0;
                let dst = c0 * record + first_slot + local;
                // SAFETY: src + j <= last_src and dst + j * record <= last_dst for j < PIXELS
                // (c0 + PIXELS <= whole, local < slots), both checked against the slices above.
                unsafe {
                    let sv = vals.as_ptr().add(src);
                    let sq = gdq.as_ptr().add(src);
                    let dv = vrow.as_mut_ptr().add(dst);
                    let dq = qrow.as_mut_ptr().add(dst);
                    for j in 0..PIXELS {
                        *dv.add(j * record) = *sv.add(j);
                        *dq.add(j * record) = *sq.add(j);
                    }
                }
            }
        }
    }
    for c in whole..width {
        for local in 0..slots {
            let src = local * plane_len + base + c;
            vrow[c * record + first_slot + local] = vals[src];
            qrow[c * record + first_slot + local] = gdq[src];
        }
    }
}

/// Make `v` hold `n` elements (all equal to `fill` when `zero`; otherwise stale contents are
/// allowed because the caller overwrites every element). A new allocation of more than a few
/// megabytes asks the kernel for transparent huge pages before its first touch.
pub fn sized_huge<T: Copy>(v: &mut Vec<T>, n: usize, fill: T, zero: bool) -> &mut [T] {
    if v.capacity() < n {
        *v = Vec::with_capacity(n);
        advise_huge(v.as_mut_ptr() as usize, n * std::mem::size_of::<T>());
    }
    if zero {
        v.clear();
    }
    v.resize(n, fill);
    v.truncate(n);
    &mut v[..]
}

/// Ask for huge pages on the 2 MiB-aligned interior of `[addr, addr + len)`; advisory only
/// (a refusal or another OS leaves ordinary pages).
fn advise_huge(addr: usize, len: usize) {
    const HUGE: usize = 2 << 20;
    if len < 2 * HUGE {
        return;
    }
    let start = (addr + HUGE - 1) & !(HUGE - 1);
    let end = (addr + len) & !(HUGE - 1);
    #[cfg(target_os = "linux")]
    if end > start {
        // SAFETY: the range lies inside an allocation this process owns; MADV_HUGEPAGE changes
        // only how the kernel backs it, never its contents.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (start, end);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The block transpose equals the element-by-element definition for widths that are and
    /// are not multiples of the block, with offsets into a haloed scratch.
    #[test]
    fn equals_the_definition() {
        for &(width, slots, first_slot, record) in &[
            (8usize, 3usize, 0usize, 6usize),
            (21, 5, 5, 10),
            (3, 2, 2, 4),
            (40, 7, 0, 7),
        ] {
            let (row_offset, col_offset, rows) = (1usize, 2usize, 3usize);
            let row_width = width + 4;
            let plane_len = (rows + 2) * row_width;
            let vals: Vec<f32> = (0..slots * plane_len).map(|i| i as f32 * 0.5).collect();
            let gdq: Vec<u8> = (0..slots * plane_len)
                .map(|i| (i * 7 % 251) as u8)
                .collect();
            let geo = TransposeGeometry {
                plane_len,
                row_width,
                row_offset,
                col_offset,
                width,
                record,
                first_slot,
                slots,
            };
            for row in 0..rows {
                let mut v = vec![-1f32; width * record];
                let mut q = vec![255u8; width * record];
                transpose_row(&geo, row, &vals, &gdq, &mut v, &mut q);
                for c in 0..width {
                    for k in 0..record {
                        let (ev, eq) = if (first_slot..first_slot + slots).contains(&k) {
                            let src = (k - first_slot) * plane_len
                                + (row + row_offset) * row_width
                                + col_offset
                                + c;
                            (vals[src], gdq[src])
                        } else {
                            (-1.0, 255)
                        };
                        assert_eq!(v[c * record + k], ev, "value {width} {row} {c} {k}");
                        assert_eq!(q[c * record + k], eq, "flag {width} {row} {c} {k}");
                    }
                }
            }
        }
    }

    #[test]
    fn sized_huge_keeps_or_fills() {
        let mut v: Vec<u32> = Vec::new();
        assert_eq!(sized_huge(&mut v, 5_000_000, 7, true).len(), 5_000_000);
        assert!(v.iter().all(|&x| x == 7));
        v[3] = 1;
        let s = sized_huge(&mut v, 10, 0, false);
        assert_eq!(s[3], 1);
        assert_eq!(sized_huge(&mut v, 4, 9, true), &[9, 9, 9, 9]);
    }
}
