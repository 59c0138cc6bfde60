//! Money: pesos arrive as text or JSON numbers and become integer centavos exactly, never via a float.

use rust_decimal::Decimal;
use serde_json::Value;
use std::fmt;
use std::str::FromStr;

/// A positive amount of money in centavos (minor units).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Amount(i64);

/// The most an amount can be: what fits in 64 bits of centavos. A provider's own limits (a
/// line item's int32, say) are the provider's to check.
pub const MAX_CENTAVOS: i64 = i64::MAX;

impl Amount {
    /// Parses pesos given as a JSON number (`19.99`) or a numeric string (`"19.99"`).
    /// With `serde_json`'s `arbitrary_precision`, a number keeps its literal digits, so
    /// `0.1` is exactly one tenth here.
    pub fn from_pesos(value: &Value) -> Result<Self, String> {
        let pesos = match value {
            Value::Number(number) => parse_number_literal(&number.to_string())?,
            Value::String(text) => parse_peso_text(text)?,
            _ => return Err(NOT_AN_AMOUNT.to_owned()),
        };
        Self::from_decimal_pesos(pesos)
    }

    pub fn from_decimal_pesos(pesos: Decimal) -> Result<Self, String> {
        if pesos <= Decimal::ZERO {
            return Err("must be greater than zero".to_owned());
        }
        let pesos = pesos.normalize();
        if pesos.scale() > 2 {
            return Err("must have at most two decimals (whole centavos)".to_owned());
        }
        let too_large = || format!("must be at most {}", Self(MAX_CENTAVOS).pesos());
        let centavos = pesos
            .checked_mul(Decimal::ONE_HUNDRED)
            .ok_or_else(too_large)?;
        let centavos = i64::try_from(centavos).map_err(|_| too_large())?;
        Ok(Self(centavos))
    }

    /// A fixed amount written in the code (a check at compile time that it is positive).
    pub const fn constant(centavos: i64) -> Self {
        assert!(centavos > 0, "an amount is positive");
        Self(centavos)
    }

    pub fn from_centavos(centavos: i64) -> Option<Self> {
        (centavos > 0).then_some(Self(centavos))
    }

    pub fn centavos(self) -> i64 {
        self.0
    }

    /// Pesos with exactly two decimals, e.g. `"1000.00"`.
    pub fn pesos(self) -> String {
        Decimal::new(self.0, 2).to_string()
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.pesos())
    }
}

const NOT_AN_AMOUNT: &str =
    "must be an amount in pesos: a JSON number or a numeric string such as 19.99";

/// A JSON number literal: plain (`19.99`) or with an exponent (`1.5e2`).
fn parse_number_literal(literal: &str) -> Result<Decimal, String> {
    Decimal::from_str_exact(literal)
        .or_else(|_| Decimal::from_scientific(literal))
        .map_err(|_| amount_out_of_reach(literal))
}

/// Text must be plain digits with an optional fraction: no signs, spaces, separators or exponents.
fn parse_peso_text(text: &str) -> Result<Decimal, String> {
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let digits_only = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let well_formed = !whole.is_empty()
        && digits_only(whole)
        && digits_only(fraction)
        && (!unsigned.contains('.') || !fraction.is_empty());
    if !well_formed {
        return Err(NOT_AN_AMOUNT.to_owned());
    }
    if unsigned.len() != text.len() {
        return Err("must be greater than zero".to_owned());
    }
    if fraction.len() > 2 {
        return Err("must have at most two decimals (whole centavos)".to_owned());
    }
    Decimal::from_str(text).map_err(|_| amount_out_of_reach(text))
}

/// A well-formed number too long for a 96-bit decimal is certainly too large (or too precise).
fn amount_out_of_reach(literal: &str) -> String {
    if literal.starts_with('-') {
        "must be greater than zero".to_owned()
    } else if literal.contains('.') && !literal.contains(['e', 'E']) {
        "must have at most two decimals (whole centavos)".to_owned()
    } else {
        format!("must be at most {}", Amount(MAX_CENTAVOS).pesos())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn centavos(raw: &str) -> Result<i64, String> {
        let value: Value = serde_json::from_str(raw).expect("test input is JSON");
        Amount::from_pesos(&value).map(Amount::centavos)
    }

    #[test]
    fn converts_tricky_amounts_exactly() {
        for (raw, expected) in [
            ("19.99", 1999),
            ("0.1", 10),
            ("0.01", 1),
            ("1000", 100000),
            ("1234567.89", 123456789),
            ("\"250.75\"", 25075),
            ("\"1000\"", 100000),
            ("1.10", 110),
            ("19.990", 1999),
            ("1.5e2", 15000),
            ("0.29", 29),
            ("1.005e1", 1005),
            ("21474836.47", 2147483647),
            ("21474836.48", 2147483648),
        ] {
            assert_eq!(centavos(raw), Ok(expected), "{raw}");
        }
    }

    #[test]
    fn refuses_with_a_reason() {
        for (raw, reason) in [
            ("0", "greater than zero"),
            ("-5", "greater than zero"),
            ("\"-5.00\"", "greater than zero"),
            ("0.00", "greater than zero"),
            ("19.999", "two decimals"),
            ("\"0.001\"", "two decimals"),
            ("0.1000000000000000000000000000001", "two decimals"),
            ("99999999999999999999999999999999", "at most"),
            ("1e40", "at most"),
            ("\"abc\"", "numeric string"),
            ("\"\"", "numeric string"),
            ("\" 12\"", "numeric string"),
            ("\"12,50\"", "numeric string"),
            ("\"1_000\"", "numeric string"),
            ("\"1e3\"", "numeric string"),
            ("\"12.\"", "numeric string"),
            ("true", "numeric string"),
            ("[1]", "numeric string"),
        ] {
            let message = centavos(raw).expect_err(raw);
            assert!(message.contains(reason), "{raw}: {message}");
        }
    }

    #[test]
    fn shows_pesos_with_two_decimals() {
        assert_eq!(Amount::from_pesos(&json!(1000)).unwrap().pesos(), "1000.00");
        assert_eq!(Amount::from_pesos(&json!("0.5")).unwrap().pesos(), "0.50");
    }
}
