//! The provider registry: `POST /pagos` names a provider and an action, and the registry finds
//! who performs it; a webhook names a provider, which proves and parses it for the one neutral
//! intake (`intake.rs`). A new provider joins by implementing [`Provider`] and registering in
//! `ProviderSetup`; the HTTP handlers never change. Providers may use the relay, the store and
//! the domain; they never import `http` or `settings`.

pub mod conekta;
pub mod error;
pub mod intake;
pub mod webhooks;

pub use error::ActionError;

use crate::domain::FieldError;

use futures_util::future::LocalBoxFuture;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::rc::Rc;

/// The storefront a request comes from; `None` in single-storefront mode.
pub type Caller<'a> = Option<&'a crate::storefronts::Storefront>;

/// A successful action: the JSON text to answer with (a provider object passed through as is).
#[derive(Debug, Clone)]
pub struct ActionReply {
    pub body: String,
}

pub trait Provider {
    /// The `provider` value that selects this provider.
    fn name(&self) -> &'static str;

    /// The `action` values it performs, for dispatch and for error messages.
    fn actions(&self) -> &'static [&'static str];

    /// Performs one of [`Provider::actions`] with the request's fields (the whole JSON object),
    /// once per `idempotency_key` when the request carries one.
    /// `caller` is the storefront asking (`None`: single-storefront mode): what it makes is
    /// its own, and its ids never meet another storefront's.
    fn perform<'a>(
        &'a self,
        action: &'a str,
        fields: Map<String, Value>,
        idempotency_key: Option<&'a str>,
        caller: Caller<'a>,
    ) -> LocalBoxFuture<'a, Result<ActionReply, ActionError>>;

    /// Proves a webhook genuine and says what it is, in terms the intake shares with every
    /// provider; nothing is parsed before the proof.
    fn webhook(&self, request: &webhooks::WebhookRequest<'_>) -> webhooks::Inbound;

    /// Answers one of the provider's synchronous questions (never an error: a failure to decide
    /// is an answer too).
    fn answer<'a>(&'a self, question: webhooks::Question) -> LocalBoxFuture<'a, Value>;
}

/// What the providers are built from, made once at start; each HTTP worker builds its own
/// registry from it (provider HTTP clients pool connections per thread).
#[derive(Clone)]
pub struct ProviderSetup {
    conekta: conekta::ConektaSetup,
}

impl ProviderSetup {
    /// `storefronts` sign the questions put to storefronts; `allow_private_targets` lets them
    /// point into the cluster.
    pub fn new(
        conekta: &conekta::settings::ConektaSettings,
        allow_private_targets: bool,
        storefronts: crate::storefronts::Storefronts,
        store: &crate::store::Store,
        metrics: &crate::metrics::Metrics,
    ) -> Self {
        Self {
            conekta: conekta::ConektaSetup::new(
                conekta,
                allow_private_targets,
                storefronts,
                store.clone(),
                metrics.clone(),
            ),
        }
    }

    pub fn registry(&self) -> ProviderRegistry {
        ProviderRegistry::default().with(Rc::new(conekta::ConektaProvider::new(&self.conekta)))
    }
}

/// Providers by name. Built once per HTTP worker, since provider HTTP clients are per thread.
#[derive(Default)]
pub struct ProviderRegistry {
    providers: BTreeMap<&'static str, Rc<dyn Provider>>,
}

impl ProviderRegistry {
    pub fn with(mut self, provider: Rc<dyn Provider>) -> Self {
        self.providers.insert(provider.name(), provider);
        self
    }

    pub fn get(&self, name: &str) -> Option<&dyn Provider> {
        self.providers.get(name).map(|p| p.as_ref())
    }

    /// `action` as a metric label: one of the named provider's actions, else `unknown` (labels
    /// stay a bounded set whatever callers send).
    pub fn action_label(&self, provider: Option<&str>, action: Option<&str>) -> &'static str {
        let known = provider
            .and_then(|name| self.get(name))
            .and_then(|provider| {
                let action = action?;
                provider.actions().iter().find(|known| **known == action)
            });
        known.copied().unwrap_or("unknown")
    }

    pub fn names(&self) -> Vec<&'static str> {
        self.providers.keys().copied().collect()
    }
}

impl ProviderRegistry {
    /// Finds the provider and action a request names and performs it. An unknown or missing
    /// `provider`/`action` is a field error that lists what is supported.
    pub async fn dispatch(
        &self,
        fields: Map<String, Value>,
        idempotency_key: Option<&str>,
        caller: Caller<'_>,
    ) -> Result<ActionReply, ActionError> {
        let supported_providers = self.names().join(", ");
        let mut errors = Vec::new();
        let provider = match fields.get("provider").and_then(Value::as_str) {
            None => {
                errors.push(FieldError::new(
                    "provider",
                    format!("is required: one of {supported_providers}"),
                ));
                None
            }
            Some(name) => match self.get(name) {
                Some(provider) => Some(provider),
                None => {
                    errors.push(FieldError::new(
                        "provider",
                        format!("`{name}` is not supported; supported: {supported_providers}"),
                    ));
                    None
                }
            },
        };
        let action = fields
            .get("action")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let action = action.as_deref();
        let supported_actions = |p: &dyn Provider| p.actions().join(", ");
        match (provider, action) {
            (Some(p), None) => errors.push(FieldError::new(
                "action",
                format!("is required: one of {}", supported_actions(p)),
            )),
            (Some(p), Some(a)) if !p.actions().contains(&a) => errors.push(FieldError::new(
                "action",
                format!(
                    "`{a}` is not supported by {}; supported: {}",
                    p.name(),
                    supported_actions(p)
                ),
            )),
            (None, None) => errors.push(FieldError::new("action", "is required")),
            _ => {}
        }
        match (provider, action) {
            (Some(provider), Some(action)) if errors.is_empty() => {
                provider
                    .perform(action, fields, idempotency_key, caller)
                    .await
            }
            _ => Err(ActionError::InvalidFields(errors)),
        }
    }
}
