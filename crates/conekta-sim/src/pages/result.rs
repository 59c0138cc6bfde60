//! The result page (`GET /resultado`) a checkout's `success_url` or `failure_url` may point at:
//! after paying, the buyer lands here with Conekta's `checkout_id`, `order_id` and
//! `payment_status` in the query. The verdict comes from the order as the simulator holds it,
//! never from the query, which anyone can type.

use super::checkout_style::{shop_header, CSS, DECLINED_MARK, PAID_MARK, PENDING_MARK};
use super::html::{escape, html, page};
use crate::server::Simulator;
use crate::world::checkout_options::brand_name;
use crate::world::money::pesos;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::Value;

pub async fn show(request: HttpRequest, simulator: web::Data<Simulator>) -> HttpResponse {
    let order_id = url::form_urlencoded::parse(request.query_string().as_bytes())
        .find(|(name, _)| name == "order_id")
        .map(|(_, value)| value.trim().to_owned())
        .unwrap_or_default();
    let order = simulator.world().orders.get(&order_id).cloned();
    match order {
        Some(order) => html(
            StatusCode::OK,
            render(&order, &simulator.shop_name, &simulator.url),
        ),
        None => html(
            StatusCode::NOT_FOUND,
            unknown(&order_id, &simulator.shop_name),
        ),
    }
}

/// What the buyer is told, from the order's payment status.
struct Verdict {
    title: &'static str,
    mark: &'static str,
    detail: String,
}

fn verdict(order: &Value) -> Verdict {
    let last = last_charge(order);
    match order["payment_status"].as_str().unwrap_or("") {
        "paid" | "partially_refunded" | "refunded" => Verdict {
            title: "Pago recibido",
            mark: PAID_MARK,
            detail: "Tu pago quedó registrado. El comercio ya recibió el aviso.".to_owned(),
        },
        "pre_authorized" => Verdict {
            title: "Pago recibido",
            mark: PAID_MARK,
            detail: "Tu tarjeta quedó autorizada; el comercio hará el cargo al confirmar tu pedido."
                .to_owned(),
        },
        "declined" => Verdict {
            title: "Pago rechazado",
            mark: DECLINED_MARK,
            detail: format!(
                "No se hizo ningún cargo.{} Puedes intentar de nuevo con otra tarjeta u otro método.",
                last.and_then(|c| c["failure_message"].as_str())
                    .map(|why| format!(" Motivo: {}.", escape(why.trim_end_matches('.'))))
                    .unwrap_or_default()
            ),
        },
        "canceled" | "expired" => Verdict {
            title: "Pago no completado",
            mark: DECLINED_MARK,
            detail: "Esta orden ya no se puede pagar.".to_owned(),
        },
        _ => Verdict {
            title: "Pago pendiente",
            mark: PENDING_MARK,
            detail: "Aún no recibimos tu pago. Si pagaste en efectivo o por transferencia, \
puede tardar unos minutos."
                .to_owned(),
        },
    }
}

/// The order's latest charge: the attempt the buyer just made.
fn last_charge(order: &Value) -> Option<&Value> {
    order["charges"]["data"]
        .as_array()
        .and_then(|charges| charges.iter().max_by_key(|c| c["created_at"].as_i64()))
}

/// How the buyer paid, as they would say it.
fn method(charge: Option<&Value>) -> String {
    let Some(method) = charge.map(|c| &c["payment_method"]) else {
        return "—".to_owned();
    };
    match method["object"].as_str().unwrap_or("") {
        "card_payment" => format!(
            "Tarjeta {} terminada en {}",
            escape(brand_name(method["brand"].as_str().unwrap_or(""))),
            escape(method["last4"].as_str().unwrap_or(""))
        ),
        "cash_payment" => format!(
            "Efectivo (referencia {})",
            escape(method["reference"].as_str().unwrap_or(""))
        ),
        "bank_transfer_payment" => format!(
            "Transferencia SPEI (CLABE {})",
            escape(method["clabe"].as_str().unwrap_or(""))
        ),
        other => escape(other),
    }
}

