//! What real Conekta refuses: missing auth, a wrong API version, a body its schema rejects, a
//! listing query it does not know. Every refusal is a violation: pagos must never cause one.

use super::listing::{ListQuery, Listing};
use super::Received;
use serde_json::Value;

/// Request schemas derived from Conekta's official spec, by method and path pattern.
const SCHEMAS: &[(&str, &str, &str)] = &[
    (
        "POST",
        "/orders",
        include_str!("../../data/conekta/order_request.schema.json"),
    ),
    (
        "POST",
        "/customers",
        include_str!("../../data/conekta/customer.schema.json"),
    ),
    (
        "POST",
        "/customers/*/payment_sources",
        include_str!("../../data/conekta/CreateCustomerPaymentMethods_request.schema.json"),
    ),
    (
        "PUT",
        "/customers/*",
        include_str!("../../data/conekta/update_customer.schema.json"),
    ),
    (
        "POST",
        "/orders/*/refunds",
        include_str!("../../data/conekta/orderRefund_request.schema.json"),
    ),
    (
        "POST",
        "/orders/*/capture",
        include_str!("../../data/conekta/order_capture_request.schema.json"),
    ),
];

/// The schema for a request, matching `*` to one path segment.
fn schema_for(method: &str, path: &str) -> Option<&'static str> {
    let segments: Vec<&str> = path.split('/').collect();
    SCHEMAS.iter().find_map(|(m, pattern, schema)| {
        let pattern: Vec<&str> = pattern.split('/').collect();
        let matches = *m == method
            && pattern.len() == segments.len()
            && pattern
                .iter()
                .zip(&segments)
                .all(|(p, s)| *p == "*" || p == s);
        matches.then_some(*schema)
    })
}

/// Everything wrong with a request, as Conekta would see it before doing anything.
pub(super) fn check(received: &Received) -> Vec<String> {
    let mut problems = Vec::new();
    match received.header("authorization") {
        Some(auth) if auth.starts_with("Bearer key_") => {}
        other => problems.push(format!("authorization header: {other:?}")),
    }
    if received.header("accept") != Some("application/vnd.conekta-v2.3.0+json") {
        problems.push(format!("accept header: {:?}", received.header("accept")));
    }
    if let Some(listing) = Listing::of(&received.method, &received.path) {
        if let Err(query_problems) = ListQuery::parse(listing, &received.query) {
            problems.extend(query_problems);
        }
    }
    if let Some(schema) = schema_for(&received.method, &received.path) {
        if received.header("content-type") != Some("application/json") {
            problems.push(format!(
                "content-type: {:?}",
                received.header("content-type")
            ));
        }
        let schema: Value = serde_json::from_str(schema).unwrap();
        let validator = jsonschema::options()
            .should_validate_formats(true)
            .build(&schema)
            .expect("schema compiles");
        problems.extend(validator.iter_errors(&received.body).map(|e| {
            format!(
                "{} {}{}: {e}",
                received.method,
                received.path,
                e.instance_path()
            )
        }));
    }
    if received.method == "POST" && received.path == "/orders" {
        problems.extend(order_prose_rules(&received.body));
    }
    problems
}

/// Rules stated in the spec's prose rather than its keywords.
fn order_prose_rules(body: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    if body["line_items"].as_array().is_none_or(Vec::is_empty) {
        problems.push("line_items: at least one product is required".into());
    }
    let checkout = &body["checkout"];
    if !checkout.is_null() && checkout["type"].is_null() {
        problems.push("checkout.type is required".into());
    }
    if checkout.is_null() && body["charges"].as_array().is_none_or(Vec::is_empty) {
        problems.push("an order needs a checkout or charges".into());
    }
    // Charges must add up to the order (conekta-node #106).
    if let Some(charges) = body["charges"].as_array() {
        let with_amounts: Vec<i64> = charges
            .iter()
            .filter_map(|c| c["amount"].as_i64())
            .collect();
        if !with_amounts.is_empty() && with_amounts.iter().sum::<i64>() != line_items_total(body) {
            problems.push("combo.order.amount.invalid_charges_amount".into());
        }
    }
    problems
}

/// The sum of `unit_price * quantity` over an order request's line items.
pub(super) fn line_items_total(request: &Value) -> i64 {
    request["line_items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|i| i["unit_price"].as_i64().unwrap_or(0) * i["quantity"].as_i64().unwrap_or(0))
        .sum()
}
