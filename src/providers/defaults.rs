//! The server-wide upstreams, from the operator's configuration
//! (`TOLLBOOTH_OPENAI_BASE_URL`, `TOLLBOOTH_OPENAI_API_KEY`,
//! `TOLLBOOTH_ANTHROPIC_BASE_URL`, `TOLLBOOTH_ANTHROPIC_API_KEY`): what an
//! organization without its own connection is served by. Passed in by the
//! server, never read from the environment here.

use super::secret_box::{Secret, SecretBox};
use super::{DefaultsView, Family};
use crate::egress::EgressPolicy;
use crate::Result;

/// OpenAI's API, as its SDKs address it (paths such as `/chat/completions` follow).
pub const OPENAI_BASE_URL: &str = "https://api.openai.com/v1";
/// Anthropic's API, as its SDKs address it (`/v1/messages` follows).
pub const ANTHROPIC_BASE_URL: &str = "https://api.anthropic.com";

/// One family's default upstream: where it is, and the operator's key if any.
#[derive(Debug, Clone)]
pub struct DefaultUpstream {
    /// Without a trailing `/`.
    pub base_url: String,
    /// `None`: calls of this family need the organization's own connection.
    pub api_key: Option<Secret>,
}

/// The server's default upstream of each family.
#[derive(Debug, Clone)]
pub struct Defaults {
    pub openai: DefaultUpstream,
    pub anthropic: DefaultUpstream,
}

impl Defaults {
    /// Reads the operator's settings: base URLs must be absolute http(s)
    /// URLs (the error names the variable); a blank key is no key. The
    /// operator's own URLs are not held to the egress rule (a local proxy
    /// or model server is the operator's choice).
    pub fn new(openai_base_url: &str, openai_api_key: Option<&str>, anthropic_base_url: &str, anthropic_api_key: Option<&str>) -> Result<Self> {
        let key = |k: Option<&str>| k.map(str::trim).filter(|k| !k.is_empty()).map(Secret::new);
        Ok(Defaults {
            openai: DefaultUpstream {
                base_url: super::service::parse_base_url("TOLLBOOTH_OPENAI_BASE_URL", openai_base_url)?,
                api_key: key(openai_api_key),
            },
            anthropic: DefaultUpstream {
                base_url: super::service::parse_base_url("TOLLBOOTH_ANTHROPIC_BASE_URL", anthropic_base_url)?,
                api_key: key(anthropic_api_key),
            },
        })
    }

    /// The providers' own URLs and no keys: organizations bring their own.
    pub fn without_keys() -> Self {
        Defaults {
            openai: DefaultUpstream { base_url: OPENAI_BASE_URL.into(), api_key: None },
            anthropic: DefaultUpstream { base_url: ANTHROPIC_BASE_URL.into(), api_key: None },
        }
    }

    /// The default of `family`.
    pub fn of(&self, family: Family) -> &DefaultUpstream {
        match family {
            Family::OpenAi => &self.openai,
            Family::Anthropic => &self.anthropic,
        }
    }

    /// Which families have a server key (what the Providers page may say).
    pub fn view(&self) -> DefaultsView {
        DefaultsView { openai: self.openai.api_key.is_some(), anthropic: self.anthropic.api_key.is_some() }
    }
}

/// Everything the provider services need from the running server: the key
/// box, the defaults, and where connections may point
/// (`TOLLBOOTH_UPSTREAM_ALLOW_PRIVATE`).
#[derive(Debug, Clone)]
pub struct ProviderSettings {
    pub secrets: SecretBox,
    pub defaults: Defaults,
    pub egress: EgressPolicy,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_name_the_variable_of_a_bad_url_and_treat_a_blank_key_as_none() {
        let d = Defaults::new("http://127.0.0.1:9000/v1/", Some(" "), ANTHROPIC_BASE_URL, Some("sk-ant-x")).unwrap();
        assert_eq!(d.openai.base_url, "http://127.0.0.1:9000/v1", "the trailing slash is dropped");
        assert!(d.openai.api_key.is_none());
        assert_eq!(d.of(Family::Anthropic).api_key.as_ref().unwrap().expose(), "sk-ant-x");
        assert_eq!(d.view(), DefaultsView { openai: false, anthropic: true });
        let e = Defaults::new("api.openai.com", None, ANTHROPIC_BASE_URL, None).unwrap_err();
        assert_eq!(e.field(), Some("TOLLBOOTH_OPENAI_BASE_URL"));
        let e = Defaults::new(OPENAI_BASE_URL, None, "ftp://x", None).unwrap_err();
        assert_eq!(e.field(), Some("TOLLBOOTH_ANTHROPIC_BASE_URL"));
        assert!(!format!("{d:?}").contains("sk-ant-x"), "keys never print");
    }
}
