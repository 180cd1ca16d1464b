//! The client's IP address, computed once per request.
//!
//! Without configuration it is the TCP peer, and `X-Forwarded-For` is
//! ignored (anyone can send it). Behind a reverse proxy, list the proxy in
//! `TOLLBOOTH_TRUSTED_PROXIES`: when the peer is trusted, the client is the
//! right-most `X-Forwarded-For` address that is not itself a trusted proxy
//! (addresses to its left were written by the client and cannot be
//! believed). The answer goes into the request's extensions as
//! [`ClientIp`], where audit entries and throttles read it.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
// ipnet (already in the tree through reqwest): CIDR parsing and matching.
use ipnet::IpNet;
use tollbooth_app::ssr::ClientIp;

/// The proxies whose `X-Forwarded-For` is believed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Parses a comma-separated list of IP addresses and CIDR ranges
    /// (`10.0.0.1, 10.1.0.0/16, fd00::/8`); empty: none.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let mut nets = Vec::new();
        for entry in raw.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let net = match entry.parse::<IpNet>() {
                Ok(n) => n,
                Err(_) => entry
                    .parse::<IpAddr>()
                    .map(IpNet::from)
                    .map_err(|_| format!("{entry:?} is neither an IP address nor a CIDR range such as 10.0.0.0/8"))?,
            };
            nets.push(net);
        }
        Ok(TrustedProxies(nets))
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|n| n.contains(&ip))
    }

    /// The client of a request that arrived from `peer` with `headers`.
    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.trusts(peer) {
            return peer;
        }
        let hops: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .collect();
        // From the right: each trusted hop vouches for the one to its left.
        let mut client = peer;
        for hop in hops.iter().rev() {
            let Some(ip) = parse_hop(hop) else { break };
            client = ip;
            if !self.trusts(ip) {
                break;
            }
        }
        client
    }
}

/// An address as proxies write it: `1.2.3.4`, `1.2.3.4:5678`, `::1`, `[::1]:80`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>().ok().or_else(|| hop.parse::<SocketAddr>().ok().map(|s| s.ip())).map(|ip| ip.to_canonical())
}

/// Middleware: inserts the request's [`ClientIp`].
pub async fn resolve(State(trusted): State<Arc<TrustedProxies>>, mut req: Request, next: Next) -> Response {
    if let Some(ConnectInfo(peer)) = req.extensions().get::<ConnectInfo<SocketAddr>>().copied() {
        let ip = trusted.client_ip(peer.ip(), req.headers());
        req.extensions_mut().insert(ClientIp(ip));
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn xff(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        h
    }

    #[test]
    fn without_trusted_proxies_the_peer_is_the_client() {
        let none = TrustedProxies::parse("").unwrap();
        assert_eq!(none.client_ip(ip("127.0.0.1"), &xff(&["203.0.113.9"])), ip("127.0.0.1"));
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        let t = TrustedProxies::parse("10.0.0.1").unwrap();
        assert_eq!(t.client_ip(ip("198.51.100.7"), &xff(&["203.0.113.9"])), ip("198.51.100.7"));
    }

    #[test]
    fn behind_trusted_proxies_the_right_most_untrusted_hop_is_the_client() {
        let t = TrustedProxies::parse(" 10.0.0.1 , 10.1.0.0/16").unwrap();
        // The client wrote a fake first hop; the proxies appended the rest.
        let h = xff(&["1.1.1.1, 203.0.113.9", "10.1.2.3"]);
        assert_eq!(t.client_ip(ip("10.0.0.1"), &h), ip("203.0.113.9"));
        assert_eq!(t.client_ip(ip("10.0.0.1"), &xff(&["203.0.113.9:4711"])), ip("203.0.113.9"));
        assert_eq!(t.client_ip(ip("10.0.0.1"), &xff(&["[2001:db8::1]:80"])), ip("2001:db8::1"));
        // No header, or only trusted hops: the left-most known address.
        assert_eq!(t.client_ip(ip("10.0.0.1"), &HeaderMap::new()), ip("10.0.0.1"));
        assert_eq!(t.client_ip(ip("10.0.0.1"), &xff(&["10.1.0.9"])), ip("10.1.0.9"));
        // Garbage stops the walk at the last hop a trusted proxy vouched for.
        assert_eq!(t.client_ip(ip("10.0.0.1"), &xff(&["203.0.113.9, unknown, 10.1.0.2"])), ip("10.1.0.2"));
        // An IPv4 peer seen as IPv6-mapped is the same peer.
        assert_eq!(t.client_ip(ip("::ffff:10.0.0.1"), &xff(&["203.0.113.9"])), ip("203.0.113.9"));
    }

    #[test]
    fn bad_entries_are_refused_naming_them() {
        let err = TrustedProxies::parse("10.0.0.1, proxy.local").unwrap_err();
        assert!(err.contains("proxy.local"), "{err}");
    }
}
