//! Where Tollbooth may send requests on a customer's behalf (outgoing
//! webhooks): public internet addresses only.
//!
//! A webhook URL is typed by a customer, and the server POSTs to it and logs
//! what came back. Without a rule that is a port scanner and a way to reach
//! the operator's own network (cloud metadata at 169.254.169.254, a database
//! on 127.0.0.1, an admin panel on 10.x). The rule is checked when an
//! endpoint is saved (early, readable refusal) and again on every delivery,
//! on the address actually connected to (the server's resolver drops
//! forbidden addresses), so DNS rebinding between the two checks gains
//! nothing.
//!
//! Hosts are read with the `url` crate, the WHATWG parser reqwest itself
//! uses: the host judged is the host connected to, including odd spellings
//! such as `http://2130706433/` or `http://0x7f.1/` (both 127.0.0.1).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use crate::{Error, Result};

/// How long the save-time check waits for DNS before accepting the URL (the
/// delivery-time check still applies).
pub const SAVE_LOOKUP_TIMEOUT: Duration = Duration::from_secs(3);

/// Whether private destinations are allowed. Passed explicitly to whatever
/// sends or saves, never read from a global.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EgressPolicy {
    allow_private: bool,
}

impl EgressPolicy {
    /// Public addresses only (the default).
    pub fn public_only() -> Self {
        EgressPolicy { allow_private: false }
    }

    /// Any address: local development, and tests whose receivers listen on
    /// 127.0.0.1 (`TOLLBOOTH_WEBHOOK_ALLOW_PRIVATE=true`).
    pub fn allow_private() -> Self {
        EgressPolicy { allow_private: true }
    }

    /// `allow_private()` when `allow` is true, else `public_only()`.
    pub fn with_private(allow: bool) -> Self {
        EgressPolicy { allow_private: allow }
    }

    pub fn allows_private(self) -> bool {
        self.allow_private
    }

    /// Why `ip` may not be connected to under this policy, if it may not.
    pub fn refusal(self, ip: IpAddr) -> Option<&'static str> {
        if self.allow_private {
            None
        } else {
            forbidden_reason(ip)
        }
    }

    /// Whether `ip` may be connected to under this policy.
    pub fn permits(self, ip: IpAddr) -> bool {
        self.refusal(ip).is_none()
    }
}

/// Why an address is not a public destination, or `None` when it is.
/// IPv4-mapped (`::ffff:a.b.c.d`), IPv4-compatible (`::a.b.c.d`) and NAT64
/// (`64:ff9b::a.b.c.d`) IPv6 addresses are judged by the IPv4 address they
/// carry, since that is where packets end up.
pub fn forbidden_reason(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => v4_reason(v4),
        IpAddr::V6(v6) => v6_reason(v6),
    }
}

fn v4_reason(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    Some(match () {
        _ if a == 0 => "an unspecified address (0.0.0.0/8)",
        _ if a == 127 => "a loopback address",
        _ if a == 10 || (a == 172 && (16..32).contains(&b)) || (a == 192 && b == 168) => "a private address (RFC 1918)",
        _ if a == 169 && b == 254 => "a link-local address (169.254.0.0/16)",
        _ if a == 100 && (64..128).contains(&b) => "a shared carrier-grade NAT address (100.64.0.0/10)",
        _ if ip.is_broadcast() => "the broadcast address",
        _ if (224..240).contains(&a) => "a multicast address",
        _ if a >= 240 => "a reserved address (240.0.0.0/4)",
        _ => return None,
    })
}

fn v6_reason(ip: Ipv6Addr) -> Option<&'static str> {
    let s = ip.segments();
    Some(match () {
        _ if ip.is_unspecified() => "an unspecified address (::)",
        _ if ip.is_loopback() => "a loopback address",
        // ::ffff:a.b.c.d (mapped), ::a.b.c.d (compatible), 64:ff9b::a.b.c.d (NAT64).
        _ if s[..5] == [0; 5] && (s[5] == 0xffff || s[5] == 0) => return v4_reason(embedded_v4(ip)),
        _ if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] => return v4_reason(embedded_v4(ip)),
        _ if s[0] & 0xfe00 == 0xfc00 => "a private address (unique local, fc00::/7)",
        _ if s[0] & 0xffc0 == 0xfe80 => "a link-local address (fe80::/10)",
        _ if s[0] & 0xffc0 == 0xfec0 => "a private address (site-local, fec0::/10)",
        _ if s[0] & 0xff00 == 0xff00 => "a multicast address",
        _ => return None,
    })
}

