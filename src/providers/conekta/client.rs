//! HTTP to Conekta: authentication, API version, one pooled client per worker thread, and a
//! hard budget on each call. Knows nothing of our actions; maps transport outcomes to errors.

use super::settings::ConektaSettings;
use crate::domain::ProviderSecret;
use crate::metrics::Metrics;
use awc::error::SendRequestError;
use awc::http::Method;
use serde_json::Value;
use std::time::{Duration, Instant};

/// The API version every request asks for: 2.3.0, the version of Conekta's published spec
/// (`../shared/conekta/openapi.yaml`) that pagos's requests are checked against.
pub const ACCEPT: &str = "application/vnd.conekta-v2.3.0+json";
const MAX_RESPONSE_BYTES: usize = 2 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ConektaError {
    /// Conekta answered 4xx; its error body is kept (with the key scrubbed if it echoed it).
    #[error("Conekta answered {status}")]
    Rejected { status: u16, body: Value },
    /// No answer we can use. `maybe_done` is false only when the request never left.
    #[error("Conekta unavailable: {reason}")]
    Unavailable { reason: String, maybe_done: bool },
    #[error("Conekta did not answer within {0:?}")]
    Timeout(Duration),
}

/// A 2xx answer: the exact text Conekta sent (passed on to storefronts verbatim), checked to be
/// a JSON object. It is not kept as a tree: each reader takes what it needs from the text (a
/// create reads an id, an amount and a checkout out of ~1.6 KB), and a tree of every field cost
/// a create more than the rest of its JSON work.
#[derive(Debug, Clone)]
pub struct ConektaAnswer {
    pub text: String,
}

impl ConektaAnswer {
    /// The whole answer as a tree, for the reads that walk it (lookups, a reference's record).
    pub fn json(&self) -> Value {
        // Checked to be a JSON object when it arrived, so this never falls back.
        serde_json::from_str(&self.text).unwrap_or_default()
    }
}

pub struct ConektaClient {
    http: awc::Client,
    api_url: String,
    timeout: Duration,
    metrics: Metrics,
}

impl ConektaClient {
    pub fn new(settings: &ConektaSettings, metrics: Metrics) -> Self {
        let timeout = settings.timeout;
        let connector = awc::Connector::new()
            .timeout(timeout.min(Duration::from_secs(5)))
            .conn_keep_alive(Duration::from_secs(30))
            .conn_lifetime(Duration::from_secs(300))
            // Calls in flight per worker: a slow Conekta (300 ms) under thousands of creates/s needs
            // this many; past it requests wait for a connection inside the time budget.
            .limit(2048);
        let http = awc::Client::builder()
            .connector(connector)
            .timeout(timeout)
            .disable_redirects()
            .add_default_header(("User-Agent", concat!("pagos/", env!("CARGO_PKG_VERSION"))))
            .finish();
        Self {
            http,
            api_url: settings.api_base().to_owned(),
            timeout,
            metrics,
        }
    }

    /// `POST {api_url}{path}` with a JSON body; returns the 2xx answer.
    pub async fn post(
        &self,
        path: &str,
        secret: &ProviderSecret,
        idempotency_key: Option<&str>,
        body: &(impl serde::Serialize + ?Sized),
    ) -> Result<ConektaAnswer, ConektaError> {
        self.call(Method::POST, path, secret, idempotency_key, Some(body))
            .await
    }

    /// `POST {api_url}{path}` with a body that is JSON text already (sent as it is, not copied).
    pub async fn post_text(
        &self,
        path: &str,
        secret: &ProviderSecret,
        idempotency_key: Option<&str>,
        body: Box<serde_json::value::RawValue>,
    ) -> Result<ConektaAnswer, ConektaError> {
        let text: Box<str> = body.into();
        let request = self.request(Method::POST, path, secret, idempotency_key, true);
        self.exchange(
            "POST",
            path,
            secret,
            request,
            text.into_boxed_bytes().into_vec(),
        )
        .await
    }

    /// `PUT {api_url}{path}` with a JSON body.
    pub async fn put(
        &self,
        path: &str,
        secret: &ProviderSecret,
        body: &(impl serde::Serialize + ?Sized),
    ) -> Result<ConektaAnswer, ConektaError> {
        self.call(Method::PUT, path, secret, None, Some(body)).await
    }

    /// `GET {api_url}{path}`.
    pub async fn get(
        &self,
        path: &str,
        secret: &ProviderSecret,
    ) -> Result<ConektaAnswer, ConektaError> {
        self.call(Method::GET, path, secret, None, None::<&()>)
            .await
    }

