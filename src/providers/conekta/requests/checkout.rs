//! The checkout options of a `create` storefronts ask for: which payment methods it offers (or
//! leaves out), months without interest, 3DS, card networks refused, a card held for a later
//! capture, and the storefront's own metadata. Each is checked and named when wrong.

use super::super::claim_flow::METADATA_KEY;
use super::super::wire::orders::CheckoutRequest;
use super::super::wire::{Metadata, MAX_METADATA_KEYS, MAX_METADATA_VALUE};
use super::common::{one_of, some_of};
use crate::domain::field_errors::as_str;
use crate::domain::{boolean, FieldReader};
use serde_json::{json, Value};
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
/// Metadata keys pagos writes itself (they win over the storefront's).
pub const OWN_METADATA_KEYS: &[&str] = &["reference_id", METADATA_KEY];
/// A storefront metadata key's length.
const METADATA_KEY_MAX: usize = 100;

/// How the checkout chooses its payment methods.
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

/// The options, parsed.
#[derive(Debug, Clone)]
pub struct CheckoutOptions {
    pub methods: Methods,
    /// Months without interest offered for card payments (sorted).
    pub monthly_installments: Option<Vec<u8>>,
    pub three_ds_mode: Option<&'static str>,
    pub exclude_card_networks: Option<Vec<String>>,
    pub pre_authorize: bool,
    /// The storefront's own metadata (pagos's own keys are written over it).
    pub metadata: BTreeMap<String, String>,
}

impl CheckoutOptions {
    /// Reads the options, recording each bad one in `r`; `None` when one was bad.
    pub fn read(r: &mut FieldReader<'_>) -> Option<Self> {
        let allowed = r.optional("allowed_payment_methods", |v| some_of(v, PAYMENT_METHODS));
        let excluded = r.optional("excluded_payment_methods", |v| {
            some_of(v, EXCLUDABLE_METHODS)
        });
        let monthly_installments = r.optional("monthly_installments", installments);
        let three_ds_mode = r.optional("three_ds_mode", |v| one_of(v, THREE_DS_MODES));
        let exclude_card_networks =
            r.optional("exclude_card_networks", |v| some_of(v, CARD_NETWORKS));
        let pre_authorize = r.optional("pre_authorize", boolean).unwrap_or(false);
        let metadata = metadata(r);
        let methods = match (allowed, excluded) {
            (Some(_), Some(_)) => {
                r.reject(
                    "excluded_payment_methods",
                    "cannot be given with allowed_payment_methods: Conekta takes one or the other",
                );
                return None;
            }
            (_, Some(excluded)) => Methods::Excluded(excluded),
            (Some(allowed), None) => Methods::Allowed(allowed),
            // A pre-authorized order holds a card: nothing else can be held.
            (None, None) if pre_authorize => Methods::Allowed(vec!["card".to_owned()]),
            (None, None) => Methods::Allowed(
                DEFAULT_PAYMENT_METHODS
                    .iter()
                    .map(|m| m.to_string())
                    .collect(),
            ),
        };
        if monthly_installments.is_some() && !methods.offers_card() {
            r.reject(
                "monthly_installments",
                "needs card among the payment methods",
            );
        }
        if pre_authorize && methods != Methods::Allowed(vec!["card".to_owned()]) {
            r.reject(
                "pre_authorize",
                "a pre-authorized order is paid by card only: allowed_payment_methods must be [\"card\"] or absent",
            );
        }
        Some(Self {
            methods,
            monthly_installments,
            three_ds_mode,
            exclude_card_networks,
            pre_authorize,
            metadata,
        })
    }

