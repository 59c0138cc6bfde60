//! Conekta's `Digest` header: proof that a webhook's raw body comes from Conekta, in every
//! sound form its documentation and plugins have used, checked against the configured keys.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use rsa::pkcs1::DecodeRsaPublicKey;
use rsa::pkcs8::DecodePublicKey;
use rsa::traits::PublicKeyParts;
use rsa::{Pkcs1v15Sign, RsaPublicKey};
use sha2::{Digest, Sha256};
use std::fmt;

/// The forms in which Conekta's documentation and plugins have produced the `Digest` header.
/// All are PKCS#1 v1.5 type-1 padding under the private key, checked strictly (exact length,
/// `00 01 FF… 00`), so none lets anyone without the key make a header that verifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DigestForm {
    /// A standard RSA PKCS#1 v1.5 SHA-256 signature of the raw body (with DigestInfo).
    Pkcs1v15Sha256,
    /// The body's SHA-256 as 64 hex characters (lower or upper case), no DigestInfo: what the
    /// legacy plugins compare after "decrypting" the header with the public key.
    HexSha256,
    /// The body's 32 SHA-256 bytes, no DigestInfo.
    RawSha256,
}

impl DigestForm {
    pub const ALL: [DigestForm; 3] = [Self::Pkcs1v15Sha256, Self::HexSha256, Self::RawSha256];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pkcs1v15Sha256 => "pkcs1v15-sha256",
            Self::HexSha256 => "sha256-hex-type1",
            Self::RawSha256 => "sha256-raw-type1",
        }
    }
}

impl fmt::Display for DigestForm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a `Digest` was refused. Its text names the reason only: never the header, the body or a
/// key, so it can go to logs as is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DigestRefusal {
    /// Nothing left once whitespace and the `sha-256=` prefix are taken off.
    Empty,
    /// Not standard base64.
    NotBase64,
    /// Longer or shorter than a signature by any configured key.
    WrongLength,
    /// The right length, but no configured key verifies it in any accepted form.
    NoKeyVerifies,
}

impl fmt::Display for DigestRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Empty => "the Digest header is empty",
            Self::NotBase64 => "the Digest header is not standard base64",
            Self::WrongLength => {
                "the Digest is not the length of a signature by any configured key"
            }
            Self::NoKeyVerifies => "no configured key verifies the Digest in any accepted form",
        })
    }
}

impl std::error::Error for DigestRefusal {}

/// Verifies Conekta's `Digest` header (any [`DigestForm`], optional `sha-256=` prefix) against
/// any of the configured public keys (several, so a key can be rotated without refusing
/// webhooks).
#[derive(Clone)]
pub struct DigestVerifier {
    keys: Vec<RsaPublicKey>,
}

