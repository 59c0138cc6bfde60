//! One HTTP call from the terminal, and what its answer says when it is not a success: pagos's
//! problem+json and Conekta's error bodies read as one sentence.

use super::Failure;
use awc::http::Method;
use serde_json::Value;
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(30);
const MAX_ANSWER_BYTES: usize = 16 * 1024 * 1024;

pub struct Call<'a> {
    pub method: Method,
    pub url: String,
    pub bearer: Option<&'a str>,
    pub accept: Option<&'a str>,
    pub body: Option<&'a Value>,
}

/// Sends the call; a 2xx answer's JSON (`null` when it has no body), else why not.
pub async fn send(call: Call<'_>) -> Result<Value, Failure> {
    let client = awc::Client::builder()
        .timeout(TIMEOUT)
        .disable_redirects()
        .add_default_header((
            "User-Agent",
            concat!("pagos-cli/", env!("CARGO_PKG_VERSION")),
        ))
        .finish();
    let mut request = client.request(call.method.clone(), &call.url);
    if let Some(token) = call.bearer {
        request = request.insert_header(("Authorization", format!("Bearer {token}")));
    }
    if let Some(accept) = call.accept {
        request = request.insert_header(("Accept", accept));
    }
    let sent = match call.body {
        Some(body) => request.send_json(body).await,
        None => request.send().await,
    };
    let where_to = origin(&call.url);
    let mut response =
        sent.map_err(|error| Failure::Unreachable(format!("cannot reach {where_to}: {error}")))?;
    let status = response.status();
    let bytes = response
        .body()
        .limit(MAX_ANSWER_BYTES)
        .await
        .map_err(|error| {
            Failure::Unreachable(format!(
                "{where_to} answered {status} but its body broke off: {error}"
            ))
        })?;
    let json = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
    };
    if status.is_success() {
        Ok(json)
    } else {
        Err(Failure::Refused(format!(
            "{where_to} answered {}: {}",
            status.as_u16(),
            explain(&json)
        )))
    }
}

/// `scheme://host:port` of a URL, for messages (never its path or query).
fn origin(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    match url[after_scheme..].find('/') {
        Some(i) => &url[..after_scheme + i],
        None => url,
    }
}

/// An error answer as one readable sentence.
pub fn explain(answer: &Value) -> String {
    // pagos: RFC 9457 problem details, with the fields at fault.
    if let Some(title) = answer["title"].as_str() {
        let mut text = match answer["detail"].as_str() {
            Some(detail) if !detail.is_empty() => format!("{title}: {detail}"),
            _ => title.to_owned(),
        };
        for error in answer["errors"].as_array().into_iter().flatten() {
            let field = error["field"].as_str().unwrap_or("?");
            let message = error["message"].as_str().unwrap_or("");
            text.push_str(&format!("\n  {field}: {message}"));
        }
        return text;
    }
    // Conekta: `{type, details: [{message, param}]}`.
    if let Some(details) = answer["details"].as_array() {
        let kind = answer["type"].as_str().unwrap_or("error");
        let messages: Vec<String> = details
            .iter()
            .map(|detail| match detail["param"].as_str() {
                Some(param) => format!("{param}: {}", detail["message"].as_str().unwrap_or("")),
                None => detail["message"].as_str().unwrap_or("").to_owned(),
            })
            .collect();
        return format!("{kind}: {}", messages.join("; "));
    }
    match answer {
        Value::Null => "no explanation".to_owned(),
        Value::String(text) => text.chars().take(300).collect(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn error_answers_read_as_sentences() {
        let problem = json!({"type": "urn:pagos:problem:invalid-request", "title": "Invalid request",
            "status": 422, "detail": "2 fields are invalid",
            "errors": [{"field": "since", "message": "must be RFC 3339 or Unix seconds"}]});
        assert_eq!(
            explain(&problem),
            "Invalid request: 2 fields are invalid\n  since: must be RFC 3339 or Unix seconds"
        );
        let conekta = json!({"type": "parameter_validation_error",
            "details": [{"param": "url", "message": "The url is required."}]});
        assert_eq!(
            explain(&conekta),
            "parameter_validation_error: url: The url is required."
        );
        assert_eq!(explain(&Value::Null), "no explanation");
    }

    #[test]
    fn messages_name_only_the_origin() {
        assert_eq!(
            origin("http://127.0.0.1:8080/admin/deliveries?status=failed"),
            "http://127.0.0.1:8080"
        );
        assert_eq!(origin("https://api.conekta.io"), "https://api.conekta.io");
    }
}
