//! Conekta (Mexico): the first provider. `wire` holds Conekta's API shapes, `requests` one
//! parsed request type per action, `client` speaks HTTP; the action modules (`orders`,
//! `reference`, `save_card`, `refund`, `order_admin`) are flows only, and
//! every one that makes or moves money goes through `claim_flow` (or `request_key`) so it
//! happens at Conekta at most once. `digest`, `events` and `inbound` take in its webhooks.
//! This adapter may use the store, the relay's signing and SSRF guard, and the domain types;
//! nothing outside `providers/` names a type of it but `ProviderSetup`.

pub mod answers;
pub mod claim_flow;
pub mod client;
pub mod digest;
pub mod events;
pub mod inbound;
pub mod lookup;
pub mod order_admin;
pub mod order_flow;
pub mod orders;
pub mod reference;
pub mod refund;
pub mod request_key;
pub mod requests;
pub mod save_card;
pub mod settings;
pub mod wire;

use crate::clock;
use crate::domain::{Phone, TargetUrl};
use crate::guard;
use crate::metrics::Metrics;
use crate::providers::webhooks::{Inbound, Question, WebhookRequest};
use crate::providers::{ActionError, ActionReply, Caller, Provider};
use crate::store::Store;
use crate::storefronts::Storefronts;
use client::ConektaClient;
use digest::{DigestForm, DigestVerifier};
use futures_util::future::LocalBoxFuture;
use inbound::Approver;
use order_flow::make_order;
use request_key::KeyedAttempt;
use requests::{ChargeRequest, CreateRequest, SplitRequest};
use serde_json::{Map, Value};
use settings::ConektaSettings;
use std::sync::atomic::{AtomicBool, Ordering};

pub const PROVIDER: &str = "conekta";
const ACTIONS: &[&str] = &[
    "create",
    "reference",
    "save_card",
    "charge",
    "split",
    "status",
    "cancel",
    "refund",
    "capture",
];

/// What every worker's Conekta adapter is built from, made once at start.
#[derive(Clone)]
pub struct ConektaSetup {
    pub settings: ConektaSettings,
    pub allow_private_targets: bool,
    pub store: Store,
    pub metrics: Metrics,
    /// The keys webhooks must verify against; `None`: every webhook is refused.
    pub verifier: Option<DigestVerifier>,
    /// Whose secrets sign the questions put to a reference's `approval_url`.
    pub storefronts: Storefronts,
}

impl ConektaSetup {
    /// Says at start when webhooks cannot be verified.
    pub fn new(
        settings: &ConektaSettings,
        allow_private_targets: bool,
        storefronts: Storefronts,
        store: Store,
        metrics: Metrics,
    ) -> Self {
        if settings.webhook_keys.is_none() {
            tracing::warn!(
                "PAGOS__CONEKTA__WEBHOOK_PUBLIC_KEY is not set: every Conekta webhook will be refused (401)"
            );
        }
        Self {
            settings: settings.clone(),
            allow_private_targets,
            store,
            metrics,
            verifier: settings.webhook_keys.clone(),
            storefronts,
        }
    }
}

pub struct ConektaProvider {
    client: ConektaClient,
    store: Store,
    settings: ConektaSettings,
    allow_private_targets: bool,
    verifier: Option<DigestVerifier>,
    approver: Approver,
}

impl ConektaProvider {
    /// One per HTTP worker: its HTTP clients pool connections per thread.
    pub fn new(setup: &ConektaSetup) -> Self {
        Self {
            client: ConektaClient::new(&setup.settings, setup.metrics.clone()),
            store: setup.store.clone(),
            settings: setup.settings.clone(),
            allow_private_targets: setup.allow_private_targets,
            verifier: setup.verifier.clone(),
            approver: Approver::new(setup.storefronts.clone(), setup.allow_private_targets),
        }
    }

    pub(crate) fn client(&self) -> &ConektaClient {
        &self.client
    }

    pub(crate) fn store(&self) -> &Store {
        &self.store
    }

    /// One call's budget.
    pub(crate) fn budget(&self) -> std::time::Duration {
        self.settings.timeout
    }

    /// Conekta requires a phone on inline customers; the configured one stands in.
    pub(crate) fn phone_or_default<'a>(&'a self, phone: Option<&'a Phone>) -> &'a str {
        phone.unwrap_or(&self.settings.default_phone).as_str()
    }

