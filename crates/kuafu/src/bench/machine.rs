//! The machine and runtime a benchmark ran on, and when: figures without
//! them mean nothing.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

/// What a value we could not read is reported as.
const UNKNOWN: &str = "unknown";

/// Where and how a benchmark ran.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Machine {
    /// Cores this process may use (`nproc`).
    pub cores: usize,
    /// The CPU's model name (`/proc/cpuinfo`).
    pub cpu_model: String,
    /// The operating system and kernel release.
    pub kernel: String,
    /// The tokio runtime flavour, with its worker count.
    pub runtime: String,
    /// `release` or `debug`.
    pub build: &'static str,
    /// When the run started, `YYYY-MM-DD HH:MM UTC`.
    pub date: String,
    /// The 1, 5 and 15 minute load averages when the run started
    /// (`/proc/loadavg`): other work on the machine skews every figure.
    pub load_average: String,
}

impl Machine {
    /// Describes this machine and the current tokio runtime.
    pub fn this() -> Self {
        let cores = std::thread::available_parallelism().map_or(0, std::num::NonZeroUsize::get);
        Self {
            cores,
            cpu_model: cpu_model().unwrap_or_else(|| UNKNOWN.to_owned()),
            kernel: kernel(),
            runtime: runtime_flavour(),
            build: if cfg!(debug_assertions) {
                "debug"
            } else {
                "release"
            },
            date: utc_date(SystemTime::now()),
            load_average: load_average().unwrap_or_else(|| UNKNOWN.to_owned()),
        }
    }
}

impl fmt::Display for Machine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} cores ({}), {}, tokio {}, {} build",
            self.cores, self.cpu_model, self.kernel, self.runtime, self.build
        )
    }
}

/// The first `model name` of `/proc/cpuinfo`.
fn cpu_model() -> Option<String> {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    let line = cpuinfo
        .lines()
        .find(|line| line.starts_with("model name"))?;
    let (_, model) = line.split_once(':')?;
    Some(model.trim().to_owned())
}

/// The first three fields of `/proc/loadavg`.
fn load_average() -> Option<String> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    let fields: Vec<&str> = text.split_whitespace().take(3).collect();
    (fields.len() == 3).then(|| fields.join(" "))
}

/// The OS name and, on Linux, the kernel release.
fn kernel() -> String {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease");
    let release = release.as_deref().map_or(UNKNOWN, str::trim);
    format!("{} {release}", std::env::consts::OS)
}

/// The flavour of the runtime this is called on.
fn runtime_flavour() -> String {
    let Ok(handle) = tokio::runtime::Handle::try_current() else {
        return "none".to_owned();
    };
    match handle.runtime_flavor() {
        tokio::runtime::RuntimeFlavor::CurrentThread => "current-thread".to_owned(),
        tokio::runtime::RuntimeFlavor::MultiThread => {
            format!("multi-thread ({} workers)", handle.metrics().num_workers())
        }
        other => format!("{other:?}"),
    }
}

/// `time` as `YYYY-MM-DD HH:MM UTC` (proleptic Gregorian calendar).
pub fn utc_date(time: SystemTime) -> String {
    let seconds = time
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    let days = i64::try_from(seconds / 86_400).unwrap_or(0);
    let (year, month, day) = civil_from_days(days);
    let minutes_of_day = (seconds % 86_400) / 60;
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        minutes_of_day / 60,
        minutes_of_day % 60
    )
}

/// Days since 1970-01-01 to (year, month, day): Howard Hinnant's
/// `civil_from_days`.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (
        year,
        u32::try_from(month).unwrap_or(0),
        u32::try_from(day).unwrap_or(0),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn dates_are_civil() {
        assert_eq!(utc_date(UNIX_EPOCH), "1970-01-01 00:00 UTC");
        // 2000-02-29 12:34 UTC, a leap day.
        let leap_day = UNIX_EPOCH + Duration::from_secs(951_827_640);
        assert_eq!(utc_date(leap_day), "2000-02-29 12:34 UTC");
        let later = UNIX_EPOCH + Duration::from_secs(1_795_000_000);
        assert_eq!(utc_date(later), "2026-11-18 11:06 UTC");
    }
}
