//! Logging in stpipe's style, on the `log` crate facade.
//!
//! Lines look like the official ones (`stpipe._log.DEFAULT_FORMAT`):
//! `2026-11-23 10:10:17,457 - stpipe.step - INFO - Step jump running with args ...` and go to
//! **stderr** (so stdout stays clean for `--json` and for the product list), optionally also to
//! `--log-file` (truncated, as stpipe's `file:` handler). Timestamps are UTC.
//!
//! Levels are stpipe's: DEBUG, INFO (default), WARNING, ERROR, CRITICAL. The `log` crate has no
//! CRITICAL: [`critical`] logs an error record whose target starts with `critical:`; under
//! `--log-level=CRITICAL` only those pass.
//!
//! Pipelines log with the `log` macros (`log::info!(target: "jwst.jump", "...")`) and the helpers
//! below, which write the exact official messages for step boundaries and reference files, plus
//! the duration of each step (the official line `Step jump done` gains ` (1.234 s)`).
//! Nothing is printed until [`init`] installs the logger (the CLI does it when parsing options).

use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// stpipe's log levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Debug = 10,
    Info = 20,
    Warning = 30,
    Error = 40,
    Critical = 50,
}

impl Level {
    /// Parse `--log-level` as Python's `logging._checkLevel` (names, any case, or numbers).
    pub fn parse(s: &str) -> Result<Level, String> {
        match s.trim().to_ascii_uppercase().as_str() {
            "DEBUG" | "10" | "NOTSET" | "0" => Ok(Level::Debug),
            "INFO" | "20" => Ok(Level::Info),
            "WARNING" | "WARN" | "30" => Ok(Level::Warning),
            "ERROR" | "40" => Ok(Level::Error),
            "CRITICAL" | "FATAL" | "50" => Ok(Level::Critical),
            _ => Err(format!(
                "--log-level: unknown level {s:?} (DEBUG, INFO, WARNING, ERROR, CRITICAL)"
            )),
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Level::Debug => "DEBUG",
            Level::Info => "INFO",
            Level::Warning => "WARNING",
            Level::Error => "ERROR",
            Level::Critical => "CRITICAL",
        }
    }
}

/// Where terminal messages go (`--log-stream`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stderr,
    Stdout,
    Null,
}

impl Stream {
    pub fn parse(s: &str) -> Result<Stream, String> {
        match s {
            "stderr" => Ok(Stream::Stderr),
            "stdout" => Ok(Stream::Stdout),
            "null" => Ok(Stream::Null),
            _ => Err(format!("--log-stream: {s:?} is not stdout, stderr or null")),
        }
    }
}

/// The logging options of the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSettings {
    pub level: Level,
    pub stream: Stream,
    pub file: Option<PathBuf>,
}

impl Default for LogSettings {
    fn default() -> Self {
        LogSettings {
            level: Level::Info,
            stream: Stream::Stderr,
            file: None,
        }
    }
}

struct Sink {
    level: Level,
    stream: Stream,
    file: Option<File>,
}

struct StpipeLogger {
    sink: Mutex<Option<Sink>>,
}

static LOGGER: OnceLock<StpipeLogger> = OnceLock::new();

const CRITICAL_TARGET: &str = "critical:";

fn record_level(record: &log::Record) -> (Level, String) {
    let target = record.target();
    if let Some(t) = target.strip_prefix(CRITICAL_TARGET) {
        return (Level::Critical, t.to_string());
    }
    let level = match record.level() {
        log::Level::Error => Level::Error,
        log::Level::Warn => Level::Warning,
        log::Level::Info => Level::Info,
        log::Level::Debug | log::Level::Trace => Level::Debug,
    };
    (level, target.replace("::", "."))
}

impl log::Log for StpipeLogger {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        let guard = self.sink.lock().unwrap_or_else(|e| e.into_inner());
        guard.as_ref().is_some_and(|s| {
            metadata.target().starts_with(CRITICAL_TARGET) || level_of(metadata.level()) >= s.level
        })
    }

    fn log(&self, record: &log::Record) {
        let (level, target) = record_level(record);
        let mut guard = self.sink.lock().unwrap_or_else(|e| e.into_inner());
        let Some(sink) = guard.as_mut() else { return };
        if level < sink.level {
            return;
        }
        let line = format!(
            "{} - {} - {} - {}\n",
            asctime(SystemTime::now()),
            target,
            level.name(),
            record.args()
        );
        // A log line that cannot be written is not worth failing the run for.
        match sink.stream {
            Stream::Stderr => {
                let _ = std::io::stderr().lock().write_all(line.as_bytes());
            }
            Stream::Stdout => {
                let _ = std::io::stdout().lock().write_all(line.as_bytes());
            }
            Stream::Null => {}
        }
        if let Some(f) = sink.file.as_mut() {
            let _ = f.write_all(line.as_bytes());
        }
    }

    fn flush(&self) {
        let mut guard = self.sink.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(f) = guard.as_mut().and_then(|s| s.file.as_mut()) {
            let _ = f.flush();
        }
    }
}

