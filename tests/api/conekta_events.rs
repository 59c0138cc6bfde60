//! Conekta's webhooks as Conekta sends them: real-shaped events, signed with a test key pair.

use base64::Engine;
use rsa::pkcs8::DecodePrivateKey;
use rsa::signature::{SignatureEncoding, Signer};
use serde_json::{json, Value};
use std::sync::LazyLock;

pub const PUBLIC_KEY: &str = include_str!("../data/keys/webhook_public.pem");
const PRIVATE_KEY: &str = include_str!("../data/keys/webhook_private.pem");
const OTHER_PRIVATE_KEY: &str = include_str!("../data/keys/other_private.pem");

static SIGNER: LazyLock<rsa::pkcs1v15::SigningKey<sha2::Sha256>> =
    LazyLock::new(|| signer(PRIVATE_KEY));
static FORGER: LazyLock<rsa::pkcs1v15::SigningKey<sha2::Sha256>> =
    LazyLock::new(|| signer(OTHER_PRIVATE_KEY));

fn signer(pem: &str) -> rsa::pkcs1v15::SigningKey<sha2::Sha256> {
    rsa::pkcs1v15::SigningKey::new(rsa::RsaPrivateKey::from_pkcs8_pem(pem).unwrap())
}

/// `Digest` header value for these exact bytes, as Conekta computes it.
pub fn digest(body: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(SIGNER.sign(body).to_vec())
}

/// The same, made with a key Conekta never had.
pub fn forged_digest(body: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(FORGER.sign(body).to_vec())
}

/// A fresh 24-hex event id, like Conekta's.
pub fn event_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..24].to_owned()
}

/// An order event: `data.object` is the whole order.
pub fn order_event(kind: &str, order_id: &str, payment_status: Option<&str>, amount: i64) -> Value {
    json!({
        "data": {
            "object": {
                "livemode": false, "amount": amount, "currency": "MXN",
                "payment_status": payment_status, "amount_refunded": 0,
                "object": "order", "id": order_id, "metadata": {"reference_id": "6588"},
                "created_at": 1689366274, "updated_at": 1689366300
            },
            "previous_attributes": {}
        },
        "livemode": false,
        "webhook_status": "pending",
        "webhook_logs": [{"id": "webhl_2ygDS9r2uTYyXdB8m", "url": "https://pagos.example/webhooks/conekta",
                          "failed_attempts": 0, "last_http_response_status": -1, "response_data": null,
                          "object": "webhook_log", "last_attempted_at": 0}],
        "id": event_id(),
        "object": "event",
        "type": kind,
        "created_at": 1689366300
    })
}

/// A charge event: `data.object` is the charge, which names its order.
pub fn charge_event(kind: &str, order_id: &str, status: &str, amount: i64) -> Value {
    json!({
        "data": {"object": {
            "id": "68c620525342d8001673a409", "object": "charge", "livemode": false,
            "amount": amount, "currency": "MXN", "status": status, "order_id": order_id,
            "payment_method": {"object": "card_payment", "type": "credit", "last4": "4242"}
        }, "previous_attributes": {}},
        "livemode": false, "id": event_id(), "object": "event", "type": kind, "created_at": 1689366301
    })
}

pub fn ping() -> Value {
    json!({"data": {"livemode": false, "action": "webhook_ping"}, "livemode": false,
           "id": event_id(), "object": "event", "type": "webhook_ping", "created_at": 1689366000})
}
