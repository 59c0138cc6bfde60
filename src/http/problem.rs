//! The one place errors become RFC 9457 `application/problem+json` answers.

use crate::domain::FieldError;
use crate::providers::ActionError;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use serde_json::Value;

pub const CONTENT_TYPE: &str = "application/problem+json";

#[derive(Serialize)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub title: &'static str,
    pub status: u16,
    pub detail: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider_error: Option<Value>,
}

impl Problem {
    pub fn new(
        status: u16,
        kind: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            kind,
            title,
            status,
            detail: detail.into(),
            errors: Vec::new(),
            provider_error: None,
        }
    }

    pub fn malformed_body(detail: impl Into<String>) -> Self {
        Self::new(
            400,
            "urn:pagos:problem:malformed-body",
            "Malformed request body",
            detail,
        )
    }

    pub fn body_too_large(limit: usize) -> Self {
        Self::new(
            413,
            "urn:pagos:problem:body-too-large",
            "Request body too large",
            format!("the body must be at most {limit} bytes"),
        )
    }

    pub fn unsupported_media_type(detail: impl Into<String>) -> Self {
        Self::new(
            415,
            "urn:pagos:problem:unsupported-media-type",
            "Unsupported media type",
            detail,
        )
    }

    pub fn not_found() -> Self {
        Self::new(
            404,
            "urn:pagos:problem:not-found",
            "Not found",
            "no such endpoint",
        )
    }

    pub fn method_not_allowed(method: &str, allow: &str) -> Self {
        Self::new(
            405,
            "urn:pagos:problem:method-not-allowed",
            "Method not allowed",
            format!("{method} is not supported here; allowed: {allow}"),
        )
    }

    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(
            401,
            "urn:pagos:problem:unauthorized",
            "Unauthorized",
            detail,
        )
    }

    pub fn store_unavailable(detail: impl Into<String>) -> Self {
        Self::new(
            503,
            "urn:pagos:problem:store-unavailable",
            "Store unavailable",
            detail,
        )
    }

    pub fn response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(
            StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        )
        .content_type(CONTENT_TYPE)
        .json(self);
        if self.status == 401 {
            response.headers_mut().insert(
                actix_web::http::header::WWW_AUTHENTICATE,
                actix_web::http::header::HeaderValue::from_static("Bearer"),
            );
        }
        if self.status == 415 {
            // Names the media type a POST here takes (`Accept-Post`, registered by W3C LDP).
            response.headers_mut().insert(
                actix_web::http::header::HeaderName::from_static("accept-post"),
                actix_web::http::header::HeaderValue::from_static(super::content_type::ACCEPTED),
            );
        }
        response
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status, self.title, self.detail)
    }
}

/// The sentence a log line shows (tracing-actix-web logs a failed request's error with `{:?}`):
/// the status, title and detail, and each bad field; never the provider's body.
impl std::fmt::Debug for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self}")?;
        let fields: Vec<String> = self
            .errors
            .iter()
            .map(|error| format!("{}: {}", error.field, error.message))
            .collect();
        if !fields.is_empty() {
            write!(f, " ({})", fields.join("; "))?;
        }
        Ok(())
    }
}

impl ResponseError for Problem {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        self.response()
    }
}

impl From<ActionError> for Problem {
    fn from(error: ActionError) -> Self {
        match error {
            ActionError::InvalidFields(errors) => {
                let names: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
                let detail = format!("invalid fields: {}", names.join(", "));
                Self {
                    errors,
                    ..Self::new(
                        422,
                        "urn:pagos:problem:invalid-fields",
                        "Invalid request fields",
                        detail,
                    )
                }
            }
            ActionError::Conflict { detail, fields } => Self {
                errors: fields,
                ..Self::new(
                    409,
                    "urn:pagos:problem:idempotency-conflict",
                    "Conflicts with an earlier request",
                    detail,
                )
            },
            ActionError::KeyReused(errors) => Self {
                errors,
                ..Self::new(
                    422,
                    "urn:pagos:problem:idempotency-key-reused",
                    "Idempotency-Key reused",
                    "this Idempotency-Key was used with another request body; use a new key for a new request",
                )
            },
            ActionError::ProviderRejected {
                status,
                body,
                message,
            } => {
                let detail =
                    message.unwrap_or_else(|| format!("the provider refused the request ({status})"));
                Self {
                    // Always an object when present (the spec's `ConektaError`).
                    provider_error: Some(body).filter(Value::is_object),
                    ..Self::new(
                        status,
                        "urn:pagos:problem:provider-rejected",
                        "Provider rejected the request",
                        detail,
                    )
                }
            }
            ActionError::ProviderUnavailable(reason) => Self::new(
                502,
                "urn:pagos:problem:provider-unavailable",
                "Provider unavailable",
                reason,
            ),
            ActionError::ProviderTimeout(ms) => Self::new(
                504,
                "urn:pagos:problem:provider-timeout",
                "Provider timed out",
                format!("the provider did not answer within {ms} ms"),
            ),
            ActionError::StoreUnavailable(detail) => Self::store_unavailable(detail),
        }
    }
}
