//! Dates as a buyer in Mexico reads them on the checkout: "26 de noviembre de 2026, 14:30",
//! in central Mexico's time (UTC−6 all year since 2022), without a time-zone database.

const MONTHS: [&str; 12] = [
    "enero",
    "febrero",
    "marzo",
    "abril",
    "mayo",
    "junio",
    "julio",
    "agosto",
    "septiembre",
    "octubre",
    "noviembre",
    "diciembre",
];

/// Central Mexico's offset from UTC, in seconds.
const CENTRAL_MEXICO_S: i64 = -6 * 3_600;

/// `1764188100` -> `26 de noviembre de 2025, 14:15`.
pub fn central_mexico(unix_s: i64) -> String {
    let local = unix_s.saturating_add(CENTRAL_MEXICO_S);
    let (year, month, day) = civil_date(local.div_euclid(86_400));
    let seconds = local.rem_euclid(86_400);
    format!(
        "{day} de {} de {year}, {:02}:{:02}",
        MONTHS[usize::try_from(month - 1).unwrap_or(0)],
        seconds / 3_600,
        seconds % 3_600 / 60
    )
}

/// Days since 1970-01-01 to (year, month, day): Howard Hinnant's `civil_from_days`.
pub(super) fn civil_date(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_in_central_mexico_time() {
        // 2023-07-14 20:24:34 UTC is 14:24 in Mexico City.
        assert_eq!(central_mexico(1_689_366_274), "14 de julio de 2023, 14:24");
        // Early UTC hours still belong to the day before.
        assert_eq!(central_mexico(951_782_400), "28 de febrero de 2000, 18:00");
        assert_eq!(central_mexico(0), "31 de diciembre de 1969, 18:00");
    }
}
