//! Conekta's test cards and tokens, what each one does, and the charge it makes. Card numbers
//! are only ever read here; they are never stored whole, logged or sent anywhere.

use super::orders;
use serde_json::{json, Value};

/// The outcome of paying with a test card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CardOutcome {
    Approved {
        brand: &'static str,
        last4: String,
    },
    Declined {
        brand: &'static str,
        last4: String,
        code: &'static str,
        message: &'static str,
    },
    /// Not a card the sandbox knows: the page asks again, nothing is charged.
    Invalid(&'static str),
}

/// The test cards, as Conekta documents them.
pub const TEST_CARDS: &[(&str, &str, &str)] = &[
    ("4242424242424242", "visa", "aprobada"),
    ("5555555555554444", "mastercard", "aprobada"),
    ("378282246310005", "american_express", "aprobada"),
    ("4000000000000002", "visa", "declinada"),
    ("4000000000000127", "visa", "fondos insuficientes"),
    ("4000000000000119", "visa", "comportamiento sospechoso"),
];

pub fn by_number(number: &str) -> CardOutcome {
    let digits: String = number
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    if !digits.chars().all(|c| c.is_ascii_digit()) || !(13..=19).contains(&digits.len()) {
        return CardOutcome::Invalid("El número de tarjeta no es válido.");
    }
    let last4 = digits[digits.len() - 4..].to_owned();
    match digits.as_str() {
        "4242424242424242" => CardOutcome::Approved { brand: "visa", last4 },
        "5555555555554444" => CardOutcome::Approved { brand: "mastercard", last4 },
        "378282246310005" => CardOutcome::Approved { brand: "american_express", last4 },
        "4000000000000002" => declined("visa", last4, "card_declined"),
        "4000000000000127" => declined("visa", last4, "insufficient_funds"),
        "4000000000000119" => declined("visa", last4, "suspected_fraud"),
        _ => CardOutcome::Invalid(
            "En el sandbox sólo funcionan las tarjetas de prueba de Conekta (p. ej. 4242 4242 4242 4242).",
        ),
    }
}

/// Test tokens for direct charges (`tok_test_visa_4242`, `tok_test_card_declined`, …).
pub fn by_token(token: &str) -> CardOutcome {
    match token {
        "tok_test_visa_4242" => by_number("4242424242424242"),
        "tok_test_mastercard_4444" => by_number("5555555555554444"),
        "tok_test_amex_0005" => by_number("378282246310005"),
        "tok_test_card_declined" => by_number("4000000000000002"),
        "tok_test_insufficient_funds" => by_number("4000000000000127"),
        _ if token.starts_with("tok_") => by_number("4242424242424242"),
        _ => CardOutcome::Invalid("The token does not exist."),
    }
}

fn declined(brand: &'static str, last4: String, code: &'static str) -> CardOutcome {
    let message = match code {
        "insufficient_funds" => {
            "Esta tarjeta no tiene suficientes fondos para completar la compra."
        }
        "suspected_fraud" => "Este cargo ha sido declarado como sospechoso.",
        _ => "Esta tarjeta fue declinada por el banco emisor.",
    };
    CardOutcome::Declined {
        brand,
        last4,
        code,
        message,
    }
}

/// The `details.code` of a decline, as Conekta's 402 answers carry it.
pub fn decline_error_code(code: &str) -> &'static str {
    match code {
        "insufficient_funds" => "conekta.errors.processing.bank.insufficient_funds",
        "suspected_fraud" => "conekta.errors.processing.charge.card_payment.suspicious_behaviour",
        _ => "conekta.errors.processing.bank.declined",
    }
}

/// The card as the charge's payment method shows it: holder and expiry.
pub struct Holder<'a> {
    pub name: &'a str,
    pub exp_month: &'a str,
    pub exp_year: &'a str,
}

/// The charge a test card makes on `order`: paid (held instead when the order is
/// `pre_authorize`) or declined with the card's reason, and the events it causes; or, for a
/// card that is not a test card, why not.
pub fn card_charge(
    order: &Value,
    amount: i64,
    outcome: CardOutcome,
    holder: &Holder,
    pre_authorize: bool,
    now: i64,
) -> Result<(Value, [&'static str; 2]), &'static str> {
    let method = |brand: &str, last4: &str| {
        orders::card_method(brand, last4, holder.name, holder.exp_month, holder.exp_year)
    };
    match outcome {
        CardOutcome::Approved { brand, last4 } => {
            let (status, kind) = orders::card_approval(pre_authorize);
            let charge = orders::charge(order, amount, method(brand, &last4), status, now);
            Ok((charge, ["charge.created", kind]))
        }
        CardOutcome::Declined {
            brand,
            last4,
            code,
            message,
        } => {
            let mut charge = orders::charge(order, amount, method(brand, &last4), "declined", now);
            charge["failure_code"] = json!(code);
            charge["failure_message"] = json!(message);
            Ok((charge, ["charge.created", "charge.declined"]))
        }
        CardOutcome::Invalid(message) => Err(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_cards_decide_the_outcome() {
        assert!(matches!(
            by_number("4242 4242 4242 4242"),
            CardOutcome::Approved { .. }
        ));
        assert!(matches!(
            by_number("4000 0000 0000 0002"),
            CardOutcome::Declined {
                code: "card_declined",
                ..
            }
        ));
        assert!(matches!(by_number("1234"), CardOutcome::Invalid(_)));
        assert!(matches!(
            by_token("tok_test_card_declined"),
            CardOutcome::Declined { .. }
        ));
    }
}
