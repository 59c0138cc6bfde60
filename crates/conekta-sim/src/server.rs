//! Starting the simulator: its options, the shared state every handler sees, and the handle its
//! owner keeps. The owner (pagos under `--sandbox`, or the `conekta-sim` binary) decides what to
//! do with the URL and the public key; the simulator changes nothing outside itself.

use crate::keys::WebhookSigner;
use crate::world::state::World;
use crate::{api, pages, trigger};
use actix_web::{web, App, HttpServer};
use std::net::{IpAddr, TcpListener};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

/// How to start the simulator.
#[derive(Debug, Clone)]
pub struct Options {
    /// Listen address; `0.0.0.0` in a container.
    pub host: String,
    /// Listen port; 0 picks a free one.
    pub port: u16,
    /// Where Conekta's events go (the bridge's webhook endpoint); it may also be set later,
    /// once the bridge knows its own port ([`Sandbox::set_webhook_url`]).
    pub webhook_url: Option<String>,
    /// The `whsec_…` secret the inbox verifies notifications with. Without one the inbox
    /// refuses every notification: it cannot tell a genuine one from a forgery.
    pub signing_secret: Option<String>,
    /// How long the inbox, switched to "timeout", holds a notification before it answers:
    /// longer than the sender waits, so that the sender sees a timeout.
    pub inbox_hold: Duration,
    /// The shop the hosted checkout and result pages name, as Conekta shows the merchant's.
    pub shop_name: String,
}

/// What the pages call the shop unless told otherwise.
pub const DEFAULT_SHOP_NAME: &str = "Tienda de prueba";

impl Default for Options {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".to_owned(),
            port: 0,
            webhook_url: None,
            signing_secret: None,
            inbox_hold: Duration::from_secs(20),
            shop_name: DEFAULT_SHOP_NAME.to_owned(),
        }
    }
}

/// The bridge's admin API, which the inbox asks to deliver a notification again.
#[derive(Clone)]
pub struct BridgeAdmin {
    /// `http://127.0.0.1:{port}`
    pub url: String,
    pub token: String,
}

/// The state every handler shares, one per started simulator.
pub struct Simulator {
    /// `http://{host}:{port}`: where checkout links, the cashier and the inbox live.
    pub url: String,
    pub signer: WebhookSigner,
    world: Mutex<World>,
    inbox: Option<standardwebhooks::Webhook>,
    webhook_url: Mutex<Option<String>>,
    bridge_admin: Mutex<Option<BridgeAdmin>>,
    pub inbox_hold: Duration,
    pub shop_name: String,
}

impl Simulator {
    fn new(url: String, options: &Options) -> anyhow::Result<Self> {
        let inbox = options
            .signing_secret
            .as_deref()
            .map(|secret| {
                secret
                    .strip_prefix("whsec_")
                    .and_then(|_| standardwebhooks::Webhook::new(secret).ok())
                    .ok_or_else(|| anyhow::anyhow!("the signing secret must be whsec_<base64>"))
            })
            .transpose()?;
        Ok(Self {
            url,
            signer: WebhookSigner::generate()?,
            world: Mutex::new(World::default()),
            inbox,
            webhook_url: Mutex::new(options.webhook_url.clone()),
            bridge_admin: Mutex::new(None),
            inbox_hold: options.inbox_hold,
            shop_name: match options.shop_name.trim() {
                "" => DEFAULT_SHOP_NAME.to_owned(),
                name => name.to_owned(),
            },
        })
    }

