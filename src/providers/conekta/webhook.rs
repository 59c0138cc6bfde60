//! Conekta's webhooks: the `Digest` signature check over the raw body, the event's shape, and
//! what an event means for the order's payment status.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use rsa::pkcs1::DecodeRsaPublicKey;
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::pkcs8::DecodePublicKey;
use rsa::signature::Verifier;
use rsa::RsaPublicKey;
use serde_json::Value;
use sha2::Sha256;

/// Verifies `Digest: base64(RSA PKCS#1 v1.5 signature of SHA-256(raw body))` against any of the
/// configured public keys (several, so a key can be rotated without refusing webhooks).
#[derive(Clone)]
pub struct DigestVerifier {
    keys: Vec<VerifyingKey<Sha256>>,
}

impl DigestVerifier {
    /// Reads one or more concatenated PEM blocks (`PUBLIC KEY` or `RSA PUBLIC KEY`). Literal
    /// `\n` sequences are accepted too, for keys pasted into one-line variables.
    pub fn from_pem(text: &str) -> Result<Self, String> {
        let text = text.replace("\\n", "\n");
        let mut keys = Vec::new();
        let mut rest = text.as_str();
        while let Some(start) = rest.find("-----BEGIN ") {
            let block = &rest[start..];
            let end_marker = block
                .find("-----END ")
                .ok_or("a PEM block has no END line")?;
            let after_end = block[end_marker + 9..]
                .find("-----")
                .map(|i| end_marker + 9 + i + 5)
                .ok_or("a PEM END line is cut short")?;
            let pem = &block[..after_end];
            let key = if pem.starts_with("-----BEGIN RSA PUBLIC KEY-----") {
                RsaPublicKey::from_pkcs1_pem(pem).map_err(|e| format!("bad RSA public key: {e}"))?
            } else if pem.starts_with("-----BEGIN PUBLIC KEY-----") {
                RsaPublicKey::from_public_key_pem(pem)
                    .map_err(|e| format!("bad public key: {e}"))?
            } else {
                return Err("only PUBLIC KEY and RSA PUBLIC KEY PEM blocks are accepted".into());
            };
            keys.push(VerifyingKey::<Sha256>::new(key));
            rest = &block[after_end..];
        }
        if keys.is_empty() {
            return Err("no PEM public key found".into());
        }
        Ok(Self { keys })
    }

    pub fn key_count(&self) -> usize {
        self.keys.len()
    }

    /// True when `digest` is a valid signature of exactly these bytes by one of the keys.
    pub fn verify(&self, body: &[u8], digest: &str) -> bool {
        let digest = digest.trim();
        let digest = digest
            .strip_prefix("SHA-256=")
            .or_else(|| digest.strip_prefix("sha-256="))
            .unwrap_or(digest);
        let Ok(raw) = BASE64.decode(digest) else {
            return false;
        };
        let Ok(signature) = Signature::try_from(raw.as_slice()) else {
            return false;
        };
        self.keys
            .iter()
            .any(|key| key.verify(body, &signature).is_ok())
    }
}

/// The parts of a Conekta event pagos acts on.
#[derive(Debug, Clone)]
pub struct ConektaEvent {
    pub id: String,
    pub kind: String,
    pub created_at: Option<i64>,
    /// `data.object`: the order or charge the event is about (absent for `webhook_ping`).
    pub object: Value,
}

impl ConektaEvent {
    pub fn parse(body: &Value) -> Result<Self, String> {
        let id = body["id"]
            .as_str()
            .filter(|s| !s.is_empty())
            .ok_or("event without an id")?;
        let kind = body["type"]
            .as_str()
            .filter(|s| !s.is_empty())
            .ok_or("event without a type")?;
        Ok(Self {
            id: id.to_owned(),
            kind: kind.to_owned(),
            created_at: body["created_at"].as_i64(),
            object: body["data"]["object"].clone(),
        })
    }

    /// The order this event is about: an order object's id, or a charge's `order_id`.
    pub fn order_id(&self) -> Option<&str> {
        match self.object["object"].as_str() {
            Some("order") => self.object["id"].as_str(),
            _ => self.object["order_id"].as_str(),
        }
    }

    /// The order status this event reports, if it is an order event.
    pub fn order_status(&self) -> Option<&str> {
        if self.object["object"].as_str() != Some("order") {
            return None;
        }
        self.object["payment_status"]
            .as_str()
            .or_else(|| implied_status(&self.kind))
    }

