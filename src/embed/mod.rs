//! The embeddable usage meter: a page a product shows its own users in an
//! iframe (`GET /embed/usage?token=…`), opened with a short-lived signed
//! token that an API key of the organization asks for.
//!
//! - **Tokens** ([`token`]) name the organization, optionally one end user
//!   (`user_id` of events), and an expiry; they are HMAC-SHA256 signed with a
//!   key kept in the database, so every server process on one database
//!   verifies what any of them signed, and restarts change nothing.
//! - **Origins** ([`parse_origin`]): the organization lists the origins whose
//!   pages may frame the meter; the page sends them as CSP
//!   `frame-ancestors`. No other page of Tollbooth may be framed.
//! - **The meter** ([`MeterView`]): this month's usage and cost (against the
//!   plan's limits for an organization token, the user's own limits for a
//!   user's), the last 30 days' daily cost,
//!   and when the month resets, read from the rollups.

#[cfg(feature = "ssr")]
pub mod token;

#[cfg(feature = "ssr")]
mod service;
#[cfg(feature = "ssr")]
mod store;

#[cfg(feature = "ssr")]
pub use service::*;
#[cfg(feature = "ssr")]
pub use token::Claims;

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::pricing::NanoUsd;

/// Most origins one organization may list.
pub const MAX_ORIGINS: usize = 20;
/// The longest a token may live, in seconds.
pub const MAX_TTL_SECS: i64 = 3600;
/// A token's life when the request names none, in seconds.
pub const DEFAULT_TTL_SECS: i64 = 900;
/// Days of the meter's sparkline.
pub const SPARKLINE_DAYS: usize = 30;

/// Parses one origin a page may frame the meter from: `https://host[:port]`
/// (a trailing `/` is dropped), lower-cased, without path, query, user or
/// wildcard. Plain `http://` is accepted only for loopback hosts
/// (`localhost`, `127.0.0.1`, `[::1]`), which browsers treat as secure, so a
/// product can try the meter on its development machine.
pub fn parse_origin(raw: &str) -> Result<String, Error> {
    let bad = |why: &str| Error::invalid("embed_origins", format!("{:?} {why}", raw.trim()));
    let s = raw.trim().to_ascii_lowercase();
    let s = s.strip_suffix('/').unwrap_or(&s);
    let (scheme, rest) = s.split_once("://").ok_or_else(|| bad("is not an origin such as https://app.example.com"))?;
    if rest.is_empty() || rest.contains(['/', '?', '#', '@', '*', ' ', ',', ';', '\'', '"']) {
        return Err(bad("must be a scheme and a host only, such as https://app.example.com (no path, wildcard or user)"));
    }
    let (host, port) = match rest.strip_prefix('[') {
        Some(v6) => {
            let (h, after) = v6.split_once(']').ok_or_else(|| bad("has an unclosed IPv6 bracket"))?;
            let port = match after {
                "" => None,
                p => Some(p.strip_prefix(':').ok_or_else(|| bad("has text after its IPv6 address"))?),
            };
            (format!("[{h}]"), port)
        }
        None => match rest.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (rest.to_string(), None),
        },
    };
    if let Some(p) = port {
        if !matches!(p.parse::<u16>(), Ok(n) if n > 0) || p.starts_with('0') {
            return Err(bad("has a port that is not a number from 1 to 65535"));
        }
    }
    let loopback = matches!(host.as_str(), "localhost" | "127.0.0.1" | "[::1]");
    match scheme {
        "https" => {}
        "http" if loopback => {}
        "http" => return Err(bad("is not https (plain http is allowed only for localhost and 127.0.0.1)")),
        _ => return Err(bad("must start with https://")),
    }
    let hostname_ok = !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if !(hostname_ok || host == "[::1]" || host.starts_with('[') && host[1..host.len() - 1].parse::<std::net::Ipv6Addr>().is_ok()) {
        return Err(bad("has a host that is not a domain name or IP address"));
    }
    let default_port = if scheme == "https" { "443" } else { "80" };
    Ok(match port {
        Some(p) if p != default_port => format!("{scheme}://{host}:{p}"),
        _ => format!("{scheme}://{host}"),
    })
}

/// Parses the Settings page's list (one origin a line, or separated by
/// commas or spaces): each origin as [`parse_origin`], duplicates dropped,
/// at most [`MAX_ORIGINS`].
pub fn parse_origins<S: AsRef<str>>(raw: &[S]) -> Result<Vec<String>, Error> {
    let mut out: Vec<String> = Vec::new();
    for item in raw {
        for part in item.as_ref().split([',', ' ', '\n', '\r', '\t']).filter(|p| !p.trim().is_empty()) {
            let origin = parse_origin(part)?;
            if !out.contains(&origin) {
                out.push(origin);
            }
        }
    }
    if out.len() > MAX_ORIGINS {
        return Err(Error::invalid("embed_origins", format!("{} origins listed; at most {MAX_ORIGINS} are allowed", out.len())));
    }
    Ok(out)
}

