//! Signup, login, logout and the current user.

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
    let orgs = tollbooth::orgs::list_mine(&ctx.db, &user.id).await.map_err(ssr::fail)?;
    let remembered = session.get::<String>(ssr::SESSION_ORG).await.map_err(ssr::session_error)?;
    let current_org = remembered.filter(|id| orgs.iter().any(|o| &o.id == id)).or_else(|| orgs.first().map(|o| o.id.clone()));
    Ok(Some(Me { user, orgs, current_org }))
}

/// Creates an account and its organization, signs in, and returns where to go.
#[server(endpoint = "signup")]
pub async fn signup(email: String, password: String, org_name: String) -> Result<String, AppError> {
    let ctx = ssr::ctx()?;
    let input = tollbooth::accounts::SignupInput { email, password, org_name };
    let out = tollbooth::accounts::signup(&ctx.db, input).await.map_err(ssr::fail)?;
    ssr::sign_in(&out.user, Some(&out.org.id)).await?;
    tracing::info!(user = %out.user.id, org = %out.org.id, "signup");
    Ok(format!("/o/{}", out.org.id))
}

/// Signs in with e-mail and password, and returns where to go.
#[server(endpoint = "login")]
pub async fn login(email: String, password: String) -> Result<String, AppError> {
    let ctx = ssr::ctx()?;
    let ip = ssr::client_ip().await;
    let user = tollbooth::accounts::login(&ctx.db, &email, &password, ip.as_deref()).await.map_err(ssr::fail)?;
    ssr::sign_in(&user, None).await?;
    let orgs = tollbooth::orgs::list_mine(&ctx.db, &user.id).await.map_err(ssr::fail)?;
    Ok(match orgs.first() {
        Some(o) => format!("/o/{}", o.id),
        None if user.is_platform_admin => "/admin".to_string(),
        None => "/".to_string(),
    })
}

/// Ends the session.
#[server(endpoint = "logout")]
pub async fn logout() -> Result<(), AppError> {
    ssr::session().await?.flush().await.map_err(ssr::session_error)?;
    Ok(())
}