    /// The amount the object carries, in centavos.
    pub fn amount_cents(&self) -> Option<i64> {
        self.object["amount"].as_i64()
    }

    pub fn currency(&self) -> Option<&str> {
        self.object["currency"].as_str()
    }
}

/// What an order event's type says when its object carries no `payment_status`.
fn implied_status(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "order.paid" => "paid",
        "order.pending_payment" => "pending_payment",
        "order.expired" => "expired",
        "order.canceled" => "canceled",
        "order.declined" => "declined",
        "order.voided" => "voided",
        "order.pre_authorized" => "pre_authorized",
        "order.partially_refunded" => "partially_refunded",
        "order.refunded" => "refunded",
        "order.charged_back" => "charged_back",
        _ => return None,
    })
}

/// Order statuses ranked by how far along an order is. Conekta delivers events out of order
/// (an `order.updated` with `payment_status: null` can follow `order.paid`), so a status only
/// replaces a lower-ranked one. A decline ranks below paid because a hosted checkout lets the
/// buyer try again; unknown statuses rank lowest and never undo anything.
pub fn status_rank(status: &str) -> i64 {
    match status {
        "pending_payment" => 1,
        "declined" => 2,
        "expired" | "canceled" | "voided" => 3,
        "pre_authorized" => 4,
        "partially_paid" => 5,
        "paid" => 6,
        "partially_refunded" => 7,
        "refunded" => 8,
        "charged_back" => 9,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ranks_move_forward() {
        assert!(status_rank("paid") > status_rank("pending_payment"));
        assert!(status_rank("paid") > status_rank("declined"));
        assert!(status_rank("refunded") > status_rank("paid"));
        assert!(status_rank("something_new") < status_rank("pending_payment"));
    }

    #[test]
    fn reads_order_and_charge_events() {
        let order = ConektaEvent::parse(&json!({
            "id": "evt1", "type": "order.updated", "created_at": 1,
            "data": {"object": {"object": "order", "id": "ord_1", "payment_status": null, "amount": 100}}
        }))
        .unwrap();
        assert_eq!(order.order_id(), Some("ord_1"));
        assert_eq!(order.order_status(), None);
        let charge = ConektaEvent::parse(&json!({
            "id": "evt2", "type": "charge.paid",
            "data": {"object": {"object": "charge", "id": "ch_1", "order_id": "ord_1", "status": "paid"}}
        }))
        .unwrap();
        assert_eq!(charge.order_id(), Some("ord_1"));
        assert_eq!(charge.order_status(), None);
        let paid = ConektaEvent::parse(&json!({
            "id": "evt3", "type": "order.paid", "data": {"object": {"object": "order", "id": "ord_1"}}
        }))
        .unwrap();
        assert_eq!(paid.order_status(), Some("paid"));
        assert!(ConektaEvent::parse(&json!({"type": "order.paid"})).is_err());
    }

    #[test]
    fn verifies_only_genuine_digests() {
        use rsa::pkcs8::DecodePrivateKey;
        use rsa::signature::{SignatureEncoding, Signer};
        let private = rsa::RsaPrivateKey::from_pkcs8_pem(include_str!(
            "../../../tests/data/keys/webhook_private.pem"
        ))
        .unwrap();
        let signer = rsa::pkcs1v15::SigningKey::<Sha256>::new(private);
        let body = br#"{"id":"evt1","type":"order.paid"}"#;
        let digest = BASE64.encode(signer.sign(body).to_vec());
        let both = format!(
            "{}{}",
            include_str!("../../../tests/data/keys/other_public.pem"),
            include_str!("../../../tests/data/keys/webhook_public.pem")
        );
        let verifier = DigestVerifier::from_pem(&both).unwrap();
        assert_eq!(verifier.key_count(), 2);
        assert!(verifier.verify(body, &digest));
        assert!(!verifier.verify(br#"{"id":"evt1","type":"order.paid" }"#, &digest));
        assert!(!verifier.verify(body, "bm90IGEgc2lnbmF0dXJl"));
        assert!(!verifier.verify(body, "%%%"));
        let only_other =
            DigestVerifier::from_pem(include_str!("../../../tests/data/keys/other_public.pem"))
                .unwrap();
        assert!(!only_other.verify(body, &digest));
        assert!(DigestVerifier::from_pem("not a key").is_err());
    }
}
