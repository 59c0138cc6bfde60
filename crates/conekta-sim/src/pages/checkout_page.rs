//! The hosted checkout page, in Spanish like Conekta's: the order's amount and items, and one
//! plain HTML form per allowed payment method. Card numbers are posted to the simulator only.

use super::html::{escape, page};
use crate::world::cards::TEST_CARDS;
use crate::world::checkout_options::{brand_name, excluded_brands, installment_options};
use crate::world::money::pesos;
use crate::world::orders::{cash_reference, clabe};
use crate::world::state::now;
use serde_json::Value;

/// The page for an order's checkout; `notice` is shown above the forms (e.g. a bad card).
pub fn render(order: &Value, notice: Option<&str>) -> String {
    let checkout = &order["checkout"];
    let slug = checkout["slug"].as_str().unwrap_or("");
    let amount = order["amount"].as_i64().unwrap_or(0);
    let currency = order["currency"].as_str().unwrap_or("MXN");
    let status = order["payment_status"]
        .as_str()
        .unwrap_or("pending_payment");
    let items: String = order["line_items"]["data"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|item| {
            let unit = item["unit_price"].as_i64().unwrap_or(0);
            let quantity = item["quantity"].as_i64().unwrap_or(0);
            format!(
                "<tr><td>{}</td><td>{quantity}</td><td>{}</td><td>{}</td></tr>",
                escape(item["name"].as_str().unwrap_or("")),
                pesos(unit),
                pesos(unit.saturating_mul(quantity))
            )
        })
        .collect();
    let mut body = format!(
        "<h1>Pagar orden <small>{order_id}</small></h1>\
<p>Comercio en modo de prueba · {name}</p>\
<p class=\"total\" id=\"total\">Total a pagar: {total} {currency}</p>\
<table><tr><th>Producto</th><th>Cantidad</th><th>Precio unitario</th><th>Importe</th></tr>{items}</table>",
        order_id = escape(order["id"].as_str().unwrap_or("")),
        name = escape(order["customer_info"]["name"].as_str().unwrap_or("")),
        total = pesos(amount),
        currency = escape(currency),
    );
    if let Some(notice) = notice {
        body.push_str(&format!(
            "<p class=\"error\" id=\"notice\">{}</p>",
            escape(notice)
        ));
    }
    let closed = match status {
        "paid" | "partially_refunded" | "refunded" => Some("Esta orden ya fue pagada."),
        "pre_authorized" => {
            Some("El pago con tarjeta quedó autorizado; el comercio lo cobrará al confirmar.")
        }
        "canceled" => Some("Esta orden fue cancelada."),
        "expired" => Some("Este enlace de pago expiró."),
        _ if checkout["expires_at"].as_i64().unwrap_or(i64::MAX) < now() => {
            Some("Este enlace de pago expiró.")
        }
        _ => None,
    };
    if let Some(message) = closed {
        body.push_str(&format!("<p class=\"ok\" id=\"status\">{message}</p>"));
        return page("Checkout", &body);
    }
    if status == "declined" {
        body.push_str(
            "<p class=\"error\" id=\"status\">El último intento de pago fue declinado. Puede intentar de nuevo.</p>",
        );
    }
    let methods: Vec<&str> = checkout["allowed_payment_methods"]
        .as_array()
        .map(|m| m.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    body.push_str("<h2>Elija cómo pagar</h2>");
    for method in methods {
        match method {
            "card" => body.push_str(&card_form(slug, checkout)),
            "cash" => body.push_str(&format!(
                "<fieldset id=\"cash\"><legend>Efectivo</legend>\
<p>Presente esta referencia en la tienda y pague {total} {currency}:</p>\
<p class=\"ref\" id=\"cash-reference\">{reference}</p>\
<img alt=\"código de barras\" src=\"/barcode/{reference}\">\
<form method=\"post\" action=\"/checkout/{slug}/cash\"><button type=\"submit\" id=\"pay-cash\">simular pago en tienda</button></form>\
</fieldset>",
                total = pesos(amount),
                currency = escape(currency),
                reference = cash_reference(slug),
                slug = escape(slug),
            )),
            "bank_transfer" => body.push_str(&format!(
                "<fieldset id=\"bank_transfer\"><legend>Transferencia SPEI</legend>\
<p>Transfiera {total} {currency} a esta CLABE (banco STP):</p>\
<p class=\"ref\" id=\"clabe\">{clabe}</p>\
<form method=\"post\" action=\"/checkout/{slug}/transfer\"><button type=\"submit\" id=\"pay-transfer\">simular transferencia</button></form>\
</fieldset>",
                total = pesos(amount),
                currency = escape(currency),
                clabe = clabe(slug),
                slug = escape(slug),
            )),
            other => body.push_str(&format!(
                "<fieldset><legend>{}</legend><p><small>Este método no se simula en el sandbox.</small></p></fieldset>",
                escape(other)
            )),
        }
    }
    page("Checkout", &body)
}

/// The card form: the networks the checkout takes, its months without interest, and the test
/// cards that fit.
fn card_form(slug: &str, checkout: &Value) -> String {
    let refused = excluded_brands(checkout);
    let accepted: Vec<&str> = ["visa", "mastercard", "american_express"]
        .into_iter()
        .filter(|brand| !refused.contains(brand))
        .collect();
    if accepted.is_empty() {
        return "<fieldset id=\"card\"><legend>Tarjeta de crédito o débito</legend>\
<p>Este comercio no acepta tarjetas.</p></fieldset>"
            .to_owned();
    }
    let cards: String = TEST_CARDS
        .iter()
        .filter(|(_, brand, _)| accepted.contains(brand))
        .map(|(number, brand, outcome)| {
            format!("<li><code>{number}</code> ({brand}): {outcome}</li>")
        })
        .collect();
    let networks = accepted
        .iter()
        .map(|brand| brand_name(brand))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "<fieldset id=\"card\"><legend>Tarjeta de crédito o débito</legend>\
<p id=\"card-networks\">Se aceptan: {networks}.</p>\
<form method=\"post\" action=\"/checkout/{slug}/card\" autocomplete=\"off\">\
<label>Nombre del titular <input name=\"name\" id=\"card-name\" required maxlength=\"100\"></label>\
<label>Número de tarjeta <input name=\"number\" id=\"card-number\" required inputmode=\"numeric\" maxlength=\"23\" placeholder=\"4242 4242 4242 4242\"></label>\
<label>Vencimiento (MM/AA) <input name=\"expiry\" id=\"card-expiry\" required maxlength=\"7\" placeholder=\"12/30\"></label>\
<label>CVC <input name=\"cvc\" id=\"card-cvc\" required inputmode=\"numeric\" maxlength=\"4\" placeholder=\"123\"></label>\
{installments}<button type=\"submit\" id=\"pay-card\">Pagar</button></form>\
<p><small>Tarjetas de prueba:</small></p><ul><small>{cards}</small></ul></fieldset>",
        slug = escape(slug),
        installments = installments_choice(checkout),
    )
}

/// A choice of months without interest, when the checkout offers them.
fn installments_choice(checkout: &Value) -> String {
    let options = installment_options(checkout);
    if options.is_empty() {
        return String::new();
    }
    let choices: String = options
        .iter()
        .map(|months| format!("<option value=\"{months}\">{months} meses sin intereses</option>"))
        .collect();
    format!(
        "<label>Plazo <select name=\"monthly_installments\" id=\"card-installments\">\
<option value=\"\">Una sola exhibición</option>{choices}</select></label>"
    )
}
