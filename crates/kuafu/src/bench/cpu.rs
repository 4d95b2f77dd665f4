//! Where the CPU time went during a phase of a benchmark, read from Linux's
//! `/proc`: for this process's threads whose name starts with a prefix (the
//! hashing workers), the time each ran on a CPU and the time it was ready
//! but waited for one (`/proc/self/task/<tid>/schedstat`); for the rest of
//! this process, the CPU time; for the whole machine, the busy time of
//! every CPU (`/proc/stat`). A thread neither running nor waiting for a CPU
//! was idle: a hashing worker idles only when it has no job.
//!
//! Where a file is missing (another OS, a kernel without schedstats) the
//! figures are zero and [`CpuSample::available`] says so.

use std::time::Duration;

/// `/proc/stat` counts in clock ticks of this length (`USER_HZ`, 100 on
/// every Linux architecture the project builds for).
const TICK: Duration = Duration::from_millis(10);

/// Cumulative times at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuSample {
    /// Threads of this process whose name has the prefix.
    pub threads: usize,
    /// Their time on a CPU.
    pub running: Duration,
    /// Their time ready to run but waiting for a CPU.
    pub waiting: Duration,
    /// The other threads' time on a CPU.
    pub rest_running: Duration,
    /// Every CPU's busy time (not idle, not waiting for I/O), all
    /// processes.
    pub machine_busy: Duration,
    /// Whether the per-thread figures could be read.
    pub available: bool,
}

impl CpuSample {
    /// The times now, splitting this process's threads by `prefix`.
    pub fn now(prefix: &str) -> Self {
        let mut sample = Self {
            machine_busy: machine_busy().unwrap_or_default(),
            ..Self::default()
        };
        let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
            return sample;
        };
        for task in tasks.flatten() {
            let path = task.path();
            let name = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
            let stat = std::fs::read_to_string(path.join("schedstat")).unwrap_or_default();
            let Some((running, waiting)) = schedstat(&stat) else {
                continue;
            };
            sample.available = true;
            if name.starts_with(prefix) {
                sample.threads += 1;
                sample.running += running;
                sample.waiting += waiting;
            } else {
                sample.rest_running += running;
            }
        }
        sample
    }

    /// What happened between `earlier` and this sample, over `elapsed`.
    pub fn since(&self, earlier: &Self, elapsed: Duration) -> CpuUse {
        CpuUse {
            threads: self.threads,
            elapsed,
            running: self.running.saturating_sub(earlier.running),
            waiting: self.waiting.saturating_sub(earlier.waiting),
            rest_running: self.rest_running.saturating_sub(earlier.rest_running),
            machine_busy: self.machine_busy.saturating_sub(earlier.machine_busy),
            available: self.available && earlier.available,
        }
    }
}

/// The CPU use of one phase.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct CpuUse {
    /// The threads with the prefix (the hashing workers).
    pub threads: usize,
    /// The phase's wall-clock time.
    pub elapsed: Duration,
    /// Their time on a CPU, summed.
    pub running: Duration,
    /// Their time waiting for a CPU, summed.
    pub waiting: Duration,
    /// The rest of this process's time on a CPU.
    pub rest_running: Duration,
    /// Every CPU's busy time, all processes.
    pub machine_busy: Duration,
    /// Whether the figures could be read.
    pub available: bool,
}

impl CpuUse {
    /// The share of the threads' time they had work: running or ready to.
    pub fn busy_fraction(&self) -> f64 {
        self.of_threads(self.running + self.waiting)
    }

    /// The share of the threads' time they ran on a CPU.
    pub fn running_fraction(&self) -> f64 {
        self.of_threads(self.running)
    }

    /// The share of the threads' time they were ready but had no CPU.
    pub fn waiting_fraction(&self) -> f64 {
        self.of_threads(self.waiting)
    }

    /// Cores' worth of CPU the rest of this process used.
    pub fn rest_cores(&self) -> f64 {
        self.cores(self.rest_running)
    }