fn render(order: &Value, shop: &str, simulator_url: &str) -> String {
    let verdict = verdict(order);
    let id = order["id"].as_str().unwrap_or("");
    let status = order["payment_status"].as_str().unwrap_or("");
    let retry = match (status, order["checkout"]["url"].as_str()) {
        ("declined", Some(url)) => format!(
            "<a class=\"primary\" id=\"retry\" href=\"{}\">Intentar de nuevo</a>",
            escape(url)
        ),
        _ => String::new(),
    };
    let body = format!(
        "{CSS}{header}<section class=\"summary\">\
<div class=\"verdict\">{mark}<h2 id=\"verdict\" data-status=\"{status}\">{title}</h2></div>\
<p id=\"detail\">{detail}</p>\
<dl class=\"facts\"><dt>Monto</dt><dd id=\"amount\">{amount} {currency}</dd>\
<dt>Orden</dt><dd class=\"mono\" id=\"order-id\">{id}</dd>\
<dt>Método</dt><dd id=\"method\">{method}</dd></dl>\
<div class=\"links\">{retry}<a id=\"back\" href=\"{home}/\">Volver al inicio</a>\
<a href=\"{home}/pedido/{id}\">Ver la orden en el simulador</a></div></section>",
        header = shop_header(shop, "Resultado del pago · modo de prueba"),
        mark = verdict.mark,
        title = verdict.title,
        detail = verdict.detail,
        amount = pesos(order["amount"].as_i64().unwrap_or(0)),
        currency = escape(order["currency"].as_str().unwrap_or("MXN")),
        id = escape(id),
        status = escape(status),
        method = method(last_charge(order)),
        home = escape(simulator_url),
    );
    page(&format!("{} · {shop}", verdict.title), &body)
}

/// An `order_id` the simulator does not hold (a typo, or a restart: everything is in memory).
fn unknown(order_id: &str, shop: &str) -> String {
    let which = if order_id.is_empty() {
        "Este enlace no dice de qué orden se trata (falta <code>order_id</code>).".to_owned()
    } else {
        format!(
            "No encontramos la orden <code>{}</code> en el sandbox. El sandbox guarda todo en \
memoria: si se reinició, la orden ya no existe.",
            escape(order_id)
        )
    };
    let body = format!(
        "{CSS}{header}<section class=\"summary\"><h2 id=\"verdict\">Orden no encontrada</h2>\
<p>{which}</p><div class=\"links\"><a class=\"primary\" href=\"/\">Volver al inicio</a></div></section>",
        header = shop_header(shop, "Resultado del pago · modo de prueba"),
    );
    page("Orden no encontrada", &body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn order(status: &str, charge: Value) -> Value {
        json!({"id": "ord_1", "amount": 100000, "currency": "MXN", "payment_status": status,
               "checkout": {"url": "http://sim/checkout/abc"},
               "charges": {"data": [charge]}})
    }

    #[test]
    fn says_how_the_buyer_paid() {
        let card = json!({"created_at": 1, "payment_method":
            {"object": "card_payment", "brand": "american_express", "last4": "0005"}});
        assert_eq!(
            method(Some(&card)),
            "Tarjeta American Express terminada en 0005"
        );
        let cash = json!({"payment_method": {"object": "cash_payment", "reference": "93001"}});
        assert_eq!(method(Some(&cash)), "Efectivo (referencia 93001)");
        assert_eq!(method(None), "—");
    }

    #[test]
    fn a_declined_order_offers_to_retry_and_says_why() {
        let declined = order(
            "declined",
            json!({"created_at": 1, "failure_message": "Tarjeta declinada.",
                   "payment_method": {"object": "card_payment", "brand": "visa", "last4": "0002"}}),
        );
        let page = render(&declined, "Tienda", "http://sim");
        assert!(page.contains(">Pago rechazado</h2>"), "{page}");
        assert!(page.contains("Motivo: Tarjeta declinada."));
        assert!(page.contains("href=\"http://sim/checkout/abc\">Intentar de nuevo"));
        let paid = render(&order("paid", json!({})), "Tienda", "http://sim");
        assert!(paid.contains(">Pago recibido</h2>") && !paid.contains("Intentar de nuevo"));
    }
}
