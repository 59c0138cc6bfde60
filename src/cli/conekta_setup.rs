//! `pagos conekta setup --url …`: onboarding a Conekta account from the terminal. Registers
//! pagos's webhook endpoint (`POST /webhooks`, subscribed to the events pagos relays or answers)
//! and makes a webhook key (`POST /webhook_keys`), then prints the key's public half as
//! `PAGOS__CONEKTA__WEBHOOK_PUBLIC_KEY` takes it. The merchant's private key is read from the
//! environment only: a flag would leave it in the shell's history and the process list.

use super::args::Args;
use super::http::{send, Call};
use super::{env_var, Failure};
use crate::providers::conekta::client::ACCEPT;
use crate::providers::conekta::digest::DigestVerifier;
use awc::http::Method;
use serde_json::json;

/// Where the merchant's private key comes from.
pub const KEY_VARIABLE: &str = "CONEKTA_PRIVATE_KEY";
const DEFAULT_API_URL: &str = "https://api.conekta.io";

/// What pagos takes from Conekta: news of orders and their charges (relayed to storefronts), a
/// customer's removal (its references stop), and the synchronous questions about recurrent cash
/// references (answered within Conekta's two seconds).
pub const SUBSCRIBED_EVENTS: &[&str] = &[
    "order.created",
    "order.pending_payment",
    "order.paid",
    "order.pre_authorized",
    "order.expired",
    "order.canceled",
    "order.declined",
    "order.voided",
    "order.partially_refunded",
    "order.refunded",
    "order.charged_back",
    "charge.created",
    "charge.paid",
    "charge.declined",
    "charge.refunded",
    "charge.chargeback.created",
    "customer.deleted",
    "inbound_payment.lookup",
    "inbound_payment.payment_attempt",
];

pub struct Setup {
    webhook_url: String,
    api_url: Option<String>,
    json: bool,
}

pub fn parse(words: &[&str]) -> Result<Setup, Failure> {
    let args = Args::parse(words, &["url", "api-url"], &["json"])?;
    args.positional([])?;
    let webhook_url = args.value("url").ok_or_else(|| {
        Failure::Usage(
            "--url is missing: where Conekta reaches pagos, e.g. https://pagos.example/webhooks/conekta"
                .into(),
        )
    })?;
    match url::Url::parse(webhook_url) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {}
        _ => {
            return Err(Failure::Usage(format!(
                "--url `{webhook_url}` is not an http(s) URL"
            )))
        }
    }
    Ok(Setup {
        webhook_url: webhook_url.to_owned(),
        api_url: args.value("api-url").map(str::to_owned),
        json: args.switch("json"),
    })
}

pub async fn run(setup: Setup) -> Result<String, Failure> {
    let key = env_var(KEY_VARIABLE).ok_or_else(|| {
        Failure::Usage(format!(
            "{KEY_VARIABLE} is not set: export the account's private key (key_…) first"
        ))
    })?;
    let api = setup
        .api_url
        .or_else(|| env_var("PAGOS__CONEKTA__API_URL"))
        .unwrap_or_else(|| DEFAULT_API_URL.to_owned());
    let api = api.trim_end_matches('/');
    let webhook_body = json!({"url": setup.webhook_url, "subscribed_events": SUBSCRIBED_EVENTS});
    let webhook = send(Call {
        method: Method::POST,
        url: format!("{api}/webhooks"),
        bearer: Some(&key),
        accept: Some(ACCEPT),
        body: Some(&webhook_body),
    })
    .await?;
    let key_body = json!({"active": true});
    let webhook_key = send(Call {
        method: Method::POST,
        url: format!("{api}/webhook_keys"),
        bearer: Some(&key),
        accept: Some(ACCEPT),
        body: Some(&key_body),
    })
    .await?;
    let pem = webhook_key["public_key"].as_str().unwrap_or_default();
    // A key pagos could not load would refuse every webhook: check it as pagos will.
    DigestVerifier::from_pem(pem).map_err(|error| {
        Failure::Refused(format!(
            "Conekta's webhook key {} is not a public key pagos can use: {error}",
            webhook_key["id"].as_str().unwrap_or("?")
        ))
    })?;
    if setup.json {
        let both = json!({"webhook": webhook, "webhook_key": webhook_key});
        return Ok(serde_json::to_string_pretty(&both).unwrap_or_default());
    }
    Ok(format!(
        "Conekta sends its events to {url} (webhook {webhook_id}, {count} events).\n\
         Webhook key {key_id} made. Give pagos its public half (a .env line; keep every active\n\
         key, PEM blocks one after another, while you rotate):\n\n\
         PAGOS__CONEKTA__WEBHOOK_PUBLIC_KEY='{pem}'",
        url = setup.webhook_url,
        webhook_id = webhook["id"].as_str().unwrap_or("?"),
        count = SUBSCRIBED_EVENTS.len(),
        key_id = webhook_key["id"].as_str().unwrap_or("?"),
        pem = pem.trim_end(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_webhook_url_is_required_and_must_be_http() {
        assert!(parse(&["--url", "https://pagos.example/webhooks/conekta"]).is_ok());
        assert!(parse(&[]).is_err());
        assert!(parse(&["--url", "pagos.example"]).is_err());
        // The key is never a flag.
        assert!(parse(&["--url", "https://p.example", "--key", "key_x"]).is_err());
    }
}
