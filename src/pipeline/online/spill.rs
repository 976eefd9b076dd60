//! What the online driver keeps on disk until the exposure ends, so its memory does not grow with
//! NINTS.
//!
//! When an integration is fitted, its rateints SCI, DQ and VAR_RNOISE are final, but VAR_POISSON
//! and ERR (rateints and rate) need every integration (spec §12.10). Per (integration, pixel)
//! the driver therefore keeps the early values (12 bytes) and the ramp-fit record (segment
//! lengths, typically 4 bytes), appended integration by integration to scratch files in a
//! private temporary directory (removed on drop, also after an error). At the end a first pass
//! reads, block of pixels by block of pixels, every integration's records of those pixels,
//! finishes each pixel exactly as the exact driver does (`PixelAccumulator::finish`) and stores
//! the late values; a second pass writes every rateints plane and the rate image band by band.
//!
//! Layouts (little-endian): `early` = `[int][pixel]{sci f32, dq u32, var_rnoise f32}`;
//! `records` = per integration, the records of pixels 0.. in order; `index` = per integration,
//! `nblocks + 1` u64 offsets into `records` where each block of pixels starts (and the end);
//! `late` = `[int][pixel]{var_poisson f32, err f32}`; `rate` = `[pixel]{sci, err, dq,
//! var_poisson, var_rnoise}`.

use anyhow::{Context, Result};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// Bytes of early values per (integration, pixel).
pub const EARLY_BYTES: usize = 12;
/// Bytes of late values per (integration, pixel).
pub const LATE_BYTES: usize = 8;
/// Bytes of rate values per pixel.
pub const RATE_BYTES: usize = 20;

/// Working memory the end-of-exposure pass may use for one block of pixels.
const FINISH_BUDGET: usize = 16 << 20;

/// The scratch files of one online run.
pub struct Spill {
    dir: tempfile::TempDir,
    npix: usize,
    nints: usize,
    block: usize,
    early: File,
    records: File,
    index: File,
    late: File,
    rate: File,
    records_len: u64,
    ints_written: usize,
    /// Record offsets of the blocks of the integration being pushed (block by block).
    pending_index: Vec<u64>,
}

/// Create `dir/name` for reading and writing (it must not exist yet).
pub(crate) fn scratch_file(dir: &Path, name: &str) -> Result<File> {
    let p = dir.join(name);
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&p)
        .with_context(|| format!("{}: cannot create a scratch file", p.display()))
}

fn le4(b: &[u8]) -> [u8; 4] {
    [b[0], b[1], b[2], b[3]]
}

impl Spill {
    /// Scratch files in a new temporary directory under `parent`. Blocks of pixels are whole
    /// rows of `nx` pixels.
    pub fn create(parent: &Path, npix: usize, nints: usize, nx: usize) -> Result<Spill> {
        let dir = tempfile::Builder::new()
            .prefix(".sloper-online-")
            .tempdir_in(parent)
            .with_context(|| {
                format!("{}: cannot create the scratch directory", parent.display())
            })?;
        let nx = nx.max(1);
        // At most 16 Ki pixels: a block's band passes and writes are one slice of the
        // integration finishing done between groups, so its size bounds a group's wait.
        let block = ((FINISH_BUDGET / (nints.max(1) * 16)).clamp(64, 1 << 14) / nx).max(1) * nx;
        let block = block.min(npix.max(1));
        Ok(Spill {
            early: scratch_file(dir.path(), "early")?,
            records: scratch_file(dir.path(), "records")?,
            index: scratch_file(dir.path(), "index")?,
            late: scratch_file(dir.path(), "late")?,
            rate: scratch_file(dir.path(), "rate")?,
            dir,
            npix,
            nints,
            block,
            records_len: 0,
            ints_written: 0,
            pending_index: Vec::new(),
        })
    }

    /// Pixels per record block (the unit of parallel work and of the final pass).
    pub fn block(&self) -> usize {
        self.block
    }
    pub fn nblocks(&self) -> usize {
        self.npix.div_ceil(self.block)
    }
    /// First pixel and pixel count of block `b`.
    pub fn block_span(&self, b: usize) -> (usize, usize) {
        let p0 = b * self.block;
        (p0, self.block.min(self.npix - p0))
    }
    pub fn path(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }
    pub fn integrations(&self) -> usize {
        self.ints_written
    }

    fn io(&self, what: &str, e: std::io::Error) -> anyhow::Error {
        anyhow::anyhow!("{}: {what}: {e}", self.dir.path().display())
    }

