//! `--since`: a span back from now (`90s`, `30m`, `2h`, `1d`), an RFC 3339 time or Unix seconds.

use super::Failure;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// The moment `text` names, in Unix seconds, counting spans back from `now`.
pub fn parse(text: &str, now: i64) -> Result<i64, Failure> {
    let text = text.trim();
    let wrong = || {
        Failure::Usage(format!(
            "--since `{text}` is not a span (90s, 30m, 2h, 1d), an RFC 3339 time or Unix seconds"
        ))
    };
    if let Ok(at) = OffsetDateTime::parse(text, &Rfc3339) {
        return Ok(at.unix_timestamp());
    }
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse().map_err(|_| wrong());
    }
    let unit = match text.chars().last() {
        Some('s') => 1,
        Some('m') => 60,
        Some('h') => 3_600,
        Some('d') => 86_400,
        _ => return Err(wrong()),
    };
    let count: i64 = text[..text.len() - 1].parse().map_err(|_| wrong())?;
    if count < 0 {
        return Err(wrong());
    }
    count
        .checked_mul(unit)
        .and_then(|span| now.checked_sub(span))
        .ok_or_else(wrong)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_times_and_unix_seconds() {
        let now = 1_700_000_000;
        assert_eq!(parse("2h", now).unwrap(), now - 7_200);
        assert_eq!(parse("30m", now).unwrap(), now - 1_800);
        assert_eq!(parse("1d", now).unwrap(), now - 86_400);
        assert_eq!(parse("90s", now).unwrap(), now - 90);
        assert_eq!(parse("1689366274", now).unwrap(), 1_689_366_274);
        assert_eq!(parse("2023-07-14T20:24:34Z", now).unwrap(), 1_689_366_274);
        assert_eq!(
            parse("2023-07-14T14:24:34-06:00", now).unwrap(),
            1_689_366_274
        );
        for bad in ["", "2 hours", "h", "-2h", "2y", "yesterday"] {
            assert!(parse(bad, now).is_err(), "{bad}");
        }
    }
}
