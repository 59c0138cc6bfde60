//! The cashier page: type a reference (or CLABE) and an amount in pesos, see what the bridge
//! answered to Conekta's questions and whether the payment went through. What was typed stays
//! in the form, so the next try changes one field instead of retyping both.

use super::checkout_style::CSS;
use super::html::{escape, html, page};
use crate::cashier::scan;
use crate::server::Simulator;
use crate::world::money::{centavos, pesos};
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde::Deserialize;

pub async fn show(simulator: web::Data<Simulator>) -> HttpResponse {
    html(
        StatusCode::OK,
        page(
            "Cajero",
            &cashier_body(&simulator, None, &ScanForm::default()),
        ),
    )
}

#[derive(Deserialize, Default)]
pub struct ScanForm {
    #[serde(default)]
    reference: String,
    #[serde(default)]
    amount: String,
}

pub async fn scan_form(form: web::Form<ScanForm>, simulator: web::Data<Simulator>) -> HttpResponse {
    let Some(amount) = centavos(&form.amount) else {
        let notice =
            "<p class=\"error\" id=\"result\">Escriba un monto en pesos, p. ej. 150.00.</p>"
                .to_owned();
        return html(
            StatusCode::UNPROCESSABLE_ENTITY,
            page("Cajero", &cashier_body(&simulator, Some(notice), &form)),
        );
    };
    let scan = scan(&simulator, &form.reference, amount, false).await;
    let class = if scan.approved { "ok" } else { "error" };
    let mut notice = format!(
        "<p class=\"{class}\" id=\"result\">{} {}</p>",
        if scan.approved {
            "APROBADO:"
        } else {
            "DECLINADO:"
        },
        escape(&scan.message)
    );
    for (kind, answer) in &scan.questions {
        notice.push_str(&format!(
            "<p><small>{} → {}</small></p><pre>{}</pre>",
            escape(kind),
            answer
                .status
                .map(|s| s.to_string())
                .unwrap_or_else(|| "sin respuesta".into()),
            escape(
                &answer
                    .error
                    .clone()
                    .unwrap_or_else(|| answer.body.to_string())
            )
        ));
    }
    let status = if scan.approved {
        StatusCode::OK
    } else {
        StatusCode::PAYMENT_REQUIRED
    };
    html(
        status,
        page("Cajero", &cashier_body(&simulator, Some(notice), &form)),
    )
}

/// The page's body; `typed` fills the form again.
fn cashier_body(simulator: &Simulator, notice: Option<String>, typed: &ScanForm) -> String {
    let known: String = {
        let world = simulator.world();
        let mut rows: Vec<String> = world
            .references
            .iter()
            .map(|(reference, owner)| {
                format!(
                    "<li><code>{}</code> (referencia recurrente de {})</li>",
                    escape(reference),
                    escape(&owner.customer_id)
                )
            })
            .collect();
        for order in world.orders.values() {
            for charge in order["charges"]["data"].as_array().into_iter().flatten() {
                if charge["status"] != "pending_payment" {
                    continue;
                }
                let method = &charge["payment_method"];
                let number = method["reference"].as_str().or(method["clabe"].as_str());
                if let Some(number) = number {
                    rows.push(format!(
                        "<li><code>{}</code> ({} de la orden {}, {})</li>",
                        escape(number),
                        if method["type"] == "spei" {
                            "CLABE"
                        } else {
                            "referencia"
                        },
                        escape(order["id"].as_str().unwrap_or("")),
                        pesos(charge["amount"].as_i64().unwrap_or(0))
                    ));
                }
            }
        }
        rows.sort();
        rows.concat()
    };
    format!(
        "{CSS}<div class=\"cashier\"><h1>Cajero (simulación de pago en tienda)</h1>\
<p>Como un cajero que escanea una referencia: para referencias recurrentes se consulta al comercio \
(<code>inbound_payment.lookup</code> y <code>inbound_payment.payment_attempt</code>) y sólo una respuesta con \
<code>\"payable\": true</code> aprueba el pago.</p>{}\
<form method=\"post\" action=\"/cajero\">\
<label>Referencia o CLABE <input name=\"reference\" id=\"reference\" required inputmode=\"numeric\" value=\"{reference}\"></label>\
<label>Monto en pesos <input name=\"amount\" id=\"amount\" required inputmode=\"decimal\" placeholder=\"150.00\" value=\"{amount}\"></label>\
<button type=\"submit\" id=\"pay\">simular pago en tienda</button></form>\
<h2>Referencias conocidas</h2><ul>{known}</ul></div>",
        notice.unwrap_or_default(),
        reference = escape(typed.reference.trim()),
        amount = escape(typed.amount.trim()),
    )
}
