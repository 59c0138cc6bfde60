//! Conekta's answers, checked before pagos relies on them: an answer that lacks what the
//! storefront needs, or says something that cannot be (an amount other than asked, an expiry
//! that is not a number), is a 502, never passed on as if it were valid.

use super::wire::customers::{CustomerView, PaymentSourceView};
use super::wire::orders::OrderView;

/// What a checked order answer says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedOrder {
    pub id: String,
    /// The checkout's own expiry (Unix s), when the order has a checkout.
    pub checkout_expires_at: Option<i64>,
}

/// Checks an order Conekta made for us: it has an id, its amount is what was asked, and a
/// checkout (when one was asked for) has a link and an integer expiry.
pub fn order(
    order: &str,
    expected_cents: i64,
    with_checkout: bool,
) -> Result<CheckedOrder, String> {
    let view = serde_json::from_str::<OrderView>(order)
        .map_err(|e| format!("Conekta answered an order pagos cannot read: {e}"))?;
    let id = view.id;
    if id.is_empty() {
        return Err("Conekta answered an order without an id".to_owned());
    }
    if view.amount != expected_cents {
        return Err(format!(
            "Conekta answered order {id} with amount {}, not the {expected_cents} asked",
            view.amount
        ));
    }
    let checkout_expires_at = match (with_checkout, view.checkout) {
        (false, _) => None,
        (true, Some(checkout)) if checkout.url.as_deref().is_some_and(|u| !u.is_empty()) => {
            checkout.expires_at
        }
        (true, _) => {
            return Err(format!(
                "Conekta answered order {id} without a checkout link"
            ))
        }
    };
    Ok(CheckedOrder {
        id,
        checkout_expires_at,
    })
}

/// A customer Conekta made, read: it has an id.
pub fn customer(customer: &str) -> Result<CustomerView, String> {
    let view = serde_json::from_str::<CustomerView>(customer)
        .map_err(|e| format!("Conekta answered a customer pagos cannot read: {e}"))?;
    if view.id.is_empty() {
        return Err("Conekta answered a customer without an id".to_owned());
    }
    Ok(view)
}

/// The reusable reference of the requested type on a customer Conekta made, checked: it has an
/// id and a number.
pub fn reference_source(
    customer: &CustomerView,
    payment_type: &str,
) -> Result<PaymentSourceView, String> {
    let source = customer
        .sources()
        .find(|source| source.kind.as_deref() == Some(payment_type))
        .ok_or_else(|| {
            format!(
                "Conekta answered customer {} without a {payment_type} reference",
                customer.id
            )
        })?;
    if source.id.is_empty() || source.reference.as_deref().is_none_or(str::is_empty) {
        return Err(format!(
            "Conekta answered customer {} with a {payment_type} source lacking its id or number",
            customer.id
        ));
    }
    Ok(source.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    #[test]
    fn an_order_must_have_an_id_the_asked_amount_and_a_usable_checkout() {
        let good = json!({"id": "ord_1", "amount": 100, "checkout": {"url": "https://x", "expires_at": 7}});
        assert_eq!(
            order(&good.to_string(), 100, true),
            Ok(CheckedOrder {
                id: "ord_1".into(),
                checkout_expires_at: Some(7)
            })
        );
        assert!(order(&good.to_string(), 101, true)
            .unwrap_err()
            .contains("not the 101"));
        assert!(order(&json!({"amount": 100}).to_string(), 100, false).is_err());
        let bad_expiry = json!({"id": "ord_1", "amount": 100, "checkout": {"url": "https://x", "expires_at": "7"}});
        assert!(order(&bad_expiry.to_string(), 100, true).is_err());
        let no_link = json!({"id": "ord_1", "amount": 100, "checkout": {"expires_at": 7}});
        assert!(order(&no_link.to_string(), 100, true).is_err());
        assert!(order(
            &json!({"id": "ord_1", "amount": 100}).to_string(),
            100,
            false
        )
        .is_ok());
        // An integer is read as one; a fraction is not an amount in centavos.
        assert!(order(
            r#"{"id":"ord_2","amount":2147483647}"#,
            2_147_483_647,
            false
        )
        .is_ok());
        assert!(order(r#"{"id":"ord_2","amount":100.5}"#, 100, false).is_err());
    }

    #[test]
    fn the_reference_is_the_source_of_the_requested_type() {
        let view = |sources: Value| {
            customer(&json!({"id": "cus_1", "payment_sources": {"data": sources}}).to_string())
                .unwrap()
        };
        let both = view(json!([
            {"id": "src_card", "type": "card"},
            {"id": "off_1", "type": "cash_recurrent", "reference": "9300", "expires_at": 5}
        ]));
        assert_eq!(
            reference_source(&both, "cash_recurrent").unwrap().id,
            "off_1"
        );
        assert!(reference_source(&both, "oxxo_recurrent").is_err());
        let bad_expiry = json!({"id": "cus_1", "payment_sources": {"data": [
            {"id": "off_1", "type": "cash_recurrent", "reference": "9300", "expires_at": 5.5}
        ]}});
        assert!(customer(&bad_expiry.to_string()).is_err());
    }
}