    pub fn world(&self) -> MutexGuard<'_, World> {
        self.world
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Where events go, once someone said.
    pub fn webhook_url(&self) -> Option<String> {
        self.webhook_url
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The bridge's admin API, once its owner said where it is.
    pub fn bridge_admin(&self) -> Option<BridgeAdmin> {
        self.bridge_admin
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The inbox's verifier; `None` when no signing secret was given.
    pub fn inbox_verifier(&self) -> Option<&standardwebhooks::Webhook> {
        self.inbox.as_ref()
    }
}

/// A running simulator. It serves until the process (or the runtime it was started on) ends.
pub struct Sandbox {
    simulator: web::Data<Simulator>,
}

impl Sandbox {
    /// Binds the port and starts serving on the current actix/tokio runtime, with a fresh RSA
    /// key pair for webhook signatures.
    pub fn start(options: Options) -> anyhow::Result<Self> {
        let listener = TcpListener::bind((options.host.as_str(), options.port)).map_err(|e| {
            anyhow::anyhow!("cannot listen on {}:{}: {e}", options.host, options.port)
        })?;
        let port = listener.local_addr()?.port();
        let simulator = web::Data::new(Simulator::new(link_url(&options.host, port), &options)?);
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

    /// `http://127.0.0.1:{port}`: Conekta's API base for the bridge.
    pub fn url(&self) -> &str {
        &self.simulator.url
    }

    /// The PEM public key Conekta's `Digest` header verifies against.
    pub fn webhook_public_key_pem(&self) -> &str {
        self.simulator.signer.public_pem()
    }

    /// The built-in inbox: a `notification_url` that needs no storefront.
    pub fn inbox_url(&self) -> String {
        format!("{}/inbox/notify", self.simulator.url)
    }

    /// The cashier page, where cash references and CLABEs are paid.
    pub fn cashier_url(&self) -> String {
        format!("{}/cajero", self.simulator.url)
    }

    /// The result page a checkout's `success_url` and `failure_url` may point at.
    pub fn result_url(&self) -> String {
        format!("{}/resultado", self.simulator.url)
    }

    /// The simulator's page for one order, with a button per event it can send.
    pub fn order_page_url(&self, order_id: &str) -> String {
        format!("{}/pedido/{order_id}", self.simulator.url)
    }

    /// Lets the inbox ask the bridge (its admin API at `url`, with this bearer token) to
    /// deliver a notification again. The token stays on the server side of the inbox.
    pub fn set_bridge_admin(&self, url: impl Into<String>, token: impl Into<String>) {
        *self
            .simulator
            .bridge_admin
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(BridgeAdmin {
            url: url.into(),
            token: token.into(),
        });
    }

    /// Sends Conekta's events to this URL from now on.
    pub fn set_webhook_url(&self, url: impl Into<String>) {
        *self
            .simulator
            .webhook_url
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(url.into());
    }
}

/// Links must work from a browser: an unspecified listen address is reached on loopback.
fn link_url(host: &str, port: u16) -> String {
    match host.parse::<IpAddr>() {
        Ok(ip) if ip.is_unspecified() => format!("http://127.0.0.1:{port}"),
        Ok(IpAddr::V6(ip)) => format!("http://[{ip}]:{port}"),
        _ => format!("http://{host}:{port}"),
    }
}

/// Every path the simulator serves.
pub fn routes(config: &mut web::ServiceConfig) {
    config
        .configure(api::routes)
        .configure(pages::routes)
        .route("/_sandbox/trigger", web::post().to(trigger::trigger))
        .default_service(web::to(api::not_found));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_use_a_reachable_host() {
        assert_eq!(link_url("0.0.0.0", 81), "http://127.0.0.1:81");
        assert_eq!(link_url("127.0.0.1", 81), "http://127.0.0.1:81");
        assert_eq!(link_url("::1", 81), "http://[::1]:81");
        assert_eq!(link_url("localhost", 81), "http://localhost:81");
    }

    #[test]
    fn a_signing_secret_must_be_whsec() {
        let options = |secret: &str| Options {
            signing_secret: Some(secret.to_owned()),
            ..Options::default()
        };
        let url = "http://127.0.0.1:1".to_owned();
        assert!(Simulator::new(
            url.clone(),
            &options("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
        )
        .is_ok());
        assert!(Simulator::new(url.clone(), &options("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")).is_err());
        assert!(Simulator::new(url, &options("whsec_not base64!")).is_err());
    }
}