    /// `GET {api_url}{path}?{query}`, the query form-encoded. Metrics and traces name the path
    /// only: query values (a search term) never become a label.
    pub async fn get_query(
        &self,
        path: &str,
        query: &[(&str, String)],
        secret: &ProviderSecret,
    ) -> Result<ConektaAnswer, ConektaError> {
        let encoded = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(query.iter().map(|(name, value)| (*name, value.as_str())))
            .finish();
        let request = self
            .request(Method::GET, path, secret, None, false)
            .uri(format!("{}{path}?{encoded}", self.api_url));
        self.exchange("GET", path, secret, request, Vec::new())
            .await
    }

    /// `POST {api_url}{path}` without a body (e.g. cancelling an order).
    pub async fn post_empty(
        &self,
        path: &str,
        secret: &ProviderSecret,
    ) -> Result<ConektaAnswer, ConektaError> {
        self.call(Method::POST, path, secret, None, None::<&()>)
            .await
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        secret: &ProviderSecret,
        idempotency_key: Option<&str>,
        body: Option<&(impl serde::Serialize + ?Sized)>,
    ) -> Result<ConektaAnswer, ConektaError> {
        let request = self.request(
            method.clone(),
            path,
            secret,
            idempotency_key,
            body.is_some(),
        );
        let payload = match body {
            Some(body) => serde_json::to_vec(body).map_err(|e| ConektaError::Unavailable {
                reason: format!("could not encode the request: {e}"),
                maybe_done: false,
            })?,
            None => Vec::new(),
        };
        self.exchange(method.as_str(), path, secret, request, payload)
            .await
    }

    /// A request with Conekta's headers: key, API version, language and, for a JSON body, its
    /// content type.
    fn request(
        &self,
        method: Method,
        path: &str,
        secret: &ProviderSecret,
        idempotency_key: Option<&str>,
        json_body: bool,
    ) -> awc::ClientRequest {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.api_url))
            .insert_header(("Authorization", format!("Bearer {}", secret.expose())))
            .insert_header(("Accept", ACCEPT))
            .insert_header(("Accept-Language", "es"));
        if let Some(key) = idempotency_key {
            request = request.insert_header(("Idempotency-Key", key));
        }
        if json_body {
            request = request.insert_header(("Content-Type", "application/json"));
        }
        request
    }

    #[tracing::instrument(name = "conekta.call", skip_all, fields(http.method = method, conekta.path = path, http.status_code, outcome))]
    async fn exchange(
        &self,
        method: &str,
        path: &str,
        secret: &ProviderSecret,
        request: awc::ClientRequest,
        payload: Vec<u8>,
    ) -> Result<ConektaAnswer, ConektaError> {
        let started = Instant::now();
        // The caller's trace continues at Conekta, under this call's span.
        let mut request = request;
        for header in crate::telemetry::trace_headers() {
            request = request.insert_header(header);
        }
        let call = async {
            let mut response = request
                .send_body(payload)
                .await
                .map_err(|e| send_error(e, self.timeout))?;
            let status = response.status().as_u16();
            let bytes = response
                .body()
                .limit(MAX_RESPONSE_BYTES)
                .await
                .map_err(|e| ConektaError::Unavailable {
                    reason: format!("reading the answer failed: {e}"),
                    maybe_done: true,
                })?;
            Ok::<_, ConektaError>((status, bytes))
        };
        let result = match tokio::time::timeout(self.timeout, call).await {
            Err(_) => Err(ConektaError::Timeout(self.timeout)),
            Ok(Err(e)) => Err(e),
            Ok(Ok((status, bytes))) => interpret(status, &bytes, secret),
        };
        let span = tracing::Span::current();
        let outcome = match &result {
            Ok(_) => "ok",
            Err(ConektaError::Rejected { status, body }) => {
                span.record("http.status_code", status);
                tracing::info!(log_id = %body["log_id"], "Conekta refused the request");
                "rejected"
            }
            Err(ConektaError::Unavailable { reason, .. }) => {
                tracing::warn!(%reason, "Conekta unavailable");
                "unavailable"
            }
            Err(ConektaError::Timeout(_)) => {
                tracing::warn!("Conekta timed out");
                "timeout"
            }
        };
        span.record("outcome", outcome);
        self.metrics
            .conekta_calls
            .with_label_values(&[&endpoint_label(method, path), outcome])
            .observe(started.elapsed().as_secs_f64());
        tracing::debug!(
            elapsed_ms = started.elapsed().as_millis() as u64,
            "Conekta call done"
        );
        result
    }
}

