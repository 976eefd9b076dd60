//! One error type for everything the frames layer can refuse. Every variant names the file, so
//! the CLI can print a single line that tells the user what is wrong and where.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum FramesError {
    /// Operating-system error while opening, mapping, reading or writing `path`. The OS error
    /// is part of the message and deliberately not a `source`, so `{:#}` chains print it once.
    #[error("{path}: {error}")]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    /// cfitsio refused the file (not FITS, header cut mid-card, ...).
    #[error("{path}: FITS error: {message}")]
    Fits { path: PathBuf, message: String },
    /// The file is FITS but not what we need: missing HDU or keyword, wrong BITPIX/NAXIS, sizes
    /// that disagree with the file length, reference of the wrong shape, ...
    #[error("{path}: {problem}")]
    Invalid { path: PathBuf, problem: String },
}

impl FramesError {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        FramesError::Io {
            path: path.into(),
            error: source,
        }
    }
    pub fn fits(path: impl Into<PathBuf>, err: impl std::fmt::Display) -> Self {
        FramesError::Fits {
            path: path.into(),
            message: err.to_string(),
        }
    }
    pub fn invalid(path: impl Into<PathBuf>, problem: impl Into<String>) -> Self {
        FramesError::Invalid {
            path: path.into(),
            problem: problem.into(),
        }
    }
    /// The file this error is about.
    pub fn path(&self) -> &std::path::Path {
        match self {
            FramesError::Io { path, .. }
            | FramesError::Fits { path, .. }
            | FramesError::Invalid { path, .. } => path,
        }
    }
}

pub type Result<T, E = FramesError> = std::result::Result<T, E>;
