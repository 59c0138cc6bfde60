//! Conekta's `Digest` header: proof that a webhook's raw body comes from Conekta, in every
//! sound form its documentation and plugins have used, checked against the configured keys.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use ring::signature::{RsaPublicKeyComponents, RSA_PKCS1_2048_8192_SHA256};
use rsa::pkcs1::DecodeRsaPublicKey;
use rsa::pkcs8::DecodePublicKey;
use rsa::traits::PublicKeyParts;
use rsa::{BigUint, RsaPublicKey};
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
    keys: Vec<Key>,
}

/// One configured key, in the two shapes its checks need.
#[derive(Clone)]
struct Key {
    /// For the legacy forms: one raw public operation, then each form's padding compared.
    rsa: RsaPublicKey,
    /// For the standard form, the common one: ring's verification takes a tenth of the time of
    /// the rsa crate's arithmetic (which was 44% of the CPU of taking in an event).
    ring: RsaPublicKeyComponents<Vec<u8>>,
}

impl Key {
    fn new(rsa: RsaPublicKey) -> Self {
        let ring = RsaPublicKeyComponents {
            n: rsa.n().to_bytes_be(),
            e: rsa.e().to_bytes_be(),
        };
        Self { rsa, ring }
    }

    /// The signature raised to the public exponent (the padded message it carries), if it is
    /// a number below the modulus (a larger one is another encoding of a smaller one: refused,
    /// as strict PKCS#1 verification refuses it).
    fn open(&self, signature: &[u8]) -> Option<Vec<u8>> {
        let s = BigUint::from_bytes_be(signature);
        if &s >= self.rsa.n() {
            return None;
        }
        let m = s.modpow(self.rsa.e(), self.rsa.n()).to_bytes_be();
        // Big-endian, left-padded with zeros to the modulus's length.
        let mut em = vec![0; self.rsa.size().checked_sub(m.len())?];
        em.extend(m);
        Some(em)
    }
}

/// PKCS#1 v1.5 type-1 padding of `t` in a `k`-byte block: `00 01 FF… 00 t`, at least eight `FF`.
fn type1_padded(t: &[u8], k: usize) -> Option<Vec<u8>> {
    let fill = k.checked_sub(t.len() + 3).filter(|fill| *fill >= 8)?;
    let mut em = Vec::with_capacity(k);
    em.extend([0x00, 0x01]);
    em.extend(std::iter::repeat_n(0xff, fill));
    em.push(0x00);
    em.extend(t);
    Some(em)
}

/// DER `DigestInfo` header for SHA-256 (RFC 8017, 9.2 note 1).
const SHA256_DIGEST_INFO: [u8; 19] = [
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x20,
];

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
            keys.push(Key::new(key));
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
        let mut right_length = false;
        // A signature of another length than the key's modulus never verifies, so only keys of
        // the signature's length are tried.
        let keys = self
            .keys
            .iter()
            .filter(|key| key.rsa.size() == signature.len());
        for key in keys.clone() {
            right_length = true;
            // ring refuses keys under 2048 bits; the check below covers those.
            if key
                .ring
                .verify(&RSA_PKCS1_2048_8192_SHA256, body, &signature)
                .is_ok()
            {
                return Ok(DigestForm::Pkcs1v15Sha256);
            }
        }
        let hash = Sha256::digest(body);
        let (lower, upper) = (hex::encode(hash), hex::encode_upper(hash));
        let standard = [&SHA256_DIGEST_INFO[..], &hash[..]].concat();
        let messages: [(DigestForm, &[u8]); 4] = [
            (DigestForm::Pkcs1v15Sha256, &standard),
            (DigestForm::HexSha256, lower.as_bytes()),
            (DigestForm::HexSha256, upper.as_bytes()),
            (DigestForm::RawSha256, &hash),
        ];
        // One public operation per key; each form is then an exact comparison of the whole
        // block, which is as strict as PKCS#1 verification (exact length, `00 01 FF… 00`).
        for key in keys {
            let Some(em) = key.open(&signature) else {
                continue;
            };
            for (form, message) in messages {
                if type1_padded(message, em.len()).is_some_and(|expected| expected == em) {
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
            .sign(rsa::Pkcs1v15Sign::new_unprefixed(), hex.as_bytes())
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

    #[test]
    fn a_key_ring_refuses_still_verifies_and_another_encoding_of_a_signature_does_not() {
        use rsa::pkcs8::DecodePrivateKey;
        use rsa::signature::{SignatureEncoding, Signer};
        // 1024 bits: under ring's minimum, so only the rsa crate's arithmetic checks it.
        let private = rsa::RsaPrivateKey::from_pkcs8_pem(include_str!(
            "../../../tests/data/keys/short_private.pem"
        ))
        .unwrap();
        let verifier =
            DigestVerifier::from_pem(include_str!("../../../tests/data/keys/short_public.pem"))
                .unwrap();
        let signature = rsa::pkcs1v15::SigningKey::<Sha256>::new(private.clone())
            .sign(BODY)
            .to_vec();
        assert_eq!(
            verifier.verify(BODY, &BASE64.encode(&signature)),
            Ok(DigestForm::Pkcs1v15Sha256)
        );
        // The same number modulo n, written as a larger one of the same length, where one fits.
        let larger = (BigUint::from_bytes_be(&signature) + private.n()).to_bytes_be();
        let k = signature.len();
        let refusal = if larger.len() == k {
            DigestRefusal::NoKeyVerifies
        } else {
            DigestRefusal::WrongLength
        };
        assert_eq!(verifier.verify(BODY, &BASE64.encode(&larger)), Err(refusal));
        // The same for the standard key, which ring checks.
        let private = rsa::RsaPrivateKey::from_pkcs8_pem(include_str!(
            "../../../tests/data/keys/webhook_private.pem"
        ))
        .unwrap();
        let signature = rsa::pkcs1v15::SigningKey::<Sha256>::new(private.clone())
            .sign(BODY)
            .to_vec();
        let larger = (BigUint::from_bytes_be(&signature) + private.n()).to_bytes_be();
        assert!(rotating().verify(BODY, &BASE64.encode(&larger)).is_err());
    }
}
