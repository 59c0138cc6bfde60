//! The storefront's ids and codes, parsed once: a value of these types cannot be blank, too
//! long, or a currency that is not a code.

use super::field_errors::{as_str, bounded_text};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;

/// The storefront's own id for a purchase or a reference: 1 to 200 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ReferenceId(String);

impl ReferenceId {
    pub fn parse(value: &Value) -> Result<Self, String> {
        bounded_text(value, 1, 200).map(Self)
    }

    /// One the store kept (it was parsed when it came in).
    pub fn stored(text: String) -> Self {
        Self(text)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A three-letter ISO 4217 code in capitals (`MXN`), exactly as providers take it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Currency(String);

impl Currency {
    pub fn parse(value: &Value) -> Result<Self, String> {
        let text = as_str(value)?;
        if text.len() != 3 || !text.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err("must be a three-letter ISO 4217 code in capitals such as MXN".to_owned());
        }
        Ok(Self(text.to_owned()))
    }

    /// A code from a trusted place (a constant, the store, a provider's object).
    pub fn of(code: &str) -> Self {
        Self(code.to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An amount of money in centavos as recorded or reported (signed: a provider may report a
/// refund as negative). `Amount` is the positive one a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Centavos(pub i64);

impl Centavos {
    pub fn get(self) -> i64 {
        self.0
    }

    /// Pesos with exactly two decimals, e.g. `"1000.00"` (`"-5.10"` when negative).
    pub fn pesos(self) -> String {
        rust_decimal::Decimal::new(self.0, 2).to_string()
    }
}

impl From<super::Amount> for Centavos {
    fn from(amount: super::Amount) -> Self {
        Self(amount.centavos())
    }
}

macro_rules! text_display {
    ($($name:ident),*) => {$(
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    )*};
}
text_display!(ReferenceId, Currency);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ids_and_codes_are_checked_once() {
        assert_eq!(
            ReferenceId::parse(&json!(" 6588 ")).unwrap().as_str(),
            "6588"
        );
        assert!(ReferenceId::parse(&json!("")).is_err());
        assert!(ReferenceId::parse(&json!("x".repeat(201))).is_err());
        assert_eq!(Currency::parse(&json!("MXN")).unwrap().as_str(), "MXN");
        assert!(Currency::parse(&json!("mxn")).is_err());
        assert_eq!(Centavos(-510).pesos(), "-5.10");
        assert_eq!(Centavos(100_000).pesos(), "1000.00");
    }
}
