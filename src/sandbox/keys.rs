//! The sandbox's own secrets, made fresh at every start: the RSA key pair that signs webhooks
//! (Conekta keeps the private half; the bridge gets the public PEM) and, when none is
//! configured, the relay's `whsec_` signing secret.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use rand::RngCore;
use rsa::pkcs8::{EncodePublicKey, LineEnding};
use rsa::signature::{SignatureEncoding, Signer};
use rsa::RsaPrivateKey;
use sha2::Sha256;

/// Signs webhook bodies as Conekta does: `Digest: base64(RSA PKCS#1 v1.5 SHA-256 signature)`.
pub struct WebhookSigner {
    key: rsa::pkcs1v15::SigningKey<Sha256>,
    public_pem: String,
}

impl WebhookSigner {
    /// A fresh RSA-2048 key pair.
    pub fn generate() -> anyhow::Result<Self> {
        let private = RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048)?;
        let public_pem = private
            .to_public_key()
            .to_public_key_pem(LineEnding::LF)
            .map_err(|e| anyhow::anyhow!("cannot encode the sandbox public key: {e}"))?;
        Ok(Self {
            key: rsa::pkcs1v15::SigningKey::new(private),
            public_pem,
        })
    }

    /// The PEM the bridge verifies with (`PAGOS__CONEKTA__WEBHOOK_PUBLIC_KEY`).
    pub fn public_pem(&self) -> &str {
        &self.public_pem
    }

    /// The `Digest` header value for exactly these bytes.
    pub fn digest(&self, body: &[u8]) -> String {
        BASE64.encode(self.key.sign(body).to_vec())
    }
}

impl std::fmt::Debug for WebhookSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSigner([REDACTED])")
    }
}

/// A fresh `whsec_<base64 of 32 random bytes>` secret for the relay.
pub fn new_signing_secret() -> String {
    let mut raw = [0u8; 32];
    rand::rng().fill_bytes(&mut raw);
    format!("whsec_{}", BASE64.encode(raw))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::conekta::digest::{DigestForm, DigestVerifier};

    #[test]
    fn the_bridge_verifies_what_the_sandbox_signs() {
        let signer = WebhookSigner::generate().unwrap();
        let verifier = DigestVerifier::from_pem(signer.public_pem()).unwrap();
        let body = br#"{"id":"evt","type":"order.paid"}"#;
        assert_eq!(
            verifier.verify(body, &signer.digest(body)),
            Ok(DigestForm::Pkcs1v15Sha256)
        );
        assert!(verifier.verify(b"{}", &signer.digest(body)).is_err());
        let secret = new_signing_secret();
        assert!(crate::relay::SigningKey::parse(&secret.into()).is_ok());
    }
}