    /// Cores' worth of CPU other processes used.
    pub fn other_processes_cores(&self) -> f64 {
        let ours = self.running + self.rest_running;
        self.cores(self.machine_busy.saturating_sub(ours))
    }

    fn of_threads(&self, time: Duration) -> f64 {
        let whole = self.elapsed.as_secs_f64() * self.threads as f64;
        time.as_secs_f64() / whole.max(f64::EPSILON)
    }

    fn cores(&self, time: Duration) -> f64 {
        time.as_secs_f64() / self.elapsed.as_secs_f64().max(f64::EPSILON)
    }
}

/// A thread's time on a CPU and waiting for one, from its `schedstat` line
/// (nanoseconds running, nanoseconds waiting, time slices).
fn schedstat(line: &str) -> Option<(Duration, Duration)> {
    let mut fields = line.split_whitespace().map(str::parse::<u64>);
    let running = fields.next()?.ok()?;
    let waiting = fields.next()?.ok()?;
    Some((Duration::from_nanos(running), Duration::from_nanos(waiting)))
}

/// Every CPU's busy time: the `cpu` line of `/proc/stat` less its idle and
/// I/O wait columns.
fn machine_busy() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    busy_ticks(stat.lines().next()?).map(|ticks| TICK * u32::try_from(ticks).unwrap_or(u32::MAX))
}

/// The busy ticks of a `cpu  user nice system idle iowait irq softirq steal …`
/// line (guest time is already in user and nice).
fn busy_ticks(line: &str) -> Option<u64> {
    let mut fields = line.split_whitespace();
    if fields.next()? != "cpu" {
        return None;
    }
    let ticks: Vec<u64> = fields
        .take(8)
        .map(str::parse)
        .collect::<Result<_, _>>()
        .ok()?;
    let [user, nice, system, _idle, _iowait, irq, softirq, steal] = ticks[..] else {
        return None;
    };
    Some(user + nice + system + irq + softirq + steal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedstat_and_proc_stat_lines_are_parsed() {
        assert_eq!(
            schedstat("1500000000 250000000 42\n"),
            Some((Duration::from_millis(1_500), Duration::from_millis(250)))
        );
        assert_eq!(schedstat("garbage"), None);
        let line = "cpu  100 5 20 9000 7 1 2 3 0 0";
        assert_eq!(busy_ticks(line), Some(100 + 5 + 20 + 1 + 2 + 3));
        assert_eq!(busy_ticks("cpu0 1 2 3 4 5 6 7 8"), None);
    }

    #[test]
    fn fractions_are_shares_of_the_threads_time() {
        let phase = CpuUse {
            threads: 2,
            elapsed: Duration::from_secs(10),
            running: Duration::from_secs(15),
            waiting: Duration::from_secs(4),
            rest_running: Duration::from_secs(1),
            machine_busy: Duration::from_secs(20),
            available: true,
        };
        assert!((phase.busy_fraction() - 0.95).abs() < 1e-9);
        assert!((phase.running_fraction() - 0.75).abs() < 1e-9);
        assert!((phase.waiting_fraction() - 0.2).abs() < 1e-9);
        assert!((phase.rest_cores() - 0.1).abs() < 1e-9);
        assert!((phase.other_processes_cores() - 0.4).abs() < 1e-9);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_busy_thread_of_this_process_shows_as_running() {
        let before = CpuSample::now("kuafu-cpu-test");
        let started = std::time::Instant::now();
        let spinner = std::thread::Builder::new()
            .name("kuafu-cpu-test".into())
            .spawn(move || {
                let mut sample = CpuSample::now("kuafu-cpu-test");
                while sample.running < Duration::from_millis(50) {
                    sample = CpuSample::now("kuafu-cpu-test");
                }
                sample
            })
            .unwrap();
        let during = spinner.join().unwrap();
        assert!(during.available, "Linux has /proc/self/task/*/schedstat");
        assert_eq!(during.threads, 1);
        let phase = during.since(&before, started.elapsed());
        assert!(phase.running >= Duration::from_millis(50));
        assert!(phase.busy_fraction() > 0.0);
    }
}
