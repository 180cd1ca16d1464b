//! Where a price map is read from: a file, or an URL (LiteLLM's published
//! `model_prices_and_context_window.json`), for `tollbooth prices import`
//! and the scheduled refresh of `TOLLBOOTH_PRICES_URL`.
//!
//! URLs must be `https://`. A plain `http://` URL is refused unless the
//! operator sets `TOLLBOOTH_PRICES_ALLOW_HTTP_LOOPBACK=true` *and* the host is
//! a loopback address (`127.0.0.0/8`, `::1`, `localhost`): a test or a local
//! mirror on the same machine, never a price book fetched in clear text
//! across a network.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use tollbooth::pricing::PriceBook;

/// Largest price map read (LiteLLM's is about 3 MB).
pub const MAX_BYTES: usize = 64 * 1024 * 1024;

/// How long a download may take.
pub const TIMEOUT: Duration = Duration::from_secs(120);

/// A price map's place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PriceSource {
    File(PathBuf),
    Url(String),
}

impl PriceSource {
    /// Reads the command line's argument: an `https://` (or allowed
    /// loopback `http://`) URL, else a file path. A URL of another scheme,
    /// or plain http to another host or without the setting, is refused with
    /// the reason.
    pub fn parse(arg: &str, allow_http_loopback: bool) -> anyhow::Result<PriceSource> {
        let lower = arg.trim().to_ascii_lowercase();
        if lower.starts_with("https://") {
            let url = reqwest::Url::parse(arg.trim()).with_context(|| format!("{arg} is not a valid URL"))?;
            return Ok(PriceSource::Url(url.to_string()));
        }
        if lower.starts_with("http://") {
            let url = reqwest::Url::parse(arg.trim()).with_context(|| format!("{arg} is not a valid URL"))?;
            if !allow_http_loopback {
                bail!("{arg}: the price map must be fetched over https:// (plain http:// is allowed only to a loopback address with TOLLBOOTH_PRICES_ALLOW_HTTP_LOOPBACK=true)");
            }
            if !is_loopback(&url) {
                bail!("{arg}: plain http:// is allowed only to a loopback address (127.0.0.1, ::1, localhost); use https://");
            }
            return Ok(PriceSource::Url(url.to_string()));
        }
        if lower.contains("://") {
            bail!("{arg}: only https:// URLs and file paths can be imported");
        }
        Ok(PriceSource::File(PathBuf::from(arg)))
    }

    /// How the import is recorded: the path or the URL.
    pub fn label(&self) -> String {
        match self {
            PriceSource::File(p) => p.display().to_string(),
            PriceSource::Url(u) => u.clone(),
        }
    }

    /// The price map's text.
    pub async fn read_text(&self) -> anyhow::Result<String> {
        match self {
            PriceSource::File(path) => std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display())),
            PriceSource::Url(url) => download(url).await,
        }
    }

    /// The price map, parsed (every price exact; a bad price fails the whole read).
    pub async fn read(&self) -> anyhow::Result<PriceBook> {
        let text = self.read_text().await?;
        PriceBook::parse_litellm(&text).with_context(|| format!("reading the price map at {}", self.label()))
    }
}

fn is_loopback(url: &reqwest::Url) -> bool {
    let Some(host) = url.host_str() else { return false };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost") || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

async fn download(url: &str) -> anyhow::Result<String> {
    let client = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::limited(5))
        .user_agent(concat!("tollbooth/", env!("CARGO_PKG_VERSION")))
        .build()?;
    let mut resp = client.get(url).send().await.with_context(|| format!("downloading {url}"))?;
    if !resp.status().is_success() {
        bail!("downloading {url}: HTTP {}", resp.status());
    }
    if resp.content_length().is_some_and(|n| n > MAX_BYTES as u64) {
        bail!("downloading {url}: larger than {MAX_BYTES} bytes");
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.with_context(|| format!("downloading {url}"))? {
        if body.len() + chunk.len() > MAX_BYTES {
            bail!("downloading {url}: larger than {MAX_BYTES} bytes");
        }
        body.extend_from_slice(&chunk);
    }
    String::from_utf8(body).with_context(|| format!("{url} did not send UTF-8 text"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_urls_and_paths_are_read_and_plain_http_only_to_loopback_when_allowed() {
        let https = "https://raw.githubusercontent.com/BerriAI/litellm/main/model_prices_and_context_window.json";
        assert_eq!(PriceSource::parse(https, false).unwrap(), PriceSource::Url(https.into()));
        assert_eq!(PriceSource::parse("prices.json", false).unwrap(), PriceSource::File("prices.json".into()));
        assert!(PriceSource::parse("http://127.0.0.1:8080/map.json", false).is_err(), "needs the setting");
        assert!(PriceSource::parse("http://127.0.0.1:8080/map.json", true).is_ok());
        assert!(PriceSource::parse("http://[::1]:8080/map.json", true).is_ok());
        assert!(PriceSource::parse("http://localhost/map.json", true).is_ok());
        let err = PriceSource::parse("http://prices.example.com/map.json", true).unwrap_err().to_string();
        assert!(err.contains("loopback"), "{err}");
        assert!(PriceSource::parse("http://10.0.0.5/map.json", true).is_err());
        assert!(PriceSource::parse("ftp://example.com/map.json", true).is_err());
    }
}
