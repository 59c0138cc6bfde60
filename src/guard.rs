//! SSRF guard: URLs pagos is told to call later (notification targets, approval URLs) may not
//! point into our own network. Checked when a URL is accepted (by a provider) and again at
//! connect time, through the resolver, so a DNS change cannot slip past (by the relay and the
//! approval questions). It knows nothing of providers, the relay or the store.

use actix_tls::connect::Resolve;
use futures_util::future::LocalBoxFuture;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use url::{Host, Url};

mod address;

/// Addresses a notification must never reach: loopback, private, link-local (cloud metadata
/// lives there), shared/CGNAT, unspecified, multicast, broadcast, documentation and reserved
/// ranges, IPv4 or IPv6, and IPv6 forms that carry such an IPv4 address (see `address`).
pub fn is_forbidden(ip: IpAddr) -> bool {
    address::refusal(ip).is_some()
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetRefused {
    #[error("points to a private, loopback or link-local address")]
    Private,
    #[error("must use http or https")]
    Scheme,
}

/// The checks that need no DNS: the scheme, literal addresses and `localhost` names.
pub fn check_literal(url: &Url, allow_private: bool) -> Result<(), TargetRefused> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(TargetRefused::Scheme);
    }
    if allow_private {
        return Ok(());
    }
    let forbidden = match url.host() {
        Some(Host::Ipv4(ip)) => is_forbidden(ip.into()),
        Some(Host::Ipv6(ip)) => is_forbidden(ip.into()),
        Some(Host::Domain(name)) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            name == "localhost" || name.ends_with(".localhost")
        }
        None => true,
    };
    if forbidden {
        Err(TargetRefused::Private)
    } else {
        Ok(())
    }
}

/// Checks a target URL now: its scheme, a literal address, or every address its host resolves
/// to. A name that does not resolve is let through here (DNS may be down for a moment); the
/// connect-time check still applies.
pub async fn check_target(url: &Url, allow_private: bool) -> Result<(), TargetRefused> {
    check_literal(url, allow_private)?;
    if allow_private {
        return Ok(());
    }
    let port = url.port_or_known_default().unwrap_or(443);
    match url.host() {
        Some(Host::Domain(name)) => match tokio::net::lookup_host((name, port)).await {
            Ok(addrs) => {
                let addrs: Vec<SocketAddr> = addrs.collect();
                if addrs.iter().any(|a| is_forbidden(a.ip())) {
                    Err(TargetRefused::Private)
                } else {
                    Ok(())
                }
            }
            Err(_) => Ok(()),
        },
        _ => Ok(()),
    }
}

/// A resolver for the relay's HTTP client that drops forbidden addresses, so the address
/// actually connected to is the one that was checked.
pub struct GuardedResolver;

impl Resolve for GuardedResolver {
    fn lookup<'a>(
        &'a self,
        host: &'a str,
        port: u16,
    ) -> LocalBoxFuture<'a, Result<Vec<SocketAddr>, Box<dyn std::error::Error>>> {
        Box::pin(async move {
            // An IPv6 literal arrives as the URL writes it, "[2606:4700::1111]", which no DNS
            // knows: an address is judged and connected to as it is.
            let addrs: Vec<SocketAddr> = match literal(host) {
                Some(ip) => vec![SocketAddr::new(ip, port)],
                None => tokio::net::lookup_host((host, port)).await?.collect(),
            };
            if let Some(reason) = addrs.iter().find_map(|a| address::refusal(a.ip())) {
                return Err(Box::new(std::io::Error::other(format!(
                    "{host} resolves to a private, loopback or link-local address ({reason})"
                ))) as Box<dyn std::error::Error>);
            }
            Ok(addrs)
        })
    }
}

/// The address a host names by itself: an IPv4 literal, or an IPv6 one with or without brackets.
fn literal(host: &str) -> Option<IpAddr> {
    let bare = host.strip_prefix('[').and_then(|h| h.strip_suffix(']'));
    bare.unwrap_or(host).parse().ok()
}