fn level_of(l: log::Level) -> Level {
    match l {
        log::Level::Error => Level::Error,
        log::Level::Warn => Level::Warning,
        log::Level::Info => Level::Info,
        log::Level::Debug | log::Level::Trace => Level::Debug,
    }
}

/// Install (or reconfigure) the logger. Safe to call more than once: the last settings win
/// (a pipeline chain parses several command lines in one process).
pub fn init(settings: &LogSettings) -> Result<(), String> {
    let file = match &settings.file {
        Some(p) => Some(File::create(p).map_err(|e| format!("--log-file {}: {e}", p.display()))?),
        None => None,
    };
    let logger = LOGGER.get_or_init(|| StpipeLogger {
        sink: Mutex::new(None),
    });
    *logger.sink.lock().unwrap_or_else(|e| e.into_inner()) = Some(Sink {
        level: settings.level,
        stream: settings.stream,
        file,
    });
    // Only the first call installs it; later calls just swap the sink above.
    if log::set_logger(logger).is_ok() {
        log::set_max_level(log::LevelFilter::Trace);
    }
    Ok(())
}

/// Log a CRITICAL message (shown even under `--log-level=CRITICAL`).
pub fn critical(target: &str, message: &str) {
    log::error!(target: &format!("{CRITICAL_TARGET}{target}"), "{message}");
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn split_time(t: SystemTime) -> (i64, u32, u32, u64, u32) {
    let since = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (y, mo, d) = civil_from_days((secs / 86_400) as i64);
    (y, mo, d, secs % 86_400, since.subsec_millis())
}

/// Python's `asctime`: `2026-11-23 10:10:17,457` (UTC here).
pub fn asctime(t: SystemTime) -> String {
    let (y, mo, d, s, ms) = split_time(t);
    format!(
        "{y:04}-{mo:02}-{d:02} {:02}:{:02}:{:02},{ms:03}",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

/// `2026-11-23T10:10:17` (the `meta.date` of a saved parameter file).
pub fn utc_timestamp_iso() -> String {
    let (y, mo, d, s, _) = split_time(SystemTime::now());
    format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

/// A running step: logs `Step <name> running with args (<input>,).` when started and
/// `Step <name> done (<seconds> s)` when finished.
#[derive(Debug)]
pub struct StepLog {
    name: String,
    started: Instant,
}

impl StepLog {
    pub fn start(name: &str, input: &str) -> StepLog {
        log::info!(target: "stpipe.step", "Step {name} running with args ({input:?},).");
        StepLog {
            name: name.to_string(),
            started: Instant::now(),
        }
    }
    /// Seconds since the start.
    pub fn elapsed(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }
    pub fn done(self) -> f64 {
        let s = self.elapsed();
        step_done(&self.name, s);
        s
    }
}

/// `Step <name> done (<seconds> s)`, for drivers that time fused phases themselves.
pub fn step_done(name: &str, seconds: f64) {
    log::info!(target: "stpipe.step", "Step {name} done ({seconds:.3} s)");
}

/// The two lines stpipe writes for a skipped step.
pub fn step_skipped(name: &str, input: &str) {
    log::info!(target: "stpipe.step", "Step {name} running with args ({input:?},).");
    log::info!(target: "stpipe.step", "Step skipped.");
}

/// `Override for MASK reference file is '/path'.` (the pipeline's prefetch line).
pub fn reference_override(reftype: &str, path: &str) {
    log::info!(
        target: "stpipe.pipeline",
        "Override for {} reference file is '{path}'.",
        reftype.to_ascii_uppercase()
    );
}

/// `Using MASK reference file /path` (each step's line; `step` is its alias).
pub fn reference_used(step: &str, reftype: &str, path: &str) {
    log::info!(
        target: &format!("jwst.{step}"),
        "Using {} reference file {path}",
        reftype.to_ascii_uppercase()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asctime_matches_python() {
        // 2026-11-23 10:10:17.457 UTC = 1795428617.457 s after the epoch.
        let t = UNIX_EPOCH + std::time::Duration::from_millis(1_795_428_617_457);
        assert_eq!(asctime(t), "2026-11-23 10:10:17,457");
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }

    #[test]
    fn levels_parse_like_python() {
        assert_eq!(Level::parse("debug").unwrap(), Level::Debug);
        assert_eq!(Level::parse("WARN").unwrap(), Level::Warning);
        assert_eq!(Level::parse("50").unwrap(), Level::Critical);
        assert!(Level::parse("loud").is_err());
        assert!(Level::Error < Level::Critical);
    }
}
