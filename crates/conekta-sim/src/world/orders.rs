//! Orders and charges in Conekta's shapes (seed 004's answer, the spec, the mock data), and how
//! paying, declining, cancelling and refunding change them.

use crate::world::checkout_options::{excluded_networks_answer, offered_methods};
use crate::world::state::{conekta_id, digits, object_id, slug};
use serde_json::{json, Value};

/// How long a checkout stays open when the request gives no `expires_at` (Conekta: 3 days).
const DEFAULT_CHECKOUT_S: i64 = 3 * 24 * 3_600;

/// A new order from a validated `order_request`; a `checkout` gets a page on the simulator.
pub fn new_order(request: &Value, total: i64, simulator_url: &str, now: i64) -> Value {
    let id = conekta_id("ord");
    let customer_id = request["customer_info"]["customer_id"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| conekta_id("cus"));
    let items: Vec<Value> = request["line_items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|mut item| {
            item["object"] = json!("line_item");
            item["id"] = json!(conekta_id("line_item"));
            item["parent_id"] = json!(id);
            if item["metadata"].is_null() {
                item["metadata"] = json!({});
            }
            item["antifraud_info"] = json!({});
            item
        })
        .collect();
    let info = &request["customer_info"];
    let mut order = json!({
        "livemode": false,
        "amount": total,
        "currency": request["currency"].as_str().unwrap_or("MXN").to_ascii_uppercase(),
        "amount_refunded": 0,
        "customer_info": {
            "email": info["email"], "name": info["name"], "phone": info["phone"],
            "corporate": info["corporate"].as_bool().unwrap_or(false),
            "customer_id": customer_id, "object": "customer_info"
        },
        "object": "order",
        "id": id,
        "metadata": request["metadata"].as_object().cloned().unwrap_or_default(),
        "is_refundable": false,
        "created_at": now,
        "updated_at": now,
        "line_items": {"object": "list", "has_more": false, "total": items.len(), "data": items},
        "payment_status": null
    });
    let checkout = &request["checkout"];
    if checkout.is_object() {
        let slug = slug();
        let checkout_id = format!(
            "{}-{}-{}-{}-{}",
            &slug[..8],
            &slug[8..12],
            &slug[12..16],
            &slug[16..20],
            &slug[20..]
        );
        order["channel"] = json!({
            "segment": "Checkout", "checkout_request_id": checkout_id,
            "checkout_request_type": checkout["type"], "id": conekta_id("channel")
        });
        order["checkout"] = json!({
            "id": checkout_id,
            "name": checkout["name"].as_str().map(str::to_owned).unwrap_or_else(|| format!("ord-{}", &id[4..])),
            "livemode": false,
            "emails_sent": 0,
            "success_url": checkout["success_url"],
            "failure_url": checkout["failure_url"],
            "paid_payments_count": 0,
            "sms_sent": 0,
            "status": "Issued",
            "type": checkout["type"],
            "recurrent": false,
            "starts_at": now,
            "expires_at": checkout["expires_at"].as_i64().unwrap_or(now + DEFAULT_CHECKOUT_S),
            "allowed_payment_methods": offered_methods(checkout),
            "exclude_card_networks": excluded_networks_answer(checkout),
            "needs_shipping_contact": false,
            "monthly_installments_options": checkout["monthly_installments_options"].as_array().cloned().unwrap_or_default(),
            "monthly_installments_enabled": checkout["monthly_installments_enabled"].as_bool().unwrap_or(false),
            "is_redirect_on_failure": true,
            "redirection_time": checkout["redirection_time"].as_i64().unwrap_or(4),
            "force_3ds_flow": request["three_ds_mode"] == "strict",
            "metadata": {},
            "can_not_expire": false,
            "object": "checkout",
            "slug": slug,
            "url": format!("{simulator_url}/checkout/{slug}")
        });
        // Echoed only when asked for, as Conekta's answers do.
        for (field, value) in [
            (
                "excluded_payment_methods",
                &checkout["excluded_payment_methods"],
            ),
            ("three_ds_mode", &request["three_ds_mode"]),
        ] {
            if !value.is_null() {
                order["checkout"][field] = value.clone();
            }
        }
        order["payment_status"] = json!("pending_payment");
    }
    order
}

/// A charge of `amount` on `order` with this payment method, in the given status.
pub fn charge(order: &Value, amount: i64, payment_method: Value, status: &str, now: i64) -> Value {
    json!({
        "id": object_id(),
        "livemode": false,
        "created_at": now,
        "currency": order["currency"],
        "description": "Payment from order",
        "reference_id": null,
        "failure_code": null,
        "failure_message": null,
        "monthly_installments": null,
        "device_fingerprint": null,
        "object": "charge",
        "amount": amount,
        "paid_at": if status == "paid" { json!(now) } else { Value::Null },
        "fee": fee(amount),
        "customer_id": order["customer_info"]["customer_id"],
        "order_id": order["id"],
        "status": status,
        "payment_method": payment_method,
        "refunds": {"object": "list", "has_more": false, "total": 0, "data": []}
    })
}

