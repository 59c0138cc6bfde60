//! The `create` action's request: a HostedPayment checkout, every field parsed and checked
//! before Conekta hears of it, with the checkout options storefronts ask for.

use super::super::claim_flow::METADATA_KEY;
use super::super::wire::orders::{CheckoutRequest, CustomerInfo, LineItem, OrderRequest};
use super::super::wire::{Metadata, MAX_METADATA_KEYS, MAX_METADATA_VALUE};
use super::common::{self, description, expiry, item_name, one_of, some_of, DEFAULT_CURRENCY};
use crate::domain::field_errors::as_str;
use crate::domain::{
    currency, person_name, reference_id, Amount, Email, FieldError, FieldReader, Phone,
    ProviderSecret, TargetUrl,
};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

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
/// Those a checkout may leave out instead (`excluded_payment_methods`).
pub const EXCLUDABLE_METHODS: &[&str] = &["cash", "card", "bank_transfer", "bnpl", "pay_by_bank"];
/// What seed 004's checkout offers when the storefront does not choose.
pub const DEFAULT_PAYMENT_METHODS: &[&str] = &["cash", "card", "bank_transfer"];
/// Card networks a checkout may refuse (Conekta takes Visa and Mastercard as one).
pub const CARD_NETWORKS: &[&str] = &["visa_master_card", "amex"];
/// Months without interest Conekta offers.
pub const INSTALLMENT_MONTHS: &[u8] = &[3, 6, 9, 12, 18, 24];
/// `three_ds_mode` values.
pub const THREE_DS_MODES: &[&str] = &["strict", "not_strict", "smart"];
/// Appended to `return_url` when no explicit success/failure URL is given (seed 004).
pub const RETURN_PATH: &str = "/conekta/conekta_order";
/// Conekta's accepted checkout window; one hour is the most conservative stated minimum.
pub const MIN_EXPIRY_S: i64 = 3600;
pub const MAX_EXPIRY_S: i64 = 365 * 86_400;
pub const DEFAULT_EXPIRY_S: i64 = 3 * 86_400;
/// Metadata keys pagos writes itself (they win over the storefront's).
pub const OWN_METADATA_KEYS: &[&str] = &["reference_id", METADATA_KEY];
/// A storefront metadata key's length.
const METADATA_KEY_MAX: usize = 100;

/// How the checkout chooses its payment methods.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Methods {
    Allowed(Vec<String>),
    Excluded(Vec<String>),
}

