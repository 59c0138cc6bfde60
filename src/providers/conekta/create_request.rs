//! The `create` action's request: every field parsed and checked before Conekta hears of it.

use crate::domain::field_errors::{as_str, bounded_text};
use crate::domain::{
    currency, person_name, reference_id, Amount, Email, FieldError, FieldReader, Phone,
    ProviderSecret, TargetUrl,
};
use serde_json::{json, Map, Value};

/// Payment methods a HostedPayment checkout may offer (`order_checkout_request`).
pub const PAYMENT_METHODS: &[&str] = &[
    "cash",
    "card",
    "bank_transfer",
    "bnpl",
    "pay_by_bank",
    "apple",
    "google",
];
/// What seed 004's checkout offers when the storefront does not choose.
pub const DEFAULT_PAYMENT_METHODS: &[&str] = &["cash", "card", "bank_transfer"];
/// Appended to `return_url` when no explicit success/failure URL is given (seed 004).
pub const RETURN_PATH: &str = "/conekta/conekta_order";
/// Conekta's accepted checkout window; one hour is the most conservative stated minimum.
pub const MIN_EXPIRY_S: i64 = 3600;
pub const MAX_EXPIRY_S: i64 = 365 * 86_400;
pub const DEFAULT_EXPIRY_S: i64 = 3 * 86_400;
/// `product.name` bounds.
const ITEM_NAME_MIN: usize = 3;
const ITEM_NAME_MAX: usize = 249;

#[derive(Debug, Clone)]
pub struct CreateRequest {
    pub secret: ProviderSecret,
    pub amount: Amount,
    pub reference_id: String,
    pub return_url: TargetUrl,
    pub notification_url: TargetUrl,
    pub first_name: String,
    pub last_name: String,
    pub email: Email,
    pub phone: Option<Phone>,
    pub currency: String,
    pub description: Option<String>,
    pub expires_at: Option<i64>,
    pub allowed_payment_methods: Vec<String>,
    pub success_url: Option<TargetUrl>,
    pub failure_url: Option<TargetUrl>,
}

impl CreateRequest {
    /// Parses the whole request, reporting every bad field at once. `now` is Unix seconds.
    pub fn parse(fields: &Map<String, Value>, now: i64) -> Result<Self, Vec<FieldError>> {
        let mut r = FieldReader::new(fields);
        let secret = r.required("secret", ProviderSecret::parse);
        let amount = r.required("amount", Amount::from_pesos);
        let reference_id = r.required("reference_id", reference_id);
        let return_url = r.required("return_url", TargetUrl::parse);
        let notification_url = r.required("notification_url", TargetUrl::parse);
        let first_name = r.required("first_name", person_name);
        let last_name = r.required("last_name", person_name);
        let email = r.required("email", Email::parse);
        let phone = r.optional("phone", Phone::parse);
        let currency = r.optional("currency", currency);
        let description = r.optional("description", |v| {
            bounded_text(v, ITEM_NAME_MIN, ITEM_NAME_MAX)
        });
        let expires_at = r.optional("expires_at", |v| expiry(v, now));
        let methods = r.optional("allowed_payment_methods", payment_methods);
        let success_url = r.optional("success_url", TargetUrl::parse);
        let failure_url = r.optional("failure_url", TargetUrl::parse);
        if r.has_errors() {
            return Err(r.into_errors());
        }
        let missing = || vec![FieldError::new("request", "could not be read")];
        Ok(Self {
            secret: secret.ok_or_else(missing)?,
            amount: amount.ok_or_else(missing)?,
            reference_id: reference_id.ok_or_else(missing)?,
            return_url: return_url.ok_or_else(missing)?,
            notification_url: notification_url.ok_or_else(missing)?,
            first_name: first_name.ok_or_else(missing)?,
            last_name: last_name.ok_or_else(missing)?,
            email: email.ok_or_else(missing)?,
            phone,
            currency: currency.unwrap_or_else(|| "MXN".to_owned()),
            description,
            expires_at,
            allowed_payment_methods: methods.unwrap_or_else(|| {
                DEFAULT_PAYMENT_METHODS
                    .iter()
                    .map(|m| m.to_string())
                    .collect()
            }),
            success_url,
            failure_url,
        })
    }

    /// The line item's name: the description, else the reference (padded to Conekta's minimum).
    pub fn item_name(&self) -> String {
        match &self.description {
            Some(description) => description.clone(),
            None if self.reference_id.chars().count() < ITEM_NAME_MIN => {
                format!("Orden {}", self.reference_id)
            }
            None => self.reference_id.clone(),
        }
    }

