//! Operators' view of the relay: `/admin/deliveries`, behind `PAGOS__ADMIN__TOKEN`.

use super::bearer::BearerTokens;
use super::problem::Problem;
use crate::domain::FieldError;
use crate::relay::RelayHandle;
use crate::store::{DeliveryStatus, RetryRequest, Store};
use actix_web::{web, HttpRequest, HttpResponse};
use secrecy::SecretString;

/// The admin token; none configured: the admin API does not exist.
#[derive(Clone)]
pub struct AdminAuth(BearerTokens);

impl AdminAuth {
    pub fn new(token: Option<&SecretString>) -> Self {
        Self(BearerTokens::single(token))
    }

    fn check(&self, request: &HttpRequest) -> Result<(), Problem> {
        if self.0.is_empty() {
            return Err(Problem::not_found());
        }
        if self.0.admit(request) {
            Ok(())
        } else {
            Err(Problem::unauthorized(
                "a valid admin bearer token is required",
            ))
        }
    }
}

/// `?status=…&limit=…`, read by hand so that every bad parameter (a repeated one included) is a
/// 422 naming it, not a framework error.
#[derive(Default)]
struct ListQuery {
    status: Option<String>,
    limit: Option<String>,
    repeated: Vec<&'static str>,
}

impl ListQuery {
    fn parse(query: &str) -> Self {
        let mut parsed = Self::default();
        for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
            let name = match key.as_ref() {
                "status" => "status",
                "limit" => "limit",
                _ => continue,
            };
            let slot = if name == "status" {
                &mut parsed.status
            } else {
                &mut parsed.limit
            };
            if slot.is_none() {
                *slot = Some(value.into_owned());
            } else if !parsed.repeated.contains(&name) {
                parsed.repeated.push(name);
            }
        }
        parsed
    }
}

pub async fn list(
    request: HttpRequest,
    auth: web::Data<AdminAuth>,
    store: web::Data<Store>,
) -> Result<HttpResponse, Problem> {
    auth.check(&request)?;
    let query = ListQuery::parse(request.query_string());
    let mut errors = Vec::new();
    for name in &query.repeated {
        errors.push(FieldError::new(*name, "must be given at most once"));
    }
    let status = match query.status.as_deref().filter(|s| !s.is_empty()) {
        _ if query.repeated.contains(&"status") => None,
        None => None,
        Some(name) => match name.parse::<DeliveryStatus>() {
            Ok(status) => Some(status),
            Err(_) => {
                let names = DeliveryStatus::ALL.map(DeliveryStatus::as_str);
                errors.push(FieldError::new(
                    "status",
                    format!("must be one of {}", names.join(", ")),
                ));
                None
            }
        },
    };
    let limit = match query.limit.as_deref().map(str::parse::<i64>) {
        _ if query.repeated.contains(&"limit") => 0,
        None => 100,
        Some(Ok(n)) if (1..=1000).contains(&n) => n,
        Some(_) => {
            errors.push(FieldError::new(
                "limit",
                "must be an integer from 1 to 1000",
            ));
            0
        }
    };
    if !errors.is_empty() {
        return Err(crate::providers::ActionError::InvalidFields(errors).into());
    }
    let deliveries = store
        .list_deliveries(status, limit)
        .await
        .map_err(|_| Problem::store_unavailable("the store does not answer"))?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "deliveries": deliveries })))
}

pub async fn retry(
    request: HttpRequest,
    id: web::Path<String>,
    auth: web::Data<AdminAuth>,
    store: web::Data<Store>,
    relay: web::Data<RelayHandle>,
) -> Result<HttpResponse, Problem> {
    auth.check(&request)?;
    let outcome = store
        .retry_delivery(&id)
        .await
        .map_err(|_| Problem::store_unavailable("the store does not answer"))?;
    match outcome {
        RetryRequest::Requeued => {
            relay.wake();
            Ok(HttpResponse::Accepted()
                .json(serde_json::json!({ "id": id.as_str(), "status": DeliveryStatus::Pending })))
        }
        RetryRequest::NotFound => Err(Problem::new(
            404,
            "urn:pagos:problem:not-found",
            "Not found",
            "no delivery with this id",
        )),
        RetryRequest::NotFailed => Err(Problem::new(
            409,
            "urn:pagos:problem:delivery-not-failed",
            "Delivery is not failed",
            "only a failed delivery can be sent again",
        )),
    }
}