/// An approved card's charge status and event: paid, or held until captured.
pub fn card_approval(pre_authorize: bool) -> (&'static str, &'static str) {
    if pre_authorize {
        ("pre_authorized", "charge.preauthorized")
    } else {
        ("paid", "charge.paid")
    }
}

/// Conekta's card fee, roughly (2.9 %, at least a centavo on anything charged).
fn fee(amount: i64) -> i64 {
    (amount * 29 / 1000).max(if amount > 0 { 1 } else { 0 })
}

pub fn card_method(brand: &str, last4: &str, name: &str, exp_month: &str, exp_year: &str) -> Value {
    json!({
        "name": name, "exp_month": exp_month, "exp_year": exp_year,
        "auth_code": digits("", 6), "object": "card_payment", "type": "credit",
        "last4": last4, "brand": brand, "issuer": "BANCO SANDBOX",
        "account_type": "Credit", "country": "MX", "fraud_indicators": []
    })
}

/// A cash reference for a checkout (14 digits, like Conekta's "Efectivo" references).
pub fn cash_reference(slug: &str) -> String {
    let from_slug: String = slug.bytes().map(|b| char::from(b'0' + b % 10)).collect();
    format!("9300{}", &from_slug[..10])
}

/// A CLABE for a checkout (18 digits, STP's 646 prefix, as Conekta's SPEI references).
pub fn clabe(slug: &str) -> String {
    let from_slug: String = slug
        .bytes()
        .rev()
        .map(|b| char::from(b'0' + b % 10))
        .collect();
    format!("646180{}", &from_slug[..12])
}

pub fn cash_method(reference: &str, expires_at: i64, simulator_url: &str) -> Value {
    json!({
        "service_name": "Cash", "barcode_url": format!("{simulator_url}/barcode/{reference}.png"),
        "object": "cash_payment", "type": "cash", "expires_at": expires_at,
        "reference": reference, "barcode": reference, "store_name": "Conekta Efectivo"
    })
}

pub fn spei_method(clabe: &str, expires_at: i64) -> Value {
    json!({
        "bank": "STP", "clabe": clabe, "receiving_account_bank": "STP",
        "receiving_account_number": clabe, "object": "bank_transfer_payment",
        "type": "spei", "expires_at": expires_at, "reference": &clabe[clabe.len() - 7..]
    })
}

/// Adds a charge to the order's `charges` list.
pub fn add_charge(order: &mut Value, charge: Value) {
    if !order["charges"]["data"].is_array() {
        order["charges"] = json!({"object": "list", "has_more": false, "total": 0, "data": []});
    }
    if let Some(list) = order
        .pointer_mut("/charges/data")
        .and_then(Value::as_array_mut)
    {
        list.push(charge);
        let total = list.len();
        order["charges"]["total"] = json!(total);
    }
}

/// The order's status from its charges: all paid is paid; any declined is declined; card
/// charges held (and the rest paid) is pre-authorized; otherwise it waits for payment.
pub fn settle(order: &mut Value, now: i64) {
    let statuses: Vec<String> = order["charges"]["data"]
        .as_array()
        .map(|c| {
            c.iter()
                .map(|c| c["status"].as_str().unwrap_or("").to_owned())
                .collect()
        })
        .unwrap_or_default();
    let status = if statuses.is_empty() {
        "pending_payment"
    } else if statuses.iter().all(|s| s == "paid") {
        "paid"
    } else if statuses.iter().any(|s| s == "declined") {
        "declined"
    } else if statuses
        .iter()
        .all(|s| s == "paid" || s == "pre_authorized")
    {
        "pre_authorized"
    } else if statuses.iter().any(|s| s == "paid") {
        "partially_paid"
    } else {
        "pending_payment"
    };
    order["payment_status"] = json!(status);
    order["is_refundable"] = json!(status == "paid");
    order["updated_at"] = json!(now);
    if status == "paid" && order["checkout"].is_object() {
        order["checkout"]["paid_payments_count"] = json!(1);
        order["checkout"]["status"] = json!("Finished");
    }
}

/// What a pre-authorized order holds on its cards.
pub fn authorized(order: &Value) -> i64 {
    held_charges(order)
        .map(|charge| charge["amount"].as_i64().unwrap_or(0))
        .sum()
}