    pub fn success_url(&self) -> TargetUrl {
        self.success_url
            .clone()
            .unwrap_or_else(|| self.return_url.with_path_suffix(RETURN_PATH))
    }

    pub fn failure_url(&self) -> TargetUrl {
        self.failure_url
            .clone()
            .unwrap_or_else(|| self.return_url.with_path_suffix(RETURN_PATH))
    }

    /// The fields that make two creates "the same", by request name, normalised. The key is
    /// left out (the account hash stands for it), and so are defaults computed at request time.
    pub fn identity_fields(&self) -> Map<String, Value> {
        let url = |u: &Option<TargetUrl>| u.as_ref().map(|u| u.as_str().to_owned());
        let mut methods = self.allowed_payment_methods.clone();
        methods.sort();
        let fields = json!({
            "amount": self.amount.pesos(),
            "reference_id": self.reference_id,
            "return_url": self.return_url.as_str(),
            "notification_url": self.notification_url.as_str(),
            "first_name": self.first_name,
            "last_name": self.last_name,
            "email": self.email.as_str(),
            "phone": self.phone.as_ref().map(Phone::as_str),
            "currency": self.currency,
            "description": self.description,
            "expires_at": self.expires_at,
            "allowed_payment_methods": methods,
            "success_url": url(&self.success_url),
            "failure_url": url(&self.failure_url),
        });
        match fields {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }
}

/// Unix seconds inside Conekta's window: from one hour to 365 days after `now`.
fn expiry(value: &Value, now: i64) -> Result<i64, String> {
    let at = value
        .as_i64()
        .ok_or("must be an integer: Unix time in seconds")?;
    if at < now + MIN_EXPIRY_S || at > now + MAX_EXPIRY_S {
        return Err("must be between one hour and 365 days from now (Unix seconds)".to_owned());
    }
    Ok(at)
}

fn payment_methods(value: &Value) -> Result<Vec<String>, String> {
    let items = value
        .as_array()
        .ok_or("must be an array of payment methods")?;
    let supported = || PAYMENT_METHODS.join(", ");
    if items.is_empty() {
        return Err(format!("must name at least one of: {}", supported()));
    }
    let mut methods: Vec<String> = Vec::with_capacity(items.len());
    for item in items {
        let method =
            as_str(item).map_err(|_| format!("must hold only strings: {}", supported()))?;
        if !PAYMENT_METHODS.contains(&method) {
            return Err(format!(
                "`{method}` is not supported; supported: {}",
                supported()
            ));
        }
        if !methods.iter().any(|m| m == method) {
            methods.push(method.to_owned());
        }
    }
    Ok(methods)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000;

    fn seed() -> Map<String, Value> {
        let value = json!({
            "provider": "conekta", "action": "create", "reference_id": "6588",
            "secret": "key_xxjg4bsD9nohnMjwaTGytA", "first_name": "andres", "last_name": "jaro",
            "amount": 1000, "return_url": "http://template.pow.la",
            "notification_url": "https://shop.example/notify", "email": "andres@example.com"
        });
        value.as_object().cloned().unwrap()
    }

    #[test]
    fn parses_the_seed_with_defaults() {
        let request = CreateRequest::parse(&seed(), NOW).unwrap();
        assert_eq!(request.amount.centavos(), 100_000);
        assert_eq!(request.currency, "MXN");
        assert_eq!(request.item_name(), "6588");
        assert_eq!(
            request.success_url().as_str(),
            "http://template.pow.la/conekta/conekta_order"
        );
        assert_eq!(
            request.allowed_payment_methods,
            ["cash", "card", "bank_transfer"]
        );
    }

    #[test]
    fn reports_every_bad_field_at_once() {
        let mut fields = seed();
        fields.remove("email");
        fields.insert("amount".into(), json!("12.345"));
        fields.insert("return_url".into(), json!("ftp://x"));
        fields.insert("expires_at".into(), json!(NOW + 60));
        fields.insert("allowed_payment_methods".into(), json!(["cash", "bitcoin"]));
        fields.insert("description".into(), json!("ab"));
        let errors = CreateRequest::parse(&fields, NOW).unwrap_err();
        let named: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            named,
            [
                "amount",
                "return_url",
                "email",
                "description",
                "expires_at",
                "allowed_payment_methods"
            ]
        );
    }

    #[test]
    fn short_references_are_padded_for_the_item_name() {
        let mut fields = seed();
        fields.insert("reference_id".into(), json!("7"));
        assert_eq!(
            CreateRequest::parse(&fields, NOW).unwrap().item_name(),
            "Orden 7"
        );
    }
}
