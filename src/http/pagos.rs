//! `POST /pagos`: insist on a JSON content type, read the body (bounded), insist on a JSON object
//! that names each field once, hand it to the registry.

use super::body::read_limited;
use super::caller_auth::Callers;
use super::content_type::check_content_type;
use super::problem::Problem;
use super::request_metrics::RequestAction;
use super::strict_json;
use crate::providers::ProviderRegistry;
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use tracing::Instrument;

/// Requests are a few hundred bytes; anything near this is not a storefront talking.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

pub async fn pagos(
    request: HttpRequest,
    payload: web::Payload,
    registry: web::Data<ProviderRegistry>,
    callers: web::Data<Callers>,
) -> Result<HttpResponse, Problem> {
    request.extensions_mut().insert(RequestAction("unknown"));
    let caller = callers.identify(&request)?;
    check_content_type(&request)?;
    let body = read_limited(payload, MAX_BODY_BYTES).await?;
    let fields = strict_json::parse_object(&body)?;
    let action = registry.action_label(
        fields.get("provider").and_then(|v| v.as_str()),
        fields.get("action").and_then(|v| v.as_str()),
    );
    request.extensions_mut().insert(RequestAction(action));
    let idempotency_key = idempotency_key(&request)?;
    // Every log line of the call names the storefront. In single-storefront mode there is none
    // to name, and no span: at 2,000 calls waiting on Conekta, a span each costs megabytes.
    let span = match caller {
        Some(storefront) => {
            tracing::info_span!("storefront", storefront = storefront.name.as_str())
        }
        None => tracing::Span::none(),
    };
    let reply = registry
        .dispatch(fields, idempotency_key.as_deref(), caller)
        .instrument(span)
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
        .filter(|inner| !inner.is_empty())
        .unwrap_or(text);
    if key.is_empty() || key.len() > 255 || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(invalid("must be 1 to 255 visible ASCII characters"));
    }
    Ok(Some(key.to_owned()))
}
