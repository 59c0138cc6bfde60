//! A shop cashier scanning a reference: for a recurrent reference (`cash_recurrent` /
//! `oxxo_recurrent`) it asks the bridge `inbound_payment.lookup` then
//! `inbound_payment.payment_attempt` and honours the answers (anything without
//! `"payable": true` is a decline); on approval it sends `charge.paid`. A one-off cash reference
//! or CLABE of a pending order charge is simply paid. Also Conekta's `POST /payment_test`.

use super::api::{json_object, ok, order_status_event};
use super::errors::{ConektaError, Detail};
use super::html::{escape, html, page, pesos};
use super::state::{now, object_id};
use super::validation::authorize;
use super::webhooks::{self, event, question, send_in_order, BridgeAnswer};
use super::{orders, Simulator};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::{json, Value};
use std::str::FromStr;

pub fn routes(config: &mut web::ServiceConfig) {
    config
        .route("/cajero", web::get().to(show))
        .route("/cajero", web::post().to(scan_form))
        .route("/payment_test", web::post().to(payment_test));
}

/// What the cashier saw: each question and the bridge's answer, and the outcome.
#[derive(Debug)]
pub struct Scan {
    pub approved: bool,
    pub message: String,
    pub failure_code: Option<String>,
    pub questions: Vec<(String, BridgeAnswer)>,
    pub charge: Option<Value>,
}

impl Scan {
    fn declined(
        message: impl Into<String>,
        code: Option<&str>,
        questions: Vec<(String, BridgeAnswer)>,
    ) -> Self {
        Self {
            approved: false,
            message: message.into(),
            failure_code: code.map(str::to_owned),
            questions,
            charge: None,
        }
    }

    pub fn to_json(&self) -> Value {
        json!({
            "object": "payment_test",
            "livemode": false,
            "approved": self.approved,
            "message": self.message,
            "failure_code": self.failure_code,
            "questions": self.questions.iter().map(|(kind, a)| json!({
                "type": kind, "status": a.status, "answer": a.body, "error": a.error
            })).collect::<Vec<_>>(),
            "charge": self.charge,
        })
    }
}

/// Scans `reference` for `amount` centavos. `lookup_only` stops after the first question.
pub async fn scan(
    simulator: &web::Data<Simulator>,
    reference: &str,
    amount: i64,
    lookup_only: bool,
) -> Scan {
    let reference = reference.trim();
    let owner = simulator.world().references.get(reference).cloned();
    let Some(owner) = owner else {
        return pay_order_charge(simulator, reference, amount);
    };
    let source = {
        let world = simulator.world();
        world.customers.get(&owner.customer_id).and_then(|c| {
            c["payment_sources"]["data"]
                .as_array()
                .and_then(|list| list.iter().find(|s| s["id"] == owner.source_id.as_str()))
                .cloned()
        })
    };
    let Some(source) = source else {
        return Scan::declined("La referencia no existe.", Some("01"), vec![]);
    };
    let expires_at = source["expires_at"].as_i64().unwrap_or(0);
    if expires_at != 0 && expires_at < now() {
        return Scan::declined("La referencia expiró.", Some("03"), vec![]);
    }
    let charge_id = object_id();
    let inbound = |amount: i64, created_at: i64| {
        json!({
            "payment_method": {
                "service_name": "Cash", "barcode_url": source["barcode_url"],
                "object": "cash_payment", "type": "cash",
                "expires_at": expires_at, "reference": reference
            },
            "charge_id": charge_id, "livemode": false, "created_at": created_at,
            "object": "inbound_payment", "amount": amount, "currency": "MXN",
            "customer_id": owner.customer_id
        })
    };
    let mut questions = Vec::new();
    let lookup = question("inbound_payment.lookup", &inbound(0, 0));
    let answer = webhooks::post(simulator, &lookup, webhooks::QUESTION_BUDGET).await;
    questions.push(("inbound_payment.lookup".to_owned(), answer.clone()));
    if let Some(refusal) = refused(&answer) {
        return Scan::declined(refusal.0, refusal.1.as_deref(), questions);
    }
    let min = answer.body["min_amount"].as_i64();
    let max = answer.body["max_amount"].as_i64();
    if lookup_only {
        let mut scan = Scan::declined("Consulta aprobada (sólo consulta).", None, questions);
        scan.approved = true;
        return scan;
    }
    if min.is_some_and(|min| amount < min) || max.is_some_and(|max| amount > max) {
        return Scan::declined(
            format!(
                "El monto {} está fuera del rango permitido ({} a {}).",
                pesos(amount),
                min.map(pesos).unwrap_or_else(|| "-".into()),
                max.map(pesos).unwrap_or_else(|| "-".into())
            ),
            Some("35"),
            questions,
        );
    }
    let attempt = question("inbound_payment.payment_attempt", &inbound(amount, now()));
    let answer = webhooks::post(simulator, &attempt, webhooks::QUESTION_BUDGET).await;
    questions.push(("inbound_payment.payment_attempt".to_owned(), answer.clone()));
    if let Some(refusal) = refused(&answer) {
        return Scan::declined(refusal.0, refusal.1.as_deref(), questions);
    }
    let now = now();
    let mut charge = json!({
        "id": charge_id, "livemode": false, "created_at": now, "currency": "MXN",
        "description": null, "reference_id": null, "failure_code": null, "failure_message": null,
        "monthly_installments": null, "device_fingerprint": null,
        "refunds": [],
        "payment_method": {
            "barcode": reference, "reference": reference, "barcode_url": source["barcode_url"],
            "object": "cash_payment", "type": "cash", "expires_at": expires_at,
            "store_name": source["provider"]
        },
        "details": {"name": null, "phone": null, "email": null, "line_items": [], "coupons": [], "object": "details"},
        "object": "charge", "status": "paid", "amount": amount, "paid_at": now,
        "fee": amount * 29 / 1000, "customer_id": owner.customer_id, "subscription_id": "",
        "amount_refunded": null
    });
    charge["payment_source_id"] = json!(owner.source_id);
    simulator.world().loose_charges.push(charge.clone());
    let bridge = simulator.bridge_webhook_url().unwrap_or_default();
    send_in_order(
        simulator.clone(),
        vec![event("charge.paid", &charge, &bridge)],
    );
    tracing::info!(amount, "sandbox: recurrent reference paid at the cashier");
    Scan {
        approved: true,
        message: format!("Pago de {} aprobado.", pesos(amount)),
        failure_code: None,
        questions,
        charge: Some(charge),
    }
}

