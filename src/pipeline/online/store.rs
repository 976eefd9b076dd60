//! Per-pixel state of the online driver that lives in scratch files, not in memory, so that
//! resident memory is a few row bands, not a few hundred bytes per pixel.
//!
//! * [`MappedArray`]: a fixed-size array of plain values (the ramp-fit accumulators, the jump
//!   reservoir, the per-pixel constants of jump and ramp fitting) in a memory-mapped scratch
//!   file. The driver touches it band of pixels by band of pixels and releases each band's pages
//!   (`madvise(MADV_DONTNEED)`) when done: on a shared file mapping the data stay in the page
//!   cache (and the file), only the process's resident set shrinks.
//! * [`FrameStore`]: the current integration's calibrated groups (values and flags), written
//!   frame by frame as they are calibrated (group-major, `pwrite`) and read back band by band
//!   (`pread`) when the integration ends; plus the jump decisions (flags and marks, pixel-major)
//!   between the detection pass and the neighbour/fit pass.

use anyhow::{Context, Result};
use memmap2::MmapMut;
use std::fs::File;
use std::marker::PhantomData;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::Path;

use super::spill::scratch_file as scratch;

/// Types that may live in a [`MappedArray`]: `Copy`, no pointers, and every value the driver
/// stores is read back as the same value; an all-zero byte pattern is a valid value (fresh
/// files are zero-filled).
///
/// # Safety
/// Implementors must be plain data for which all-zero bytes are a valid value.
pub unsafe trait Plain: Copy + Send + Sync {}
unsafe impl Plain for f32 {}
unsafe impl Plain for u32 {}
unsafe impl Plain for u8 {}
// Numbers and bools only (`#[derive(Clone, Copy)]`); all-zero is "no integration yet".
unsafe impl Plain for crate::steps::ramp_fit::PixelAccumulator {}

/// Bytes written at once when a scratch file's contents are first written.
const PREFILL_BYTES: usize = 4 << 20;

/// The all-zero value of a `Plain` type.
fn zeroed<T: Plain>() -> T {
    // SAFETY: all-zero bytes are a valid value of every `Plain` type.
    unsafe { std::mem::zeroed() }
}

/// [`MappedArray::release`] drops whole aligned windows of this many bytes (the PMD size, the
/// largest page-cache folio on x86-64): a fault on a file mapping maps more than the page
/// touched — the cached pages of the aligned `fault_around_bytes` window around it (64 KiB),
/// or a whole large folio — so pages before and after a small range get mapped too.
const RELEASE_ALIGN: usize = 2 << 20;

/// A fixed-size array of `T` in a memory-mapped scratch file (see the module docs).
pub struct MappedArray<T: Plain> {
    map: Option<MmapMut>,
    /// The file and its path (for writes through the file and error messages).
    file: Option<(File, std::path::PathBuf)>,
    len: usize,
    _t: PhantomData<T>,
}

impl<T: Plain> MappedArray<T> {
    /// A zero-filled array of `len` values in a new file `dir/name`.
    ///
    /// The zeros are written (not left as a hole), so the file's pages are in the page cache
    /// before the driver maps them: touching a hole of a file mapping costs several times
    /// more, and its pages can come as large folios that a fault maps whole, beyond the
    /// range touched, which [`MappedArray::release`] then misses (10–20 MiB left resident at
    /// 256 × 2048 when the ranges are a few hundred pixels).
    pub fn create(dir: &Path, name: &str, len: usize) -> Result<Self> {
        let a = Self::create_sized(dir, name, len)?;
        let piece = (PREFILL_BYTES / std::mem::size_of::<T>().max(1)).clamp(1, len.max(1));
        let zeros = vec![zeroed::<T>(); piece];
        for first in (0..len).step_by(piece) {
            a.write_at(first, &zeros[..piece.min(len - first)])?;
        }
        Ok(a)
    }

