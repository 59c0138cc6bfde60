//! What several actions read the same way.

use super::super::wire::{MAX_UNIT_PRICE, TEXT_MAX, TEXT_MIN};
use crate::domain::field_errors::{as_str, bounded_text};
use crate::domain::Amount;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// The currency when a request names none.
pub const DEFAULT_CURRENCY: &str = "MXN";

/// Pesos Conekta can carry: at most what one line item's int32 `unit_price` holds (pagos's
/// orders have one item, so no charge, refund or capture of them can be more).
pub fn pesos(value: &Value) -> Result<Amount, String> {
    let amount = Amount::from_pesos(value)?;
    if amount.centavos() > MAX_UNIT_PRICE {
        let most = Amount::from_centavos(MAX_UNIT_PRICE)
            .map(Amount::pesos)
            .unwrap_or_default();
        return Err(format!(
            "must be at most {most} (the most Conekta accepts for one item)"
        ));
    }
    Ok(amount)
}

/// A line item's name or a charge's description: Conekta's 3 to 249 characters.
pub fn description(value: &Value) -> Result<String, String> {
    bounded_text(value, TEXT_MIN, TEXT_MAX)
}

/// The line item's name: the description, else the reference (padded to Conekta's minimum).
pub fn item_name(description: Option<&str>, reference_id: &str) -> String {
    match description {
        Some(description) => description.to_owned(),
        None if reference_id.chars().count() < TEXT_MIN => format!("Orden {reference_id}"),
        None => reference_id.to_owned(),
    }
}

/// Unix seconds between `min_s` and `max_s` after `now`; `window` says it in words.
pub fn expiry(
    value: &Value,
    now: i64,
    min_s: i64,
    max_s: i64,
    window: &str,
) -> Result<i64, String> {
    let at = value
        .as_i64()
        .ok_or("must be an integer: Unix time in seconds")?;
    if at < now + min_s || at > now + max_s {
        return Err(format!("must be between {window} from now (Unix seconds)"));
    }
    Ok(at)
}

/// One of `allowed`, named in the message when it is not.
pub fn one_of(value: &Value, allowed: &'static [&'static str]) -> Result<&'static str, String> {
    let text = as_str(value)?;
    allowed
        .iter()
        .find(|a| **a == text)
        .copied()
        .ok_or_else(|| format!("must be one of {}", allowed.join(", ")))
}

/// A non-empty list of distinct values of `allowed`, in the order given.
pub fn some_of(value: &Value, allowed: &'static [&'static str]) -> Result<Vec<String>, String> {
    let items = value.as_array().ok_or("must be an array")?;
    if items.is_empty() {
        return Err(format!("must name at least one of: {}", allowed.join(", ")));
    }
    let mut chosen: Vec<String> = Vec::with_capacity(items.len());
    for item in items {
        let name =
            as_str(item).map_err(|_| format!("must hold only strings: {}", allowed.join(", ")))?;
        if !allowed.contains(&name) {
            return Err(format!(
                "`{name}` is not supported; supported: {}",
                allowed.join(", ")
            ));
        }
        if !chosen.iter().any(|c| c == name) {
            chosen.push(name.to_owned());
        }
    }
    Ok(chosen)
}

/// The fields that make two requests "the same", as a JSON object (names in order).
pub fn identity(pairs: &[(&str, Value)]) -> Map<String, Value> {
    pairs
        .iter()
        .map(|(name, value)| ((*name).to_owned(), value.clone()))
        .collect()
}

/// What a record may keep of a card token: its SHA-256, never the token.
pub fn token_digest(token: &str) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(token.as_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn short_references_are_padded_for_the_item_name() {
        assert_eq!(item_name(None, "7"), "Orden 7");
        assert_eq!(item_name(None, "6588"), "6588");
        assert_eq!(item_name(Some("Pedido"), "7"), "Pedido");
    }

    #[test]
    fn amounts_stop_at_conektas_int32() {
        assert_eq!(
            pesos(&json!(21474836.47)).unwrap().centavos(),
            2_147_483_647
        );
        let refused = pesos(&json!(21474836.48)).unwrap_err();
        assert!(refused.contains("at most 21474836.47"), "{refused}");
        assert!(pesos(&json!("99999999999"))
            .unwrap_err()
            .contains("21474836.47"));
    }

    #[test]
    fn lists_of_choices_are_checked_and_deduplicated() {
        const CHOICES: &[&str] = &["a", "b"];
        assert_eq!(
            some_of(&json!(["b", "a", "b"]), CHOICES).unwrap(),
            ["b", "a"]
        );
        assert!(some_of(&json!([]), CHOICES).is_err());
        assert!(some_of(&json!(["c"]), CHOICES).unwrap_err().contains("`c`"));
        assert!(one_of(&json!("z"), CHOICES).unwrap_err().contains("a, b"));
    }
}