fn embedded_v4(ip: Ipv6Addr) -> Ipv4Addr {
    let o = ip.octets();
    Ipv4Addr::new(o[12], o[13], o[14], o[15])
}

/// The host of a URL as it will be connected to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    Ip(IpAddr),
    Name(String),
}

/// Reads an http(s) URL's host and port (the scheme's default when absent).
/// Refuses other schemes and URLs without a host, naming `field`.
pub fn host_of(field: &'static str, raw: &str) -> Result<(Host, u16)> {
    let parsed = url::Url::parse(raw).map_err(|_| Error::invalid(field, format!("{raw:?} is not an http:// or https:// URL")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(Error::invalid(field, format!("{raw:?} is not an http:// or https:// URL")));
    }
    let port = parsed.port_or_known_default().unwrap_or(80);
    let host = match parsed.host() {
        Some(url::Host::Ipv4(v4)) => Host::Ip(IpAddr::V4(v4)),
        Some(url::Host::Ipv6(v6)) => Host::Ip(IpAddr::V6(v6)),
        Some(url::Host::Domain(d)) if !d.is_empty() => Host::Name(d.trim_end_matches('.').to_ascii_lowercase()),
        _ => return Err(Error::invalid(field, format!("{raw:?} has no host"))),
    };
    Ok((host, port))
}

/// `localhost` and its subdomains are loopback by definition (RFC 6761),
/// whatever a resolver says.
pub fn is_localhost_name(name: &str) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    name == "localhost" || name.ends_with(".localhost")
}

/// Checks that the URL's host is, and resolves to, public addresses only
/// (under `policy`); the refusal names `field` and says why. A name that does
/// not resolve right now is accepted: every delivery checks again.
pub async fn check_url(field: &'static str, raw: &str, policy: EgressPolicy) -> Result<()> {
    check_url_under(field, raw, policy, "webhooks may only go to public internet addresses").await
}

/// [`check_url`] for another kind of destination, whose refusal ends with
/// `rule` (the sentence saying what may go where).
pub async fn check_url_under(field: &'static str, raw: &str, policy: EgressPolicy, rule: &str) -> Result<()> {
    let (host, port) = host_of(field, raw)?;
    if policy.allows_private() {
        return Ok(());
    }
    let refuse = |what: &str, why: &str| Error::invalid(field, format!("{what} is {why}; {rule}"));
    match host {
        Host::Ip(ip) => match policy.refusal(ip) {
            Some(why) => Err(refuse(&format!("{ip}"), why)),
            None => Ok(()),
        },
        Host::Name(name) if is_localhost_name(&name) => Err(refuse(&name, "a loopback address")),
        Host::Name(name) => {
            let lookup = tokio::time::timeout(SAVE_LOOKUP_TIMEOUT, tokio::net::lookup_host((name.as_str(), port))).await;
            let addrs: Vec<SocketAddr> = match lookup {
                Ok(Ok(addrs)) => addrs.collect(),
                _ => return Ok(()),
            };
            match addrs.iter().find_map(|a| policy.refusal(a.ip()).map(|why| (a.ip(), why))) {
                Some((ip, why)) => Err(refuse(&format!("{name} (resolves to {ip})"), why)),
                None => Ok(()),
            }
        }
    }
}

