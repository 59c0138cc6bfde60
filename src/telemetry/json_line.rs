//! A log event as one JSON line, written straight into the line's buffer: no map of fields,
//! no value per field, no string per key. Every create writes two such lines, and building
//! them through `serde_json::Value` cost more than the rest of its logging together.

use std::fmt::{self, Write};
use tracing::field::{Field, Visit};

/// One JSON object being written: its keys in the order they come, each once.
pub(super) struct Line<'a> {
    out: &'a mut dyn Write,
    started: bool,
}

impl<'a> Line<'a> {
    pub fn open(out: &'a mut dyn Write) -> Result<Self, fmt::Error> {
        out.write_char('{')?;
        Ok(Self {
            out,
            started: false,
        })
    }

    fn key(&mut self, key: &str) -> fmt::Result {
        if self.started {
            self.out.write_char(',')?;
        }
        self.started = true;
        string(&mut *self.out, key)?;
        self.out.write_char(':')
    }

    /// `"key":"value"`.
    pub fn string(&mut self, key: &str, value: &str) -> fmt::Result {
        self.key(key)?;
        string(&mut *self.out, value)
    }

    /// `"key":"<value formatted>"`, escaped as it is formatted.
    pub fn display(&mut self, key: &str, value: &dyn fmt::Display) -> fmt::Result {
        self.key(key)?;
        self.out.write_char('"')?;
        write!(Escaped(&mut *self.out), "{value}")?;
        self.out.write_char('"')
    }

    /// `"key":<value as it is>`, for numbers and booleans.
    fn bare(&mut self, key: &str, value: &dyn fmt::Display) -> fmt::Result {
        self.key(key)?;
        write!(self.out, "{value}")
    }

    /// Closes the object and the line.
    pub fn close(self) -> fmt::Result {
        self.out.write_str("}\n")
    }
}

/// An event's fields, each written as it is handed over, but those named in `written_after`:
/// the line writes those keys itself after the fields (its span's name and ids), and they win.
pub(super) struct Fields<'l, 'a> {
    pub line: &'l mut Line<'a>,
    pub written_after: &'l [&'l str],
    pub result: fmt::Result,
}

impl Fields<'_, '_> {
    fn put(&mut self, field: &Field, write: impl FnOnce(&mut Line<'_>, &str) -> fmt::Result) {
        if self.result.is_ok() && !self.written_after.contains(&field.name()) {
            self.result = write(self.line, field.name());
        }
    }
}

impl Visit for Fields<'_, '_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(field, |line, key| line.display(key, &DebugAsDisplay(value)));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, |line, key| line.string(key, value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, |line, key| line.bare(key, &value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, |line, key| line.bare(key, &value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, |line, key| line.bare(key, &value));
    }
}

struct DebugAsDisplay<'a>(&'a dyn fmt::Debug);

impl fmt::Display for DebugAsDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

/// Writes `text` as a JSON string.
fn string(out: &mut dyn Write, text: &str) -> fmt::Result {
    out.write_char('"')?;
    Escaped(&mut *out).write_str(text)?;
    out.write_char('"')
}

/// Escapes what passes through it for the inside of a JSON string.
struct Escaped<'a>(&'a mut dyn Write);

impl Write for Escaped<'_> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        let mut plain = 0;
        for (at, byte) in text.bytes().enumerate() {
            let escape = match byte {
                b'"' => "\\\"",
                b'\\' => "\\\\",
                b'\n' => "\\n",
                b'\r' => "\\r",
                b'\t' => "\\t",
                0..=0x1f => "",
                _ => continue,
            };
            self.0.write_str(&text[plain..at])?;
            if escape.is_empty() {
                write!(self.0, "\\u{byte:04x}")?;
            } else {
                self.0.write_str(escape)?;
            }
            plain = at + 1;
        }
        self.0.write_str(&text[plain..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Map, Value};

    #[test]
    fn text_is_escaped_as_json_reads_it() {
        let text = "a \"quote\", a \\ backslash\n\ta bell \u{7} and é";
        let mut out = String::new();
        let mut line = Line::open(&mut out).unwrap();
        line.string("text", text).unwrap();
        line.display("shown", &text).unwrap();
        line.close().unwrap();
        let read: Map<String, Value> = serde_json::from_str(&out).unwrap();
        assert_eq!(
            (read["text"].as_str(), read["shown"].as_str()),
            (Some(text), Some(text))
        );
        assert!(out.contains("\\u0007"), "{out}");
        assert!(out.ends_with("}\n"));
    }

    #[test]
    fn a_key_the_line_writes_after_the_fields_is_written_once() {
        let mut out = String::new();
        let mut line = Line::open(&mut out).unwrap();
        let span = tracing::info_span!("s", span = 1_u64, attempt = 2_u64, ok = true);
        let mut fields = Fields {
            line: &mut line,
            written_after: &["span"],
            result: Ok(()),
        };
        fields.record_u64(&span.field("span").unwrap(), 1);
        fields.record_u64(&span.field("attempt").unwrap(), 2);
        fields.record_bool(&span.field("ok").unwrap(), true);
        fields.result.unwrap();
        line.string("span", "HTTP request").unwrap();
        line.close().unwrap();
        let read: Map<String, Value> = serde_json::from_str(&out).unwrap();
        assert_eq!(read["span"], "HTTP request", "{out}");
        assert_eq!(
            (read["attempt"].as_u64(), read["ok"].as_bool()),
            (Some(2), Some(true))
        );
        assert_eq!(out.matches("\"span\"").count(), 1, "{out}");
    }
}
