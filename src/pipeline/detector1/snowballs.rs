//! Snowball flagging (`expand_large_events`) in the streaming driver.
//!
//! Snowballs are found frame by frame (connected regions of a whole (integration, group) frame,
//! and a mask carried to the next integration), after jump detection and before ramp fitting.
//! Tiles hold every group of a few rows, frames hold every row of one group: the two meet in a
//! scratch file of GROUPDQ bytes (one per pixel-read, on disk, never resident):
//!
//! 1. a first pass over the tiles runs the corrections and jump detection and stores the final
//!    jump GROUPDQ of each tile's own pixels ([`SnowStage::Store`]);
//! 2. [`flag_snowballs`] reads one integration at a time (NGROUPS frames), flags snowballs with
//!    the frame kernel, carries the persistence mask to the next integration and writes back;
//! 3. the main pass runs the corrections again (they are deterministic) and fits the ramps with
//!    the stored GROUPDQ instead of detecting jumps ([`SnowStage::Load`]).
//!
//! Memory: one integration's frames during step 2; the tile passes need nothing extra.

use crate::steps::jump::setup::SnowballSetup;
use crate::steps::jump::snowball;
use anyhow::{Context, Result};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// What a tile pass does with the GROUPDQ scratch.
#[derive(Clone, Copy)]
pub enum SnowStage<'a> {
    /// No snowball flagging: detect jumps and fit.
    Off,
    /// Detect jumps and store the tile's GROUPDQ; no fit.
    Store(&'a GdqScratch),
    /// Load the tile's GROUPDQ (jumps and snowballs) and fit; no detection.
    Load(&'a GdqScratch),
}

/// GROUPDQ of the whole exposure, plane-major `[int][group][row][col]`, in a scratch file next
/// to the products (removed when dropped).
pub struct GdqScratch {
    file: File,
    path: PathBuf,
    ngroups: usize,
    ny: usize,
    nx: usize,
}

impl GdqScratch {
    pub fn create(dir: &Path, stem: &str, shape: [usize; 4]) -> Result<GdqScratch> {
        let [nints, ngroups, ny, nx] = shape;
        let path = dir.join(format!(".{stem}.sloper-gdq-{}", std::process::id()));
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .with_context(|| {
                format!("{}: cannot create the GROUPDQ scratch file", path.display())
            })?;
        let scratch = GdqScratch {
            file,
            path,
            ngroups,
            ny,
            nx,
        };
        scratch
            .file
            .set_len((nints * ngroups * ny * nx) as u64)
            .with_context(|| format!("{}: cannot size the scratch file", scratch.path.display()))?;
        Ok(scratch)
    }

    fn offset(&self, int: usize, group: usize, y: usize, x: usize) -> u64 {
        ((((int * self.ngroups + group) * self.ny) + y) * self.nx + x) as u64
    }

    /// Writes the rectangle `rows × cols` at (y0, x0) of frame (int, group); `data` row-major.
    pub fn write_rect(
        &self,
        int: usize,
        group: usize,
        y0: usize,
        x0: usize,
        cols: usize,
        data: &[u8],
    ) -> Result<()> {
        if cols == self.nx {
            return self.write_at(data, self.offset(int, group, y0, 0));
        }
        for (r, row) in data.chunks_exact(cols).enumerate() {
            self.write_at(row, self.offset(int, group, y0 + r, x0))?;
        }
        Ok(())
    }

    /// Reads the rectangle `rows × cols` at (y0, x0) of frame (int, group) into `out`.
    pub fn read_rect(
        &self,
        int: usize,
        group: usize,
        y0: usize,
        x0: usize,
        cols: usize,
        out: &mut [u8],
    ) -> Result<()> {
        if cols == self.nx {
            return self.read_at(out, self.offset(int, group, y0, 0));
        }
        for (r, row) in out.chunks_exact_mut(cols).enumerate() {
            self.read_at(row, self.offset(int, group, y0 + r, x0))?;
        }
        Ok(())
    }

    fn write_at(&self, data: &[u8], at: u64) -> Result<()> {
        self.file
            .write_all_at(data, at)
            .with_context(|| format!("{}: cannot write the GROUPDQ scratch", self.path.display()))
    }

    fn read_at(&self, out: &mut [u8], at: u64) -> Result<()> {
        self.file
            .read_exact_at(out, at)
            .with_context(|| format!("{}: cannot read the GROUPDQ scratch", self.path.display()))
    }
}

impl Drop for GdqScratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Step 2: snowballs of every integration in order (stcal `flag_large_events`), in place.
/// Returns the number of snowballs (for EXTNCRS).
pub fn flag_snowballs(scratch: &GdqScratch, setup: &SnowballSetup, nints: usize) -> Result<u64> {
    let (ngroups, ny, nx) = (scratch.ngroups, scratch.ny, scratch.nx);
    let frame = ny * nx;
    let mut cube = vec![0u8; ngroups * frame];
    let mut persist = vec![0u8; frame];
    let mut persist_prev = vec![0u8; frame];
    let mut total = 0;
    for i in 0..nints {
        let at = scratch.offset(i, 0, 0, 0);
        scratch.read_at(&mut cube, at)?;
        persist.fill(0);
        total += snowball::flag_integration(setup, ngroups, ny, nx, &mut cube, &mut persist);
        if i > 0 {
            snowball::apply_persistence(setup, ngroups, frame, &mut cube, &persist_prev);
        }
        std::mem::swap(&mut persist, &mut persist_prev);
        scratch.write_at(&cube, at)?;
    }
    Ok(total)
}