    /// Conekta's `checkout` for these options.
    pub fn checkout<'a>(
        &'a self,
        success_url: &'a str,
        failure_url: &'a str,
        expires_at: i64,
    ) -> CheckoutRequest<'a> {
        let (allowed, excluded) = match &self.methods {
            Methods::Allowed(methods) => (Some(methods.as_slice()), None),
            Methods::Excluded(methods) => (None, Some(methods.as_slice())),
        };
        CheckoutRequest {
            kind: "HostedPayment",
            allowed_payment_methods: allowed,
            excluded_payment_methods: excluded,
            exclude_card_networks: self.exclude_card_networks.as_deref(),
            monthly_installments_enabled: self.monthly_installments.as_ref().map(|_| true),
            monthly_installments_options: self.monthly_installments.as_deref(),
            success_url,
            failure_url,
            expires_at,
        }
    }

    /// The order's metadata: the storefront's, then pagos's own keys over it.
    pub fn metadata<'a>(&'a self, reference_id: &'a str, attempt_key: &'a str) -> Metadata<'a> {
        let mut metadata: Metadata<'_> = self
            .metadata
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        metadata.insert("reference_id", reference_id);
        metadata.insert(METADATA_KEY, attempt_key);
        metadata
    }

    /// The options' part of a create's identity, normalised: the payment methods always, the
    /// others only when given (so requests without them stay what they were).
    pub fn identity(&self) -> Vec<(&'static str, Value)> {
        let sorted = |list: &[String]| {
            let mut list = list.to_vec();
            list.sort();
            list
        };
        let (allowed, excluded) = match &self.methods {
            Methods::Allowed(methods) => (Some(sorted(methods)), None),
            Methods::Excluded(methods) => (None, Some(sorted(methods))),
        };
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
        std::iter::once(("allowed_payment_methods", json!(allowed)))
            .chain(options.into_iter().filter(|(_, value)| !value.is_null()))
            .collect()
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
    use serde_json::Map;

    fn read(fields: Value) -> Result<CheckoutOptions, Vec<String>> {
        let fields: Map<String, Value> = fields.as_object().cloned().unwrap();
        let mut r = FieldReader::new(&fields);
        let options = CheckoutOptions::read(&mut r);
        if r.has_errors() {
            return Err(r.into_errors().into_iter().map(|e| e.field).collect());
        }
        Ok(options.unwrap())
    }

    #[test]
    fn options_are_checked_and_named() {
        let named = |fields: Value| read(fields).unwrap_err();
        assert_eq!(
            named(json!({"monthly_installments": [3, 5]})),
            ["monthly_installments"]
        );
        assert_eq!(
            named(json!({"monthly_installments": []})),
            ["monthly_installments"]
        );
        assert_eq!(
            named(json!({"monthly_installments": [3], "allowed_payment_methods": ["cash"]})),
            ["monthly_installments"]
        );
        assert_eq!(named(json!({"three_ds_mode": "always"})), ["three_ds_mode"]);
        assert_eq!(
            named(json!({"exclude_card_networks": ["visa"]})),
            ["exclude_card_networks"]
        );
        assert_eq!(
            named(
                json!({"excluded_payment_methods": ["cash"], "allowed_payment_methods": ["card"]})
            ),
            ["excluded_payment_methods"]
        );
        assert_eq!(
            named(json!({"pre_authorize": true, "allowed_payment_methods": ["card", "cash"]})),
            ["pre_authorize"]
        );
        assert_eq!(named(json!({"pre_authorize": "yes"})), ["pre_authorize"]);
        assert_eq!(
            named(json!({"metadata": {"color": 7, "talla": "m", "": "x"}})),
            ["metadata.", "metadata.color"]
        );
        assert_eq!(named(json!({"metadata": ["x"]})), ["metadata"]);
    }

    #[test]
    fn defaults_and_a_pre_authorized_checkout() {
        let plain = read(json!({})).unwrap();
        assert_eq!(
            plain.methods,
            Methods::Allowed(vec!["cash".into(), "card".into(), "bank_transfer".into()])
        );
        assert_eq!(plain.identity().len(), 1, "only the payment methods");
        let held = read(json!({"pre_authorize": true})).unwrap();
        assert_eq!(held.methods, Methods::Allowed(vec!["card".into()]));
    }

    #[test]
    fn installments_are_sorted_and_metadata_keeps_pagos_keys_last() {
        let options = read(json!({
            "monthly_installments": [12, 3, 6, 3],
            "metadata": {"color": "rojo", "reference_id": "mine"}
        }))
        .unwrap();
        assert_eq!(options.monthly_installments, Some(vec![3, 6, 12]));
        let metadata = options.metadata("6588", "clm_1");
        assert_eq!(metadata["reference_id"], "6588");
        assert_eq!(metadata["pagos_claim"], "clm_1");
        assert_eq!(metadata["color"], "rojo");
    }
}