/// The resolved addresses that may be connected to under `policy`; an error
/// when none remains (so nothing forbidden is ever dialled).
pub fn filter_resolved(addrs: impl IntoIterator<Item = SocketAddr>, policy: EgressPolicy) -> std::result::Result<Vec<SocketAddr>, &'static str> {
    let kept: Vec<SocketAddr> = addrs.into_iter().filter(|a| policy.permits(a.ip())).collect();
    if kept.is_empty() {
        Err("no permitted address")
    } else {
        Ok(kept)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(s: &str) -> bool {
        forbidden_reason(s.parse().unwrap()).is_some()
    }

    #[test]
    fn every_non_public_ipv4_range_is_refused() {
        for ip in [
            "0.0.0.0", "0.1.2.3", // unspecified, 0/8
            "127.0.0.1", "127.255.255.254", // loopback
            "10.0.0.1", "10.255.255.255", "172.16.0.1", "172.31.255.255", "192.168.0.1", "192.168.255.255", // RFC 1918
            "169.254.169.254", "169.254.0.1", // link-local, cloud metadata
            "100.64.0.1", "100.127.255.255", // CGNAT
            "224.0.0.1", "239.255.255.255", // multicast
            "255.255.255.255", // broadcast
            "240.0.0.1", // reserved
        ] {
            assert!(refused(ip), "{ip} must be refused");
        }
    }

    #[test]
    fn public_ipv4_addresses_and_range_neighbours_are_allowed() {
        for ip in ["1.1.1.1", "8.8.8.8", "93.184.216.34", "172.15.255.255", "172.32.0.1", "192.167.1.1", "169.253.1.1", "100.63.255.255", "100.128.0.1", "223.255.255.255", "11.0.0.1", "126.255.255.255", "128.0.0.1"] {
            assert!(!refused(ip), "{ip} is public");
        }
    }

    #[test]
    fn every_non_public_ipv6_range_is_refused() {
        for ip in ["::", "::1", "fc00::1", "fd12:3456::1", "fe80::1", "febf::1", "fec0::1", "ff02::1", "ff05::2"] {
            assert!(refused(ip), "{ip} must be refused");
        }
        for ip in ["2606:4700:4700::1111", "2001:4860:4860::8888", "fbff::1", "fe7f::1"] {
            assert!(!refused(ip), "{ip} is public");
        }
    }

    #[test]
    fn mapped_compatible_and_nat64_forms_are_judged_by_their_ipv4() {
        for ip in ["::ffff:127.0.0.1", "::ffff:169.254.169.254", "::ffff:10.0.0.1", "::ffff:0.0.0.0", "::127.0.0.1", "::10.1.2.3", "64:ff9b::192.168.1.1", "::ffff:100.64.0.1"] {
            assert!(refused(ip), "{ip} must be refused");
        }
        for ip in ["::ffff:8.8.8.8", "::8.8.8.8", "64:ff9b::1.1.1.1"] {
            assert!(!refused(ip), "{ip} carries a public address");
        }
    }

    #[test]
    fn the_policy_can_allow_private_addresses() {
        let loopback: IpAddr = "127.0.0.1".parse().unwrap();
        assert!(!EgressPolicy::public_only().permits(loopback));
        assert!(!EgressPolicy::default().permits(loopback), "the default is public only");
        assert!(EgressPolicy::allow_private().permits(loopback));
        let addrs: Vec<SocketAddr> = vec!["127.0.0.1:80".parse().unwrap(), "8.8.8.8:80".parse().unwrap()];
        assert_eq!(filter_resolved(addrs.clone(), EgressPolicy::public_only()).unwrap(), vec![addrs[1]]);
        assert!(filter_resolved(vec![addrs[0]], EgressPolicy::public_only()).is_err(), "nothing left is an error");
        assert_eq!(filter_resolved(addrs.clone(), EgressPolicy::allow_private()).unwrap(), addrs);
    }

    #[test]
    fn hosts_are_read_as_the_http_client_reads_them() {
        let host = |u: &str| host_of("url", u).unwrap();
        assert_eq!(host("http://2130706433/x"), (Host::Ip("127.0.0.1".parse().unwrap()), 80), "decimal IPv4");
        assert_eq!(host("http://0x7f.1/"), (Host::Ip("127.0.0.1".parse().unwrap()), 80), "hex shorthand");
        assert_eq!(host("https://[::ffff:7f00:1]:8443/"), (Host::Ip("::ffff:127.0.0.1".parse().unwrap()), 8443));
        assert_eq!(host("https://user:pw@Hooks.Example.com./a"), (Host::Name("hooks.example.com".into()), 443));
        for bad in ["ftp://example.com", "example.com", "http://", "file:///etc/passwd"] {
            assert_eq!(host_of("url", bad).unwrap_err().field(), Some("url"), "{bad}");
        }
        assert!(is_localhost_name("localhost") && is_localhost_name("api.LOCALHOST.") && !is_localhost_name("localhost.example.com"));
    }

    #[tokio::test]
    async fn urls_are_checked_at_save() {
        let strict = EgressPolicy::public_only();
        for bad in [
            "http://169.254.169.254/latest/meta-data/",
            "http://127.0.0.1:5432/",
            "http://localhost:3000/admin",
            "http://[::1]/",
            "http://[::ffff:10.0.0.1]/",
            "http://0.0.0.0:8080/",
            "http://100.64.1.1/",
            "http://2130706433/",
        ] {
            let e = check_url("url", bad, strict).await.unwrap_err();
            assert_eq!(e.field(), Some("url"), "{bad}");
            assert!(e.to_string().contains("public internet addresses"), "{bad}: {e}");
        }
        assert!(check_url("url", "http://8.8.8.8/hook", strict).await.is_ok());
        assert!(check_url("url", "http://127.0.0.1:9/hook", EgressPolicy::allow_private()).await.is_ok());
        let e = check_url("url", "ftp://127.0.0.1/", EgressPolicy::allow_private()).await.unwrap_err();
        assert_eq!(e.field(), Some("url"), "the scheme is checked whatever the policy");
    }
}