/// The meter page's `Content-Security-Policy`: nothing loads (styles inline,
/// the sparkline is inline SVG), no script runs, and only `origins` may frame
/// it (`'none'` when the list is empty).
pub fn content_security_policy(origins: &[String]) -> String {
    let ancestors = if origins.is_empty() { "'none'".to_string() } else { origins.join(" ") };
    format!(
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors {ancestors}"
    )
}

/// Everything the meter page shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeterView {
    pub org_name: String,
    /// The end user the token is for, if any.
    pub user_id: Option<String>,
    pub time_zone: String,
    /// This calendar month (organization's zone): cost, tokens, requests.
    pub month_cost: NanoUsd,
    pub month_tokens: i64,
    pub month_requests: i64,
    /// The windowed limits on usage: the plan's for an organization token,
    /// the end user's own (per-user limits) for a user's.
    pub limits: Vec<crate::quota::StatusLine>,
    /// Cost per local day, oldest first, [`SPARKLINE_DAYS`] days ending today.
    pub daily_cost: Vec<(String, NanoUsd)>,
    /// When this month's figures reset: local RFC 3339.
    pub resets_at: String,
}

/// An inline SVG polyline of daily amounts scaled to `width`×`height`, in
/// integer arithmetic (the amounts are money). The points are
/// `x,y` with `y = height` at zero and `0` at the largest amount.
pub fn sparkline_points(values: &[i64], width: i64, height: i64) -> String {
    let max = values.iter().copied().max().unwrap_or(0).max(1) as i128;
    let n = values.len() as i64;
    values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let x = if n <= 1 { 0 } else { i as i64 * width / (n - 1) };
            let y = height as i128 - (*v).max(0) as i128 * height as i128 / max;
            format!("{x},{y}")
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_https_hosts_or_loopback_http() {
        assert_eq!(parse_origin("https://App.Example.com/").unwrap(), "https://app.example.com");
        assert_eq!(parse_origin(" https://app.example.com:8443 ").unwrap(), "https://app.example.com:8443");
        assert_eq!(parse_origin("https://app.example.com:443").unwrap(), "https://app.example.com");
        assert_eq!(parse_origin("http://127.0.0.1:5173").unwrap(), "http://127.0.0.1:5173");
        assert_eq!(parse_origin("http://localhost").unwrap(), "http://localhost");
        assert_eq!(parse_origin("http://[::1]:8080").unwrap(), "http://[::1]:8080");
        for bad in [
            "app.example.com",
            "http://app.example.com",
            "https://app.example.com/path",
            "https://*.example.com",
            "https://user@app.example.com",
            "https://app.example.com:0",
            "https://app.example.com:99999",
            "https://exa mple.com",
            "https://ex_ample.com",
            "ftp://example.com",
            "https://",
            "https://a.com;script-src *",
            "'self'",
        ] {
            let e = parse_origin(bad).unwrap_err();
            assert!(e.to_string().starts_with("embed_origins: "), "{bad}: {e}");
        }
    }

    #[test]
    fn a_list_splits_on_lines_commas_and_spaces_and_drops_duplicates() {
        let got = parse_origins(&["https://a.example\nhttps://b.example, https://A.example/"]).unwrap();
        assert_eq!(got, vec!["https://a.example", "https://b.example"]);
        assert_eq!(parse_origins::<&str>(&[]).unwrap(), Vec::<String>::new());
        let many: Vec<String> = (0..21).map(|i| format!("https://h{i}.example")).collect();
        assert!(parse_origins(&many).is_err());
    }

    #[test]
    fn the_policy_lets_only_the_listed_origins_frame_the_page() {
        let csp = content_security_policy(&["https://a.example".into(), "http://127.0.0.1:5000".into()]);
        assert!(csp.ends_with("frame-ancestors https://a.example http://127.0.0.1:5000"), "{csp}");
        assert!(csp.contains("default-src 'none'"));
        assert!(content_security_policy(&[]).ends_with("frame-ancestors 'none'"));
    }

    #[test]
    fn sparkline_points_scale_to_the_largest_day() {
        assert_eq!(sparkline_points(&[0, 5, 10], 100, 20), "0,20 50,10 100,0");
        assert_eq!(sparkline_points(&[0, 0], 10, 20), "0,20 10,20");
        assert_eq!(sparkline_points(&[i64::MAX, 0], 10, 20), "0,0 10,20");
        assert_eq!(sparkline_points(&[], 10, 20), "");
    }
}
