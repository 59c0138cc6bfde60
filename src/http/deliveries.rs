//! A storefront's own notifications: `GET /deliveries` and `POST /deliveries/{id}/retry`, with its
//! API key. Another storefront's notification is a 404, never a 403 (its id is not confirmed).
//! In single-storefront mode the one storefront sees them all, and only when API keys are set:
//! an open pagos does not hand its notifications to whoever asks (a 401 saying so).

use super::caller_auth::Callers;
use super::delivery_query::{Params, STOREFRONT_FILTERS};
use super::problem::Problem;
use crate::relay::RelayHandle;
use crate::store::{DeliveryStatus, RetryRequest, Store};
use actix_web::{web, HttpRequest, HttpResponse};

/// Whose notifications the caller may see: `Some(name)`, a storefront's; `None`, all of them.
fn scope(request: &HttpRequest, callers: &Callers) -> Result<Option<String>, Problem> {
    if !callers.is_enabled() {
        return Err(Problem::unauthorized(
            "no API key is configured (PAGOS__SERVER__API_KEYS or [[storefronts]]), so no caller \
             can be told to be the storefront",
        ));
    }
    Ok(callers
        .identify(request)?
        .map(|storefront| storefront.name.clone()))
}

pub async fn list(
    request: HttpRequest,
    callers: web::Data<Callers>,
    store: web::Data<Store>,
) -> Result<HttpResponse, Problem> {
    let storefront = scope(&request, &callers)?;
    let mut filter = Params::parse(request.query_string(), STOREFRONT_FILTERS)?.filter()?;
    filter.storefront = storefront;
    list_answer(&store, &filter).await
}

pub async fn retry(
    request: HttpRequest,
    id: web::Path<String>,
    callers: web::Data<Callers>,
    store: web::Data<Store>,
    relay: web::Data<RelayHandle>,
) -> Result<HttpResponse, Problem> {
    let storefront = scope(&request, &callers)?;
    retry_answer(&store, &relay, &id, storefront.as_deref()).await
}

/// The list, as both readers get it.
pub(super) async fn list_answer(
    store: &Store,
    filter: &crate::store::DeliveryFilter,
) -> Result<HttpResponse, Problem> {
    let deliveries = store.list_deliveries(filter).await.map_err(unavailable)?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "deliveries": deliveries })))
}

/// A retry, as both readers get it: 202 back in the queue, 404 unknown (or not the reader's),
/// 409 still pending.
pub(super) async fn retry_answer(
    store: &Store,
    relay: &RelayHandle,
    id: &str,
    storefront: Option<&str>,
) -> Result<HttpResponse, Problem> {
    match store
        .retry_delivery(id, storefront)
        .await
        .map_err(unavailable)?
    {
        RetryRequest::Requeued => {
            relay.wake();
            Ok(HttpResponse::Accepted()
                .json(serde_json::json!({ "id": id, "status": DeliveryStatus::Pending })))
        }
        RetryRequest::NotFound => Err(no_such_delivery()),
        RetryRequest::StillPending => Err(Problem::new(
            409,
            "urn:pagos:problem:delivery-pending",
            "Delivery is pending",
            "this notification is already waiting for its next attempt",
        )),
    }
}

pub(super) fn no_such_delivery() -> Problem {
    Problem::new(
        404,
        "urn:pagos:problem:not-found",
        "Not found",
        "no delivery with this id",
    )
}

pub(super) fn unavailable(_: crate::store::StoreError) -> Problem {
    Problem::store_unavailable("the store does not answer")
}