    /// URLs pagos will call later (notifications, approvals) may not point into our network,
    /// nor, for a storefront with an allowlist, anywhere but its hosts.
    pub(crate) async fn check_target(
        &self,
        field: &str,
        url: &TargetUrl,
        caller: Caller<'_>,
    ) -> Result<(), ActionError> {
        if let Some(storefront) = caller {
            let host = url.as_url().host_str().unwrap_or_default();
            if !storefront.allows_host(host.trim_start_matches('[').trim_end_matches(']')) {
                return Err(ActionError::field(
                    field,
                    format!(
                        "host `{host}` is not among storefront `{}`'s notification_hosts",
                        storefront.name
                    ),
                ));
            }
        }
        guard::check_target(url.as_url(), self.allow_private_targets)
            .await
            .map_err(|refused| ActionError::field(field, refused.to_string()))
    }

    pub(crate) async fn check_notification_url(
        &self,
        url: &TargetUrl,
        caller: Caller<'_>,
    ) -> Result<(), ActionError> {
        self.check_target("notification_url", url, caller).await
    }
}

impl Provider for ConektaProvider {
    fn name(&self) -> &'static str {
        PROVIDER
    }

    fn actions(&self) -> &'static [&'static str] {
        ACTIONS
    }

    fn perform<'a>(
        &'a self,
        action: &'a str,
        fields: Map<String, Value>,
        idempotency_key: Option<&'a str>,
        caller: Caller<'a>,
    ) -> LocalBoxFuture<'a, Result<ActionReply, ActionError>> {
        // A box per path: the keyed path's state is not carried by every unkeyed call.
        match idempotency_key {
            Some(key) => Box::pin(request_key::perform_keyed(
                self, action, fields, key, caller,
            )),
            None => Box::pin(self.act(action, fields, None, caller)),
        }
    }

    /// Verifies the raw bytes first (`Digest`); only a genuine body is parsed.
    fn webhook(&self, request: &WebhookRequest<'_>) -> Inbound {
        // The reasons name no part of the body, the header or a key.
        let Some(verifier) = &self.verifier else {
            return Inbound::Refused("webhook verification is not configured");
        };
        let Some(digest) = request.header("digest") else {
            return Inbound::Refused("the Digest header is missing");
        };
        match verifier.verify(request.body, digest) {
            Ok(form) => note_digest_form(form),
            Err(refusal) => {
                tracing::warn!(reason = %refusal, "Conekta webhook refused");
                return Inbound::Refused("the Digest signature does not verify");
            }
        }
        events::parse(request.body)
    }

    fn answer<'a>(&'a self, question: Question) -> LocalBoxFuture<'a, Value> {
        Box::pin(async move { inbound::answer(&self.store, &self.approver, &question).await })
    }
}

/// Which form a genuine `Digest` came in: at INFO the first time per form in this process, so
/// operators learn which form Conekta really sends, and at DEBUG after that.
fn note_digest_form(form: DigestForm) {
    static SEEN: [AtomicBool; DigestForm::ALL.len()] =
        [const { AtomicBool::new(false) }; DigestForm::ALL.len()];
    if SEEN[form as usize].swap(true, Ordering::Relaxed) {
        tracing::debug!(digest_form = %form, "Conekta webhook verified");
    } else {
        tracing::info!(digest_form = %form, "first Conekta webhook verified in this Digest form");
    }
}

impl ConektaProvider {
    /// Performs `action`; under an `Idempotency-Key`, with that key's claim (`keyed`).
    pub(crate) async fn act(
        &self,
        action: &str,
        fields: Map<String, Value>,
        keyed: Option<&mut KeyedAttempt<'_>>,
        caller: Caller<'_>,
    ) -> Result<ActionReply, ActionError> {
        // Each action's future in a box of its own size. Inline, every call would carry the
        // largest action's state for as long as Conekta takes to answer.
        let flow: LocalBoxFuture<'_, _> = match action {
            "create" => Box::pin(async move {
                let request = CreateRequest::parse(&fields, clock::unix_s())
                    .map_err(ActionError::InvalidFields)?;
                // Not kept while the order is created: many creates can be waiting at once.
                drop(fields);
                make_order(self, &request, caller).await
            }),
            "reference" => Box::pin(reference::reference(self, fields, caller)),
            "save_card" => Box::pin(save_card::save_card(self, fields, keyed)),
            "charge" => Box::pin(async move {
                let request = ChargeRequest::parse(&fields).map_err(ActionError::InvalidFields)?;
                make_order(self, &request, caller).await
            }),
            "split" => Box::pin(async move {
                let request = SplitRequest::parse(&fields).map_err(ActionError::InvalidFields)?;
                make_order(self, &request, caller).await
            }),
            "status" => Box::pin(order_admin::status(self, fields)),
            "cancel" => Box::pin(order_admin::cancel(self, fields, keyed)),
            "refund" => Box::pin(refund::refund(self, fields, keyed)),
            "capture" => Box::pin(order_admin::capture(self, fields, keyed)),
            other => {
                return Err(ActionError::field(
                    "action",
                    format!("`{other}` is not supported by conekta"),
                ))
            }
        };
        flow.await
    }
}
