//! Signup, login, logout, the current user, and the account's own security:
//! password change and "sign out everywhere".

use leptos::prelude::*;

use super::Me;
use crate::error::AppError;
#[cfg(feature = "ssr")]
use crate::ssr;

/// The signed-in user and their organizations, or `None` when signed out.
#[server(endpoint = "whoami")]
pub async fn whoami() -> Result<Option<Me>, AppError> {
    // Contexts first, before any await (see `ssr`).
    let ctx = ssr::ctx()?;
    let session = ssr::session().await?;
    let Some(user) = ssr::user_of(&ctx, &session).await? else {
        return Ok(None);
    };
    let orgs = tollbooth::orgs::list_mine(&ctx.db, &user.id).await?;
    let remembered = session.get::<String>(ssr::SESSION_ORG).await.map_err(ssr::session_error)?;
    let current_org = remembered.filter(|id| orgs.iter().any(|o| &o.id == id)).or_else(|| orgs.first().map(|o| o.id.clone()));
    Ok(Some(Me { user, orgs, current_org }))
}

/// Creates an account and its organization, signs in, and returns where to go.
#[server(endpoint = "signup")]
pub async fn signup(email: String, password: String, org_name: String) -> Result<String, AppError> {
    let ctx = ssr::ctx()?;
    let origin = ssr::origin().await;
    let input = tollbooth::accounts::SignupInput { email, password, org_name };
    let out = tollbooth::accounts::signup(&ctx.db, input, origin.0.as_deref(), ctx.signups_per_ip_per_hour).await?;
    ssr::sign_in(&out.user, Some(&out.org.id)).await?;
    let actor = tollbooth::audit::Actor::user(&out.user.id, &out.user.email);
    ssr::audit_after(&ctx, Some(&out.org.id), actor, "auth.signup", Some(&out.org.id), tollbooth::audit::Outcome::Success, &origin, serde_json::json!({})).await;
    tracing::info!(user = %out.user.id, org = %out.org.id, "signup");
    Ok(format!("/o/{}", out.org.id))
}

/// Signs in with e-mail and password, and returns where to go.
#[server(endpoint = "login")]
pub async fn login(email: String, password: String) -> Result<String, AppError> {
    let ctx = ssr::ctx()?;
    let origin = ssr::origin().await;
    let user = match tollbooth::accounts::login(&ctx.db, &email, &password, origin.0.as_deref()).await {
        Ok(u) => u,
        Err(e) => {
            // The e-mail tried is the label; the password is never recorded.
            let tried: String = email.trim().chars().take(200).collect();
            let reason = if matches!(e, tollbooth::Error::Throttled { .. }) { "throttled" } else { "bad_credentials" };
            let actor = tollbooth::audit::Actor::anonymous(&tried);
            ssr::audit_after(&ctx, None, actor, "auth.login", None, tollbooth::audit::Outcome::Failure, &origin, serde_json::json!({ "reason": reason })).await;
            return Err(ssr::fail(e));
        }
    };
    ssr::sign_in(&user, None).await?;
    let actor = tollbooth::audit::Actor::user(&user.id, &user.email);
    ssr::audit_after(&ctx, None, actor, "auth.login", Some(&user.id), tollbooth::audit::Outcome::Success, &origin, serde_json::json!({})).await;
    let orgs = tollbooth::orgs::list_mine(&ctx.db, &user.id).await?;
    Ok(match orgs.first() {
        Some(o) => format!("/o/{}", o.id),
        None if user.is_platform_admin => "/admin".to_string(),
        None => "/".to_string(),
    })
}

/// Ends the session.
#[server(endpoint = "logout")]
pub async fn logout() -> Result<(), AppError> {
    let ctx = ssr::ctx()?;
    let origin = ssr::origin().await;
    let user = ssr::maybe_user().await?;
    ssr::session().await?.flush().await.map_err(ssr::session_error)?;
    if let Some(u) = user {
        let actor = tollbooth::audit::Actor::user(&u.id, &u.email);
        ssr::audit_after(&ctx, None, actor, "auth.logout", Some(&u.id), tollbooth::audit::Outcome::Success, &origin, serde_json::json!({})).await;
    }
    Ok(())
}

/// Changes the signed-in user's password (the current one, then the new one
/// twice). Every other session of the user ends; this one stays signed in.
#[server(endpoint = "change_password")]
pub async fn change_password(current_password: String, new_password: String, confirm_password: String) -> Result<(), AppError> {
    let ctx = ssr::ctx()?;
    let user = ssr::require_user().await?;
    let by = ssr::by(&user).await;
    let change = tollbooth::accounts::PasswordChange { current: current_password, new: new_password, confirm: confirm_password };
    let signed_in_at = tollbooth::accounts::change_password(&ctx.db, &by, change).await?;
    let org = ssr::session().await?.get::<String>(ssr::SESSION_ORG).await.map_err(ssr::session_error)?;
    ssr::sign_in_at(&user, org.as_deref(), signed_in_at).await
}

/// Ends every session of the signed-in user, this one included.
#[server(endpoint = "logout_everywhere")]
pub async fn logout_everywhere() -> Result<(), AppError> {
    let ctx = ssr::ctx()?;
    let user = ssr::require_user().await?;
    let by = ssr::by(&user).await;
    tollbooth::accounts::end_all_sessions(&ctx.db, &by).await?;
    ssr::session().await?.flush().await.map_err(ssr::session_error)
}
