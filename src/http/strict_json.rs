//! A `POST /pagos` body must mean one thing to every reader. serde_json keeps the last of two
//! fields with the same name where another reader (a gateway, a log, an auditor) may keep the
//! first, so a name given twice in any object is refused. So are serde_json's private marker
//! names: with `arbitrary_precision` and `raw_value` it reads `{"$serde_json::private::Number":
//! "100"}` as the number 100, and a `$serde_json::private::RawValue` string as JSON text, where
//! every other reader sees an object.
//!
//! The check is a second pass over the raw bytes of a document serde_json has already accepted:
//! names are compared after unescaping (`"\u0061mount"` is `amount`), and numbers are plain
//! literals here, never the marker map serde_json's visitors see.

use super::problem::Problem;
use crate::domain::FieldError;
use crate::providers::ActionError;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::collections::hash_map::{Entry, HashMap};
use std::fmt::Write;

const REPEATED: &str = "is given more than once; send each field once";
const RESERVED: &str = "is a name reserved by pagos's JSON reader; use another name";
/// serde_json's private names (`$serde_json::private::Number`, `…::RawValue`).
const RESERVED_PREFIX: &str = "$serde_json::private::";

/// The body as a JSON object (400 when it is not one), refused with 422 when a name in it is
/// repeated or reserved.
pub fn parse_object(body: &[u8]) -> Result<Map<String, Value>, Problem> {
    let fields = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(fields)) => fields,
        Ok(_) => return Err(Problem::malformed_body("the body must be a JSON object")),
        Err(e) => {
            return Err(Problem::malformed_body(format!(
                "the body is not valid JSON: {e}"
            )))
        }
    };
    let errors = ambiguous_names(body);
    if errors.is_empty() {
        Ok(fields)
    } else {
        Err(ActionError::InvalidFields(errors).into())
    }
}

enum Container<'a> {
    /// Names seen so far (each with whether it was already reported), the latest name, and
    /// whether the next string is a name.
    Object {
        names: HashMap<Cow<'a, str>, bool>,
        latest: Cow<'a, str>,
        expect_name: bool,
    },
    Array {
        index: usize,
    },
}

/// Every repeated or reserved name, once per object, by request path, in document order.
/// Meant for a document serde_json accepted (so nesting is at most 128 deep); on anything else
/// it stops early, never panics.
fn ambiguous_names(json: &[u8]) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut stack: Vec<Container> = Vec::new();
    let mut at = 0;
    while let Some(&byte) = json.get(at) {
        match byte {
            b'{' => stack.push(Container::Object {
                names: HashMap::new(),
                latest: Cow::Borrowed(""),
                expect_name: true,
            }),
            b'[' => stack.push(Container::Array { index: 0 }),
            b'}' | b']' => {
                stack.pop();
            }
            b',' => match stack.last_mut() {
                Some(Container::Array { index }) => *index += 1,
                Some(Container::Object { expect_name, .. }) => *expect_name = true,
                None => {}
            },
            b'"' => {
                let Some(end) = string_end(json, at + 1) else {
                    break;
                };
                if let Some(message) = note_name(&mut stack, &json[at..=end]) {
                    errors.push(FieldError::new(path(&stack), message));
                }
                at = end;
            }
            _ => {}
        }
        at += 1;
    }
    errors
}

/// Records `quoted` (a string with its quotes) when it is a name in the innermost object, and
/// says what is wrong with it, if anything, the first time.
fn note_name<'a>(stack: &mut [Container<'a>], quoted: &'a [u8]) -> Option<&'static str> {
    let Some(Container::Object {
        names,
        latest,
        expect_name,
    }) = stack.last_mut()
    else {
        return None;
    };
    if !*expect_name {
        return None; // a value, not a name
    }
    *expect_name = false;
    let name = unescape(quoted);
    *latest = name.clone();
    match names.entry(name) {
        Entry::Occupied(mut seen) if !*seen.get() => {
            seen.insert(true);
            Some(REPEATED)
        }
        Entry::Occupied(_) => None, // already reported once
        Entry::Vacant(new) => {
            let reserved = new.key().starts_with(RESERVED_PREFIX);
            new.insert(reserved);
            reserved.then_some(RESERVED)
        }
    }
}

