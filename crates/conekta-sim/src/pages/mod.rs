//! The simulator's HTML pages, in Spanish like Conekta's: the start page, hosted checkouts (a
//! buyer pays with a test card, cash or SPEI), the cashier, and the inbox of notifications.
//! Plain forms, no scripts. Pages change orders through `world` and `cashier`, never through
//! the `api` handlers.

mod card_payment;
mod cashier;
mod checkout;
mod checkout_page;
mod html;
mod inbox;

use actix_web::web;

pub fn routes(config: &mut web::ServiceConfig) {
    config
        .route("/", web::get().to(html::index))
        .route("/checkout/{slug}", web::get().to(checkout::show))
        .route(
            "/checkout/{slug}/card",
            web::post().to(card_payment::pay_card),
        )
        .route("/checkout/{slug}/cash", web::post().to(checkout::pay_cash))
        .route(
            "/checkout/{slug}/transfer",
            web::post().to(checkout::pay_transfer),
        )
        .route("/barcode/{reference}", web::get().to(html::barcode))
        .route("/cajero", web::get().to(cashier::show))
        .route("/cajero", web::post().to(cashier::scan_form))
        .route("/inbox/notify", web::post().to(inbox::receive))
        .route("/inbox", web::get().to(inbox::show))
        .route("/inbox.json", web::get().to(inbox::list));
}
