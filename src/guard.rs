//! SSRF guard: URLs pagos is told to call later (notification targets, approval URLs) may not
//! point into our own network. Checked when a URL is accepted (by a provider) and again at
//! connect time, through the resolver, so a DNS change cannot slip past (by the relay and the
//! approval questions). It knows nothing of providers, the relay or the store.

use actix_tls::connect::Resolve;
use futures_util::future::LocalBoxFuture;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;
use url::{Host, Url};

/// Addresses a notification must never reach: loopback, private, link-local (cloud metadata
/// lives there), shared/CGNAT, unspecified, multicast, broadcast and documentation ranges.
pub fn is_forbidden(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_forbidden_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_forbidden_v4(v4);
            }
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00 // unique local, incl. fd00:ec2::254 metadata
                || (first & 0xffc0) == 0xfe80 // link-local
                || v6 == Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0xa9fe, 0xa9fe)
            // NAT64 metadata
        }
    }
}

fn is_forbidden_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240 // reserved
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
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port)).await?.collect();
            if addrs.iter().any(|a| is_forbidden(a.ip())) {
                return Err(Box::new(std::io::Error::other(format!(
                    "{host} resolves to a private, loopback or link-local address"
                ))) as Box<dyn std::error::Error>);
            }
            Ok(addrs)
        })
    }
}

/// An HTTP client for calls to storefronts (notifications, approvals): names resolve through
/// the guard unless private targets are allowed; no redirects are followed.
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

    #[test]
    fn classifies_addresses() {
        for forbidden in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fe80::1",
            "fd00:ec2::254",
            "::ffff:127.0.0.1",
            "224.0.0.1",
        ] {
            assert!(is_forbidden(forbidden.parse().unwrap()), "{forbidden}");
        }
        for allowed in ["8.8.8.8", "52.1.2.3", "2606:4700::1111", "172.32.0.1"] {
            assert!(!is_forbidden(allowed.parse().unwrap()), "{allowed}");
        }
    }

    #[actix_web::test]
    async fn refuses_private_targets_unless_allowed() {
        for url in [
            "http://127.0.0.1:8080/x",
            "http://localhost/x",
            "http://[::1]/x",
            "http://169.254.169.254/latest/meta-data",
            "http://10.0.0.5/hook",
        ] {
            let url = Url::parse(url).unwrap();
            assert_eq!(
                check_target(&url, false).await,
                Err(TargetRefused::Private),
                "{url}"
            );
            assert_eq!(check_target(&url, true).await, Ok(()), "{url}");
        }
        let public = Url::parse("https://93.184.215.14/notify").unwrap();
        assert_eq!(check_target(&public, false).await, Ok(()));
    }
}
