//! The buyer's contact details as the storefront sends them.

use serde_json::Value;
use validator::ValidateEmail;

use super::field_errors::{as_str, bounded_text};

/// An e-mail address that passed the HTML5 / RFC 5322 rules `validator` applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(value: &Value) -> Result<Self, String> {
        // Not trimmed: an address with surrounding spaces is not an address (OpenAPI `email`).
        let text = as_str(value)?;
        if text.len() > 254 || !text.validate_email() {
            return Err("must be a valid e-mail address".to_owned());
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A phone number: an optional `+` and 7 to 15 digits (E.164); spaces, dots, dashes and
/// parentheses are dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phone(String);

impl Phone {
    pub fn parse(value: &Value) -> Result<Self, String> {
        let text = as_str(value)?.trim();
        let (plus, rest) = match text.strip_prefix('+') {
            Some(rest) => ("+", rest),
            None => ("", text),
        };
        let digits: String = rest
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
            .collect();
        if !(7..=15).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err("must be a phone number: an optional + and 7 to 15 digits".to_owned());
        }
        Ok(Self(format!("{plus}{digits}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A first or last name: 1 to 100 characters after trimming.
pub fn person_name(value: &Value) -> Result<String, String> {
    bounded_text(value, 1, 100)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn email_accepts_ordinary_and_refuses_broken() {
        assert!(Email::parse(&json!("andres.jaro@example.com")).is_ok());
        assert!(Email::parse(&json!("a@b.mx")).is_ok());
        for bad in [
            json!(" a@b.mx "),
            json!("andres"),
            json!("a@"),
            json!("@b.com"),
            json!(""),
            json!(3),
        ] {
            assert!(Email::parse(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn phone_normalises_separators() {
        assert_eq!(
            Phone::parse(&json!("+52 (55) 5555-5555")).unwrap().as_str(),
            "+525555555555"
        );
        for bad in [
            json!("12"),
            json!("+52abc5555555"),
            json!("1234567890123456"),
        ] {
            assert!(Phone::parse(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(person_name(&json!("  andres ")).unwrap(), "andres");
        assert!(person_name(&json!("   ")).is_err());
        assert!(person_name(&json!("x".repeat(101))).is_err());
        assert!(person_name(&json!("a\u{0}b")).is_err());
    }
}
