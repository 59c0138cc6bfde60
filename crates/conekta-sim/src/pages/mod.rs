//! The simulator's HTML pages, in Spanish like Conekta's: the start page, hosted checkouts (a
//! buyer pays with a test card, cash or SPEI), the result page a checkout may return to, the
//! cashier, and the developer pages: the inbox
//! of notifications and an order's page with its event buttons. The buyer's pages are plain
//! forms, no scripts; the developer pages add small inline scripts (local times, refreshing,
//! buttons). Pages change orders through `world`, `cashier` and `trigger`, never through the
//! `api` handlers.

mod card_payment;
mod cashier;
mod checkout;
mod checkout_page;
mod checkout_style;
mod developer_style;
mod html;
mod inbox;
mod local_time;
mod order_page;
mod result;
mod spanish_date;

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
        .route("/resultado", web::get().to(result::show))
        // The success and failure URLs pagos gives Conekta by default, when `return_url` is
        // the simulator itself.
        .route("/conekta/conekta_order", web::get().to(result::show))
        .route("/barcode/{reference}", web::get().to(html::barcode))
        .route("/cajero", web::get().to(cashier::show))
        .route("/cajero", web::post().to(cashier::scan_form))
        .route("/pedido/{id}", web::get().to(order_page::show))
        .route("/inbox/notify", web::post().to(inbox::receive))
        .route("/inbox", web::get().to(inbox::show))
        .route("/inbox/rows", web::get().to(inbox::rows_fragment))
        .route("/inbox/mode", web::post().to(inbox::set_mode))
        .route("/inbox/replay/{id}", web::post().to(inbox::replay))
        .route("/inbox.json", web::get().to(inbox::list));
}
