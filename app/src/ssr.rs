//! Server-side helpers shared by the server functions: the app context, the
//! session, the signed-in user and the organization scope.

use leptos::prelude::*;
use tollbooth::accounts::{self, UserView};
use tollbooth::db::Db;
use tollbooth::orgs::{self, OrgScope};
use tower_sessions::Session;

use crate::error::AppError;

/// Session key holding the signed-in user's id.
pub const SESSION_USER: &str = "user_id";
/// Session key holding the organization the user last worked in.
pub const SESSION_ORG: &str = "org_id";
/// Session key holding when the user signed in (UTC ms): the session ends
/// 30 days later, or when the user ends all sessions (see
/// `tollbooth::accounts::session_user`).
pub const SESSION_SIGNED_IN_AT: &str = "signed_in_at";

/// The client's IP address, computed once per request by the server (the
/// peer, or behind a trusted reverse proxy the address it forwarded) and
/// kept in the request's extensions. Every use of the client's IP (audit
/// entries, throttles) reads it from here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientIp(pub std::net::IpAddr);

/// The client IP of a request: its [`ClientIp`], else the TCP peer.
pub fn client_ip_of(extensions: &http::Extensions) -> Option<String> {
    use axum::extract::ConnectInfo;
    match extensions.get::<ClientIp>() {
        Some(ip) => Some(ip.0.to_string()),
        None => extensions.get::<ConnectInfo<std::net::SocketAddr>>().map(|c| c.0.ip().to_string()),
    }
}

/// What server functions need from the running server.
#[derive(Clone, Debug)]
pub struct AppContext {
    pub db: Db,
    /// Base URL used in links we hand out (invites), e.g. `http://127.0.0.1:3000`.
    pub public_url: String,
    /// Billing's settings and Stripe client.
    pub billing: tollbooth::billing::Billing,
    /// Signups allowed per client IP and hour (0: no limit).
    pub signups_per_ip_per_hour: i64,
    /// Where outgoing webhooks may point (`TOLLBOOTH_WEBHOOK_ALLOW_PRIVATE`).
    pub egress: tollbooth::egress::EgressPolicy,
    /// The gateway's upstreams: provider key box, server defaults, egress rule.
    pub providers: tollbooth::providers::ProviderSettings,
}

/// The app context provided by the server.
pub fn ctx() -> Result<AppContext, AppError> {
    use_context::<AppContext>().ok_or_else(|| AppError::new(500, "server context missing"))
}

/// Who is calling, remembered by [`user_of`] and [`scope`] so that a denial
/// can name them in the audit log.
#[derive(Clone, Debug)]
struct Caller {
    user_id: String,
    email: String,
    org_id: Option<String>,
}

/// Converts a core error into the server function error, setting the response
/// status; internals are logged and replaced by a generic sentence. A
/// `Forbidden` (a role or admin check) is recorded as `access.denied`.
pub fn fail(e: tollbooth::Error) -> AppError {
    let status = e.status_code();
    if status >= 500 {
        tracing::error!(error = ?e, "server function failed");
    }
    if let tollbooth::Error::Forbidden(why) = &e {
        audit_denied(why);
    }
    if let Some(resp) = use_context::<leptos_axum::ResponseOptions>() {
        if let Ok(code) = http::StatusCode::from_u16(status) {
            resp.set_status(code);
        }
        let retry_after = match &e {
            tollbooth::Error::Throttled { retry_after_secs } => Some(*retry_after_secs),
            // Busy (e.g. every password hashing slot taken): a few seconds.
            tollbooth::Error::Unavailable(_) => Some(5),
            _ => None,
        };
        if let Some(secs) = retry_after {
            if let Ok(v) = http::HeaderValue::from_str(&secs.to_string()) {
                resp.insert_header(http::header::RETRY_AFTER, v);
            }
        }
    }
    let upgrade_path = match &e {
        tollbooth::Error::LimitReached(r) => {
            r.details.get("upgrade_path").and_then(|v| v.as_str()).map(str::to_string)
        }
        _ => None,
    };
    AppError { upgrade_path, ..AppError::new(status, e.public_message()) }
}

/// The request's session.
pub async fn session() -> Result<Session, AppError> {
    leptos_axum::extract::<Session>().await.map_err(|e| {
        tracing::error!(error = %e, "session layer missing");
        AppError::new(500, "session unavailable")
    })
}

