//! The webhook client's resolver: resolves a name once and hands reqwest
//! only the addresses [`EgressPolicy`] permits, so the address checked is the
//! address connected to (a DNS answer that changes between a check and the
//! connection, "DNS rebinding", gains nothing). reqwest does not call a
//! resolver for IP-literal hosts; [`crate::notify`] checks those itself.

use std::net::SocketAddr;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use tollbooth::egress::{filter_resolved, EgressPolicy};

/// Resolves with the system resolver, then drops forbidden addresses; an
/// error when none remains.
#[derive(Debug, Clone, Copy)]
pub struct PolicyResolver {
    pub policy: EgressPolicy,
}

impl Resolve for PolicyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy;
        let host = name.as_str().to_string();
        Box::pin(async move {
            if !policy.allows_private() && tollbooth::egress::is_localhost_name(&host) {
                return Err("refused by the egress policy".into());
            }
            // Port 0: reqwest puts the URL's port in.
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let kept = filter_resolved(found, policy).map_err(|_| "refused by the egress policy")?;
            Ok(Box::new(kept.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_name_resolving_to_loopback_yields_nothing_to_connect_to() {
        let strict = PolicyResolver { policy: EgressPolicy::public_only() };
        assert!(strict.resolve("localhost".parse().unwrap()).await.is_err());
        let open = PolicyResolver { policy: EgressPolicy::allow_private() };
        let addrs: Vec<SocketAddr> = open.resolve("localhost".parse().unwrap()).await.unwrap().collect();
        assert!(addrs.iter().all(|a| a.ip().is_loopback()) && !addrs.is_empty(), "{addrs:?}");
    }
}
