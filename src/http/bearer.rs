//! Bearer tokens (`Authorization: Bearer …`, the scheme in any case): the accepted ones are
//! kept as SHA-256 digests only, and a presented token is compared with each in constant time.

use actix_web::HttpRequest;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

#[derive(Clone, Default)]
pub struct BearerTokens(Vec<[u8; 32]>);

impl BearerTokens {
    /// Tokens from a comma-separated list; blanks are skipped.
    pub fn from_list(configured: Option<&SecretString>) -> Self {
        let tokens = configured
            .map(|list| {
                list.expose_secret()
                    .split(',')
                    .map(str::trim)
                    .filter(|token| !token.is_empty())
                    .map(digest)
                    .collect()
            })
            .unwrap_or_default();
        Self(tokens)
    }

    /// One token (which may itself contain commas).
    pub fn single(configured: Option<&SecretString>) -> Self {
        Self(
            configured
                .map(|token| digest(token.expose_secret()))
                .into_iter()
                .collect(),
        )
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// True when the request presents one of the tokens.
    pub fn admit(&self, request: &HttpRequest) -> bool {
        let Some(presented) = presented(request) else {
            return false;
        };
        // Every digest is compared, each byte of it: the time says nothing of which matched.
        self.0
            .iter()
            .fold(false, |found, token| found | same(token, &presented))
    }
}

/// The digest of the request's bearer token, if it carries one.
fn presented(request: &HttpRequest) -> Option<[u8; 32]> {
    bearer_token(request).map(|token| digest(&token))
}

/// The request's bearer token (`Authorization: Bearer …`, the scheme in any case).
pub fn bearer_token(request: &HttpRequest) -> Option<String> {
    let value = request.headers().get("authorization")?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
}

fn same(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn with(header: &str) -> HttpRequest {
        TestRequest::default()
            .insert_header(("authorization", header))
            .to_http_request()
    }

    #[test]
    fn the_scheme_is_any_case_and_only_listed_tokens_pass() {
        let tokens = BearerTokens::from_list(Some(&"uno, dos".to_owned().into()));
        assert!(tokens.admit(&with("Bearer uno")));
        assert!(tokens.admit(&with("bearer dos")));
        assert!(tokens.admit(&with("BEARER  dos ")));
        assert!(!tokens.admit(&with("Bearer tres")));
        assert!(!tokens.admit(&with("Basic uno")));
        assert!(!tokens.admit(&with("uno")));
        assert!(!tokens.admit(&TestRequest::default().to_http_request()));
        assert!(BearerTokens::from_list(None).is_empty());
        let single = BearerTokens::single(Some(&"a,b".to_owned().into()));
        assert!(single.admit(&with("Bearer a,b")));
    }
}
