//! `--sandbox`: a local stand-in for Conekta, started in the same process on its own port. It
//! speaks the subset of Conekta's API pagos uses (in Conekta's shapes, refusing what Conekta
//! refuses), serves hosted checkout pages where test cards decide the outcome, a cashier page for
//! recurrent cash references, and an inbox that shows the bridge's signed notifications. It sends
//! the bridge webhooks signed with a key pair made at start. It never runs unless asked.

pub mod api;
pub mod cards;
pub mod cashier;
pub mod checkout;
pub mod checkout_page;
pub mod errors;
pub mod html;
pub mod inbox;
pub mod keys;
pub mod listing;
pub mod orders;
pub mod state;
pub mod validation;
pub mod webhooks;

use crate::settings::Settings;
use actix_web::{web, App, HttpServer};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use keys::WebhookSigner;
use secrecy::ExposeSecret;
use state::World;
use std::net::TcpListener;
use std::sync::{Mutex, MutexGuard};

/// Optional fixed port for the simulator; unset or 0 picks a free one.
pub const PORT_VARIABLE: &str = "PAGOS__SANDBOX__PORT";

/// The simulator's shared state, one per process.
pub struct Simulator {
    /// `http://127.0.0.1:{port}`: where checkout links and the inbox live.
    pub url: String,
    pub signer: WebhookSigner,
    world: Mutex<World>,
    inbox_key: ring::hmac::Key,
    bridge_url: Mutex<Option<String>>,
}

impl Simulator {
    pub fn world(&self) -> MutexGuard<'_, World> {
        self.world
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// `http://127.0.0.1:{bridge port}/webhooks/conekta`, once the bridge is up.
    pub fn bridge_webhook_url(&self) -> Option<String> {
        self.bridge_url
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(|base| format!("{base}/webhooks/conekta"))
    }

    pub fn inbox_key(&self) -> &ring::hmac::Key {
        &self.inbox_key
    }
}

/// The running simulator, as `main` (and the tests) hold it.
pub struct Sandbox {
    simulator: web::Data<Simulator>,
}

impl Sandbox {
    /// Starts the simulator on 127.0.0.1 (`PAGOS__SANDBOX__PORT`, or a free port) and points the
    /// settings at it: Conekta's URL, the webhook public key, a relay signing secret unless one
    /// is configured, and private notification targets allowed (the inbox is on loopback).
    pub fn start(settings: &mut Settings) -> anyhow::Result<Self> {
        let port = match std::env::var(PORT_VARIABLE) {
            Ok(text) if !text.trim().is_empty() => text
                .trim()
                .parse::<u16>()
                .map_err(|_| anyhow::anyhow!("{PORT_VARIABLE} must be a port number"))?,
            _ => 0,
        };
        Self::start_on(settings, port)
    }

    pub fn start_on(settings: &mut Settings, port: u16) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", port))?;
        let url = format!("http://127.0.0.1:{}", listener.local_addr()?.port());
        let signer = WebhookSigner::generate()?;
        if settings.relay.signing_secret.is_none() {
            settings.relay.signing_secret = Some(keys::new_signing_secret().into());
        }
        let secret = settings
            .relay
            .signing_secret
            .as_ref()
            .map(|s| s.expose_secret().to_owned())
            .unwrap_or_default();
        let raw = secret
            .strip_prefix("whsec_")
            .and_then(|b64| BASE64.decode(b64).ok())
            .ok_or_else(|| anyhow::anyhow!("relay.signing_secret must be whsec_<base64>"))?;
        settings.conekta.api_url = url.clone();
        settings.conekta.webhook_public_key = Some(signer.public_pem().to_owned());
        settings.relay.allow_private_targets = true;
        let simulator = web::Data::new(Simulator {
            url,
            signer,
            world: Mutex::new(World::default()),
            inbox_key: ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &raw),
            bridge_url: Mutex::new(None),
        });
        let shared = simulator.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(shared.clone())
                .app_data(web::FormConfig::default().limit(16 * 1024))
                .configure(routes)
        })
        .workers(2)
        .disable_signals()
        .listen(listener)?
        .run();
        actix_web::rt::spawn(server);
        Ok(Self { simulator })
    }

    pub fn url(&self) -> &str {
        &self.simulator.url
    }

    /// The built-in inbox: a `notification_url` that needs no storefront.
    pub fn inbox_url(&self) -> String {
        format!("{}/inbox/notify", self.simulator.url)
    }

    /// Tells the simulator where the bridge listens, so it can deliver webhooks.
    pub fn connect_bridge(&self, bridge_port: u16) {
        *self
            .simulator
            .bridge_url
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(format!("http://127.0.0.1:{bridge_port}"));
    }

    /// The start banner: to the log as a WARN line and to stderr.
    pub fn announce(&self, bridge_port: u16) {
        let url = self.url();
        let inbox = format!("{url}/inbox");
        tracing::warn!(
            simulator = %url,
            inbox = %inbox,
            bridge = %format!("http://127.0.0.1:{bridge_port}"),
            "SANDBOX: no real money moves; livemode false. Conekta is simulated; webhooks are signed \
             with a key made at start; notifications may go to loopback/private addresses"
        );
        eprintln!(
            "\n==================== pagos SANDBOX ====================\n\
             SANDBOX: no real money moves; livemode false.\n\
             Conekta simulator:   {url}\n\
             Inbox (notify URL):  {url}/inbox/notify   (view: {inbox})\n\
             Cashier (references): {url}/cajero\n\
             Bridge:              http://127.0.0.1:{bridge_port}/pagos\n\
             Test cards: 4242 4242 4242 4242 pays, 4000 0000 0000 0002 is declined.\n\
             Notifications to loopback/private addresses are allowed in sandbox mode.\n\
             =======================================================\n"
        );
    }
}

/// Every path the simulator serves.
pub fn routes(config: &mut web::ServiceConfig) {
    config
        .route("/", web::get().to(html::index))
        .configure(api::routes)
        .configure(checkout::routes)
        .configure(cashier::routes)
        .configure(inbox::routes)
        .default_service(web::to(api::not_found));
}