/// Writes `access.denied` for the current request, naming the caller (when
/// signed in), the server function's path, why, and the request's origin.
/// Written by a spawned task: `fail` is synchronous, and the answer to the
/// caller does not wait for the log.
fn audit_denied(why: &str) {
    let (Some(ctx), Some(parts)) = (use_context::<AppContext>(), use_context::<http::request::Parts>()) else { return };
    let caller = use_context::<Caller>();
    let path = parts.uri.path().to_string();
    let ip = client_ip_of(&parts.extensions);
    let user_agent = parts.headers.get(http::header::USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_string);
    let details = serde_json::json!({ "reason": why });
    leptos::task::spawn(async move {
        use tollbooth::audit::{Actor, NewEntry, Origin, Outcome};
        let actor = match &caller {
            Some(c) => Actor::user(&c.user_id, &c.email),
            None => Actor::anonymous("anonymous"),
        };
        let org = caller.as_ref().and_then(|c| c.org_id.as_deref());
        let entry = NewEntry::new(org, actor, "access.denied", Some(&path))
            .result(Outcome::Denied)
            .origin(Origin { ip: ip.as_deref(), user_agent: user_agent.as_deref() })
            .details(details);
        tollbooth::audit::record_or_log(&ctx.db, &entry).await;
    });
}

/// Maps a session-store failure to a server function error.
pub fn session_error(e: tower_sessions::session::Error) -> AppError {
    tracing::error!(error = %e, "session store failed");
    AppError::new(500, "session unavailable")
}

// Contexts are looked up before the first `.await` of every helper here: a
// resource whose component was re-rendered during server rendering keeps
// running after its owner is disposed, and a lookup after an await would then
// fail ("server context missing") and ship that error to the browser, whose
// hydration would no longer match the page.

/// The signed-in user, if any.
pub async fn maybe_user() -> Result<Option<UserView>, AppError> {
    let ctx = ctx()?;
    let session = session().await?;
    user_of(&ctx, &session).await
}

/// The user signed in to `session`.
pub async fn user_of(ctx: &AppContext, session: &Session) -> Result<Option<UserView>, AppError> {
    let user = session_user(&ctx.db, session).await?;
    if let Some(u) = &user {
        provide_context(Caller { user_id: u.id.clone(), email: u.email.clone(), org_id: None });
    }
    Ok(user)
}

/// The user `session` signs in, if it still does: the account exists, the
/// sign-in is less than 30 days old and not older than the user's last
/// "sign out everywhere" or password change. A session that no longer signs
/// anyone in is flushed. The one check of every session-authenticated
/// request (server functions and the server's browser downloads).
pub async fn session_user(db: &Db, session: &Session) -> tollbooth::Result<Option<UserView>> {
    let store = |e: tower_sessions::session::Error| tollbooth::Error::Internal(format!("session store: {e}"));
    let Some(id) = session.get::<String>(SESSION_USER).await.map_err(store)? else {
        return Ok(None);
    };
    // A session without a sign-in time predates it: treat it as expired.
    let signed_in_at = session.get::<i64>(SESSION_SIGNED_IN_AT).await.map_err(store)?.unwrap_or(0);
    let user = accounts::session_user(db, &id, signed_in_at).await?;
    if user.is_none() {
        session.flush().await.map_err(store)?;
    }
    Ok(user)
}

/// The signed-in user, or 401.
pub async fn require_user() -> Result<UserView, AppError> {
    maybe_user().await?.ok_or_else(|| fail(tollbooth::Error::Unauthorized("please sign in")))
}

/// The signed-in platform admin and the context (401 unless signed in, 403
/// unless a platform admin): the one check every admin server function makes.
pub async fn platform_admin() -> Result<(AppContext, UserView), AppError> {
    let ctx = ctx()?;
    let user = require_user().await?;
    if !user.is_platform_admin {
        return Err(fail(tollbooth::Error::Forbidden("platform admins only".into())));
    }
    Ok((ctx, user))
}

/// The signed-in user's scope in `org_id` (404 unless a member; 403 with the
/// suspension message while the organization is suspended). Remembers the
/// organization as the user's current one.
pub async fn scope(org_id: &str) -> Result<(AppContext, OrgScope, UserView), AppError> {
    let (ctx, scope, user) = scope_even_if_suspended(org_id).await?;
    orgs::require_active(&ctx.db, &scope.org_id).await?;
    Ok((ctx, scope, user))
}

/// [`scope`] without the suspension check: only for what the organization
/// layout needs to show the "suspended" page (`org_context`,
/// `org_suspension`).
pub async fn scope_even_if_suspended(org_id: &str) -> Result<(AppContext, OrgScope, UserView), AppError> {
    let ctx = ctx()?;
    let session = session().await?;
    let user = user_of(&ctx, &session).await?.ok_or_else(|| fail(tollbooth::Error::Unauthorized("please sign in")))?;
    let scope = orgs::authorize(&ctx.db, org_id, &user.id).await?;
    provide_context(Caller { user_id: user.id.clone(), email: user.email.clone(), org_id: Some(scope.org_id.clone()) });
    if session.get::<String>(SESSION_ORG).await.map_err(session_error)?.as_deref() != Some(org_id) {
        session.insert(SESSION_ORG, org_id).await.map_err(session_error)?;
    }
    Ok((ctx, scope, user))
}

