//! URLs the storefront gives us: where to send the buyer back and where to notify.

use serde_json::Value;
use url::Url;

use super::field_errors::as_str;

const MAX_URL_LENGTH: usize = 2048;

/// An absolute `http` or `https` URL with a host, at most 2048 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetUrl(Url);

impl TargetUrl {
    pub fn parse(value: &Value) -> Result<Self, String> {
        let text = as_str(value)?;
        // `Url::parse` would quietly drop them; the spec's pattern anchors the scheme at the
        // first character.
        if text.trim() != text {
            return Err("must not have surrounding spaces".to_owned());
        }
        if text.len() > MAX_URL_LENGTH {
            return Err(format!("must be at most {MAX_URL_LENGTH} characters"));
        }
        let url = Url::parse(text).map_err(|_| "must be an absolute http(s) URL".to_owned())?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err("must use http or https".to_owned());
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err("must name a host".to_owned());
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("must not carry credentials".to_owned());
        }
        Ok(Self(url))
    }

    /// This URL with `suffix` appended to its path, keeping any query string.
    pub fn with_path_suffix(&self, suffix: &str) -> Self {
        let mut url = self.0.clone();
        let path = format!("{}{suffix}", url.path().trim_end_matches('/'));
        url.set_path(&path);
        Self(url)
    }

    pub fn as_url(&self) -> &Url {
        &self.0
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn accepts_http_and_https_only() {
        assert!(TargetUrl::parse(&json!("http://template.pow.la")).is_ok());
        assert!(TargetUrl::parse(&json!("https://shop.example/notify?x=1")).is_ok());
        for bad in [
            json!("ftp://shop.example"),
            json!("shop.example"),
            json!("javascript:alert(1)"),
            json!("https://user:pw@shop.example"),
            json!(" https://shop.example"),
            json!(""),
            json!(42),
        ] {
            assert!(TargetUrl::parse(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn appends_the_conekta_return_path() {
        let base = TargetUrl::parse(&json!("http://template.pow.la")).unwrap();
        assert_eq!(
            base.with_path_suffix("/conekta/conekta_order").as_str(),
            "http://template.pow.la/conekta/conekta_order"
        );
        let with_query = TargetUrl::parse(&json!("https://shop.example/mx/?lang=es")).unwrap();
        assert_eq!(
            with_query
                .with_path_suffix("/conekta/conekta_order")
                .as_str(),
            "https://shop.example/mx/conekta/conekta_order?lang=es"
        );
    }
}
