//! Memory budget: how many bytes the working set of a driver may hold, and how to cut an
//! exposure into tiles that fit.
//!
//! The exact driver holds, for one tile of pixels, every read of every integration (that is what
//! the official jump and ramp-fit statistics need), so its working set is
//! `tile_pixels × bytes_per_pixel` with `bytes_per_pixel` proportional to NINTS × NGROUPS. To keep
//! peak memory flat as NINTS grows, the tile shrinks: first fewer rows, then fewer columns.

use std::fmt;
use std::str::FromStr;

/// A byte budget parsed from strings such as `256MiB`, `1.5G`, `64M`, `1000000`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct MemoryBudget {
    bytes: u64,
}

impl MemoryBudget {
    pub const DEFAULT: MemoryBudget = MemoryBudget { bytes: 256 << 20 };

    pub fn from_bytes(bytes: u64) -> Self {
        MemoryBudget { bytes }
    }
    pub fn bytes(&self) -> u64 {
        self.bytes
    }
}

impl Default for MemoryBudget {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Why a budget string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid memory size {0:?}: expected a number with an optional unit (K, M, G, KiB, MiB, GiB, KB, MB, GB)")]
pub struct BudgetParseError(pub String);

impl FromStr for MemoryBudget {
    type Err = BudgetParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let split = t
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(t.len());
        let (num, unit) = t.split_at(split);
        let value: f64 = num.parse().map_err(|_| BudgetParseError(s.to_string()))?;
        let mult: f64 = match unit.trim().to_ascii_lowercase().as_str() {
            "" | "b" => 1.0,
            "k" | "kib" => 1024.0,
            "m" | "mib" => 1024.0 * 1024.0,
            "g" | "gib" => 1024.0 * 1024.0 * 1024.0,
            "kb" => 1e3,
            "mb" => 1e6,
            "gb" => 1e9,
            _ => return Err(BudgetParseError(s.to_string())),
        };
        let bytes = value * mult;
        if !bytes.is_finite() || !(1.0..=1e18).contains(&bytes) {
            return Err(BudgetParseError(s.to_string()));
        }
        Ok(MemoryBudget {
            bytes: bytes as u64,
        })
    }
}

impl fmt::Display for MemoryBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.bytes as f64;
        if b >= (1u64 << 30) as f64 {
            write!(f, "{:.2} GiB", b / (1u64 << 30) as f64)
        } else if b >= (1u64 << 20) as f64 {
            write!(f, "{:.1} MiB", b / (1u64 << 20) as f64)
        } else {
            write!(f, "{} B", self.bytes)
        }
    }
}

/// A rectangle of the frame processed at once: `rows × cols` core pixels at (`y0`, `x0`), read
/// with a halo of `halo` pixels on every side that exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tile {
    pub y0: usize,
    pub x0: usize,
    pub rows: usize,
    pub cols: usize,
}

/// Fewest core rows a whole-row band may have before tiles are split into columns too.
pub const MIN_BAND_ROWS: usize = 4;

/// Width over height of tiles narrower than the frame (see [`plan_tiles`]).
const TILE_ASPECT: f64 = 4.0;

/// Smallest working set given to tiles, even when `fixed_bytes` leaves less of the budget:
/// absurdly small tiles would only make the run slow, not small.
pub const MIN_TILE_BYTES: u64 = 32 << 20;

/// Cut an `ny × nx` frame into tiles whose halo-extended area times `bytes_per_pixel` fits
/// three quarters of what `fixed_bytes` leaves of the budget (the rest absorbs pages the kernel
/// maps around memory-mapped reads, and allocator slack). Whole-row bands while they hold at
/// least [`MIN_BAND_ROWS`] rows (contiguous reads and writes), else tiles about four times as
/// wide as tall, which keep the halo overhead small when each pixel holds many reads without
/// making each row of a frame a separate short read.
pub fn plan_tiles(
    ny: usize,
    nx: usize,
    halo: usize,
    bytes_per_pixel: u64,
    fixed_bytes: u64,
    budget: MemoryBudget,
) -> TilePlan {
    let mut avail = budget.bytes().saturating_sub(fixed_bytes) / 4 * 3;
    let over_budget = avail < MIN_TILE_BYTES;
    if over_budget {
        avail = MIN_TILE_BYTES;
    }
    let max_pixels = ((avail / bytes_per_pixel.max(1)) as usize).max(1);
    let (rows, cols) = if max_pixels / nx.max(1) >= (MIN_BAND_ROWS + 2 * halo).min(ny + 2 * halo) {
        (
            (max_pixels / nx.max(1))
                .saturating_sub(2 * halo)
                .clamp(1, ny.max(1)),
            nx.max(1),
        )
    } else {
        // Wider than tall: each row of each frame is one page fault (or read) whatever the
        // tile's width, while a halo column costs no more than a halo row.
        let side = (max_pixels as f64 / TILE_ASPECT).sqrt() as usize;
        let rows = side.saturating_sub(2 * halo).clamp(1, ny.max(1));
        let cols = (max_pixels / (rows + 2 * halo))
            .saturating_sub(2 * halo)
            .clamp(1, nx.max(1));
        (rows, cols)
    };
    TilePlan {
        tiles: tiles_of(ny, nx, rows, cols),
        rows,
        cols,
        over_budget,
    }
}