    /// Append block `b` (pixels `b * block()..`) of the integration being pushed: its early
    /// values and its ramp-fit records. Blocks come in order; then [`Spill::end_integration`].
    pub fn push_block(
        &mut self,
        b: usize,
        sci: &[f32],
        dq: &[u32],
        var_rnoise: &[f32],
        records: &[u16],
    ) -> Result<()> {
        anyhow::ensure!(
            self.ints_written < self.nints,
            "more integrations than the exposure has"
        );
        anyhow::ensure!(
            b == self.pending_index.len() && b < self.nblocks(),
            "record blocks out of order"
        );
        let p0 = b * self.block;
        let n = sci.len();
        anyhow::ensure!(
            n == self.block.min(self.npix - p0) && dq.len() == n && var_rnoise.len() == n,
            "a block of early values has the wrong size"
        );
        let mut bytes = Vec::with_capacity(n * EARLY_BYTES);
        for k in 0..n {
            bytes.extend_from_slice(&sci[k].to_le_bytes());
            bytes.extend_from_slice(&dq[k].to_le_bytes());
            bytes.extend_from_slice(&var_rnoise[k].to_le_bytes());
        }
        let off = ((self.ints_written * self.npix + p0) * EARLY_BYTES) as u64;
        self.early
            .write_all_at(&bytes, off)
            .map_err(|e| self.io("writing early values", e))?;
        bytes.clear();
        for w in records {
            bytes.extend_from_slice(&w.to_le_bytes());
        }
        self.records
            .write_all_at(&bytes, self.records_len)
            .map_err(|e| self.io("writing records", e))?;
        self.pending_index.push(self.records_len);
        self.records_len += bytes.len() as u64;
        Ok(())
    }

    /// Close the integration whose blocks were pushed.
    pub fn end_integration(&mut self) -> Result<()> {
        anyhow::ensure!(
            self.pending_index.len() == self.nblocks(),
            "an integration ended with {} of {} record blocks",
            self.pending_index.len(),
            self.nblocks()
        );
        let mut index = Vec::with_capacity((self.nblocks() + 1) * 8);
        for pos in self.pending_index.drain(..) {
            index.extend_from_slice(&pos.to_le_bytes());
        }
        index.extend_from_slice(&self.records_len.to_le_bytes());
        let ioff = (self.ints_written * (self.nblocks() + 1) * 8) as u64;
        self.index
            .write_all_at(&index, ioff)
            .map_err(|e| self.io("writing the record index", e))?;
        self.ints_written += 1;
        Ok(())
    }

