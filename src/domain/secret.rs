//! The storefront's provider key. It arrives in each request and must never print anywhere.

use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// A provider API key. `Debug` shows `[REDACTED]`; the only ways out are the HTTP
/// `Authorization` header (`expose`) and a one-way hash that names the account.
#[derive(Clone)]
pub struct ProviderSecret(SecretString);

impl ProviderSecret {
    /// Accepts 1 to 256 visible ASCII characters: it goes into an HTTP header, so anything
    /// else could split or corrupt that header. The message never repeats the value.
    pub fn parse(value: &Value) -> Result<Self, String> {
        let text = value.as_str().ok_or("must be a string")?;
        if text.is_empty() {
            return Err("must not be blank".to_owned());
        }
        if text.len() > 256 || !text.bytes().all(|b| b.is_ascii_graphic()) {
            return Err("must be 1 to 256 visible ASCII characters".to_owned());
        }
        Ok(Self(SecretString::from(text)))
    }

    /// Names the provider account without revealing the key: hex SHA-256 of a domain tag and
    /// the key. Keys are long random strings, so the hash cannot be walked back.
    pub fn account_hash(&self) -> String {
        self.account_hash_in(None)
    }

    /// The account as one storefront sees it: two storefronts that share a provider account
    /// keep their ids (`reference_id`, `Idempotency-Key`) apart. Without a storefront, the
    /// account's hash is what it always was (records made before storefronts still match).
    pub fn account_hash_in(&self, storefront: Option<&str>) -> String {
        let mut hasher = Sha256::new();
        hasher.update(b"pagos-account-v1:");
        if let Some(name) = storefront {
            // A storefront name is [a-z0-9-]: the separator cannot occur in it.
            hasher.update(name.as_bytes());
            hasher.update(b"\0");
        }
        hasher.update(self.0.expose_secret().as_bytes());
        hex::encode(hasher.finalize())
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl std::fmt::Debug for ProviderSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProviderSecret([REDACTED])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn never_prints_and_hashes_stably() {
        let secret = ProviderSecret::parse(&json!("key_xxjg4bsD9nohnMjwaTGytA")).unwrap();
        assert!(!format!("{secret:?}").contains("xxjg4"));
        assert_eq!(secret.account_hash(), secret.clone().account_hash());
        assert_eq!(secret.account_hash().len(), 64);
        assert!(!secret.account_hash().contains("xxjg4"));
    }

    #[test]
    fn refuses_header_breaking_keys_without_echoing_them() {
        for bad in [
            json!(""),
            json!("key with space"),
            json!("key\r\nX-Evil: 1"),
            json!(7),
        ] {
            let message = ProviderSecret::parse(&bad).unwrap_err();
            assert!(!message.contains("key"), "{message}");
        }
    }
}
