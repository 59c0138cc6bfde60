//! Builds the whole service from settings; `main` and the tests both use this.

use crate::http::admin::AdminAuth;
use crate::http::caller_auth::Callers;
use crate::http::{self, health};
use crate::metrics::Metrics;
use crate::providers::intake::{held_notification, Intake};
use crate::providers::ProviderSetup;
use crate::relay::{Relay, RelayConfig, RelayHandle};
use crate::settings::{Settings, SettingsError};
use crate::store::{Backend, Store, StoreError};
use actix_web::dev::Server;
use actix_web::{web, App, HttpServer};
use std::net::TcpListener;
use tracing_actix_web::TracingLogger;

/// How long SIGTERM waits for requests in flight before the workers are stopped.
const SHUTDOWN_GRACE_S: u64 = 30;

pub struct Application {
    port: u16,
    server: Server,
    store: Store,
    relay: RelayHandle,
    relay_done: Option<tokio::task::JoinHandle<()>>,
}

impl Application {
    /// Connects the store (running migrations), starts the relay, binds the listener.
    /// Binds the port first, then connects the store: a wrong setting stops the start before
    /// anything is written.
    pub async fn build(settings: Settings) -> Result<Self, StartError> {
        let address = format!("{}:{}", settings.server.host, settings.server.port);
        let listener = TcpListener::bind((settings.server.host.as_str(), settings.server.port))
            .map_err(|error| {
                SettingsError::new(
                    "PAGOS__SERVER__PORT",
                    &settings.server.port.to_string(),
                    format!("cannot listen on {address}: {error}"),
                )
            })?;
        let store = Store::connect(&settings.database.url)
            .await
            .map_err(|error| match error {
                StoreError::Migration(_) => StartError::Other(error.into()),
                error => StartError::Setting(SettingsError {
                    name: "PAGOS__DATABASE__URL".to_owned(),
                    value: format!("{:?}", settings.masked_database_url()),
                    reason: error.to_string(),
                }),
            })?;
        if store.backend() == Backend::Sqlite {
            // SQLite serves one process: claims a previous run left in flight died with it.
            let released = store.release_claim_leases().await?;
            if released > 0 {
                tracing::info!(released, "claims of the previous run taken back");
            }
        }
        actix_web::rt::spawn(store.clone().keep_heartbeat());
        warn_unused_single_storefront_settings(&settings);
        let metrics = Metrics::new();
        let (relay, relay_done) = start_relay(&settings, &store, &metrics).await?;
        actix_web::rt::spawn(crate::housekeeping::run(
            store.clone(),
            relay.clone(),
            held_notification,
        ));
        let providers = ProviderSetup::new(
            &settings.conekta,
            settings.relay.allow_private_targets,
            settings.storefronts(),
            &store,
            &metrics,
        );
        let intake = web::Data::new(Intake {
            store: store.clone(),
            relay: relay.clone(),
            metrics: metrics.clone(),
        });
        let port = listener.local_addr().map_err(anyhow::Error::from)?.port();
        let store_data = web::Data::new(store.clone());
        let relay_data = web::Data::new(relay.clone());
        let metrics_data = web::Data::new(metrics);
        let admin = web::Data::new(AdminAuth::new(settings.admin.token.as_ref()));
        let storefronts = settings.storefronts();
        let callers = web::Data::new(Callers::new(
            storefronts.clone(),
            settings.server.api_keys.as_ref(),
        ));
        if !callers.is_enabled() {
            tracing::info!("PAGOS__SERVER__API_KEYS is not set: /pagos is open to the network");
        }
        let server = HttpServer::new(move || {
            App::new()
                .wrap(actix_web::middleware::from_fn(
                    http::request_metrics::record,
                ))
                .wrap(actix_web::middleware::from_fn(http::access_log::log))
                .wrap(TracingLogger::<http::request_span::RequestSpan>::new())
                .app_data(web::Data::new(providers.registry()))
                .app_data(store_data.clone())
                .app_data(relay_data.clone())
                .app_data(metrics_data.clone())
                .app_data(intake.clone())
                .app_data(admin.clone())
                .app_data(callers.clone())
                .configure(http::routes)
                .default_service(web::to(health::not_found))
        })
        .listen(listener)
        .map_err(anyhow::Error::from)?
        .shutdown_timeout(SHUTDOWN_GRACE_S)
        .run();
        tracing::info!(port, backend = ?store.backend(), "pagos listening");
        Ok(Self {
            port,
            server,
            store,
            relay,
            relay_done,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Serves until SIGTERM/SIGINT: requests in flight finish, then deliveries in flight
    /// (bounded); undelivered notifications stay in the store for the next start.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result = self.server.await;
        self.relay.stop();
        if let Some(done) = self.relay_done {
            let _ = done.await;
        }
        if let Err(error) = self.store.forget_instance().await {
            tracing::warn!(%error, "could not record this process's stop");
        }
        self.store.close().await;
        result
    }
}

async fn start_relay(
    settings: &Settings,
    store: &Store,
    metrics: &Metrics,
) -> anyhow::Result<(RelayHandle, Option<tokio::task::JoinHandle<()>>)> {
    let storefronts = settings.storefronts();
    if !storefronts.can_sign() {
        tracing::warn!(
            "PAGOS__RELAY__SIGNING_SECRET is not set: notifications are stored but none is sent until it is"
        );
        return Ok((RelayHandle::idle(), None));
    }
    let mut config = RelayConfig::new(
        storefronts,
        settings.relay.retry_schedule.clone(),
        settings.relay.timeout,
    );
    config.allow_private_targets = settings.relay.allow_private_targets;
    if store.backend() == Backend::Sqlite {
        // SQLite serves one replica: claims left by a previous run of it are void.
        let released = store.release_all_leases().await?;
        if released > 0 {
            tracing::info!(released, "claims from the previous run released");
        }
    }
    let (handle, done) = Relay::start(store.clone(), config, metrics.clone());
    Ok((handle, Some(done)))
}

/// Why the service did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A setting is wrong: the operator must change it (exit code 2).
    #[error(transparent)]
    Setting(#[from] SettingsError),
    /// Anything else (a migration that failed, say).
    #[error("{0:#}")]
    Other(#[from] anyhow::Error),
}

impl From<crate::store::StoreError> for StartError {
    fn from(error: crate::store::StoreError) -> Self {
        Self::Other(error.into())
    }
}

/// With `[[storefronts]]` listed, the single-storefront key and secret are not used: said once,
/// so an operator does not believe them in force.
fn warn_unused_single_storefront_settings(settings: &Settings) {
    if settings.storefronts.is_empty() {
        return;
    }
    let names: Vec<&str> = settings
        .storefronts
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    tracing::info!(storefronts = %names.join(","), "serving several storefronts");
    for (set, name) in [
        (
            settings.server.api_keys.is_some(),
            "PAGOS__SERVER__API_KEYS",
        ),
        (
            settings.relay.signing_secret.is_some(),
            "PAGOS__RELAY__SIGNING_SECRET",
        ),
    ] {
        if set {
            tracing::warn!("{name} is not used: each of the [[storefronts]] has its own");
        }
    }
}
