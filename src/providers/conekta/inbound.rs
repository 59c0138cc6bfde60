//! Conekta's synchronous questions about a reusable reference, answered within its two
//! seconds: `inbound_payment.lookup` (may this reference pay, and how much?) and
//! `inbound_payment.payment_attempt` (may it pay this amount?). The failure codes are seed 001's.

use super::requests::common::DEFAULT_CURRENCY;
use super::PROVIDER;
use crate::clock;
use crate::domain::Amount;
use crate::providers::webhooks::Question;
use crate::relay::notification::new_message_id;
use crate::store::{Store, StoredReference};
use crate::storefronts::Storefronts;
use serde_json::{json, Value};
use std::time::Duration;

/// The storefront's say on a payment must arrive within this, or the stored rules decide.
pub const APPROVAL_BUDGET: Duration = Duration::from_millis(1_500);

pub const NOT_FOUND: &str = "01";
pub const EXPIRED: &str = "03";
pub const INACTIVE: &str = "13";
pub const AMOUNT_NOT_ALLOWED: &str = "16";
pub const NOT_AUTHORIZED: &str = "19";
pub const OUT_OF_RANGE: &str = "35";

pub fn is_question(kind: &str) -> bool {
    matches!(
        kind,
        "inbound_payment.lookup" | "inbound_payment.payment_attempt"
    )
}

/// Asks a reference's `approval_url`, signed like a notification. One per HTTP worker.
pub struct Approver {
    http: awc::Client,
    /// Whose secrets sign a question: the reference's storefront's.
    storefronts: Storefronts,
    allow_private_targets: bool,
}

impl Approver {
    pub fn new(storefronts: Storefronts, allow_private_targets: bool) -> Self {
        Self {
            http: crate::guard::outbound_client(APPROVAL_BUDGET, 64, allow_private_targets),
            storefronts,
            allow_private_targets,
        }
    }

    /// The storefront's `payable` answer, or `None` when it did not give one in time.
    async fn ask(&self, url: &str, storefront: Option<&str>, body: &Value) -> Option<Verdict> {
        let key = match self.storefronts.signer(storefront) {
            Ok(signer) => signer,
            Err(why) => {
                tracing::warn!(reason = %why, "approval_url not asked: the question cannot be signed");
                return None;
            }
        };
        // A literal address skips the resolver's check: it is checked here, as the relay does.
        let literal = url::Url::parse(url).map_err(|_| ()).and_then(|url| {
            crate::guard::check_literal(&url, self.allow_private_targets).map_err(|_| ())
        });
        if literal.is_err() {
            tracing::warn!("approval_url refused by the SSRF guard; the stored range decides");
            return None;
        }
        let id = new_message_id();
        let mut body = body.clone();
        body["id"] = json!(id);
        let payload = body.to_string();
        let exchange = async {
            let mut request = self.http.post(url);
            for header in key.headers(&id, payload.as_bytes()) {
                request = request.insert_header(header);
            }
            let mut response = request.send_body(payload).await.ok()?;
            if !response.status().is_success() {
                return None;
            }
            let answer: Value = response.json().limit(16 * 1024).await.ok()?;
            Some(match answer["payable"].as_bool()? {
                true => Verdict::Payable,
                false => Verdict::Declined(
                    answer["failure_code"]
                        .as_str()
                        .filter(|c| c.len() == 2 && c.bytes().all(|b| b.is_ascii_digit()))
                        .unwrap_or(NOT_AUTHORIZED)
                        .to_owned(),
                ),
            })
        };
        match tokio::time::timeout(APPROVAL_BUDGET, exchange).await {
            Ok(Some(verdict)) => Some(verdict),
            Ok(None) => {
                tracing::warn!("approval_url gave no usable answer; the stored range decides");
                None
            }
            Err(_) => {
                tracing::warn!("approval_url did not answer in time; the stored range decides");
                None
            }
        }
    }
}

enum Verdict {
    Payable,
    Declined(String),
}

fn decline(code: &str) -> Value {
    json!({ "payable": false, "failure_code": code })
}

/// The answer Conekta gets. Never an error: a failure to decide is a decline.
pub async fn answer(store: &Store, approver: &Approver, event: &Question) -> Value {
    let object = &event.data;
    let number = object["payment_method"]["reference"].as_str();
    let customer = object["customer_id"].as_str();
    let reference = match store.find_reference(PROVIDER, number, customer).await {
        Ok(Some(reference)) => reference,
        Ok(None) => return decline(NOT_FOUND),
        Err(error) => {
            tracing::error!(%error, "reference lookup failed; declining");
            return decline(NOT_AUTHORIZED);
        }
    };
    if !reference.active {
        return decline(INACTIVE);
    }
    if reference.expires_at > 0 && reference.expires_at <= clock::unix_s() {
        return decline(EXPIRED);
    }
    let attempt = event.kind == "inbound_payment.payment_attempt";
    let amount = object["amount"].as_i64().unwrap_or(0);
    if attempt {
        if amount <= 0 {
            return decline(AMOUNT_NOT_ALLOWED);
        }
        if amount < reference.min.get() || amount > reference.max.get() {
            return decline(OUT_OF_RANGE);
        }
    }
    let approved = if attempt {
        json!({ "payable": true })
    } else {
        json!({ "payable": true, "min_amount": reference.min.get(), "max_amount": reference.max.get() })
    };
    let Some(url) = &reference.approval_url else {
        return approved;
    };
    match approver
        .ask(
            url,
            reference.storefront.as_deref(),
            &question(event, &reference, attempt.then_some(amount)),
        )
        .await
    {
        Some(Verdict::Declined(code)) => decline(&code),
        Some(Verdict::Payable) | None => approved,
    }
}

/// What the storefront is asked (signed like a notification).
fn question(event: &Question, reference: &StoredReference, amount: Option<i64>) -> Value {
    json!({
        "type": event.kind,
        "provider": PROVIDER,
        "provider_event_id": event.event_id,
        "reference_id": reference.reference_id,
        "reference": reference.reference,
        "amount": amount.and_then(Amount::from_centavos).map(Amount::pesos),
        "amount_cents": amount,
        "currency": event.data["currency"].as_str().unwrap_or(DEFAULT_CURRENCY),
        "min_amount": reference.min.get(),
        "max_amount": reference.max.get(),
        "data": event.data,
    })
}
