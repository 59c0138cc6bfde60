//! Standard Webhooks signatures: `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`, one
//! per secret a storefront has (space-separated), so a secret is rotated without a notification
//! refused in between. It knows nothing of who the storefronts are.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use ring::hmac;
use secrecy::{ExposeSecret, SecretString};

/// The relay's signing key, from a `whsec_<base64>` secret.
#[derive(Clone)]
pub struct SigningKey(hmac::Key);

impl SigningKey {
    pub fn parse(secret: &SecretString) -> Result<Self, String> {
        let encoded = secret
            .expose_secret()
            .strip_prefix("whsec_")
            .ok_or("must start with whsec_")?;
        let raw = BASE64
            .decode(encoded)
            .map_err(|_| "the part after whsec_ must be base64")?;
        if raw.len() < 24 {
            return Err("must carry at least 24 random bytes".to_owned());
        }
        Ok(Self(hmac::Key::new(hmac::HMAC_SHA256, &raw)))
    }

    /// The headers of one POST signed with this key alone.
    pub fn headers(&self, id: &str, body: &[u8]) -> [(&'static str, String); 4] {
        Signer::one(self.clone()).headers(id, body)
    }

    /// The `webhook-signature` header value for one attempt.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let mut context = hmac::Context::with_key(&self.0);
        context.update(id.as_bytes());
        context.update(b".");
        context.update(timestamp.to_string().as_bytes());
        context.update(b".");
        context.update(body);
        format!("v1,{}", BASE64.encode(context.sign().as_ref()))
    }
}

/// The keys one storefront's notifications are signed with: each signs, so a storefront that
/// verifies with any one of its current secrets accepts them.
#[derive(Clone, Debug)]
pub struct Signer(Vec<SigningKey>);

impl Signer {
    pub fn new(keys: Vec<SigningKey>) -> Self {
        Self(keys)
    }

    pub fn one(key: SigningKey) -> Self {
        Self(vec![key])
    }

    /// The headers of one signed POST (Standard Webhooks): `content-type`, `webhook-id`,
    /// `webhook-timestamp` (now) and `webhook-signature` (one `v1,` signature per key).
    pub fn headers(&self, id: &str, body: &[u8]) -> [(&'static str, String); 4] {
        let timestamp = crate::clock::unix_s();
        let signatures: Vec<String> = self
            .0
            .iter()
            .map(|key| key.sign(id, timestamp, body))
            .collect();
        [
            ("content-type", "application/json".to_owned()),
            ("webhook-id", id.to_owned()),
            ("webhook-timestamp", timestamp.to_string()),
            ("webhook-signature", signatures.join(" ")),
        ]
    }
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey([REDACTED])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_standard_webhooks_reference_vector() {
        // From the Standard Webhooks specification's test suite.
        let key = SigningKey::parse(&"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into()).unwrap();
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            key.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn refuses_malformed_secrets() {
        assert!(SigningKey::parse(&"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into()).is_err());
        assert!(SigningKey::parse(&"whsec_%%%".into()).is_err());
        assert!(SigningKey::parse(&"whsec_c2hvcnQ=".into()).is_err());
    }
}
