//! A shop cashier scanning a reference: for a recurrent reference (`cash_recurrent` /
//! `oxxo_recurrent`) it asks the bridge `inbound_payment.lookup` then
//! `inbound_payment.payment_attempt` and honours the answers (anything without
//! `"payable": true` is a decline); on approval it sends `charge.paid`. A one-off cash reference
//! or CLABE of a pending order charge is simply paid. The cashier page and Conekta's
//! `POST /payment_test` both scan through here.

use crate::server::Simulator;
use crate::webhooks::{self, event, order_status_event, question, send_in_order, BridgeAnswer};
use crate::world::money::pesos;
use crate::world::orders;
use crate::world::state::{now, object_id};
use actix_web::web;
use serde_json::{json, Value};

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
    let bridge = simulator.webhook_url().unwrap_or_default();
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
    let bridge = simulator.webhook_url().unwrap_or_default();
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