const PREFIX: &str = "sha-256=";

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
            keys.push(key);
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

    /// The form in which `digest` verifies exactly these bytes under one of the keys, or why
    /// it does not.
    pub fn verify(&self, body: &[u8], digest: &str) -> Result<DigestForm, DigestRefusal> {
        let digest = digest.trim();
        // `get` rather than slicing: the header may hold multi-byte characters.
        let digest = match digest.get(..PREFIX.len()) {
            Some(prefix) if prefix.eq_ignore_ascii_case(PREFIX) => &digest[PREFIX.len()..],
            _ => digest,
        };
        if digest.is_empty() {
            return Err(DigestRefusal::Empty);
        }
        let signature = BASE64
            .decode(digest)
            .map_err(|_| DigestRefusal::NotBase64)?;
        let hash = Sha256::digest(body);
        let (lower, upper) = (hex::encode(hash), hex::encode_upper(hash));
        let messages: [(DigestForm, &[u8]); 4] = [
            (DigestForm::Pkcs1v15Sha256, &hash),
            (DigestForm::HexSha256, lower.as_bytes()),
            (DigestForm::HexSha256, upper.as_bytes()),
            (DigestForm::RawSha256, &hash),
        ];
        let mut right_length = false;
        // The rsa crate checks the padding strictly; a signature of another length than the
        // key's modulus never verifies, so only keys of the signature's length are tried.
        for key in self.keys.iter().filter(|key| key.size() == signature.len()) {
            right_length = true;
            for (form, message) in messages {
                let scheme = match form {
                    DigestForm::Pkcs1v15Sha256 => Pkcs1v15Sign::new::<Sha256>(),
                    DigestForm::HexSha256 | DigestForm::RawSha256 => Pkcs1v15Sign::new_unprefixed(),
                };
                if key.verify(scheme, message, &signature).is_ok() {
                    return Ok(form);
                }
            }
        }
        Err(if right_length {
            DigestRefusal::NoKeyVerifies
        } else {
            DigestRefusal::WrongLength
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The openssl-made vectors under `tests/data/digest/` (see its `make.sh`).
    macro_rules! vector {
        ($name:literal) => {
            include_str!(concat!("../../../tests/data/digest/", $name, ".b64"))
        };
    }
    const BODY: &[u8] = include_bytes!("../../../tests/data/digest/body.json");
    const WEBHOOK_KEY: &str = include_str!("../../../tests/data/keys/webhook_public.pem");
    const OTHER_KEY: &str = include_str!("../../../tests/data/keys/other_public.pem");
    const VALID: [(&str, DigestForm); 4] = [
        (vector!("sig_digestinfo"), DigestForm::Pkcs1v15Sha256),
        (vector!("sig_hex"), DigestForm::HexSha256),
        (vector!("sig_hex_upper"), DigestForm::HexSha256),
        (vector!("sig_raw32"), DigestForm::RawSha256),
    ];

    /// The test key listed second of two, as during a rotation.
    fn rotating() -> DigestVerifier {
        let verifier = DigestVerifier::from_pem(&format!("{OTHER_KEY}{WEBHOOK_KEY}")).unwrap();
        assert_eq!(verifier.key_count(), 2);
        verifier
    }

    #[test]
    fn every_form_conekta_has_used_verifies() {
        let only = DigestVerifier::from_pem(WEBHOOK_KEY).unwrap();
        let both = rotating();
        let other = DigestVerifier::from_pem(OTHER_KEY).unwrap();
        let mut tampered = BODY.to_vec();
        tampered[10] ^= 1;
        for (vector, form) in VALID {
            let bare = vector.trim();
            for digest in [
                bare.to_owned(),
                format!("sha-256={bare}"),
                format!("SHA-256={bare}"),
                format!("Sha-256={bare}"),
                format!(" \tsha-256={bare}\r\n"),
            ] {
                assert_eq!(only.verify(BODY, &digest), Ok(form), "{digest}");
                assert_eq!(both.verify(BODY, &digest), Ok(form), "{digest}");
                assert_eq!(
                    other.verify(BODY, &digest),
                    Err(DigestRefusal::NoKeyVerifies)
                );
                assert_eq!(
                    both.verify(&tampered, &digest),
                    Err(DigestRefusal::NoKeyVerifies)
                );
            }
        }
    }

    #[test]
    fn forged_digests_are_refused_with_their_reason() {
        // Only Conekta's key: `forged_other_key` is signed by the other one.
        let verifier = DigestVerifier::from_pem(WEBHOOK_KEY).unwrap();
        for (vector, refusal) in [
            (vector!("forged_other_key"), DigestRefusal::NoKeyVerifies),
            (vector!("forged_other_body"), DigestRefusal::NoKeyVerifies),
            (vector!("forged_hex_newline"), DigestRefusal::NoKeyVerifies),
            (vector!("forged_unpadded"), DigestRefusal::NoKeyVerifies),
            (vector!("forged_type2"), DigestRefusal::NoKeyVerifies),
            (vector!("forged_bitflip"), DigestRefusal::NoKeyVerifies),
            (vector!("forged_truncated"), DigestRefusal::WrongLength),
        ] {
            let answer = verifier.verify(BODY, vector);
            assert_eq!(answer, Err(refusal), "{vector}");
            // The reason names no part of the header.
            assert!(!refusal.to_string().contains(&vector[..12]));
        }
        // Only the `sha-256=` prefix: not other algorithms' names, not a second prefix.
        let genuine = VALID[0].0.trim();
        for digest in [
            format!("sha-512={genuine}"),
            format!("sha-256=sha-256={genuine}"),
            format!("sha-256 ={genuine}"),
        ] {
            assert_eq!(
                verifier.verify(BODY, &digest),
                Err(DigestRefusal::NotBase64)
            );
        }
        // Standard base64 only: the URL-safe alphabet and unpadded text are refused.
        let url_safe = genuine.replace('+', "-").replace('/', "_");
        assert_ne!(url_safe, genuine, "the vector should show the alphabet");
        assert_eq!(
            verifier.verify(BODY, &url_safe),
            Err(DigestRefusal::NotBase64)
        );
        assert_eq!(
            verifier.verify(BODY, genuine.trim_end_matches('=')),
            Err(DigestRefusal::NotBase64)
        );
    }

    #[test]
    fn garbage_is_refused_without_panic() {
        let verifier = rotating();
        let cases = [
            ("", DigestRefusal::Empty),
            ("   ", DigestRefusal::Empty),
            ("sha-256=", DigestRefusal::Empty),
            ("SHA-256=  ", DigestRefusal::Empty),
            ("sha-256= =", DigestRefusal::NotBase64),
            ("%%%", DigestRefusal::NotBase64),
            ("not-base64!", DigestRefusal::NotBase64),
            ("sha-256ñ==", DigestRefusal::NotBase64),
            ("ñññññññññ", DigestRefusal::NotBase64),
            ("bm90IGEgc2lnbmF0dXJl", DigestRefusal::WrongLength),
            ("AA==", DigestRefusal::WrongLength),
        ];
        for (digest, refusal) in cases {
            assert_eq!(verifier.verify(BODY, digest), Err(refusal), "{digest:?}");
            assert_eq!(verifier.verify(b"", digest), Err(refusal), "{digest:?}");
        }
        // A modulus-length signature of zeros, of all ones (above the modulus), and huge input.
        let zeros = BASE64.encode([0u8; 256]);
        let ones = BASE64.encode([0xffu8; 256]);
        for digest in [&zeros, &ones] {
            assert_eq!(
                verifier.verify(BODY, digest),
                Err(DigestRefusal::NoKeyVerifies)
            );
        }
        let longer = BASE64.encode([0u8; 257]);
        assert_eq!(
            verifier.verify(BODY, &longer),
            Err(DigestRefusal::WrongLength)
        );
        let huge = "A".repeat(1 << 20);
        assert_eq!(
            verifier.verify(BODY, &huge),
            Err(DigestRefusal::WrongLength)
        );
    }

    #[test]
    fn signatures_made_by_the_rsa_crate_verify_too() {
        use rsa::pkcs8::DecodePrivateKey;
        use rsa::signature::{SignatureEncoding, Signer};
        let private = rsa::RsaPrivateKey::from_pkcs8_pem(include_str!(
            "../../../tests/data/keys/webhook_private.pem"
        ))
        .unwrap();
        let signer = rsa::pkcs1v15::SigningKey::<Sha256>::new(private.clone());
        let body = br#"{"id":"evt1","type":"order.paid"}"#;
        let verifier = rotating();
        let digest = BASE64.encode(signer.sign(body).to_vec());
        assert_eq!(
            verifier.verify(body, &digest),
            Ok(DigestForm::Pkcs1v15Sha256)
        );
        let hex = hex::encode(Sha256::digest(body));
        let unprefixed = private
            .sign(Pkcs1v15Sign::new_unprefixed(), hex.as_bytes())
            .unwrap();
        assert_eq!(
            verifier.verify(body, &BASE64.encode(unprefixed)),
            Ok(DigestForm::HexSha256)
        );
        assert_eq!(
            verifier.verify(br#"{"id":"evt1","type":"order.paid" }"#, &digest),
            Err(DigestRefusal::NoKeyVerifies)
        );
        assert!(DigestVerifier::from_pem("not a key").is_err());
    }
}
