//! The storefronts pagos serves (`[[storefronts]]` in the `PAGOS_CONFIG` file): each with its
//! own API keys, signing secrets and, optionally, the hosts its notifications may go to. Without
//! any, pagos serves one storefront the old way (`PAGOS__SERVER__API_KEYS`,
//! `PAGOS__RELAY__SIGNING_SECRET`). Keys are kept as SHA-256 digests only. It knows nothing of
//! providers, the relay or HTTP.

use crate::signing::{Signer, SigningKey};
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// One storefront.
#[derive(Clone, Debug)]
pub struct Storefront {
    pub name: String,
    key_digests: Vec<[u8; 32]>,
    pub signer: Signer,
    /// Hosts its `notification_url`/`approval_url` may name; `None`: any (the SSRF guard still
    /// applies).
    hosts: Option<Vec<HostPattern>>,
}

/// An exact host (`shop.example`) or every subdomain of one (`*.shop.example`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HostPattern {
    Exact(String),
    Subdomains(String),
}

impl HostPattern {
    /// Reads `shop.example` or `*.shop.example` (lower-cased); `None` when malformed.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim().to_ascii_lowercase();
        let (wildcard, host) = match text.strip_prefix("*.") {
            Some(rest) => (true, rest.to_owned()),
            None => (false, text),
        };
        let label_ok = |label: &str| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        };
        if host.is_empty() || host.len() > 253 || !host.split('.').all(label_ok) {
            return None;
        }
        Some(if wildcard {
            HostPattern::Subdomains(host)
        } else {
            HostPattern::Exact(host)
        })
    }

    fn admits(&self, host: &str) -> bool {
        match self {
            HostPattern::Exact(exact) => host == exact,
            HostPattern::Subdomains(parent) => host
                .strip_suffix(parent.as_str())
                .is_some_and(|sub| sub.len() > 1 && sub.ends_with('.')),
        }
    }
}

impl Storefront {
    pub fn new(
        name: String,
        api_keys: &[String],
        signing_keys: Vec<SigningKey>,
        hosts: Option<Vec<HostPattern>>,
    ) -> Self {
        Self {
            name,
            key_digests: api_keys.iter().map(|key| digest(key)).collect(),
            signer: Signer::new(signing_keys),
            hosts,
        }
    }

    /// True when `host` (of a URL pagos will call for this storefront) is in its allowlist.
    pub fn allows_host(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        match &self.hosts {
            None => true,
            Some(patterns) => patterns.iter().any(|pattern| pattern.admits(&host)),
        }
    }
}

/// Who pagos serves, shared by the HTTP workers, the relay and the providers.
#[derive(Clone, Debug, Default)]
pub struct Storefronts(Arc<Inner>);

#[derive(Debug, Default)]
struct Inner {
    storefronts: Vec<Storefront>,
    /// Single-storefront mode: the one signing key (`PAGOS__RELAY__SIGNING_SECRET`).
    default_signer: Option<Signer>,
}

/// Why a notification cannot be signed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unsigned {
    #[error("storefront `{0}` is no longer configured")]
    StorefrontGone(String),
    #[error("no signing secret is configured")]
    NoSecret,
}

impl Storefronts {
    /// Several storefronts, each with its own keys and secrets.
    pub fn several(storefronts: Vec<Storefront>) -> Self {
        Self(Arc::new(Inner {
            storefronts,
            default_signer: None,
        }))
    }

    /// One storefront, the old way: one signing key for everything (or none yet).
    pub fn single(signing_key: Option<SigningKey>) -> Self {
        Self(Arc::new(Inner {
            storefronts: Vec::new(),
            default_signer: signing_key.map(Signer::one),
        }))
    }

    /// True when storefronts are configured (every caller must then be one of them).
    pub fn is_several(&self) -> bool {
        !self.0.storefronts.is_empty()
    }

    /// True when notifications can be signed at all (some secret exists).
    pub fn can_sign(&self) -> bool {
        self.is_several() || self.0.default_signer.is_some()
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.storefronts.iter().map(|s| s.name.as_str())
    }

    pub fn named(&self, name: &str) -> Option<&Storefront> {
        self.0.storefronts.iter().find(|s| s.name == name)
    }

    /// The storefront a bearer token belongs to. Every digest of every storefront is compared,
    /// each byte of it: the time taken says nothing of which one (if any) matched.
    pub fn by_token(&self, token: &str) -> Option<&Storefront> {
        let presented = digest(token);
        let mut found = None;
        for storefront in &self.0.storefronts {
            let matched = storefront
                .key_digests
                .iter()
                .fold(false, |hit, key| hit | same(key, &presented));
            if matched && found.is_none() {
                found = Some(storefront);
            }
        }
        found
    }

    /// The keys that sign what belongs to `storefront` (`None`: single-storefront mode), looked
    /// up when a notification is signed, so a rotated secret applies to what is already queued.
    pub fn signer(&self, storefront: Option<&str>) -> Result<&Signer, Unsigned> {
        match storefront {
            Some(name) => self
                .named(name)
                .map(|s| &s.signer)
                .ok_or_else(|| Unsigned::StorefrontGone(name.to_owned())),
            None => self.0.default_signer.as_ref().ok_or(Unsigned::NoSecret),
        }
    }
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

fn same(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(secret: &str) -> SigningKey {
        SigningKey::parse(&secret.to_owned().into()).unwrap()
    }

    const A: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const B: &str = "whsec_c2VjcmV0LW9mLXN0b3JlZnJvbnQtYi0xMjM0";

    #[test]
    fn tokens_name_their_storefront_and_hosts_are_checked() {
        let fronts = Storefronts::several(vec![
            Storefront::new(
                "norte".into(),
                &["sk_n".into()],
                vec![key(A)],
                Some(vec![
                    HostPattern::parse("norte.example").unwrap(),
                    HostPattern::parse("*.norte.example").unwrap(),
                ]),
            ),
            Storefront::new(
                "sur".into(),
                &["sk_s1".into(), "sk_s2".into()],
                vec![key(B)],
                None,
            ),
        ]);
        assert_eq!(fronts.by_token("sk_s2").unwrap().name, "sur");
        assert!(fronts.by_token("sk_x").is_none());
        let norte = fronts.named("norte").unwrap();
        assert!(norte.allows_host("norte.example"));
        assert!(norte.allows_host("api.norte.example"));
        assert!(norte.allows_host("API.Norte.Example."));
        assert!(!norte.allows_host("evilnorte.example"));
        assert!(!norte.allows_host("norte.example.evil"));
        assert!(fronts.named("sur").unwrap().allows_host("anything.example"));
        assert_eq!(
            fronts.signer(Some("gone")).unwrap_err(),
            Unsigned::StorefrontGone("gone".into())
        );
        assert!(Storefronts::single(None).signer(None).is_err());
    }

    #[test]
    fn host_patterns_are_well_formed() {
        assert_eq!(
            HostPattern::parse("*.a.b"),
            Some(HostPattern::Subdomains("a.b".into()))
        );
        for bad in [
            "",
            "*.",
            "a..b",
            "-a.b",
            "a b",
            "*.*.a",
            "http://a.b",
            "a.b/c",
        ] {
            assert!(HostPattern::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn every_secret_signs() {
        let signer = Signer::new(vec![key(A), key(B)]);
        let [_, _, _, (_, signature)] = signer.headers("msg_1", b"{}");
        assert_eq!(signature.split(' ').count(), 2);
        assert!(signature.split(' ').all(|s| s.starts_with("v1,")));
    }
}
