//! Operators' view of the relay: `/admin/deliveries…`, behind `PAGOS__ADMIN__TOKEN`.

use super::bearer::BearerTokens;
use super::deliveries::{list_answer, no_such_delivery, retry_answer, unavailable};
use super::delivery_query::{Params, ADMIN_FILTERS};
use super::problem::Problem;
use crate::relay::RelayHandle;
use crate::store::Store;
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

pub async fn list(
    request: HttpRequest,
    auth: web::Data<AdminAuth>,
    store: web::Data<Store>,
) -> Result<HttpResponse, Problem> {
    auth.check(&request)?;
    let filter = Params::parse(request.query_string(), ADMIN_FILTERS)?.filter()?;
    list_answer(&store, &filter).await
}

pub async fn show(
    request: HttpRequest,
    id: web::Path<String>,
    auth: web::Data<AdminAuth>,
    store: web::Data<Store>,
) -> Result<HttpResponse, Problem> {
    auth.check(&request)?;
    match store.delivery(&id, None).await.map_err(unavailable)? {
        Some(delivery) => Ok(HttpResponse::Ok().json(delivery)),
        None => Err(no_such_delivery()),
    }
}

pub async fn retry(
    request: HttpRequest,
    id: web::Path<String>,
    auth: web::Data<AdminAuth>,
    store: web::Data<Store>,
    relay: web::Data<RelayHandle>,
) -> Result<HttpResponse, Problem> {
    auth.check(&request)?;
    retry_answer(&store, &relay, &id, None).await
}

/// `POST /admin/deliveries/recover?since=…`: every notification that failed since then, back in
/// the queue (after a storefront's outage ended, say); answers how many.
pub async fn recover(
    request: HttpRequest,
    auth: web::Data<AdminAuth>,
    store: web::Data<Store>,
    relay: web::Data<RelayHandle>,
) -> Result<HttpResponse, Problem> {
    auth.check(&request)?;
    let since_ms = Params::parse(request.query_string(), &["since"])?.since_ms()?;
    let requeued = store.recover_failed(since_ms).await.map_err(unavailable)?;
    if requeued > 0 {
        relay.wake();
    }
    Ok(HttpResponse::Ok().json(serde_json::json!({ "requeued": requeued })))
}