    /// An array of `len` values in a new file `dir/name` that is sized but not written: the
    /// caller writes every value with [`MappedArray::write_at`] before touching it through
    /// the mapping (see [`MappedArray::create`] why; unwritten values read as zeros).
    pub fn create_sized(dir: &Path, name: &str, len: usize) -> Result<Self> {
        let bytes = len * std::mem::size_of::<T>();
        if bytes == 0 {
            return Ok(MappedArray {
                map: None,
                file: None,
                len,
                _t: PhantomData,
            });
        }
        let p = dir.join(name);
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&p)
            .with_context(|| format!("{}: cannot create a scratch file", p.display()))?;
        file.set_len(bytes as u64)
            .with_context(|| format!("{}: cannot size a scratch file", p.display()))?;
        // SAFETY: the file is private to this process (a fresh file in its own temporary
        // directory); nobody else truncates it while it is mapped, and its only writes are
        // this array's `write_at`, which cannot run while a slice of the map is borrowed
        // (`slice_mut` borrows the array mutably).
        let map = unsafe { MmapMut::map_mut(&file) }
            .with_context(|| format!("{}: cannot map a scratch file", p.display()))?;
        Ok(MappedArray {
            map: Some(map),
            file: Some((file, p)),
            len,
            _t: PhantomData,
        })
    }

    /// Write `values` from index `first` on through the file (not the mapping): the pages go
    /// to the page cache without being mapped into the process.
    pub fn write_at(&self, first: usize, values: &[T]) -> Result<()> {
        assert!(
            first + values.len() <= self.len,
            "write past a mapped array's end"
        );
        let Some((file, path)) = self.file.as_ref() else {
            return Ok(());
        };
        let size = std::mem::size_of::<T>();
        // SAFETY: `Plain` values are plain data; their bytes are what the file holds.
        let bytes = unsafe {
            std::slice::from_raw_parts(values.as_ptr() as *const u8, std::mem::size_of_val(values))
        };
        file.write_all_at(bytes, (first * size) as u64)
            .with_context(|| format!("{}: cannot write a scratch file", path.display()))
    }

    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Values `range` (touching their pages).
    pub fn slice_mut(&mut self, range: Range<usize>) -> &mut [T] {
        assert!(range.start <= range.end && range.end <= self.len);
        match self.map.as_mut() {
            None => &mut [],
            Some(m) => {
                // SAFETY: the map is page-aligned and holds `len` values of `T`, which is
                // `Plain` (any stored or all-zero pattern is valid); the borrow of `self`
                // guards against aliasing.
                let all =
                    unsafe { std::slice::from_raw_parts_mut(m.as_mut_ptr() as *mut T, self.len) };
                &mut all[range]
            }
        }
    }

    /// Drop the pages of values `range` from the resident set (the data stay in the file).
    ///
    /// The range is widened to whole [`RELEASE_ALIGN`] windows, which covers every page a
    /// fault inside it may have mapped; without the widening, ranges of a few hundred pixels
    /// leave a trail of mapped pages behind them (4–8 MiB per array at 256 × 2048). Values
    /// next to the range that are still in use are simply faulted in again.
    pub fn release(&self, range: Range<usize>) {
        let Some(m) = self.map.as_ref() else { return };
        let size = std::mem::size_of::<T>();
        let start = (range.start * size) / RELEASE_ALIGN * RELEASE_ALIGN;
        let end = (range.end * size).div_ceil(RELEASE_ALIGN) * RELEASE_ALIGN;
        let end = end.min(m.len());
        if end > start {
            // SAFETY: MADV_DONTNEED on a shared file mapping only unmaps the pages; their
            // contents stay in the page cache and are faulted back in on the next access.
            let _ = unsafe {
                m.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, start, end - start)
            };
        }
    }
}

/// The current integration's calibrated groups and the jump decisions, in scratch files.
pub struct FrameStore {
    npix: usize,
    ngroups: usize,
    slots: usize,
    vals: File,
    gdq: File,
    decided: File,
    bytes: Vec<u8>,
}

/// Write `len` zero bytes from the start of `f`, in pieces of a few MiB.
fn prefill(f: &File, len: usize) -> std::io::Result<()> {
    let zeros = vec![0u8; PREFILL_BYTES.min(len)];
    let mut at = 0;
    while at < len {
        let n = PREFILL_BYTES.min(len - at);
        f.write_all_at(&zeros[..n], at as u64)?;
        at += n;
    }
    Ok(())
}