/// [`scope`]'s rule for the server's session-authenticated downloads: a
/// member of an active organization.
pub async fn member_scope_of(db: &Db, user: &UserView, org_id: &str) -> tollbooth::Result<OrgScope> {
    let scope = orgs::authorize(db, org_id, &user.id).await?;
    orgs::require_active(db, &scope.org_id).await?;
    Ok(scope)
}

/// The scope of a read-only view of `org_id` (404 unless a member or a
/// platform admin): a member's own scope, else for a platform admin a
/// Member-level scope, so the admin drill-down shows the organization's
/// panels as its members see them. Leaves the current organization alone.
pub async fn read_scope(org_id: &str) -> Result<(AppContext, OrgScope), AppError> {
    let ctx = ctx()?;
    let session = session().await?;
    let user = user_of(&ctx, &session).await?.ok_or_else(|| fail(tollbooth::Error::Unauthorized("please sign in")))?;
    let scope = read_scope_of(&ctx.db, &user, org_id).await?;
    Ok((ctx, scope))
}

/// [`read_scope`]'s rule, for the server's session-authenticated downloads
/// too. Members of a suspended organization are refused (403); platform
/// admins keep reading it (their drill-down), member or not.
pub async fn read_scope_of(db: &Db, user: &UserView, org_id: &str) -> tollbooth::Result<OrgScope> {
    match orgs::authorize(db, org_id, &user.id).await {
        Err(tollbooth::Error::NotFound(_)) if user.is_platform_admin => orgs::admin_scope(db, user, org_id).await,
        Ok(scope) if !user.is_platform_admin => {
            orgs::require_active(db, &scope.org_id).await?;
            Ok(scope)
        }
        other => other,
    }
}

/// Signs `user` in: a new session id (against fixation), then the user, the
/// sign-in time and the org.
pub async fn sign_in(user: &UserView, org_id: Option<&str>) -> Result<(), AppError> {
    sign_in_at(user, org_id, tollbooth::clock::now_ms()).await
}

/// [`sign_in`] with the sign-in time given (a password change keeps its own
/// session signed in from the moment older ones end).
pub async fn sign_in_at(user: &UserView, org_id: Option<&str>, signed_in_at: tollbooth::clock::Millis) -> Result<(), AppError> {
    let session = session().await?;
    session.cycle_id().await.map_err(session_error)?;
    session.insert(SESSION_USER, &user.id).await.map_err(session_error)?;
    session.insert(SESSION_SIGNED_IN_AT, signed_in_at).await.map_err(session_error)?;
    if let Some(org) = org_id {
        session.insert(SESSION_ORG, org).await.map_err(session_error)?;
    }
    Ok(())
}

/// The client's IP address (see [`ClientIp`]).
pub async fn client_ip() -> Option<String> {
    let parts = leptos_axum::extract::<http::request::Parts>().await.ok()?;
    client_ip_of(&parts.extensions)
}

/// The client's `User-Agent`, if it sent one.
pub async fn user_agent() -> Option<String> {
    let headers = leptos_axum::extract::<axum::http::HeaderMap>().await.ok()?;
    headers.get(axum::http::header::USER_AGENT)?.to_str().ok().map(str::to_string)
}

/// Audit entries written by server functions: sign-in events (a login or
/// logout changes nothing in the store to share a transaction with) and the
/// signup. They are recorded at the edge, right after the event, and a
/// failure to write the log is logged rather than failing the request.
pub async fn audit_after(
    ctx: &AppContext,
    org_id: Option<&str>,
    actor: tollbooth::audit::Actor<'_>,
    action: &str,
    target: Option<&str>,
    result: tollbooth::audit::Outcome,
    origin: &(Option<String>, Option<String>),
    details: serde_json::Value,
) {
    let origin = tollbooth::audit::Origin { ip: origin.0.as_deref(), user_agent: origin.1.as_deref() };
    let entry = tollbooth::audit::NewEntry::new(org_id, actor, action, target).result(result).origin(origin).details(details);
    tollbooth::audit::record_or_log(&ctx.db, &entry).await;
}

/// `user` acting from this request, for the services that audit their change.
pub async fn by(user: &UserView) -> tollbooth::audit::By {
    let (ip, user_agent) = origin().await;
    tollbooth::audit::By::user(&user.id, &user.email).from(ip, user_agent)
}

/// The request's IP and user agent.
pub async fn origin() -> (Option<String>, Option<String>) {
    (client_ip().await, user_agent().await)
}
