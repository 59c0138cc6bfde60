//! Conekta's answers, checked before pagos relies on them: an answer that lacks what the
//! storefront needs, or says something that cannot be (an amount other than asked), is a 502,
//! never passed on as if it were valid.

use serde_json::Value;

/// What a checked order answer says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedOrder<'a> {
    pub id: &'a str,
    /// The checkout's own expiry (Unix s), when the order has a checkout.
    pub checkout_expires_at: Option<i64>,
}

/// Checks an order Conekta made for us: it has an id, its amount is what was asked, and a
/// checkout (when one was asked for) has a link and an integer expiry.
pub fn order<'a>(
    order: &'a Value,
    expected_cents: i64,
    with_checkout: bool,
) -> Result<CheckedOrder<'a>, String> {
    let id = order["id"]
        .as_str()
        .filter(|id| !id.is_empty())
        .ok_or("Conekta answered an order without an id")?;
    match order["amount"].as_i64() {
        Some(amount) if amount == expected_cents => {}
        Some(amount) => {
            return Err(format!(
                "Conekta answered order {id} with amount {amount}, not the {expected_cents} asked"
            ))
        }
        None => {
            return Err(format!(
                "Conekta answered order {id} without an integer amount"
            ))
        }
    }
    let checkout_expires_at = if with_checkout {
        let checkout = &order["checkout"];
        if checkout["url"].as_str().is_none_or(str::is_empty) {
            return Err(format!(
                "Conekta answered order {id} without a checkout link"
            ));
        }
        Some(integer_or_absent(
            &checkout["expires_at"],
            "checkout.expires_at",
            id,
        )?)
        .flatten()
    } else {
        None
    };
    Ok(CheckedOrder {
        id,
        checkout_expires_at,
    })
}

/// The reusable reference of the requested type on a customer Conekta made, checked: it has an
/// id and a number, and its expiry, when given, is an integer.
pub fn reference_source<'a>(customer: &'a Value, payment_type: &str) -> Result<&'a Value, String> {
    let customer_id = customer["id"]
        .as_str()
        .filter(|id| !id.is_empty())
        .ok_or("Conekta answered a customer without an id")?;
    let source = customer["payment_sources"]["data"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|source| source["type"].as_str() == Some(payment_type))
        .ok_or_else(|| {
            format!("Conekta answered customer {customer_id} without a {payment_type} reference")
        })?;
    if source["id"].as_str().is_none_or(str::is_empty)
        || source["reference"].as_str().is_none_or(str::is_empty)
    {
        return Err(format!(
            "Conekta answered customer {customer_id} with a {payment_type} source lacking its id or number"
        ));
    }
    integer_or_absent(&source["expires_at"], "expires_at", customer_id)?;
    Ok(source)
}

/// An integer, or absent/null; anything else is an answer pagos cannot trust.
fn integer_or_absent(value: &Value, name: &str, object_id: &str) -> Result<Option<i64>, String> {
    match value {
        Value::Null => Ok(None),
        value => value.as_i64().map(Some).ok_or_else(|| {
            format!("Conekta answered {object_id} with a {name} that is not an integer")
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_order_must_have_an_id_the_asked_amount_and_a_usable_checkout() {
        let good = json!({"id": "ord_1", "amount": 100, "checkout": {"url": "https://x", "expires_at": 7}});
        assert_eq!(
            order(&good, 100, true),
            Ok(CheckedOrder {
                id: "ord_1",
                checkout_expires_at: Some(7)
            })
        );
        assert!(order(&good, 101, true).unwrap_err().contains("not the 101"));
        assert!(order(&json!({"amount": 100}), 100, false).is_err());
        let bad_expiry = json!({"id": "ord_1", "amount": 100, "checkout": {"url": "https://x", "expires_at": "7"}});
        assert!(order(&bad_expiry, 100, true)
            .unwrap_err()
            .contains("expires_at"));
        let no_link = json!({"id": "ord_1", "amount": 100, "checkout": {"expires_at": 7}});
        assert!(order(&no_link, 100, true).is_err());
        assert!(order(&json!({"id": "ord_1", "amount": 100}), 100, false).is_ok());
    }

    #[test]
    fn the_reference_is_the_source_of_the_requested_type() {
        let customer = json!({"id": "cus_1", "payment_sources": {"data": [
            {"id": "src_card", "type": "card"},
            {"id": "off_1", "type": "cash_recurrent", "reference": "9300", "expires_at": 5}
        ]}});
        assert_eq!(
            reference_source(&customer, "cash_recurrent").unwrap()["id"],
            "off_1"
        );
        assert!(reference_source(&customer, "oxxo_recurrent").is_err());
        let bad = json!({"id": "cus_1", "payment_sources": {"data": [
            {"id": "off_1", "type": "cash_recurrent", "reference": "9300", "expires_at": 5.5}
        ]}});
        assert!(reference_source(&bad, "cash_recurrent").is_err());
    }
}