fn held_charges(order: &Value) -> impl Iterator<Item = &Value> {
    order["charges"]["data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|charge| charge["status"] == "pre_authorized")
}

/// Takes `amount` (at most what is held) from a pre-authorized order's held charges, in order;
/// the rest of each hold is released, so the order's amount becomes what was taken. Returns the
/// charges captured.
pub fn capture(order: &mut Value, amount: i64, now: i64) -> Vec<Value> {
    let released = authorized(order) - amount;
    let mut left = amount;
    let mut captured = Vec::new();
    for charge in order
        .pointer_mut("/charges/data")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
        .filter(|charge| charge["status"] == "pre_authorized")
    {
        let part = left.min(charge["amount"].as_i64().unwrap_or(0));
        left -= part;
        charge["amount"] = json!(part);
        charge["fee"] = json!(fee(part));
        charge["status"] = json!("paid");
        charge["paid_at"] = json!(now);
        captured.push(charge.clone());
    }
    let total = order["amount"].as_i64().unwrap_or(0);
    order["amount"] = json!(total - released);
    settle(order, now);
    captured
}

/// The amount still refundable.
pub fn refundable(order: &Value) -> i64 {
    order["amount"].as_i64().unwrap_or(0) - order["amount_refunded"].as_i64().unwrap_or(0)
}

/// Records a refund as Conekta does: the order's `amount_refunded`, `payment_status` and
/// `is_refundable`, and on the paid charges it comes from (in order, each giving what it still
/// can, so a split order's refund may span charges) a `refund` entry with a negative amount,
/// as pagos reads them back when it reconciles a refund. Returns the charges refunded.
pub fn refund(order: &mut Value, amount: i64, expires_at: Option<i64>, now: i64) -> Vec<Value> {
    let refunded = order["amount_refunded"].as_i64().unwrap_or(0) + amount;
    order["amount_refunded"] = json!(refunded);
    let status = if refunded >= order["amount"].as_i64().unwrap_or(0) {
        "refunded"
    } else {
        "partially_refunded"
    };
    order["payment_status"] = json!(status);
    order["is_refundable"] = json!(status == "partially_refunded");
    order["updated_at"] = json!(now);
    let mut left = amount;
    let mut touched = Vec::new();
    for charge in order
        .pointer_mut("/charges/data")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
        .filter(|c| c["status"] == "paid" || c["status"] == "partially_refunded")
    {
        let charge_refunded = charge["amount_refunded"].as_i64().unwrap_or(0);
        let part = left.min(charge["amount"].as_i64().unwrap_or(0) - charge_refunded);
        if part <= 0 {
            continue;
        }
        left -= part;
        refund_charge(charge, part, expires_at, now);
        touched.push(charge.clone());
        if left == 0 {
            break;
        }
    }
    touched
}

/// One refund on one charge: the entry in `refunds` (spec `charge_response_refunds_data`), and
/// the charge's own `amount_refunded` and status.
fn refund_charge(charge: &mut Value, amount: i64, expires_at: Option<i64>, now: i64) {
    let mut entry = json!({
        "id": object_id(), "object": "refund", "amount": -amount, "created_at": now,
        "status": "pending"
    });
    // The spec types these as a string and an integer: leave them out rather than send null.
    if let Some(auth_code) = charge["payment_method"]["auth_code"].as_str() {
        entry["auth_code"] = json!(auth_code);
    }
    if let Some(expires_at) = expires_at {
        entry["expires_at"] = json!(expires_at);
    }
    if !charge["refunds"]["data"].is_array() {
        charge["refunds"] = json!({"object": "list", "has_more": false, "total": 0, "data": []});
    }
    if let Some(list) = charge
        .pointer_mut("/refunds/data")
        .and_then(Value::as_array_mut)
    {
        list.push(entry);
        let total = list.len();
        charge["refunds"]["total"] = json!(total);
    }
    let refunded = charge["amount_refunded"].as_i64().unwrap_or(0) + amount;
    charge["amount_refunded"] = json!(refunded);
    charge["status"] = json!(if refunded >= charge["amount"].as_i64().unwrap_or(0) {
        "refunded"
    } else {
        "partially_refunded"
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refund_larger_than_one_charge_spans_the_next() {
        let mut order = json!({"id": "ord_1", "amount": 1000, "amount_refunded": 0,
                               "currency": "MXN", "customer_info": {}});
        for amount in [600, 400] {
            let method = card_method("visa", "4242", "Ana", "12", "30");
            let charge = charge(&order, amount, method, "paid", 1);
            add_charge(&mut order, charge);
        }
        let touched = refund(&mut order, 800, None, 2);
        assert_eq!(touched.len(), 2);
        assert_eq!(order["payment_status"], "partially_refunded");
        assert_eq!(order["amount_refunded"], 800);
        let charges = &order["charges"]["data"];
        assert_eq!(charges[0]["status"], "refunded");
        assert_eq!(charges[0]["refunds"]["data"][0]["amount"], -600);
        assert_eq!(charges[1]["status"], "partially_refunded");
        assert_eq!(charges[1]["amount_refunded"], 200);
        assert_eq!(charges[1]["refunds"]["data"][0]["amount"], -200);
        assert!(charges[1]["refunds"]["data"][0]["auth_code"].is_string());
        assert!(charges[1]["refunds"]["data"][0].get("expires_at").is_none());
    }
}