/// `values` as little-endian bytes: the values' own bytes on a little-endian machine, else
/// converted into `buf`.
fn le_bytes<'a>(values: &'a [f32], buf: &'a mut Vec<u8>) -> &'a [u8] {
    if cfg!(target_endian = "little") {
        // SAFETY: f32 has no padding and any byte of it may be read as u8; the length is
        // the slice's size in bytes.
        unsafe {
            std::slice::from_raw_parts(values.as_ptr() as *const u8, std::mem::size_of_val(values))
        }
    } else {
        buf.clear();
        buf.extend(values.iter().flat_map(|v| v.to_le_bytes()));
        buf
    }
}

fn io(dir: &str, what: &str, e: std::io::Error) -> anyhow::Error {
    anyhow::anyhow!("online scratch file {dir}: {what}: {e}")
}

impl FrameStore {
    /// Room for `slots` integrations (2 when one integration's decisions wait for the next).
    ///
    /// The first `used` slots (those the exposure's integrations will use) and the decisions
    /// are written once here (zeros), so that the page cache holds the files' pages before
    /// the first frame: storing a group then overwrites cached pages, where writing to a
    /// fresh file region allocates every page (on this virtual machine ~100 ms for a
    /// 2048 × 2048 group, against ~5 ms).
    pub fn create(
        dir: &Path,
        npix: usize,
        ngroups: usize,
        slots: usize,
        used: usize,
    ) -> Result<Self> {
        let slots = slots.max(1);
        let store = FrameStore {
            npix,
            ngroups,
            slots,
            vals: scratch(dir, "ramp_values")?,
            gdq: scratch(dir, "ramp_groupdq")?,
            decided: scratch(dir, "jump_decisions")?,
            bytes: Vec::new(),
        };
        let frames = slots.min(used) * ngroups;
        prefill(&store.vals, frames * npix * 4).map_err(|e| io("ramp_values", "write", e))?;
        prefill(&store.gdq, frames * npix).map_err(|e| io("ramp_groupdq", "write", e))?;
        prefill(&store.decided, 2 * npix * ngroups)
            .map_err(|e| io("jump_decisions", "write", e))?;
        Ok(store)
    }

    /// Store group `g` of the integration in `slot` (whole frame).
    pub fn put_group(&mut self, slot: usize, g: usize, values: &[f32], gdq: &[u8]) -> Result<()> {
        debug_assert_eq!(values.len(), self.npix);
        assert!(slot < self.slots, "scratch slot {slot} of {}", self.slots);
        let g = slot * self.ngroups + g;
        self.vals
            .write_all_at(
                le_bytes(values, &mut self.bytes),
                (g * self.npix * 4) as u64,
            )
            .map_err(|e| io("ramp_values", "write", e))?;
        self.gdq
            .write_all_at(gdq, (g * self.npix) as u64)
            .map_err(|e| io("ramp_groupdq", "write", e))?;
        Ok(())
    }

    /// Pixels `p0..p0+n` of every group, pixel-major (`[pixel][group]`) into `vals` and `gdq`
    /// (either may be `None` when not needed).
    pub fn get_band(
        &mut self,
        slot: usize,
        p0: usize,
        n: usize,
        vals: Option<&mut [f32]>,
        gdq: Option<&mut [u8]>,
    ) -> Result<()> {
        let ng = self.ngroups;
        assert!(slot < self.slots, "scratch slot {slot} of {}", self.slots);
        let first = slot * ng;
        if let Some(vals) = vals {
            debug_assert_eq!(vals.len(), n * ng);
            self.bytes.resize(n * 4, 0);
            for g in 0..ng {
                self.vals
                    .read_exact_at(&mut self.bytes, (((first + g) * self.npix + p0) * 4) as u64)
                    .map_err(|e| io("ramp_values", "read", e))?;
                for (k, c) in self.bytes.chunks_exact(4).enumerate() {
                    vals[k * ng + g] = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
                }
            }
        }
        if let Some(gdq) = gdq {
            debug_assert_eq!(gdq.len(), n * ng);
            self.bytes.resize(n, 0);
            for g in 0..ng {
                self.gdq
                    .read_exact_at(&mut self.bytes, ((first + g) * self.npix + p0) as u64)
                    .map_err(|e| io("ramp_groupdq", "read", e))?;
                for (k, &q) in self.bytes.iter().enumerate() {
                    gdq[k * ng + g] = q;
                }
            }
        }
        Ok(())
    }