impl Methods {
    fn offers_card(&self) -> bool {
        match self {
            Methods::Allowed(methods) => methods.iter().any(|m| m == "card"),
            Methods::Excluded(methods) => !methods.iter().any(|m| m == "card"),
        }
    }
}

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
    pub methods: Methods,
    pub success_url: Option<TargetUrl>,
    pub failure_url: Option<TargetUrl>,
    /// Months without interest offered for card payments (sorted).
    pub monthly_installments: Option<Vec<u8>>,
    pub three_ds_mode: Option<&'static str>,
    pub exclude_card_networks: Option<Vec<String>>,
    pub pre_authorize: bool,
    /// The storefront's own metadata (pagos's own keys are written over it).
    pub metadata: BTreeMap<String, String>,
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
        let reference_id = r.required("reference_id", reference_id);
        let return_url = r.required("return_url", TargetUrl::parse);
        let notification_url = r.required("notification_url", TargetUrl::parse);
        let first_name = r.required("first_name", person_name);
        let last_name = r.required("last_name", person_name);
        let email = r.required("email", Email::parse);
        let phone = r.optional("phone", Phone::parse);
        let currency = r.optional("currency", currency);
        let description = r.optional("description", description);
        let expires_at = r.optional("expires_at", |v| {
            expiry(v, now, MIN_EXPIRY_S, MAX_EXPIRY_S, "one hour and 365 days")
        });
        let allowed = r.optional("allowed_payment_methods", |v| some_of(v, PAYMENT_METHODS));
        let excluded = r.optional("excluded_payment_methods", |v| {
            some_of(v, EXCLUDABLE_METHODS)
        });
        let success_url = r.optional("success_url", TargetUrl::parse);
        let failure_url = r.optional("failure_url", TargetUrl::parse);
        let monthly_installments = r.optional("monthly_installments", installments);
        let three_ds_mode = r.optional("three_ds_mode", |v| one_of(v, THREE_DS_MODES));
        let exclude_card_networks =
            r.optional("exclude_card_networks", |v| some_of(v, CARD_NETWORKS));
        let pre_authorize = r
            .optional("pre_authorize", crate::domain::boolean)
            .unwrap_or(false);
        let metadata = metadata(&mut r);
        let methods = match (allowed, excluded) {
            (Some(_), Some(_)) => {
                r.reject(
                    "excluded_payment_methods",
                    "cannot be given with allowed_payment_methods: Conekta takes one or the other",
                );
                None
            }
            (_, Some(excluded)) => Some(Methods::Excluded(excluded)),
            (Some(allowed), None) => Some(Methods::Allowed(allowed)),
            // A pre-authorized order holds a card: nothing else can be held.
            (None, None) if pre_authorize => Some(Methods::Allowed(vec!["card".to_owned()])),
            (None, None) => Some(Methods::Allowed(
                DEFAULT_PAYMENT_METHODS
                    .iter()
                    .map(|m| m.to_string())
                    .collect(),
            )),
        };
        if let Some(methods) = &methods {
            if monthly_installments.is_some() && !methods.offers_card() {
                r.reject(
                    "monthly_installments",
                    "needs card among the payment methods",
                );
            }
            if pre_authorize && *methods != Methods::Allowed(vec!["card".to_owned()]) {
                r.reject(
                    "pre_authorize",
                    "a pre-authorized order is paid by card only: allowed_payment_methods must be [\"card\"] or absent",
                );
            }
        }
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
            currency: currency.unwrap_or_else(|| DEFAULT_CURRENCY.to_owned()),
            description,
            expires_at,
            methods: methods.ok_or_else(missing)?,
            success_url,
            failure_url,
            monthly_installments,
            three_ds_mode,
            exclude_card_networks,
            pre_authorize,
            metadata,
        })
    }

    pub fn item_name(&self) -> String {
        item_name(self.description.as_deref(), &self.reference_id)
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
        let (allowed, excluded) = match &self.methods {
            Methods::Allowed(methods) => (Some(methods.as_slice()), None),
            Methods::Excluded(methods) => (None, Some(methods.as_slice())),
        };
        let mut metadata: Metadata<'_> = self
            .metadata
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        metadata.insert("reference_id", &self.reference_id);
        metadata.insert(METADATA_KEY, extras.attempt_key);
        serde_json::value::to_raw_value(&OrderRequest {
            currency: &self.currency,
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
            checkout: Some(CheckoutRequest {
                kind: "HostedPayment",
                allowed_payment_methods: allowed,
                excluded_payment_methods: excluded,
                exclude_card_networks: self.exclude_card_networks.as_deref(),
                monthly_installments_enabled: self.monthly_installments.as_ref().map(|_| true),
                monthly_installments_options: self.monthly_installments.as_deref(),
                success_url: success_url.as_str(),
                failure_url: failure_url.as_str(),
                expires_at: extras.expires_at,
            }),
            charges: Vec::new(),
            three_ds_mode: self.three_ds_mode,
            pre_authorize: self.pre_authorize,
            metadata,
        })
    }

    /// The fields that make two creates "the same", by request name, normalised. The key is
    /// left out (the account hash stands for it), and so are defaults computed at request time.
    pub fn identity(&self) -> Map<String, Value> {
        let url = |u: &Option<TargetUrl>| u.as_ref().map(|u| u.as_str().to_owned());
        let sorted = |list: &[String]| {
            let mut list = list.to_vec();
            list.sort();
            list
        };
        let (allowed, excluded) = match &self.methods {
            Methods::Allowed(methods) => (Some(sorted(methods)), None),
            Methods::Excluded(methods) => (None, Some(sorted(methods))),
        };
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
            ("allowed_payment_methods", json!(allowed)),
            ("success_url", json!(url(&self.success_url))),
            ("failure_url", json!(url(&self.failure_url))),
        ]);
        // Options join the identity only when given, so requests without them stay the same as
        // before the options existed.
        let options = [
            ("excluded_payment_methods", json!(excluded)),
            ("monthly_installments", json!(self.monthly_installments)),
            ("three_ds_mode", json!(self.three_ds_mode)),
            (
                "exclude_card_networks",
                json!(self.exclude_card_networks.as_deref().map(sorted)),
            ),
            ("pre_authorize", json!(self.pre_authorize.then_some(true))),
            (
                "metadata",
                json!((!self.metadata.is_empty()).then_some(&self.metadata)),
            ),
        ];
        for (name, value) in options {
            if !value.is_null() {
                identity.insert(name.to_owned(), value);
            }
        }
        identity
    }
}

