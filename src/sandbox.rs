//! `--sandbox`: pagos wired to the Conekta simulator (`conekta-sim`) started in the same process.
//! The simulator changes nothing of pagos's; this module applies what it returns to pagos's
//! settings (Conekta's URL, the webhook key, a relay signing secret the simulator's inbox also
//! verifies with, private notification targets allowed) and prints the start banner.

use crate::providers::conekta::digest::DigestVerifier;
use crate::settings::{Settings, SigningSecret};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use conekta_sim::{Options, Sandbox};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};

/// Starts the simulator (`PAGOS__SANDBOX__HOST`, default 127.0.0.1; `PAGOS__SANDBOX__PORT`,
/// default a free port) and points the settings at it.
pub fn start(settings: &mut Settings) -> anyhow::Result<Sandbox> {
    let port = settings.sandbox.port.unwrap_or(0);
    start_on(settings, port)
}

/// As [`start`], on this port.
pub fn start_on(settings: &mut Settings, port: u16) -> anyhow::Result<Sandbox> {
    if settings.relay.signing_secret.is_none() {
        let fresh = SigningSecret::parse(SecretString::from(new_signing_secret()))
            .map_err(anyhow::Error::msg)?;
        settings.relay.signing_secret = Some(fresh);
    }
    let secret = settings
        .relay
        .signing_secret
        .as_ref()
        .map(|secret| secret.text.expose_secret().to_owned());
    let mut options = Options {
        port,
        signing_secret: secret,
        shop_name: settings.sandbox.shop_name.clone(),
        ..Options::default()
    };
    if let Some(host) = &settings.sandbox.host {
        options.host = host.clone();
    }
    let sandbox = Sandbox::start(options)?;
    settings.conekta.api_url = sandbox.url().parse()?;
    settings.conekta.webhook_keys = Some(
        DigestVerifier::from_pem(sandbox.webhook_public_key_pem()).map_err(anyhow::Error::msg)?,
    );
    // The inbox listens on loopback.
    settings.relay.allow_private_targets = true;
    Ok(sandbox)
}

/// Once the bridge listens: the simulator's events go to its webhook endpoint.
pub fn connect(sandbox: &Sandbox, bridge_port: u16) {
    sandbox.set_webhook_url(format!("http://127.0.0.1:{bridge_port}/webhooks/conekta"));
}

/// A fresh `whsec_<base64 of 32 random bytes>` secret for the relay.
pub fn new_signing_secret() -> String {
    let mut raw = [0u8; 32];
    rand::rng().fill_bytes(&mut raw);
    format!("whsec_{}", BASE64.encode(raw))
}

/// The start banner: to the log as a WARN line and to stderr.
pub fn announce(sandbox: &Sandbox, bridge_port: u16) {
    let url = sandbox.url();
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
         Inbox (notify URL):  {notify}   (view: {inbox})\n\
         Cashier (references): {cashier}\n\
         Bridge:              http://127.0.0.1:{bridge_port}/pagos\n\
         Test cards: 4242 4242 4242 4242 pays, 4000 0000 0000 0002 is declined.\n\
         Notifications to loopback/private addresses are allowed in sandbox mode.\n\
         =======================================================\n",
        notify = sandbox.inbox_url(),
        cashier = sandbox.cashier_url(),
    );
}
