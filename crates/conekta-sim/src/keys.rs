//! The simulator's own secret, made fresh at every start: the RSA key pair that signs webhooks
//! (Conekta keeps the private half; the bridge gets the public PEM).

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
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

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::pkcs1v15::{Signature, VerifyingKey};
    use rsa::pkcs8::DecodePublicKey;
    use rsa::signature::Verifier;

    #[test]
    fn the_digest_is_a_pkcs1v15_sha256_signature_of_the_body() {
        let signer = WebhookSigner::generate().unwrap();
        let public = rsa::RsaPublicKey::from_public_key_pem(signer.public_pem()).unwrap();
        let verifier = VerifyingKey::<Sha256>::new(public);
        let body = br#"{"id":"evt","type":"order.paid"}"#;
        let raw = BASE64.decode(signer.digest(body)).unwrap();
        let signature = Signature::try_from(raw.as_slice()).unwrap();
        assert!(verifier.verify(body, &signature).is_ok());
        assert!(verifier.verify(b"{}", &signature).is_err());
        assert!(!format!("{signer:?}").contains("PRIVATE"));
    }
}
