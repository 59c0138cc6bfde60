//! `POST /pagos` takes JSON and nothing else: a body sent as another type may be read as that
//! type by a proxy, a log or a gateway, so it is refused (415) before it is read at all.
//!
//! Accepted: `application/json` or `application/<anything>+json` (type and subtype in any case),
//! optionally with parameters. A `charset` parameter must be `utf-8` (any case, quoted or not),
//! since that is the only encoding JSON has between systems (RFC 8259 §8.1). Other parameters
//! mean nothing for JSON and are ignored. A header that is missing, sent twice, or not a
//! well-formed media type (RFC 9110 §8.3) is refused.

use super::problem::Problem;
use actix_web::http::header::CONTENT_TYPE;
use actix_web::HttpRequest;

/// What a 415 answer offers instead (its `Accept-Post` header).
pub const ACCEPTED: &str = "application/json";

/// How much of a refused header the answer repeats back.
const ECHO_LIMIT: usize = 100;

/// Ok when the request says its body is JSON in UTF-8; otherwise the 415 problem.
pub fn check_content_type(request: &HttpRequest) -> Result<(), Problem> {
    let mut headers = request.headers().get_all(CONTENT_TYPE);
    let received = match (headers.next(), headers.next()) {
        (None, _) => return Err(refusal("no Content-Type was sent")),
        (Some(_), Some(_)) => return Err(refusal("Content-Type was sent more than once")),
        (Some(value), None) => value.to_str().map_err(|_| {
            refusal("the Content-Type is not plain ASCII text, so it names no accepted type")
        })?,
    };
    if is_json_utf8(received) {
        Ok(())
    } else {
        Err(refusal(&format!("Content-Type \"{}\"", echo(received))))
    }
}

fn refusal(received: &str) -> Problem {
    Problem::unsupported_media_type(format!(
        "{received} is not accepted: send the body as {ACCEPTED} (or an application/*+json type), \
         with no charset or charset=utf-8"
    ))
}

/// The received value, cut short so that a huge header is not sent back whole.
fn echo(value: &str) -> String {
    match value.char_indices().nth(ECHO_LIMIT) {
        Some((end, _)) => format!("{}…", &value[..end]),
        None => value.to_owned(),
    }
}

/// Whether `value` is a well-formed JSON media type whose charset, if any, is UTF-8.
fn is_json_utf8(value: &str) -> bool {
    let value = value.trim_matches(is_ows);
    // The media type itself holds no quoted text, so its first `;` ends it.
    let (essence, parameters) = value.split_once(';').unwrap_or((value, ""));
    let Some((kind, subtype)) = essence.trim_end_matches(is_ows).split_once('/') else {
        return false;
    };
    if !is_token(kind) || !is_token(subtype) || !kind.eq_ignore_ascii_case("application") {
        return false;
    }
    if !(subtype.eq_ignore_ascii_case("json") || has_json_suffix(subtype)) {
        return false;
    }
    match parse_parameters(parameters) {
        Some(parameters) => parameters
            .iter()
            .filter(|(name, _)| name.eq_ignore_ascii_case("charset"))
            .all(|(_, charset)| charset.eq_ignore_ascii_case("utf-8")),
        None => false,
    }
}

