//! The retry schedule: delays between delivery attempts, with jitter.

use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrySchedule(Vec<Duration>);

/// A receiver's `Retry-After` is honoured up to this long; beyond it, it is capped.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);

impl RetrySchedule {
    /// Parses `5s,5m,30m,2h` (units `ms`, `s`, `m`, `h`, `d`). An empty text means one attempt only.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut delays = Vec::new();
        for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let split = item
                .find(|c: char| !c.is_ascii_digit())
                .ok_or_else(|| format!("`{item}` needs a unit (ms, s, m, h, d)"))?;
            let (number, unit) = item.split_at(split);
            let number: u64 = number
                .parse()
                .map_err(|_| format!("`{item}` is not a number with a unit"))?;
            let unit_ms: u64 = match unit {
                "ms" => 1,
                "s" => 1_000,
                "m" => 60_000,
                "h" => 3_600_000,
                "d" => 86_400_000,
                _ => return Err(format!("`{item}`: unknown unit `{unit}`")),
            };
            delays.push(Duration::from_millis(number.saturating_mul(unit_ms)));
        }
        Ok(Self(delays))
    }

    /// Attempts in all: the first plus one per delay.
    pub fn max_attempts(&self) -> u32 {
        self.0.len() as u32 + 1
    }

    /// The delay before the attempt after `attempts_made`, or `None` when none is left.
    /// Jitter of up to ±10% keeps many deliveries that failed together from retrying together.
    pub fn delay_after(
        &self,
        attempts_made: u32,
        retry_after: Option<Duration>,
    ) -> Option<Duration> {
        let base = *self.0.get(attempts_made.checked_sub(1)? as usize)?;
        let jitter = 0.9 + rand::random::<f64>() * 0.2;
        let delay = base.mul_f64(jitter);
        Some(match retry_after {
            Some(asked) => delay.max(asked.min(MAX_RETRY_AFTER)),
            None => delay,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_default_schedule() {
        let schedule = RetrySchedule::parse("5s,5m,30m,2h,5h,10h,10h").unwrap();
        assert_eq!(schedule.max_attempts(), 8);
        assert_eq!(schedule.0[1], Duration::from_secs(300));
        assert_eq!(schedule.0[6], Duration::from_secs(36_000));
        assert!(RetrySchedule::parse("5x").is_err());
        assert!(RetrySchedule::parse("s").is_err());
        assert_eq!(
            RetrySchedule::parse("100ms").unwrap().0,
            [Duration::from_millis(100)]
        );
    }

    #[test]
    fn delays_jitter_and_run_out() {
        let schedule = RetrySchedule::parse("10s,1m").unwrap();
        let first = schedule.delay_after(1, None).unwrap();
        assert!(first >= Duration::from_secs(9) && first <= Duration::from_secs(11));
        assert!(schedule.delay_after(2, None).unwrap() >= Duration::from_secs(54));
        assert_eq!(schedule.delay_after(3, None), None);
    }

    #[test]
    fn retry_after_is_honoured_within_reason() {
        let schedule = RetrySchedule::parse("1s").unwrap();
        let asked = schedule
            .delay_after(1, Some(Duration::from_secs(120)))
            .unwrap();
        assert_eq!(asked, Duration::from_secs(120));
        let capped = schedule
            .delay_after(1, Some(Duration::from_secs(10 * 86_400)))
            .unwrap();
        assert_eq!(capped, MAX_RETRY_AFTER);
    }
}
