//! Thin actix handlers: parse the transport (content type, body, headers, tokens), call the
//! providers or the store, render the answer (`problem.rs` is the one place errors become
//! problem+json). The top layer: nothing below imports it, and it holds no business rule nor
//! any provider's types.

pub mod access_log;
pub mod admin;
mod bearer;
mod body;
pub mod caller_auth;
mod content_type;
pub mod deliveries;
mod delivery_query;
pub mod health;
pub mod pagos;
pub mod problem;
pub mod request_metrics;
pub mod request_span;
mod strict_json;
pub mod webhooks;

use actix_web::http::{header, Method};
use actix_web::{web, HttpRequest, HttpResponse};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(post("/pagos").route(web::post().to(pagos::pagos)))
        .service(get("/healthz").to(health::healthz))
        .service(get("/readyz").to(health::readyz))
        .service(get("/openapi.yaml").to(health::openapi))
        .service(get("/metrics").to(health::metrics))
        .service(post("/webhooks/{provider}").route(web::post().to(webhooks::receive)))
        .service(get("/deliveries").to(deliveries::list))
        .service(post("/deliveries/{id}/retry").route(web::post().to(deliveries::retry)))
        .service(get("/admin/deliveries").to(admin::list))
        .service(post("/admin/deliveries/recover").route(web::post().to(admin::recover)))
        .service(get("/admin/deliveries/{id}").to(admin::show))
        .service(post("/admin/deliveries/{id}/retry").route(web::post().to(admin::retry)));
}

/// A path answered with GET (and HEAD, its body dropped); other methods get a 405.
fn get(path: &str) -> GetResource {
    GetResource(path.to_owned())
}

struct GetResource(String);

impl GetResource {
    fn to<F, Args>(self, handler: F) -> actix_web::Resource
    where
        F: actix_web::Handler<Args>,
        Args: actix_web::FromRequest + 'static,
        F::Output: actix_web::Responder + 'static,
    {
        web::resource(self.0)
            .route(web::get().to(handler.clone()))
            .route(web::head().to(handler))
            .default_service(web::to(|request: HttpRequest| async move {
                other_method(&request, "GET, HEAD")
            }))
    }
}

/// A path answered only with POST; other methods get a 405.
fn post(path: &str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(|request: HttpRequest| async move {
        other_method(&request, "POST")
    }))
}

/// RFC 9110: a method the resource does not support is 405 with `Allow`; OPTIONS lists them.
fn other_method(request: &HttpRequest, allow: &'static str) -> HttpResponse {
    let mut response = if request.method() == Method::OPTIONS {
        HttpResponse::NoContent().finish()
    } else {
        problem::Problem::method_not_allowed(request.method().as_str(), allow).response()
    };
    response
        .headers_mut()
        .insert(header::ALLOW, header::HeaderValue::from_static(allow));
    response
}
