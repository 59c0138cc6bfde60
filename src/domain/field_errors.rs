//! Collects every bad field of a request so one answer can name them all.

use serde::Serialize;
use serde_json::{Map, Value};

/// One bad field, by its request name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Reads fields out of a JSON object, remembering each problem instead of stopping at the first.
pub struct FieldReader<'a> {
    fields: &'a Map<String, Value>,
    errors: Vec<FieldError>,
}

impl<'a> FieldReader<'a> {
    pub fn new(fields: &'a Map<String, Value>) -> Self {
        Self {
            fields,
            errors: Vec::new(),
        }
    }

    pub fn reject(&mut self, field: &str, message: impl Into<String>) {
        self.errors.push(FieldError::new(field, message));
    }

    /// The raw value of a field that is present and not `null`.
    pub fn value(&self, field: &str) -> Option<&'a Value> {
        self.fields.get(field).filter(|v| !v.is_null())
    }

    /// Parses a required field with `parse`, recording a missing field or a parse failure.
    pub fn required<T>(
        &mut self,
        field: &str,
        parse: impl FnOnce(&Value) -> Result<T, String>,
    ) -> Option<T> {
        match self.value(field) {
            None => {
                self.reject(field, "is required");
                None
            }
            Some(value) => self.parse_present(field, value, parse),
        }
    }

    /// Parses an optional field; absent or `null` is `None` without complaint.
    pub fn optional<T>(
        &mut self,
        field: &str,
        parse: impl FnOnce(&Value) -> Result<T, String>,
    ) -> Option<T> {
        let value = self.value(field)?;
        self.parse_present(field, value, parse)
    }

    fn parse_present<T>(
        &mut self,
        field: &str,
        value: &Value,
        parse: impl FnOnce(&Value) -> Result<T, String>,
    ) -> Option<T> {
        match parse(value) {
            Ok(parsed) => Some(parsed),
            Err(message) => {
                self.reject(field, message);
                None
            }
        }
    }

    pub fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }

    pub fn into_errors(self) -> Vec<FieldError> {
        self.errors
    }

    /// The parsed values if every field was good, else every complaint.
    /// `parsed` is `None` only when a required field was missing or bad (and so complained of).
    pub fn finish<T>(self, parsed: Option<T>) -> Result<T, Vec<FieldError>> {
        match parsed {
            Some(values) if self.errors.is_empty() => Ok(values),
            _ if self.errors.is_empty() => {
                Err(vec![FieldError::new("request", "could not be read")])
            }
            _ => Err(self.errors),
        }
    }
}

/// The text of a JSON string, or a message saying a string was expected.
pub fn as_str(value: &Value) -> Result<&str, String> {
    value.as_str().ok_or_else(|| "must be a string".to_owned())
}

/// Trimmed text between `min` and `max` characters, free of control characters.
pub fn bounded_text(value: &Value, min: usize, max: usize) -> Result<String, String> {
    let text = as_str(value)?.trim();
    let length = text.chars().count();
    if length < min {
        return Err(if min == 1 {
            "must not be blank".to_owned()
        } else {
            format!("must be at least {min} characters")
        });
    }
    if length > max {
        return Err(format!("must be at most {max} characters"));
    }
    if text.chars().any(char::is_control) {
        return Err("must not contain control characters".to_owned());
    }
    Ok(text.to_owned())
}