/// Why an answer is a decline: anything but a 2xx with `"payable": true`.
fn refused(answer: &BridgeAnswer) -> Option<(String, Option<String>)> {
    let ok = answer.status.is_some_and(|s| (200..300).contains(&s));
    if ok && answer.body["payable"] == json!(true) {
        return None;
    }
    let code = answer.body["failure_code"].as_str().map(str::to_owned);
    let why = match (&answer.error, answer.status) {
        (Some(error), _) => format!("El comercio no respondió: {error}."),
        (None, Some(status)) if !ok => format!("El comercio respondió {status}."),
        _ => format!(
            "El comercio no aprobó el pago (payable: {}{}).",
            answer
                .body
                .get("payable")
                .map(|v| v.to_string())
                .unwrap_or_else(|| "ausente".into()),
            code.as_deref()
                .map(|c| format!(", failure_code {c}"))
                .unwrap_or_default()
        ),
    };
    Some((why, code))
}

/// A pending cash or SPEI charge of an order, found by its reference or CLABE, paid in full.
fn pay_order_charge(simulator: &web::Data<Simulator>, reference: &str, amount: i64) -> Scan {
    let bridge = simulator.bridge_webhook_url().unwrap_or_default();
    let now = now();
    let (charge, order) = {
        let mut world = simulator.world();
        let found = world.orders.values_mut().find_map(|order| {
            let index = order["charges"]["data"].as_array()?.iter().position(|c| {
                c["status"] == "pending_payment"
                    && (c["payment_method"]["reference"] == reference
                        || c["payment_method"]["clabe"] == reference)
            })?;
            Some((order, index))
        });
        let Some((order, index)) = found else {
            return Scan::declined("La referencia no existe en el sandbox.", Some("01"), vec![]);
        };
        let charge = &mut order["charges"]["data"][index];
        if charge["amount"].as_i64() != Some(amount) {
            let expected = charge["amount"].as_i64().unwrap_or(0);
            return Scan::declined(
                format!("El monto debe ser exactamente {}.", pesos(expected)),
                Some("16"),
                vec![],
            );
        }
        charge["status"] = json!("paid");
        charge["paid_at"] = json!(now);
        let charge = charge.clone();
        orders::settle(order, now);
        (charge, order.clone())
    };
    let mut events = vec![event("charge.paid", &charge, &bridge)];
    events.extend(order_status_event(&order, &bridge));
    send_in_order(simulator.clone(), events);
    Scan {
        approved: true,
        message: format!("Pago de {} aprobado.", pesos(amount)),
        failure_code: None,
        questions: vec![],
        charge: Some(charge),
    }
}

