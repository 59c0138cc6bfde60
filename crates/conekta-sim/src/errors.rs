//! Conekta's error answers: `{object:"error", type, log_id, details:[{code, param, message,
//! debug_message}]}` with the HTTP status Conekta uses for each type.

use crate::world::state::object_id;
use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use serde_json::{json, Value};

#[derive(Debug, Clone)]
pub struct Detail {
    pub code: String,
    pub param: Option<String>,
    pub message: String,
}

impl Detail {
    pub fn new(code: impl Into<String>, param: Option<&str>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            param: param.map(str::to_owned),
            message: message.into(),
        }
    }

    /// `conekta.errors.parameter_validation.<param>.<what>`
    pub fn invalid(param: &str, what: &str, message: impl Into<String>) -> Self {
        Self::new(
            format!("conekta.errors.parameter_validation.{param}.{what}"),
            Some(param),
            message,
        )
    }
}

#[derive(Debug, Clone)]
pub struct ConektaError {
    pub status: u16,
    pub kind: &'static str,
    pub details: Vec<Detail>,
}

impl ConektaError {
    pub fn validation(details: Vec<Detail>) -> Self {
        Self {
            status: 422,
            kind: "parameter_validation_error",
            details,
        }
    }

    pub fn missing_key() -> Self {
        Self {
            status: 401,
            kind: "authentication_error",
            details: vec![Detail::new(
                "conekta.errors.authentication.missing_key",
                None,
                "Please include your access key in your request.",
            )],
        }
    }

    pub fn not_found(what: &str, id: &str) -> Self {
        Self {
            status: 404,
            kind: "resource_not_found_error",
            details: vec![Detail::new(
                "conekta.errors.resource_not_found.entity",
                Some("id"),
                format!("The {what} with id '{id}' could not be found."),
            )],
        }
    }

    pub fn processing(code: &str, message: &str) -> Self {
        Self {
            status: 402,
            kind: "processing_error",
            details: vec![Detail::new(code, None, message)],
        }
    }

    /// `428`: the object is not in a state that allows this (the spec's `capture` answer).
    pub fn precondition(code: &str, message: impl Into<String>) -> Self {
        Self {
            status: 428,
            kind: "precondition_required_error",
            details: vec![Detail::new(code, None, message)],
        }
    }

    /// `406`: an `Accept` naming an API version the simulator does not speak. Conekta's errors
    /// call a version mismatch a `conflict_error`.
    pub fn unsupported_version(version: &str, spoken: &[&str]) -> Self {
        let spoken = spoken
            .iter()
            .map(|v| format!("application/vnd.conekta-v{v}+json"))
            .collect::<Vec<_>>()
            .join(" or ");
        Self {
            status: 406,
            kind: "conflict_error",
            details: vec![Detail::new(
                "conekta.errors.conflict.api_version",
                None,
                format!("The API version {version} is not supported; send Accept: {spoken}."),
            )],
        }
    }

    pub fn malformed() -> Self {
        Self {
            status: 400,
            kind: "malformed_request_error",
            details: vec![Detail::new(
                "conekta.errors.malformed_request.json",
                None,
                "The JSON body of your request was invalid.",
            )],
        }
    }

    pub fn body(&self) -> Value {
        json!({
            "object": "error",
            "type": self.kind,
            "log_id": object_id(),
            "details": self.details.iter().map(|d| json!({
                "code": d.code,
                "param": d.param,
                "message": d.message,
                "debug_message": d.message,
            })).collect::<Vec<_>>(),
        })
    }

    pub fn response(&self) -> HttpResponse {
        self.response_with(None)
    }

    /// With the object the request still changed (Conekta's `data`, e.g. a declined order).
    pub fn response_with(&self, data: Option<&Value>) -> HttpResponse {
        let mut body = self.body();
        if let Some(data) = data {
            body["data"] = data.clone();
        }
        HttpResponse::build(StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST))
            .content_type("application/json; charset=utf-8")
            .body(body.to_string())
    }
}
