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
    let idempotency_key = idempotency_key(&request)?;
    let reply = registry
        .dispatch(fields, idempotency_key.as_deref())
        .await
        .map_err(Problem::from)?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(reply.body))
}

/// The `Idempotency-Key` header, if any: 1 to 255 visible ASCII characters, bare or as a
/// structured-field string (`"…"`, as draft-ietf-httpapi-idempotency-key-header writes it).
fn idempotency_key(request: &HttpRequest) -> Result<Option<String>, Problem> {
    let mut values = request.headers().get_all("idempotency-key");
    let Some(value) = values.next() else {
        return Ok(None);
    };
    let invalid = |message: &str| {
        Problem::from(crate::providers::ActionError::field(
            "Idempotency-Key",
            message.to_owned(),
        ))
    };
    if values.next().is_some() {
        return Err(invalid("must be sent once"));
    }
    let text = value
        .to_str()
        .map_err(|_| invalid("must be 1 to 255 visible ASCII characters"))?;
    let key = text
        .strip_prefix('"')
        .and_then(|quoted| quoted.strip_suffix('"'))
        .unwrap_or(text);
    if key.is_empty() || key.len() > 255 || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(invalid("must be 1 to 255 visible ASCII characters"));
    }
    Ok(Some(key.to_owned()))
}