/// Distinct months of `INSTALLMENT_MONTHS`, sorted.
fn installments(value: &Value) -> Result<Vec<u8>, String> {
    let allowed = || {
        INSTALLMENT_MONTHS
            .iter()
            .map(u8::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let items = value
        .as_array()
        .filter(|items| !items.is_empty())
        .ok_or_else(|| format!("must be a list of months: some of {}", allowed()))?;
    let mut months = Vec::with_capacity(items.len());
    for item in items {
        let month = item
            .as_u64()
            .and_then(|m| u8::try_from(m).ok())
            .filter(|m| INSTALLMENT_MONTHS.contains(m))
            .ok_or_else(|| format!("must hold only months among {}", allowed()))?;
        if !months.contains(&month) {
            months.push(month);
        }
    }
    months.sort_unstable();
    Ok(months)
}

/// The storefront's `metadata`: string values under short keys, within what Conekta allows
/// beside pagos's own keys. Each bad entry is named `metadata.<key>`.
fn metadata(r: &mut FieldReader<'_>) -> BTreeMap<String, String> {
    let Some(value) = r.value("metadata") else {
        return BTreeMap::new();
    };
    let Some(object) = value.as_object() else {
        r.reject("metadata", "must be an object of string values");
        return BTreeMap::new();
    };
    let room = MAX_METADATA_KEYS - OWN_METADATA_KEYS.len();
    if object.len() > room {
        r.reject("metadata", format!("must have at most {room} keys"));
        return BTreeMap::new();
    }
    let mut metadata = BTreeMap::new();
    for (key, value) in object {
        let field = format!("metadata.{key}");
        if key.is_empty() || key.chars().count() > METADATA_KEY_MAX {
            r.reject(
                &field,
                format!("keys must be 1 to {METADATA_KEY_MAX} characters"),
            );
            continue;
        }
        match as_str(value) {
            Ok(text) if text.chars().count() > MAX_METADATA_VALUE => {
                r.reject(
                    &field,
                    format!("must be at most {MAX_METADATA_VALUE} characters"),
                );
            }
            Ok(text) if text.chars().any(char::is_control) => {
                r.reject(&field, "must not contain control characters");
            }
            Ok(text) => {
                metadata.insert(key.clone(), text.to_owned());
            }
            Err(message) => r.reject(&field, message),
        }
    }
    metadata
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

    fn with(extra: Value) -> Map<String, Value> {
        let mut fields = seed();
        fields.extend(extra.as_object().cloned().unwrap());
        fields
    }

    fn named(fields: Map<String, Value>) -> Vec<String> {
        CreateRequest::parse(&fields, NOW)
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect()
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
            request.methods,
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
        assert_eq!(
            named(fields),
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
    fn checkout_options_are_checked_and_named() {
        assert_eq!(
            named(with(json!({"monthly_installments": [3, 5]}))),
            ["monthly_installments"]
        );
        assert_eq!(
            named(with(json!({"monthly_installments": []}))),
            ["monthly_installments"]
        );
        assert_eq!(
            named(with(
                json!({"monthly_installments": [3], "allowed_payment_methods": ["cash"]})
            )),
            ["monthly_installments"]
        );
        assert_eq!(
            named(with(json!({"three_ds_mode": "always"}))),
            ["three_ds_mode"]
        );
        assert_eq!(
            named(with(json!({"exclude_card_networks": ["visa"]}))),
            ["exclude_card_networks"]
        );
        assert_eq!(
            named(with(
                json!({"excluded_payment_methods": ["cash"], "allowed_payment_methods": ["card"]})
            )),
            ["excluded_payment_methods"]
        );
        assert_eq!(
            named(with(
                json!({"pre_authorize": true, "allowed_payment_methods": ["card", "cash"]})
            )),
            ["pre_authorize"]
        );
        assert_eq!(
            named(with(json!({"pre_authorize": "yes"}))),
            ["pre_authorize"]
        );
        assert_eq!(
            named(with(
                json!({"metadata": {"color": 7, "talla": "m", "": "x"}})
            )),
            ["metadata.", "metadata.color"]
        );
        assert_eq!(named(with(json!({"metadata": ["x"]}))), ["metadata"]);
    }

    #[test]
    fn options_reach_the_order_body() {
        let request = CreateRequest::parse(
            &with(json!({
                "monthly_installments": [12, 3, 6, 3], "three_ds_mode": "smart",
                "exclude_card_networks": ["amex"], "excluded_payment_methods": ["cash"],
                "metadata": {"color": "rojo", "reference_id": "mine"}
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

    #[test]
    fn a_pre_authorized_checkout_offers_card_only() {
        let request = CreateRequest::parse(&with(json!({"pre_authorize": true})), NOW).unwrap();
        assert_eq!(request.methods, Methods::Allowed(vec!["card".into()]));
        let extras = OrderExtras {
            phone: "+5215555555555",
            expires_at: NOW + 7200,
            attempt_key: "clm_1",
        };
        let body: Value = serde_json::from_str(request.order_body(&extras).unwrap().get()).unwrap();
        assert_eq!(body["pre_authorize"], true);
        assert_eq!(body["checkout"]["allowed_payment_methods"], json!(["card"]));
    }
}
