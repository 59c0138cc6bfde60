//! What an address reaches, for the SSRF guard. An IPv6 address that carries an IPv4 one
//! (mapped, compatible, NAT64, 6to4) is judged by that IPv4 address: that is where a packet sent
//! to it ends up. Everything else is judged by the IANA special-purpose registries.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why a notification must never reach `ip`, or `None` for a public unicast address.
pub fn refusal(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => refusal_v4(v4),
        IpAddr::V6(v6) => refusal_v6(v6),
    }
}

/// IPv4 ranges that are not the public Internet.
const REFUSED_V4: &[(Ipv4Addr, u32, &str)] = &[
    (v4(0, 0, 0), 8, "this network (incl. unspecified)"),
    (v4(10, 0, 0), 8, "private"),
    (v4(100, 64, 0), 10, "shared address space (CGNAT)"),
    (v4(127, 0, 0), 8, "loopback"),
    // Cloud metadata services answer here (169.254.169.254).
    (v4(169, 254, 0), 16, "link-local"),
    (v4(172, 16, 0), 12, "private"),
    (v4(192, 0, 2), 24, "documentation"),
    (v4(192, 168, 0), 16, "private"),
    (v4(198, 18, 0), 15, "benchmarking"),
    (v4(198, 51, 100), 24, "documentation"),
    (v4(203, 0, 113), 24, "documentation"),
    (v4(224, 0, 0), 4, "multicast"),
    (v4(240, 0, 0), 4, "reserved (incl. broadcast)"),
];

/// IPv6 ranges that are not the public Internet, by name. Whatever else lies outside global
/// unicast (2000::/3) is refused too; the rows outside it are only there to give the reason.
const REFUSED_V6: &[(Ipv6Addr, u32, &str)] = &[
    (Ipv6Addr::UNSPECIFIED, 128, "unspecified"),
    (Ipv6Addr::LOCALHOST, 128, "loopback"),
    // Its networks place the IPv4 address where they choose (RFC 8215), so none can be read out.
    (v6(0x64, 0xff9b, 1), 48, "NAT64 local-use prefix"),
    (v6(0x100, 0, 0), 64, "discard-only"),
    // A Teredo address carries two IPv4 addresses (its server's, and its client's XORed) and
    // is reached through whatever relay or local tunnel is at hand; Teredo is retired, so it is
    // refused whole rather than judged by either.
    (v6(0x2001, 0, 0), 32, "Teredo"),
    // Benchmarking, ORCHID, and anycast services (PCP, TURN, AMT, AS112): never a storefront.
    (v6(0x2001, 0, 0), 23, "IETF protocol assignments"),
    (v6(0x2001, 0xdb8, 0), 32, "documentation"),
    (v6(0x3fff, 0, 0), 20, "documentation"),
    (v6(0x5f00, 0, 0), 16, "SRv6 segment identifiers"),
    // AWS's IPv6 metadata service is fd00:ec2::254.
    (v6(0xfc00, 0, 0), 7, "unique local"),
    (v6(0xfe80, 0, 0), 10, "link-local"),
    (v6(0xfec0, 0, 0), 10, "site-local (deprecated)"),
    (v6(0xff00, 0, 0), 8, "multicast"),
];

const fn v4(a: u8, b: u8, c: u8) -> Ipv4Addr {
    Ipv4Addr::new(a, b, c, 0)
}

const fn v6(a: u16, b: u16, c: u16) -> Ipv6Addr {
    Ipv6Addr::new(a, b, c, 0, 0, 0, 0, 0)
}

fn refusal_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let bits = u32::from(ip);
    REFUSED_V4
        .iter()
        .find(|(net, len, _)| bits >> (32 - len) == u32::from(*net) >> (32 - len))
        .map(|(_, _, reason)| *reason)
}

fn refusal_v6(ip: Ipv6Addr) -> Option<&'static str> {
    if let Some(reason) = REFUSED_V6
        .iter()
        .find(|(net, len, _)| within(ip, *net, *len))
        .map(|(_, _, reason)| *reason)
    {
        return Some(reason);
    }
    if let Some(v4) = embedded_v4(ip) {
        return refusal_v4(v4);
    }
    (!within(ip, v6(0x2000, 0, 0), 3)).then_some("not global unicast (outside 2000::/3)")
}

fn within(ip: Ipv6Addr, net: Ipv6Addr, len: u32) -> bool {
    u128::from(ip) >> (128 - len) == u128::from(net) >> (128 - len)
}

