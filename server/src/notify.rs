//! Delivers the notifications outbox: alert mail through SMTP (lettre) and
//! signed webhooks (reqwest). The outbox rules (claiming, retries, disabling
//! a failing endpoint) are in the core; this is only the transport.
//!
//! Webhooks go only where the [`EgressPolicy`] allows: the client's resolver
//! drops forbidden addresses ([`crate::egress_dns`]), IP-literal hosts are
//! checked here, no proxy is used and redirects are not followed. The
//! delivery log shows the receiver's status code, and the same "could not
//! connect" for every network-level failure (refused, DNS, TLS, timeout, a
//! forbidden address), so the log cannot be used to map a network.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use tollbooth::alerts::outbox::{self, Outgoing};
use tollbooth::alerts::webhooks::{self, Attempt};
use tollbooth::clock::now_ms;
use tollbooth::db::Db;
use tollbooth::egress::{self, EgressPolicy, Host};

use crate::config::Config;
use crate::egress_dns::PolicyResolver;

/// How long a webhook endpoint has to answer.
pub const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);

/// What the delivery log says for any failure before an HTTP answer.
pub const COULD_NOT_CONNECT: &str = "could not connect";

/// The transports: SMTP when configured, and an HTTP client for webhooks.
#[derive(Clone)]
pub struct Notifier {
    mailer: Option<AsyncSmtpTransport<Tokio1Executor>>,
    from: Mailbox,
    http: reqwest::Client,
    egress: EgressPolicy,
}

impl Notifier {
    pub fn from_config(config: &Config) -> anyhow::Result<Self> {
        let mailer = match &config.smtp_url {
            Some(url) => Some(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose())
                    .context("SMTP_URL is not a valid smtp:// or smtps:// URL")?
                    .timeout(Some(Duration::from_secs(20)))
                    .build(),
            ),
            None => None,
        };
        let from = config.smtp_from.parse().with_context(|| format!("SMTP_FROM {:?} is not a mailbox", config.smtp_from))?;
        let egress = config.egress();
        let http = reqwest::Client::builder()
            .timeout(WEBHOOK_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(Arc::new(PolicyResolver { policy: egress }))
            .user_agent(concat!("Tollbooth-Webhooks/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("building the webhook HTTP client")?;
        Ok(Notifier { mailer, from, http, egress })
    }

    /// Whether mail goes out through SMTP (else it stays in the outbox).
    pub fn smtp_configured(&self) -> bool {
        self.mailer.is_some()
    }

    /// Sends one claimed notification and records the outcome.
    pub async fn deliver(&self, db: &Db, item: &Outgoing) {
        let result = match item.channel.as_str() {
            "email" => self.send_mail(db, item).await,
            _ => self.send_webhook(db, item).await,
        };
        if let Err(e) = result {
            tracing::warn!(notification = %item.id, error = ?e, "recording a delivery failed");
        }
    }

    async fn send_mail(&self, db: &Db, n: &Outgoing) -> tollbooth::Result<()> {
        let Some(mailer) = &self.mailer else {
            return outbox::mark_held(db, &n.id).await;
        };
        let to: Mailbox = match n.recipient.parse() {
            Ok(to) => to,
            Err(e) => return outbox::mark_failed(db, &n.id, &format!("bad address {:?}: {e}", n.recipient), true, now_ms()).await.map(drop),
        };
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(&n.subject)
            .header(ContentType::TEXT_PLAIN)
            .body(n.body.clone());
        let message = match message {
            Ok(m) => m,
            Err(e) => return outbox::mark_failed(db, &n.id, &format!("the message could not be built: {e}"), true, now_ms()).await.map(drop),
        };
        match mailer.send(message).await {
            Ok(_) => outbox::mark_sent(db, &n.id, now_ms()).await,
            Err(e) => {
                let permanent = e.is_permanent();
                let state = outbox::mark_failed(db, &n.id, &format!("SMTP: {e}"), permanent, now_ms()).await?;
                tracing::warn!(notification = %n.id, error = %e, state, "alert mail not sent");
                Ok(())
            }
        }
    }

    async fn send_webhook(&self, db: &Db, n: &Outgoing) -> tollbooth::Result<()> {
        let Some((url, secret)) = &n.endpoint else {
            return outbox::mark_failed(db, &n.id, "the webhook endpoint no longer exists", true, now_ms()).await.map(drop);
        };
        let t = now_ms() / 1000;
        let started = Instant::now();
        let attempt = match self.literal_refused(url) {
            Some(why) => {
                tracing::info!(notification = %n.id, org = %n.org_id, why, "webhook not sent: refused by the egress policy");
                Attempt { status_code: None, error: Some(COULD_NOT_CONNECT.into()), duration_ms: 0 }
            }
            None => {
                let sent = self
                    .http
                    .post(url)
                    .header("Content-Type", "application/json")
                    .header("Tollbooth-Signature", webhooks::signature_header(secret, t, &n.body))
                    .header("Tollbooth-Delivery", &n.id)
                    .body(n.body.clone())
                    .send()
                    .await;
                let duration_ms = started.elapsed().as_millis() as i64;
                match sent {
                    Ok(resp) => Attempt { status_code: Some(resp.status().as_u16()), error: None, duration_ms },
                    Err(e) => {
                        // The operator's log has the cause; the customer's log does not.
                        tracing::info!(notification = %n.id, org = %n.org_id, error = %e, "webhook delivery failed");
                        Attempt { status_code: None, error: Some(COULD_NOT_CONNECT.into()), duration_ms }
                    }
                }
            }
        };
        webhooks::record_attempt(db, n, &attempt, now_ms()).await
    }

    /// Why the URL may not be dialled, when its host is an IP literal the
    /// policy forbids, or the URL cannot be read (reqwest asks the resolver
    /// only for names).
    fn literal_refused(&self, url: &str) -> Option<&'static str> {
        match egress::host_of("url", url) {
            Ok((Host::Ip(ip), _)) => self.egress.refusal(ip),
            Ok((Host::Name(_), _)) => None,
            Err(_) => Some("the URL cannot be read"),
        }
    }
}