/// The request path of the innermost object's latest name: `amount`, `charges[1].amount`,
/// `metadata.color`.
fn path(stack: &[Container]) -> String {
    let mut path = String::new();
    for container in stack {
        match container {
            Container::Object { latest, .. } => {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(latest);
            }
            Container::Array { index } => {
                let _ = write!(path, "[{index}]");
            }
        }
    }
    path
}

/// The index of the quote that closes the string whose text starts at `at`.
fn string_end(json: &[u8], mut at: usize) -> Option<usize> {
    loop {
        match json.get(at)? {
            b'"' => return Some(at),
            b'\\' => at += 2, // the escaped character cannot close the string
            _ => at += 1,
        }
    }
}

/// The text of a string literal (quotes included), unescaped exactly as serde_json does.
fn unescape(quoted: &[u8]) -> Cow<'_, str> {
    let text = quoted
        .get(1..quoted.len().saturating_sub(1))
        .unwrap_or_default();
    if !text.contains(&b'\\') {
        return String::from_utf8_lossy(text);
    }
    match serde_json::from_slice::<String>(quoted) {
        Ok(name) => Cow::Owned(name),
        Err(_) => String::from_utf8_lossy(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (field, message) of each complaint about `json`, which serde_json must accept.
    fn complaints(json: &str) -> Vec<(String, &'static str)> {
        serde_json::from_str::<Value>(json).expect("valid JSON");
        ambiguous_names(json.as_bytes())
            .into_iter()
            .map(|e| {
                let kind = if e.message == REPEATED {
                    "repeated"
                } else {
                    "reserved"
                };
                (e.field, kind)
            })
            .collect()
    }

    fn repeated(fields: &[&str]) -> Vec<(String, &'static str)> {
        fields.iter().map(|f| (f.to_string(), "repeated")).collect()
    }

    #[test]
    fn distinct_names_pass() {
        for json in [
            "{}",
            "[]",
            r#"{"a":{},"b":[],"c":[{}],"d":""}"#,
            r#"{"amount":1000,"reference_id":"6588","metadata":{"color":"rojo"}}"#,
            // The same name in different objects, or in sibling objects, is no repeat.
            r#"{"a":{"a":1},"b":{"a":{"a":2}}}"#,
            r#"{"charges":[{"amount":1},{"amount":2}],"amount":3}"#,
            // Names are compared exactly: case and spacing make different names.
            r#"{"amount":1,"Amount":2,"amount ":3}"#,
        ] {
            assert_eq!(complaints(json), [], "{json}");
        }
    }

    #[test]
    fn a_repeated_name_at_the_top_is_named_once() {
        assert_eq!(
            complaints(r#"{"amount":1,"amount":100000}"#),
            repeated(&["amount"])
        );
        assert_eq!(
            complaints(r#"{"amount":1,"email":"a","amount":2,"amount":3,"email":"b"}"#),
            repeated(&["amount", "email"])
        );
    }

    #[test]
    fn repeats_inside_objects_and_arrays_are_named_by_path() {
        assert_eq!(
            complaints(
                r#"{"charges":[{"method":"spei","amount":1},{"amount":2,"method":"cash","amount":3}]}"#
            ),
            repeated(&["charges[1].amount"])
        );
        assert_eq!(
            complaints(r#"{"metadata":{"color":"rojo","color":"azul"},"x":1}"#),
            repeated(&["metadata.color"])
        );
        assert_eq!(
            complaints(r#"{"a":[[1,{"b":[{"c":1,"c":2}]}]],"a2":{"d":{"e":1,"e":1}}}"#),
            repeated(&["a[0][1].b[0].c", "a2.d.e"])
        );
        assert_eq!(
            complaints(r#"[{"x":1},{"y":1,"y":2}]"#),
            repeated(&["[1].y"])
        );
    }

    #[test]
    fn numbers_of_any_precision_are_not_names() {
        // serde_json's visitors see these as a one-entry marker map; this pass sees literals.
        let json = r#"{"amount":19.99,"big":123456789012345678901234567890,"e":1.5e400,
            "neg":-0.0,"list":[1.0,2.50,3e-7],"nested":{"amount":0.1}}"#;
        assert_eq!(complaints(json), []);
        assert!(parse_object(json.as_bytes()).is_ok());
    }

    #[test]
    fn escaped_names_are_compared_after_unescaping() {
        assert_eq!(
            complaints(r#"{"amount":1,"\u0061mount":100000}"#),
            repeated(&["amount"])
        );
        assert_eq!(
            complaints(r#"{"\u0061mount":1,"amount":2}"#),
            repeated(&["amount"])
        );
        assert_eq!(
            complaints(r#"{"nombre":{"é":1,"\u00e9":2,"\u00E9":3}}"#),
            repeated(&["nombre.é"])
        );
        // A quote or backslash inside a name does not end it.
        assert_eq!(
            complaints(r#"{"a\"b":1,"a\u0022b":2,"c\\":1,"c\u005c":2}"#),
            repeated(&["a\"b", "c\\"])
        );
        // Surrogate pairs: U+1F600 escaped and written out.
        assert_eq!(
            complaints(r#"{"😀":1,"\ud83d\ude00":2}"#),
            repeated(&["😀"])
        );
    }

    #[test]
    fn strings_that_look_like_json_are_values() {
        assert_eq!(
            complaints(r#"{"a":"{\"a\":1,\"a\":2}","b":"]","c":"[","d":",\"d\":"}"#),
            []
        );
        assert_eq!(complaints(r#"{"a":["a","a"],"b":{"x":"b"}}"#), []);
    }

    #[test]
    fn deep_nesting_is_followed_without_recursion() {
        let depth = 120;
        let json = format!(
            "{}{{\"x\":1,\"x\":2}}{}",
            "{\"a\":[".repeat(depth / 2),
            "]}".repeat(depth / 2)
        );
        let expected = format!("{}x", "a[0].".repeat(depth / 2));
        assert_eq!(complaints(&json), repeated(&[&expected]));
        // Past serde_json's nesting limit the body is refused as not JSON, without a panic.
        let too_deep = format!("{}1{}", "{\"a\":".repeat(2000), "}".repeat(2000));
        assert_eq!(parse_object(too_deep.as_bytes()).unwrap_err().status, 400);
    }

    #[test]
    fn serde_json_marker_names_are_refused() {
        // serde_json alone would read amount as 100 and metadata as {"a":2}.
        for (json, field) in [
            (
                r#"{"amount":{"$serde_json::private::Number":"100"}}"#,
                "amount.$serde_json::private::Number",
            ),
            (
                r#"{"metadata":{"\u0024serde_json::private::RawValue":"{\"a\":1,\"a\":2}"}}"#,
                "metadata.$serde_json::private::RawValue",
            ),
        ] {
            assert_eq!(complaints(json), [(field.to_owned(), "reserved")], "{json}");
            let problem = parse_object(json.as_bytes()).unwrap_err();
            assert_eq!(problem.status, 422);
        }
    }

    #[test]
    fn parse_object_answers_400_then_422() {
        for body in ["", "not json", "[1]", "\"x\"", "{\"a\":1,\"a\":2", "{} {}"] {
            let problem = parse_object(body.as_bytes()).unwrap_err();
            assert_eq!(problem.status, 400, "{body:?}");
            assert_eq!(problem.kind, "urn:pagos:problem:malformed-body");
        }
        let problem = parse_object(br#"{"amount":1,"amount":100000}"#).unwrap_err();
        assert_eq!(problem.status, 422);
        assert_eq!(problem.kind, "urn:pagos:problem:invalid-fields");
        assert_eq!(
            problem.errors,
            [FieldError::new(
                "amount",
                "is given more than once; send each field once"
            )]
        );
        let fields = parse_object(br#"{"amount":1,"b":{"c":[1,2]}}"#).unwrap();
        assert_eq!(fields["b"]["c"][1], 2);
    }

    #[test]
    fn any_bytes_are_scanned_without_panicking() {
        let document = r#"{"a":[1,{"b":"x\"y\\","b":2}],"\u0061":{"c":1.5e3}}"#.as_bytes();
        for end in 0..=document.len() {
            ambiguous_names(&document[..end]);
            ambiguous_names(&document[end..]);
        }
        for bytes in [
            &b"\"\\"[..],
            b"}}]]{{",
            b",,,",
            b"{\"\xff\xfe\":1}",
            b"{\"a\\",
        ] {
            ambiguous_names(bytes);
        }
    }
}
