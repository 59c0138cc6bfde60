//! The process's own figures in Prometheus's standard names (`process_*`), read from `/proc` at
//! scrape time: resident memory, CPU time, open file descriptors, start time. Elsewhere than
//! Linux there is no `/proc` and the lines are left out.

use std::fmt::Write;

/// Linux reports CPU time in clock ticks of `USER_HZ`, which is 100 on every architecture it
/// builds pagos for (x86_64, aarch64).
const TICKS_PER_SECOND: f64 = 100.0;

/// The `process_*` families as Prometheus text, or nothing when `/proc` cannot be read.
pub fn render(started_at_unix_s: f64) -> String {
    let mut out = String::new();
    let mut family = |name: &str, kind: &str, help: &str, value: f64| {
        let _ = write!(
            out,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n"
        );
    };
    if let Some(seconds) = cpu_seconds() {
        family(
            "process_cpu_seconds_total",
            "counter",
            "Total user and system CPU time spent in seconds.",
            seconds,
        );
    }
    if let Some(bytes) = resident_bytes() {
        family(
            "process_resident_memory_bytes",
            "gauge",
            "Resident memory size in bytes.",
            bytes as f64,
        );
    }
    if let Ok(entries) = std::fs::read_dir("/proc/self/fd") {
        family(
            "process_open_fds",
            "gauge",
            "Number of open file descriptors.",
            entries.count() as f64,
        );
    }
    family(
        "process_start_time_seconds",
        "gauge",
        "Start time of the process since unix epoch in seconds.",
        started_at_unix_s,
    );
    out
}

/// utime + stime from `/proc/self/stat` (fields 14 and 15; the command name, field 2, may hold
/// spaces, so fields are counted after its closing parenthesis).
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace().skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some((user + system) as f64 / TICKS_PER_SECOND)
}

/// `VmRSS` from `/proc/self/status`, in bytes.
fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    let kilobytes: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kilobytes * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_process_figures_are_read_on_linux() {
        let text = render(1_700_000_000.0);
        assert!(
            text.contains("process_start_time_seconds 1700000000\n"),
            "{text}"
        );
        if cfg!(target_os = "linux") {
            for name in [
                "process_cpu_seconds_total ",
                "process_resident_memory_bytes ",
                "process_open_fds ",
            ] {
                let line = text.lines().find(|l| l.starts_with(name)).expect(name);
                let value: f64 = line[name.len()..].parse().unwrap();
                // A test process may not have used a whole tick of CPU yet.
                assert!(value > 0.0 || name.starts_with("process_cpu"), "{line}");
            }
        }
    }
}
