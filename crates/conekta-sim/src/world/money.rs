//! Money as people read and type it: integer centavos to `$1,234.56`, and pesos typed at the
//! cashier to centavos. Exact decimals (`rust_decimal`), never floats.

use rust_decimal::Decimal;
use std::str::FromStr;

/// `123456` centavos -> `$1,234.56`.
pub fn pesos(centavos: i64) -> String {
    let amount = Decimal::new(centavos, 2).abs().to_string();
    let (whole, cents) = amount.split_once('.').unwrap_or((&amount, "00"));
    let digits = whole.len();
    let grouped: String = whole
        .chars()
        .enumerate()
        .flat_map(|(i, c)| {
            let comma = i > 0 && (digits - i).is_multiple_of(3);
            comma.then_some(',').into_iter().chain([c])
        })
        .collect();
    let sign = if centavos < 0 { "-" } else { "" };
    format!("{sign}${grouped}.{cents}")
}

/// Pesos as typed by a cashier (`150`, `1,000.50`) to centavos; `None` unless above zero with at
/// most two decimals.
pub fn centavos(text: &str) -> Option<i64> {
    let pesos = Decimal::from_str(text.trim().replace(',', "").as_str()).ok()?;
    if pesos <= Decimal::ZERO || pesos.scale() > 2 {
        return None;
    }
    i64::try_from(pesos * Decimal::ONE_HUNDRED).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_pesos() {
        assert_eq!(pesos(100000), "$1,000.00");
        assert_eq!(pesos(123456789), "$1,234,567.89");
        assert_eq!(pesos(5), "$0.05");
        assert_eq!(pesos(-150), "-$1.50");
        assert_eq!(pesos(i64::MIN), "-$92,233,720,368,547,758.08");
    }

    #[test]
    fn reads_pesos_exactly() {
        assert_eq!(centavos("150"), Some(15000));
        assert_eq!(centavos("1,000.5"), Some(100050));
        assert_eq!(centavos("0.1"), Some(10));
        assert_eq!(centavos("1.005"), None);
        assert_eq!(centavos("-3"), None);
    }
}