/// Tiles of `rows × cols` core pixels covering an `ny × nx` frame, row-major (the far edges
/// get the remainders).
pub fn tiles_of(ny: usize, nx: usize, rows: usize, cols: usize) -> Vec<Tile> {
    let (rows, cols) = (rows.max(1), cols.max(1));
    let mut tiles = Vec::new();
    for y0 in (0..ny).step_by(rows) {
        for x0 in (0..nx).step_by(cols) {
            tiles.push(Tile {
                y0,
                x0,
                rows: rows.min(ny - y0),
                cols: cols.min(nx - x0),
            });
        }
    }
    tiles
}

/// The result of [`plan_tiles`].
#[derive(Debug, Clone)]
pub struct TilePlan {
    pub tiles: Vec<Tile>,
    /// Core rows and columns of a full tile.
    pub rows: usize,
    pub cols: usize,
    /// True when `fixed_bytes` left less than [`MIN_TILE_BYTES`] of the budget, so the plan
    /// goes over it (the caller should say so).
    pub over_budget: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sizes() {
        assert_eq!("256MiB".parse::<MemoryBudget>().unwrap().bytes(), 256 << 20);
        assert_eq!("1.5G".parse::<MemoryBudget>().unwrap().bytes(), 3 << 29);
        assert_eq!("64 m".parse::<MemoryBudget>().unwrap().bytes(), 64 << 20);
        assert_eq!(
            "2GB".parse::<MemoryBudget>().unwrap().bytes(),
            2_000_000_000
        );
        assert!("lots".parse::<MemoryBudget>().is_err());
        assert!("-5M".parse::<MemoryBudget>().is_err());
        assert!("0".parse::<MemoryBudget>().is_err());
    }

    #[test]
    fn tiles_cover_the_frame_once() {
        for &(ny, nx, bpp, budget) in &[
            (256, 2048, 3500u64, 256u64 << 20),
            (64, 64, 50, 64 << 20),
            (2048, 2048, 100_000, 256 << 20),
            (7, 5, 1, 1),
        ] {
            let plan = plan_tiles(ny, nx, 2, bpp, 0, MemoryBudget::from_bytes(budget));
            let mut seen = vec![0u8; ny * nx];
            for t in &plan.tiles {
                for y in t.y0..t.y0 + t.rows {
                    for x in t.x0..t.x0 + t.cols {
                        seen[y * nx + x] += 1;
                    }
                }
            }
            assert!(seen.iter().all(|&s| s == 1), "{ny}x{nx}");
        }
    }

    #[test]
    fn tiles_respect_the_budget() {
        // 1000 ints x 10 groups x 6 bytes per read: near-square tiles within 3/4 of the budget.
        let bpp = 1000 * 10 * 6;
        let plan = plan_tiles(256, 2048, 2, bpp, 0, MemoryBudget::DEFAULT);
        assert!(!plan.over_budget);
        assert!(((plan.rows + 4) * (plan.cols + 4)) as u64 * bpp <= (256 << 20) / 4 * 3);
        assert!(
            plan.cols < 2048 && plan.rows > 16,
            "{}x{}",
            plan.rows,
            plan.cols
        );
        // Few reads per pixel: whole-row bands.
        let plan = plan_tiles(256, 2048, 2, 10 * 10 * 6, 0, MemoryBudget::DEFAULT);
        assert_eq!(plan.cols, 2048);
        assert!(plan.rows >= 100);
        // References larger than the budget: the floor, flagged.
        let plan = plan_tiles(2048, 2048, 2, 100, 300 << 20, MemoryBudget::DEFAULT);
        assert!(plan.over_budget);
        assert!(((plan.rows + 4) * 2048) as u64 * 100 <= MIN_TILE_BYTES);
    }
}
