//! The `create` action's request: a HostedPayment checkout, every field parsed and checked
//! before Conekta hears of it (its checkout options in `checkout.rs`).

use super::super::wire::orders::{CustomerInfo, LineItem, OrderRequest};
use super::checkout::CheckoutOptions;
use super::common::{self, description, expiry, item_name, DEFAULT_CURRENCY};
use crate::domain::{
    person_name, Amount, Currency, Email, FieldError, FieldReader, Phone, ProviderSecret,
    ReferenceId, TargetUrl,
};
use serde_json::{json, Map, Value};

/// Appended to `return_url` when no explicit success/failure URL is given (seed 004).
pub const RETURN_PATH: &str = "/conekta/conekta_order";
/// Conekta's accepted checkout window; one hour is the most conservative stated minimum.
pub const MIN_EXPIRY_S: i64 = 3600;
pub const MAX_EXPIRY_S: i64 = 365 * 86_400;
pub const DEFAULT_EXPIRY_S: i64 = 3 * 86_400;

#[derive(Debug, Clone)]
pub struct CreateRequest {
    pub secret: ProviderSecret,
    pub amount: Amount,
    pub reference_id: ReferenceId,
    pub return_url: TargetUrl,
    pub notification_url: TargetUrl,
    pub first_name: String,
    pub last_name: String,
    pub email: Email,
    pub phone: Option<Phone>,
    pub currency: Currency,
    pub description: Option<String>,
    pub expires_at: Option<i64>,
    pub success_url: Option<TargetUrl>,
    pub failure_url: Option<TargetUrl>,
    pub options: CheckoutOptions,
}

/// What the order body needs besides the request.
pub struct OrderExtras<'a> {
    pub phone: &'a str,
    pub expires_at: i64,
    pub attempt_key: &'a str,
}

impl CreateRequest {
    /// Parses the whole request, reporting every bad field at once. `now` is Unix seconds.
    pub fn parse(fields: &Map<String, Value>, now: i64) -> Result<Self, Vec<FieldError>> {
        let mut r = FieldReader::new(fields);
        let secret = r.required("secret", ProviderSecret::parse);
        let amount = r.required("amount", common::pesos);
        let reference_id = r.required("reference_id", ReferenceId::parse);
        let return_url = r.required("return_url", TargetUrl::parse);
        let notification_url = r.required("notification_url", TargetUrl::parse);
        let first_name = r.required("first_name", person_name);
        let last_name = r.required("last_name", person_name);
        let email = r.required("email", Email::parse);
        let phone = r.optional("phone", Phone::parse);
        let currency = r.optional("currency", Currency::parse);
        let description = r.optional("description", description);
        let expires_at = r.optional("expires_at", |v| {
            expiry(v, now, MIN_EXPIRY_S, MAX_EXPIRY_S, "one hour and 365 days")
        });
        let options = CheckoutOptions::read(&mut r);
        let success_url = r.optional("success_url", TargetUrl::parse);
        let failure_url = r.optional("failure_url", TargetUrl::parse);
        let parsed = (move || {
            Some(Self {
                secret: secret?,
                amount: amount?,
                reference_id: reference_id?,
                return_url: return_url?,
                notification_url: notification_url?,
                first_name: first_name?,
                last_name: last_name?,
                email: email?,
                phone,
                currency: currency.unwrap_or_else(|| Currency::of(DEFAULT_CURRENCY)),
                description,
                expires_at,
                success_url,
                failure_url,
                options: options?,
            })
        })();
        r.finish(parsed)
    }

