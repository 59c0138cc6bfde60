//! Conekta (Mexico): the first provider. One module per action; `client` speaks HTTP, `wire`
//! holds Conekta's request shapes, `order_flow` creates orders exactly once.

pub mod answers;
pub mod charge;
pub mod claim_flow;
pub mod client;
pub mod create;
pub mod inbound;
pub mod intake;
pub mod lookup;
pub mod order_admin;
pub mod order_flow;
pub mod reference;
pub mod refund;
pub mod request_key;
pub mod requests;
pub mod save_card;
pub mod split;
pub mod webhook;
pub mod wire;

use crate::domain::{Phone, TargetUrl};
use crate::metrics::Metrics;
use crate::providers::{ActionError, ActionReply, Provider};
use crate::relay::guard;
use crate::settings::ConektaSettings;
use crate::store::Store;
use client::ConektaClient;
use futures_util::future::LocalBoxFuture;
use order_flow::OrderFlow;
use request_key::KeyedAttempt;
use serde_json::{Map, Value};

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

pub struct ConektaProvider {
    client: ConektaClient,
    store: Store,
    settings: ConektaSettings,
    allow_private_targets: bool,
}

impl ConektaProvider {
    pub fn new(
        settings: &ConektaSettings,
        allow_private_targets: bool,
        store: Store,
        metrics: Metrics,
    ) -> Self {
        Self {
            client: ConektaClient::new(settings, metrics),
            store,
            settings: settings.clone(),
            allow_private_targets,
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
        self.settings.timeout()
    }

    pub(crate) fn order_flow(&self) -> OrderFlow<'_> {
        OrderFlow {
            client: &self.client,
            store: &self.store,
            timeout: self.settings.timeout(),
        }
    }

    /// Conekta requires a phone on inline customers; the configured one stands in.
    pub(crate) fn phone_or_default<'a>(&'a self, phone: Option<&'a Phone>) -> &'a str {
        phone.map_or(self.settings.default_phone.as_str(), Phone::as_str)
    }

    /// URLs pagos will call later (notifications, approvals) may not point into our network.
    pub(crate) async fn check_target(
        &self,
        field: &str,
        url: &TargetUrl,
    ) -> Result<(), ActionError> {
        guard::check_target(url.as_url(), self.allow_private_targets)
            .await
            .map_err(|refused| ActionError::field(field, refused.to_string()))
    }

    pub(crate) async fn check_notification_url(&self, url: &TargetUrl) -> Result<(), ActionError> {
        self.check_target("notification_url", url).await
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
    ) -> LocalBoxFuture<'a, Result<ActionReply, ActionError>> {
        Box::pin(async move {
            match idempotency_key {
                Some(key) => request_key::perform_keyed(self, action, fields, key).await,
                None => self.act(action, fields, None).await,
            }
        })
    }
}

impl ConektaProvider {
    /// Performs `action`; under an `Idempotency-Key`, with that key's claim (`keyed`).
    pub(crate) async fn act(
        &self,
        action: &str,
        fields: Map<String, Value>,
        keyed: Option<&mut KeyedAttempt<'_>>,
    ) -> Result<ActionReply, ActionError> {
        match action {
            "create" => create::create(self, fields).await,
            "reference" => reference::reference(self, fields).await,
            "save_card" => save_card::save_card(self, fields, keyed).await,
            "charge" => charge::charge(self, fields).await,
            "split" => split::split(self, fields).await,
            "status" => order_admin::status(self, fields).await,
            "cancel" => order_admin::cancel(self, fields, keyed).await,
            "refund" => refund::refund(self, fields, keyed).await,
            "capture" => order_admin::capture(self, fields, keyed).await,
            other => Err(ActionError::field(
                "action",
                format!("`{other}` is not supported by conekta"),
            )),
        }
    }
}