/// The IPv4 address a packet to `ip` is delivered to, for the forms that carry one. `::` and
/// `::1` (inside the compatible range) are named in `REFUSED_V6`, which is looked at first.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let last_32 = Ipv4Addr::from(u128::from(ip) as u32);
    match ip.segments() {
        // IPv4-mapped ::ffff:0:0/96, IPv4-translated ::ffff:0:0:0/96 (RFC 2765), and the
        // deprecated IPv4-compatible ::/96.
        [0, 0, 0, 0, 0, 0xffff, ..] | [0, 0, 0, 0, 0xffff, 0, ..] | [0, 0, 0, 0, 0, 0, ..] => {
            Some(last_32)
        }
        // NAT64 well-known prefix 64:ff9b::/96 (RFC 6052).
        [0x64, 0xff9b, 0, 0, 0, 0, ..] => Some(last_32),
        // 6to4 2002::/16: the IPv4 address is bits 16..48.
        [0x2002, high, low, ..] => Some(Ipv4Addr::from((u32::from(high) << 16) | u32::from(low))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every form the guard knows, with the reason it gives (`None`: a public address).
    const TABLE: &[(&str, Option<&str>)] = &[
        // IPv4: unchanged from before IPv6 was classified.
        ("127.0.0.1", Some("loopback")),
        ("10.1.2.3", Some("private")),
        ("172.16.0.1", Some("private")),
        ("172.31.255.255", Some("private")),
        ("192.168.1.1", Some("private")),
        ("169.254.169.254", Some("link-local")),
        ("0.0.0.0", Some("this network (incl. unspecified)")),
        ("0.1.2.3", Some("this network (incl. unspecified)")),
        ("100.64.0.1", Some("shared address space (CGNAT)")),
        ("100.127.255.255", Some("shared address space (CGNAT)")),
        ("224.0.0.1", Some("multicast")),
        ("239.255.255.250", Some("multicast")),
        ("255.255.255.255", Some("reserved (incl. broadcast)")),
        ("240.0.0.1", Some("reserved (incl. broadcast)")),
        ("192.0.2.1", Some("documentation")),
        ("198.51.100.1", Some("documentation")),
        ("203.0.113.1", Some("documentation")),
        ("198.18.0.1", Some("benchmarking")),
        ("198.19.255.255", Some("benchmarking")),
        ("8.8.8.8", None),
        ("52.1.2.3", None),
        ("172.32.0.1", None),
        ("100.128.0.1", None),
        ("198.20.0.1", None),
        // IPv6 ranges of its own.
        ("::", Some("unspecified")),
        ("::1", Some("loopback")),
        ("fe80::1", Some("link-local")),
        ("febf::1", Some("link-local")),
        ("fc00::1", Some("unique local")),
        ("fd00:ec2::254", Some("unique local")),
        ("fec0::1", Some("site-local (deprecated)")),
        ("ff02::1", Some("multicast")),
        ("ff0e::1", Some("multicast")),
        ("2001:db8::1", Some("documentation")),
        ("3fff::1", Some("documentation")),
        ("3fff:fff::1", Some("documentation")),
        ("100::1", Some("discard-only")),
        ("2001:2::1", Some("IETF protocol assignments")),
        ("2001:10::1", Some("IETF protocol assignments")),
        ("2001:20::1", Some("IETF protocol assignments")),
        ("2001:1::1", Some("IETF protocol assignments")),
        ("5f00::1", Some("SRv6 segment identifiers")),
        ("64:ff9b:1::a00:1", Some("NAT64 local-use prefix")),
        ("1::1", Some("not global unicast (outside 2000::/3)")),
        ("4000::1", Some("not global unicast (outside 2000::/3)")),
        ("::1:0:0:1", Some("not global unicast (outside 2000::/3)")),
        // Teredo: refused whatever client address it carries (here 8.8.8.8, XORed).
        ("2001:0:4136:e378:8000:63bf:f7f7:f7f7", Some("Teredo")),
        ("2001:0:4136:e378:8000:63bf:80ff:fffe", Some("Teredo")),
        // IPv6 carrying IPv4: judged by the IPv4 address.
        ("::127.0.0.1", Some("loopback")),
        ("::7f00:1", Some("loopback")),
        ("::10.0.0.1", Some("private")),
        ("::8.8.8.8", None),
        ("::ffff:7f00:1", Some("loopback")),
        ("::ffff:10.0.0.1", Some("private")),
        ("::ffff:169.254.169.254", Some("link-local")),
        ("::ffff:8.8.8.8", None),
        ("::ffff:0:7f00:1", Some("loopback")),
        ("::ffff:0:8.8.8.8", None),
        ("64:ff9b::7f00:1", Some("loopback")),
        ("64:ff9b::169.254.169.254", Some("link-local")),
        ("64:ff9b::100.64.0.1", Some("shared address space (CGNAT)")),
        ("64:ff9b::8.8.8.8", None),
        ("2002:7f00:1::1", Some("loopback")),
        ("2002:a00:1::", Some("private")),
        ("2002:c0a8:101:1::1", Some("private")),
        ("2002:808:808::1", None),
        // Public IPv6.
        ("2606:4700::1111", None),
        ("2a00:1450:4001:81c::200e", None),
        ("2001:200::1", None),
        ("2001:4860:4860::8888", None),
        ("3fff:1000::1", None),
    ];

    #[test]
    fn classifies_every_form_by_what_it_reaches() {
        for (address, reason) in TABLE {
            let ip: IpAddr = address.parse().unwrap();
            assert_eq!(refusal(ip), *reason, "{address}");
        }
    }

    #[test]
    fn ipv4_judgement_is_unchanged() {
        // The check as it stood before the table, over every /16 and a few hosts in each.
        let before = |ip: Ipv4Addr| {
            let [a, b, ..] = ip.octets();
            ip.is_loopback()
                || ip.is_private()
                || ip.is_link_local()
                || ip.is_unspecified()
                || ip.is_multicast()
                || ip.is_broadcast()
                || ip.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 198 && (b == 18 || b == 19))
                || a >= 240
        };
        for high in 0..=u16::MAX {
            for low in [0x0000, 0x0001, 0x0201, 0x64ff, 0x7101, 0xffff] {
                let ip = Ipv4Addr::from((u32::from(high) << 16) | low);
                assert_eq!(refusal_v4(ip).is_some(), before(ip), "{ip}");
            }
        }
    }
}