    pub fn item_name(&self) -> String {
        item_name(self.description.as_deref(), self.reference_id.as_str())
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

    /// Conekta's `POST /orders` body, as JSON text.
    pub fn order_body(
        &self,
        extras: &OrderExtras<'_>,
    ) -> Result<Box<serde_json::value::RawValue>, serde_json::Error> {
        let (success_url, failure_url) = (self.success_url(), self.failure_url());
        let item_name = self.item_name();
        serde_json::value::to_raw_value(&OrderRequest {
            currency: self.currency.as_str(),
            customer_info: CustomerInfo::Inline {
                name: format!("{} {}", self.first_name, self.last_name),
                email: self.email.as_str(),
                phone: extras.phone,
            },
            line_items: vec![LineItem {
                name: &item_name,
                unit_price: self.amount.centavos(),
                quantity: 1,
            }],
            checkout: Some(self.options.checkout(
                success_url.as_str(),
                failure_url.as_str(),
                extras.expires_at,
            )),
            charges: Vec::new(),
            three_ds_mode: self.options.three_ds_mode,
            pre_authorize: self.options.pre_authorize,
            metadata: self
                .options
                .metadata(self.reference_id.as_str(), extras.attempt_key),
        })
    }

    /// The fields that make two creates "the same", by request name, normalised. The key is
    /// left out (the account hash stands for it), and so are defaults computed at request time.
    pub fn identity(&self) -> Map<String, Value> {
        let url = |u: &Option<TargetUrl>| u.as_ref().map(|u| u.as_str().to_owned());
        let mut identity = common::identity(&[
            ("action", json!("create")),
            ("amount", json!(self.amount.pesos())),
            ("reference_id", json!(self.reference_id)),
            ("return_url", json!(self.return_url.as_str())),
            ("notification_url", json!(self.notification_url.as_str())),
            ("first_name", json!(self.first_name)),
            ("last_name", json!(self.last_name)),
            ("email", json!(self.email.as_str())),
            ("phone", json!(self.phone.as_ref().map(Phone::as_str))),
            ("currency", json!(self.currency)),
            ("description", json!(self.description)),
            ("expires_at", json!(self.expires_at)),
            ("success_url", json!(url(&self.success_url))),
            ("failure_url", json!(url(&self.failure_url))),
        ]);
        identity.extend(
            self.options
                .identity()
                .into_iter()
                .map(|(name, value)| (name.to_owned(), value)),
        );
        identity
    }
}

#[cfg(test)]
mod tests {
    use super::super::checkout::Methods;
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

    fn with(extra: Value) -> Map<String, Value> {
        let mut fields = seed();
        fields.extend(extra.as_object().cloned().unwrap());
        fields
    }

    #[test]
    fn parses_the_seed_with_defaults() {
        let request = CreateRequest::parse(&seed(), NOW).unwrap();
        assert_eq!(request.amount.centavos(), 100_000);
        assert_eq!(request.currency.as_str(), "MXN");
        assert_eq!(request.item_name(), "6588");
        assert_eq!(
            request.success_url().as_str(),
            "http://template.pow.la/conekta/conekta_order"
        );
        assert_eq!(
            request.options.methods,
            Methods::Allowed(vec!["cash".into(), "card".into(), "bank_transfer".into()])
        );
        assert!(!request.identity().contains_key("metadata"));
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
        let named: Vec<String> = CreateRequest::parse(&fields, NOW)
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect();
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
    fn options_reach_the_order_body() {
        let request = CreateRequest::parse(
            &with(json!({
                "monthly_installments": [12, 3, 6, 3], "three_ds_mode": "smart",
                "exclude_card_networks": ["amex"], "excluded_payment_methods": ["cash"],
                "pre_authorize": false, "metadata": {"color": "rojo", "reference_id": "mine"}
            })),
            NOW,
        )
        .unwrap();
        let extras = OrderExtras {
            phone: "+5215555555555",
            expires_at: NOW + 7200,
            attempt_key: "clm_1",
        };
        let body: Value = serde_json::from_str(request.order_body(&extras).unwrap().get()).unwrap();
        let checkout = &body["checkout"];
        assert_eq!(checkout["monthly_installments_enabled"], true);
        assert_eq!(checkout["monthly_installments_options"], json!([3, 6, 12]));
        assert_eq!(checkout["excluded_payment_methods"], json!(["cash"]));
        assert!(checkout.get("allowed_payment_methods").is_none());
        assert_eq!(checkout["exclude_card_networks"], json!(["amex"]));
        assert_eq!(body["three_ds_mode"], "smart");
        assert!(body.get("pre_authorize").is_none());
        // pagos's own keys win.
        assert_eq!(
            body["metadata"],
            json!({"color": "rojo", "reference_id": "6588", "pagos_claim": "clm_1"})
        );
    }
}