/// An HTTP client for calls to storefronts (notifications, approvals): names and IPv6 literals
/// resolve through the guard unless private targets are allowed; no redirects are followed.
/// IPv4 literals never reach a resolver (actix-tls connects to them as they are), so callers
/// check them with `check_literal`.
pub fn outbound_client(timeout: Duration, pool: usize, allow_private: bool) -> awc::Client {
    let connector = awc::Connector::new()
        .timeout(timeout.min(Duration::from_secs(5)))
        .conn_keep_alive(Duration::from_secs(30))
        .limit(pool);
    let builder = awc::Client::builder()
        .timeout(timeout)
        .disable_redirects()
        .add_default_header(("user-agent", concat!("pagos/", env!("CARGO_PKG_VERSION"))));
    if allow_private {
        return builder.connector(connector).finish();
    }
    let guarded =
        actix_tls::connect::Connector::new(actix_tls::connect::Resolver::custom(GuardedResolver))
            .service();
    builder.connector(connector.connector(guarded)).finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_tls::connect::{ConnectInfo, Resolver};
    use actix_web::dev::Service;

    #[actix_web::test]
    async fn refuses_private_targets_unless_allowed() {
        for url in [
            "http://127.0.0.1:8080/x",
            "http://localhost/x",
            "http://[::1]/x",
            "http://169.254.169.254/latest/meta-data",
            "http://10.0.0.5/hook",
            "http://[::ffff:127.0.0.1]/x",
            "http://[::127.0.0.1]/x",
            "http://[64:ff9b::a9fe:a9fe]/latest/meta-data",
            "http://[2002:7f00:1::1]/x",
            "http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/x",
            "http://[fe80::1]/x",
        ] {
            let url = Url::parse(url).unwrap();
            assert_eq!(
                check_target(&url, false).await,
                Err(TargetRefused::Private),
                "{url}"
            );
            assert_eq!(check_target(&url, true).await, Ok(()), "{url}");
        }
        for public in [
            "https://93.184.215.14/notify",
            "http://[2606:4700::1111]/n",
            "http://[::ffff:8.8.8.8]/n",
        ] {
            let url = Url::parse(public).unwrap();
            assert_eq!(check_target(&url, false).await, Ok(()), "{url}");
        }
    }

    /// The resolver as the guarded client calls it: with the URI's own hostname.
    async fn resolve(uri: &str) -> Result<Vec<SocketAddr>, String> {
        let resolver = Resolver::custom(GuardedResolver).service();
        let info = ConnectInfo::new(uri.parse::<awc::http::Uri>().unwrap());
        match resolver.call(info).await {
            Ok(mut info) => Ok(info.take_addrs().collect()),
            Err(error) => Err(error.to_string()),
        }
    }

    #[actix_web::test]
    async fn a_public_ipv6_literal_is_connected_to_as_it_is() {
        // "[2606:4700::1111]" is no DNS name: reaching the address shows DNS was not asked.
        let addrs = resolve("http://[2606:4700::1111]/n").await.unwrap();
        assert_eq!(addrs, ["[2606:4700::1111]:80".parse().unwrap()]);
        let addrs = resolve("https://[2606:4700::1111]:8443/n").await.unwrap();
        assert_eq!(addrs, ["[2606:4700::1111]:8443".parse().unwrap()]);
    }

    #[actix_web::test]
    async fn the_guarded_client_refuses_what_create_refuses() {
        let client = outbound_client(Duration::from_secs(2), 4, false);
        for url in [
            "http://[::1]:9/x",
            "http://[::ffff:7f00:1]:9/x",
            "http://[64:ff9b::7f00:1]:9/x",
            "http://[fd00:ec2::254]/latest/meta-data",
            "http://localhost:9/x",
        ] {
            let error = client.post(url).send().await.unwrap_err().to_string();
            assert!(error.contains("private"), "{url}: {error}");
        }
    }
}