/// Pesos as typed by a cashier (`150`, `150.50`) to centavos.
pub fn centavos(text: &str) -> Option<i64> {
    let pesos = Decimal::from_str(text.trim().replace(',', "").as_str()).ok()?;
    if pesos <= Decimal::ZERO || pesos.scale() > 2 {
        return None;
    }
    i64::try_from(pesos * Decimal::ONE_HUNDRED).ok()
}

async fn show(simulator: web::Data<Simulator>) -> HttpResponse {
    html(
        StatusCode::OK,
        page("Cajero", &cashier_body(&simulator, None)),
    )
}

#[derive(Deserialize)]
pub struct ScanForm {
    #[serde(default)]
    reference: String,
    #[serde(default)]
    amount: String,
}

async fn scan_form(form: web::Form<ScanForm>, simulator: web::Data<Simulator>) -> HttpResponse {
    let Some(amount) = centavos(&form.amount) else {
        let notice =
            "<p class=\"error\" id=\"result\">Escriba un monto en pesos, p. ej. 150.00.</p>"
                .to_owned();
        return html(
            StatusCode::UNPROCESSABLE_ENTITY,
            page("Cajero", &cashier_body(&simulator, Some(notice))),
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
        page("Cajero", &cashier_body(&simulator, Some(notice))),
    )
}

fn cashier_body(simulator: &Simulator, notice: Option<String>) -> String {
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
        "<h1>Cajero (simulación de pago en tienda)</h1>\
<p>Como un cajero que escanea una referencia: para referencias recurrentes se consulta al comercio \
(<code>inbound_payment.lookup</code> y <code>inbound_payment.payment_attempt</code>) y sólo una respuesta con \
<code>\"payable\": true</code> aprueba el pago.</p>{}\
<form method=\"post\" action=\"/cajero\">\
<label>Referencia o CLABE <input name=\"reference\" id=\"reference\" required></label>\
<label>Monto en pesos <input name=\"amount\" id=\"amount\" required placeholder=\"150.00\"></label>\
<button type=\"submit\" id=\"pay\">simular pago en tienda</button></form>\
<h2>Referencias conocidas</h2><ul>{known}</ul>",
        notice.unwrap_or_default()
    )
}

/// Conekta's `POST /payment_test {event_type, reference, amount}` for the cash flows.
async fn payment_test(
    request: HttpRequest,
    body: web::Bytes,
    simulator: web::Data<Simulator>,
) -> HttpResponse {
    let test = match authorize(&request).and_then(|()| json_object(&body)) {
        Ok(value) => value,
        Err(error) => return error.response(),
    };
    let event_type = test["event_type"].as_str().unwrap_or("");
    let reference = test["reference"].as_str().unwrap_or("");
    let mut details = Vec::new();
    if !matches!(
        event_type,
        "inbound_payment.lookup" | "inbound_payment.payment_attempt"
    ) {
        details.push(Detail::invalid(
            "event_type",
            "invalid",
            "event_type must be inbound_payment.lookup or inbound_payment.payment_attempt.",
        ));
    }
    if reference.is_empty() {
        details.push(Detail::invalid(
            "reference",
            "missing",
            "The reference is required.",
        ));
    }
    let amount = match &test["amount"] {
        Value::String(text) => text.trim().parse::<i64>().ok(),
        other => other.as_i64(),
    };
    if event_type == "inbound_payment.payment_attempt" && amount.is_none_or(|a| a <= 0) {
        details.push(Detail::invalid(
            "amount",
            "missing",
            "The amount (centavos) is required.",
        ));
    }
    if !details.is_empty() {
        return ConektaError::validation(details).response();
    }
    let scan = scan(
        &simulator,
        reference,
        amount.unwrap_or(0),
        event_type == "inbound_payment.lookup",
    )
    .await;
    ok(&scan.to_json())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_pesos_exactly() {
        assert_eq!(centavos("150"), Some(15000));
        assert_eq!(centavos("1,000.5"), Some(100050));
        assert_eq!(centavos("0.1"), Some(10));
        assert_eq!(centavos("1.005"), None);
        assert_eq!(centavos("-3"), None);
    }
}