    /// Store the jump decisions (flags and marks, pixel-major) of pixels `p0..`.
    pub fn put_decided(&mut self, p0: usize, gdq: &[u8], marks: &[u8]) -> Result<()> {
        let ng = self.ngroups;
        let off = (p0 * ng) as u64;
        let half = (self.npix * ng) as u64;
        self.decided
            .write_all_at(gdq, off)
            .map_err(|e| io("jump_decisions", "write", e))?;
        self.decided
            .write_all_at(marks, half + off)
            .map_err(|e| io("jump_decisions", "write", e))?;
        Ok(())
    }

    /// The decisions stored by [`FrameStore::put_decided`] for pixels `p0..p0+len/ngroups`.
    pub fn get_decided(&mut self, p0: usize, gdq: &mut [u8], marks: &mut [u8]) -> Result<()> {
        let ng = self.ngroups;
        let half = (self.npix * ng) as u64;
        self.decided
            .read_exact_at(gdq, (p0 * ng) as u64)
            .map_err(|e| io("jump_decisions", "read", e))?;
        self.decided
            .read_exact_at(marks, half + (p0 * ng) as u64)
            .map_err(|e| io("jump_decisions", "read", e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapped_array_keeps_values_after_release() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = MappedArray::<u32>::create(dir.path(), "a", 100_000).unwrap();
        for (i, v) in a.slice_mut(0..100_000).iter_mut().enumerate() {
            *v = i as u32 * 3;
        }
        a.release(0..100_000);
        assert!(a
            .slice_mut(10..20)
            .iter()
            .enumerate()
            .all(|(k, &v)| v == (k as u32 + 10) * 3));
        let mut e = MappedArray::<f32>::create(dir.path(), "e", 0).unwrap();
        assert!(e.slice_mut(0..0).is_empty());
        e.release(0..0);
    }

    #[test]
    fn frame_store_transposes_groups_to_pixels() {
        let dir = tempfile::tempdir().unwrap();
        let (npix, ng) = (10, 3);
        let mut s = FrameStore::create(dir.path(), npix, ng, 2, 2).unwrap();
        for slot in 0..2 {
            for g in 0..ng {
                let v: Vec<f32> = (0..npix)
                    .map(|p| (p * 10 + g + 100 * slot) as f32)
                    .collect();
                let q: Vec<u8> = (0..npix).map(|p| (p + g + 50 * slot) as u8).collect();
                s.put_group(slot, g, &v, &q).unwrap();
            }
        }
        let mut v = vec![0f32; 4 * ng];
        let mut q = vec![0u8; 4 * ng];
        s.get_band(0, 5, 4, Some(&mut v), Some(&mut q)).unwrap();
        assert_eq!(v[0..3], [50.0, 51.0, 52.0]);
        assert_eq!(q[3..6], [6, 7, 8]);
        s.get_band(1, 5, 4, Some(&mut v), Some(&mut q)).unwrap();
        assert_eq!(v[0..3], [150.0, 151.0, 152.0]);
        assert_eq!(q[3..6], [56, 57, 58]);
        let marks: Vec<u8> = (0..npix * ng).map(|k| k as u8).collect();
        let flags: Vec<u8> = (0..npix * ng).map(|k| 200 - k as u8).collect();
        s.put_decided(0, &flags, &marks).unwrap();
        let (mut f2, mut m2) = (vec![0u8; 6], vec![0u8; 6]);
        s.get_decided(2, &mut f2, &mut m2).unwrap();
        assert_eq!(m2, marks[6..12]);
        assert_eq!(f2, flags[6..12]);
    }
}
