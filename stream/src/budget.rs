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

/// Cut an `ny × nx` frame into tiles whose halo-extended area times `bytes_per_pixel` fits the
/// budget. Tiles are whole rows when possible (contiguous reads, full-row writes); otherwise the
/// columns are split too. Never returns an empty tile: with a budget too small for even one
/// pixel plus halo, the tiles are a single pixel wide and the caller is told via
/// [`TilePlan::over_budget`].
pub fn plan_tiles(
    ny: usize,
    nx: usize,
    halo: usize,
    bytes_per_pixel: u64,
    fixed_bytes: u64,
    budget: MemoryBudget,
) -> TilePlan {
    let avail = budget.bytes().saturating_sub(fixed_bytes).max(1);
    let max_pixels = (avail / bytes_per_pixel.max(1)).max(1) as usize;
    let (rows, cols);
    let full_row = nx + 2 * halo;
    if max_pixels >= full_row * (1 + 2 * halo) {
        cols = nx;
        rows = (max_pixels / full_row)
            .saturating_sub(2 * halo)
            .clamp(1, ny.max(1));
    } else {
        rows = 1;
        cols = (max_pixels / (1 + 2 * halo))
            .saturating_sub(2 * halo)
            .clamp(1, nx.max(1));
    }
    let mut tiles = Vec::new();
    let mut y0 = 0;
    while y0 < ny {
        let r = rows.min(ny - y0);
        let mut x0 = 0;
        while x0 < nx {
            let c = cols.min(nx - x0);
            tiles.push(Tile {
                y0,
                x0,
                rows: r,
                cols: c,
            });
            x0 += c;
        }
        y0 += r;
    }
    let worst = (rows + 2 * halo) as u64 * (cols + 2 * halo) as u64 * bytes_per_pixel + fixed_bytes;
    TilePlan {
        tiles,
        rows,
        cols,
        over_budget: worst > budget.bytes(),
    }
}

/// The result of [`plan_tiles`].
#[derive(Debug, Clone)]
pub struct TilePlan {
    pub tiles: Vec<Tile>,
    /// Core rows and columns of a full tile.
    pub rows: usize,
    pub cols: usize,
    /// True when even the smallest tile exceeds the budget.
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
            (64, 64, 50, 4096),
            (2048, 2048, 100_000, 64 << 20),
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
        // 1000 ints x 10 groups x 5 bytes per read = 50 kB per pixel.
        let bpp = 1000 * 10 * 5;
        let plan = plan_tiles(256, 2048, 2, bpp, 0, MemoryBudget::DEFAULT);
        assert!(!plan.over_budget);
        assert!(((plan.rows + 4) * (plan.cols + 4)) as u64 * bpp <= 256 << 20);
        assert!(plan.cols < 2048);
        let plan = plan_tiles(256, 2048, 2, 10 * 10 * 5, 0, MemoryBudget::DEFAULT);
        assert_eq!(plan.cols, 2048);
        assert!(plan.rows >= 100);
    }
}