/// `vnd.api+json`, `problem+json`: RFC 6839's structured syntax suffix, with something before it.
fn has_json_suffix(subtype: &str) -> bool {
    let suffix = "+json";
    subtype.len() > suffix.len()
        && subtype.is_char_boundary(subtype.len() - suffix.len())
        && subtype[subtype.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
}

/// RFC 9110 `parameters` after the first `;`: `*( OWS ";" OWS [ name "=" value ] )`, where a
/// value is a token or a quoted string. `None` when they are malformed.
fn parse_parameters(mut rest: &str) -> Option<Vec<(&str, String)>> {
    let mut parameters = Vec::new();
    loop {
        rest = rest.trim_start_matches(is_ows);
        if rest.is_empty() {
            return Some(parameters);
        }
        if let Some(after) = rest.strip_prefix(';') {
            rest = after; // an empty parameter is allowed
            continue;
        }
        let (name, after_name) = rest.split_once('=')?;
        if !is_token(name) {
            return None;
        }
        let (value, after_value) = match after_name.strip_prefix('"') {
            Some(quoted) => quoted_string(quoted)?,
            None => {
                let end = after_name
                    .find(|c: char| !is_tchar(c))
                    .unwrap_or(after_name.len());
                let token = &after_name[..end];
                if token.is_empty() {
                    return None;
                }
                (token.to_owned(), &after_name[end..])
            }
        };
        parameters.push((name, value));
        rest = after_value.trim_start_matches(is_ows);
        if !rest.is_empty() {
            rest = rest.strip_prefix(';')?;
        }
    }
}

/// The text of a quoted string whose opening quote is already consumed, and what follows it.
fn quoted_string(text: &str) -> Option<(String, &str)> {
    let mut value = String::new();
    let mut chars = text.char_indices();
    while let Some((at, c)) = chars.next() {
        match c {
            '"' => return Some((value, &text[at + 1..])),
            '\\' => value.push(chars.next()?.1),
            c => value.push(c),
        }
    }
    None // no closing quote
}

fn is_ows(c: char) -> bool {
    c == ' ' || c == '\t'
}

fn is_token(text: &str) -> bool {
    !text.is_empty() && text.chars().all(is_tchar)
}

/// RFC 9110 §5.6.2 `tchar`.
fn is_tchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_and_json_suffix_types_pass() {
        for value in [
            "application/json",
            "APPLICATION/JSON",
            "Application/Json",
            "  application/json\t",
            "application/vnd.api+json",
            "application/problem+JSON",
            "application/merge-patch+json",
        ] {
            assert!(is_json_utf8(value), "{value:?}");
        }
    }

    #[test]
    fn a_charset_must_be_utf_8() {
        for value in [
            "application/json; charset=utf-8",
            "application/json;charset=UTF-8",
            "application/json ; charset=utf-8",
            "application/json; charset=\"utf-8\"",
            "application/json; charset=\"UTF-8\"",
            "application/json;\tcharset=utf-8 ",
            "application/vnd.api+json; charset=utf-8",
        ] {
            assert!(is_json_utf8(value), "{value:?}");
        }
        for value in [
            "application/json; charset=latin1",
            "application/json; charset=iso-8859-1",
            "application/json; charset=utf-16",
            "application/json; charset=utf8",
            "application/json; charset=\"utf-8 \"",
            "application/json; charset=utf-8; charset=latin1",
            "application/json; CHARSET=us-ascii",
            "application/json; charset = utf-8",
        ] {
            assert!(!is_json_utf8(value), "{value:?}");
        }
    }

    #[test]
    fn other_parameters_are_ignored() {
        for value in [
            "application/json; profile=\"https://example.com/a;b\"",
            "application/json; foo=bar; charset=utf-8",
            "application/json;;",
            "application/json; ; charset=utf-8",
            "application/json; q=\"a \\\" quote\"",
        ] {
            assert!(is_json_utf8(value), "{value:?}");
        }
    }

    #[test]
    fn other_types_and_malformed_values_are_refused() {
        for value in [
            "",
            " ",
            "text/plain",
            "text/json",
            "text/plain; charset=utf-8",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "application/jsonx",
            "application/+json",
            "application/json+xml",
            "application/*",
            "*/*",
            "application",
            "application/",
            "/json",
            "application /json",
            "application/ json",
            "application/json, text/plain",
            "application/json; charset",
            "application/json; charset=",
            "application/json; =utf-8",
            "application/json; charset=\"utf-8",
            "application/json; charset=utf-8 extra",
            "application/json; a=b c=d",
        ] {
            assert!(!is_json_utf8(value), "{value:?}");
        }
    }

    #[test]
    fn echoes_are_bounded() {
        assert_eq!(echo("text/plain"), "text/plain");
        let long = "x".repeat(500);
        assert_eq!(echo(&long).chars().count(), ECHO_LIMIT + 1);
    }
}
