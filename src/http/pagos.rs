//! `POST /pagos`: insist on a JSON content type, read the body (bounded), insist on a JSON object
//! that names each field once, hand it to the registry.

use super::body::read_limited;
use super::caller_auth::ApiKeys;
use super::content_type::check_content_type;
use super::problem::Problem;
use super::strict_json;
use crate::providers::ProviderRegistry;
use actix_web::{web, HttpRequest, HttpResponse};

/// Requests are a few hundred bytes; anything near this is not a storefront talking.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

pub async fn pagos(
    request: HttpRequest,
    payload: web::Payload,
    registry: web::Data<ProviderRegistry>,
    api_keys: web::Data<ApiKeys>,
) -> Result<HttpResponse, Problem> {
    api_keys.check(&request)?;
    check_content_type(&request)?;
    let body = read_limited(payload, MAX_BODY_BYTES).await?;
    let fields = strict_json::parse_object(&body)?;
    let reply = registry.dispatch(fields).await.map_err(Problem::from)?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(reply.body))
}