    /// Records of block `b` of integration `int`.
    pub fn read_block_records(&self, int: usize, b: usize, out: &mut Vec<u16>) -> Result<()> {
        let mut ix = [0u8; 16];
        let ioff = ((int * (self.nblocks() + 1) + b) * 8) as u64;
        self.index
            .read_exact_at(&mut ix, ioff)
            .map_err(|e| self.io("reading the record index", e))?;
        let start = u64::from_le_bytes(ix[..8].try_into().expect("8 bytes"));
        let end = u64::from_le_bytes(ix[8..].try_into().expect("8 bytes"));
        anyhow::ensure!(end >= start, "corrupt record index");
        let mut bytes = vec![0u8; (end - start) as usize];
        self.records
            .read_exact_at(&mut bytes, start)
            .map_err(|e| self.io("reading records", e))?;
        out.clear();
        out.extend(
            bytes
                .chunks_exact(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]])),
        );
        Ok(())
    }

    /// Store late values of pixels `p0..p0+n` for integration `int` (`values`: n pairs).
    pub fn write_late(&self, int: usize, p0: usize, values: &[(f32, f32)]) -> Result<()> {
        let mut bytes = Vec::with_capacity(values.len() * LATE_BYTES);
        for (vp, err) in values {
            bytes.extend_from_slice(&vp.to_le_bytes());
            bytes.extend_from_slice(&err.to_le_bytes());
        }
        let off = ((int * self.npix + p0) * LATE_BYTES) as u64;
        self.late
            .write_all_at(&bytes, off)
            .map_err(|e| self.io("writing late values", e))
    }

    /// Store rate values of pixels `p0..`.
    pub fn write_rate(
        &self,
        p0: usize,
        values: &[crate::steps::ramp_fit::FitValues],
    ) -> Result<()> {
        let mut bytes = Vec::with_capacity(values.len() * RATE_BYTES);
        for v in values {
            bytes.extend_from_slice(&v.sci.to_le_bytes());
            bytes.extend_from_slice(&v.err.to_le_bytes());
            bytes.extend_from_slice(&v.dq.to_le_bytes());
            bytes.extend_from_slice(&v.var_poisson.to_le_bytes());
            bytes.extend_from_slice(&v.var_rnoise.to_le_bytes());
        }
        self.rate
            .write_all_at(&bytes, (p0 * RATE_BYTES) as u64)
            .map_err(|e| self.io("writing rate values", e))
    }

    /// Final values of pixels `p0..p0+n` of integration `int`.
    pub fn read_integration(
        &self,
        int: usize,
        p0: usize,
        n: usize,
        out: &mut Vec<crate::steps::ramp_fit::FitValues>,
    ) -> Result<()> {
        let mut early = vec![0u8; n * EARLY_BYTES];
        let mut late = vec![0u8; n * LATE_BYTES];
        self.early
            .read_exact_at(&mut early, ((int * self.npix + p0) * EARLY_BYTES) as u64)
            .map_err(|e| self.io("reading early values", e))?;
        self.late
            .read_exact_at(&mut late, ((int * self.npix + p0) * LATE_BYTES) as u64)
            .map_err(|e| self.io("reading late values", e))?;
        out.clear();
        for (e, l) in early
            .chunks_exact(EARLY_BYTES)
            .zip(late.chunks_exact(LATE_BYTES))
        {
            out.push(crate::steps::ramp_fit::FitValues {
                sci: f32::from_le_bytes(le4(&e[0..4])),
                dq: u32::from_le_bytes(le4(&e[4..8])),
                var_rnoise: f32::from_le_bytes(le4(&e[8..12])),
                var_poisson: f32::from_le_bytes(le4(&l[0..4])),
                err: f32::from_le_bytes(le4(&l[4..8])),
            });
        }
        Ok(())
    }

    /// Rate values of pixels `p0..p0+n`.
    pub fn read_rate(
        &self,
        p0: usize,
        n: usize,
        out: &mut Vec<crate::steps::ramp_fit::FitValues>,
    ) -> Result<()> {
        let mut b = vec![0u8; n * RATE_BYTES];
        self.rate
            .read_exact_at(&mut b, (p0 * RATE_BYTES) as u64)
            .map_err(|e| self.io("reading rate values", e))?;
        out.clear();
        for c in b.chunks_exact(RATE_BYTES) {
            out.push(crate::steps::ramp_fit::FitValues {
                sci: f32::from_le_bytes(le4(&c[0..4])),
                err: f32::from_le_bytes(le4(&c[4..8])),
                dq: u32::from_le_bytes(le4(&c[8..12])),
                var_poisson: f32::from_le_bytes(le4(&c[12..16])),
                var_rnoise: f32::from_le_bytes(le4(&c[16..20])),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::steps::ramp_fit::FitValues;

    #[test]
    fn integrations_round_trip_through_the_scratch_files() {
        let dir = tempfile::tempdir().unwrap();
        let (npix, nints) = (130, 3);
        let mut s = Spill::create(dir.path(), npix, nints, 13).unwrap();
        assert_eq!(s.block(), 130.min(s.block()));
        assert_eq!(s.block() % 13, 0);
        let nb = s.nblocks();
        for i in 0..nints {
            let sci: Vec<f32> = (0..npix).map(|p| (p + 1000 * i) as f32).collect();
            let dq: Vec<u32> = (0..npix).map(|p| (p * 3 + i) as u32).collect();
            let vr: Vec<f32> = (0..npix).map(|p| p as f32 * 0.5).collect();
            for b in 0..nb {
                let r = b * s.block()..((b + 1) * s.block()).min(npix);
                let rec = vec![b as u16, i as u16, 7];
                s.push_block(b, &sci[r.clone()], &dq[r.clone()], &vr[r], &rec)
                    .unwrap();
            }
            s.end_integration().unwrap();
        }
        let mut r = Vec::new();
        s.read_block_records(2, nb - 1, &mut r).unwrap();
        assert_eq!(r, vec![(nb - 1) as u16, 2, 7]);
        let late: Vec<(f32, f32)> = (0..10).map(|k| (k as f32, -(k as f32))).collect();
        s.write_late(1, 5, &late).unwrap();
        let mut out = Vec::new();
        s.read_integration(1, 5, 10, &mut out).unwrap();
        assert_eq!(out[3].sci, 1008.0);
        assert_eq!(out[3].dq, 8 * 3 + 1);
        assert_eq!(out[3].var_poisson, 3.0);
        assert_eq!(out[3].err, -3.0);
        let rate = vec![
            FitValues {
                sci: 1.5,
                err: 2.0,
                dq: 4,
                var_poisson: 0.25,
                var_rnoise: 0.125
            };
            4
        ];
        s.write_rate(126, &rate).unwrap();
        s.read_rate(126, 4, &mut out).unwrap();
        assert_eq!(out, rate);
        let path = s.path();
        drop(s);
        assert!(!path.exists(), "scratch directory removed on drop");
    }
}
