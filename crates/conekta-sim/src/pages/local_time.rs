//! Times on the developer pages: a `<time>` element carrying the Unix seconds (in `data-unix`
//! and its `title`) and UTC as text; the page's script rewrites the text in the browser's own
//! time zone and locale, so the server needs no time-zone database.

use super::spanish_date::civil_date;

/// `<time datetime="2026-11-23T22:55:12Z" data-unix="…" title="…">2026-11-23 22:55:12 UTC</time>`
pub fn time_element(unix_s: i64) -> String {
    let (date, clock) = utc(unix_s);
    format!(
        "<time datetime=\"{date}T{clock}Z\" data-unix=\"{unix_s}\" title=\"Unix {unix_s}\">{date} {clock} UTC</time>"
    )
}

/// `("YYYY-MM-DD", "HH:MM:SS")` in UTC.
fn utc(unix_s: i64) -> (String, String) {
    let (year, month, day) = civil_date(unix_s.div_euclid(86_400));
    let seconds = unix_s.rem_euclid(86_400);
    (
        format!("{year:04}-{month:02}-{day:02}"),
        format!(
            "{:02}:{:02}:{:02}",
            seconds / 3_600,
            seconds % 3_600 / 60,
            seconds % 60
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_seconds_read_as_utc() {
        assert_eq!(utc(0), ("1970-01-01".into(), "00:00:00".into()));
        assert_eq!(utc(1_689_366_274), ("2023-07-14".into(), "20:24:34".into()));
        assert_eq!(utc(951_782_400), ("2000-02-29".into(), "00:00:00".into()));
        assert_eq!(utc(-1), ("1969-12-31".into(), "23:59:59".into()));
        assert_eq!(
            time_element(0),
            "<time datetime=\"1970-01-01T00:00:00Z\" data-unix=\"0\" title=\"Unix 0\">1970-01-01 00:00:00 UTC</time>"
        );
    }
}
