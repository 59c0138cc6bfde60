//! `POST /pagos`: read the body (bounded), insist on a JSON object, hand it to the registry.

use super::body::read_limited;
use super::caller_auth::ApiKeys;
use super::problem::Problem;
use crate::providers::ProviderRegistry;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::Value;

/// Requests are a few hundred bytes; anything near this is not a storefront talking.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

pub async fn pagos(
    request: HttpRequest,
    payload: web::Payload,
    registry: web::Data<ProviderRegistry>,
    api_keys: web::Data<ApiKeys>,
) -> Result<HttpResponse, Problem> {
    api_keys.check(&request)?;
    let body = read_limited(payload, MAX_BODY_BYTES).await?;
    let fields = match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Object(fields)) => fields,
        Ok(_) => return Err(Problem::malformed_body("the body must be a JSON object")),
        Err(e) => {
            return Err(Problem::malformed_body(format!(
                "the body is not valid JSON: {e}"
            )))
        }
    };
    let reply = registry.dispatch(fields).await.map_err(Problem::from)?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(reply.body))
}
