//! Wall-clock time as Unix seconds and milliseconds, the units the store and providers use.

use std::time::{SystemTime, UNIX_EPOCH};

pub fn unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

pub fn unix_s() -> i64 {
    unix_ms() / 1000
}