/// `POST /orders/{id}/refunds`: the method and path with object ids replaced, for a label.
fn endpoint_label(method: &str, path: &str) -> String {
    let shape: Vec<&str> = path
        .trim_start_matches('/')
        .split('/')
        .enumerate()
        .map(|(i, segment)| match (i, segment) {
            (0, resource) => resource,
            (_, "cancel" | "refunds" | "payment_sources") => segment,
            _ => "{id}",
        })
        .collect();
    format!("{method} /{}", shape.join("/"))
}

fn send_error(error: SendRequestError, budget: Duration) -> ConektaError {
    match error {
        SendRequestError::Timeout => ConektaError::Timeout(budget),
        SendRequestError::Connect(e) => ConektaError::Unavailable {
            reason: format!("could not connect: {e}"),
            maybe_done: false,
        },
        SendRequestError::Url(e) => ConektaError::Unavailable {
            reason: format!("bad URL: {e}"),
            maybe_done: false,
        },
        other => ConektaError::Unavailable {
            reason: format!("the exchange failed: {other}"),
            maybe_done: true,
        },
    }
}

fn interpret(
    status: u16,
    bytes: &[u8],
    secret: &ProviderSecret,
) -> Result<ConektaAnswer, ConektaError> {
    match status {
        200..=299 => {
            let not_json = || ConektaError::Unavailable {
                reason: format!("answered {status} with a body that is not a JSON object"),
                maybe_done: true,
            };
            let text = std::str::from_utf8(bytes).map_err(|_| not_json())?;
            if !is_json_object(text) {
                return Err(not_json());
            }
            Ok(ConektaAnswer {
                text: text.to_owned(),
            })
        }
        // Conekta does not serve the API version pagos asks for: pagos's fault, never the
        // storefront's, and nothing was done.
        406 => Err(ConektaError::Unavailable {
            reason: format!("Conekta refused API version {ACCEPT} (406)"),
            maybe_done: false,
        }),
        400..=499 => Err(ConektaError::Rejected {
            status,
            body: scrub(error_body(bytes), secret),
        }),
        _ => Err(ConektaError::Unavailable {
            reason: format!("answered {status}"),
            maybe_done: true,
        }),
    }
}

/// Whether `text` is one JSON object, read without building it: well-formed JSON that opens
/// with `{` is an object.
fn is_json_object(text: &str) -> bool {
    text.trim_start().starts_with('{')
        && serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok()
}

/// Conekta's error JSON object, or its text wrapped in one so the storefront still sees it.
fn error_body(bytes: &[u8]) -> Value {
    serde_json::from_slice::<Value>(bytes)
        .ok()
        .filter(Value::is_object)
        .unwrap_or_else(|| {
            let text: String = String::from_utf8_lossy(bytes).chars().take(1000).collect();
            serde_json::json!({ "message": text })
        })
}

/// Error bodies are relayed to storefronts and may be logged: never let them carry the key.
/// The key is redacted inside each string (and key, and number that spells it), so the body
/// keeps its shape whatever characters the key holds (replacing in the JSON text could break it).
fn scrub(body: Value, secret: &ProviderSecret) -> Value {
    const REDACTED: &str = "[REDACTED]";
    let key = secret.expose();
    match body {
        Value::String(text) => Value::String(text.replace(key, REDACTED)),
        Value::Number(n) if n.to_string().contains(key) => Value::String(REDACTED.to_owned()),
        Value::Array(items) => Value::Array(items.into_iter().map(|v| scrub(v, secret)).collect()),
        Value::Object(fields) => Value::Object(
            fields
                .into_iter()
                .map(|(name, v)| (name.replace(key, REDACTED), scrub(v, secret)))
                .collect(),
        ),
        other => other,
    }
}

#[cfg(test)]
mod scrub_tests {
    use super::*;

    #[test]
    fn redaction_keeps_the_body_an_object_whatever_the_key() {
        // `":"` occurs in the JSON text of any object; replacing it there broke the body.
        let secret = ProviderSecret::parse(&serde_json::json!("\":\"")).unwrap();
        let body = serde_json::json!({"type": "x", "details": [{"message": "llave \":\""}]});
        let scrubbed = scrub(body, &secret);
        assert_eq!(scrubbed["type"], "x");
        assert_eq!(scrubbed["details"][0]["message"], "llave [REDACTED]");
    }
}
