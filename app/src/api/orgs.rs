//! Organization settings, members and invites.

use leptos::prelude::*;
use tollbooth::orgs::{InvitePreview, InviteView, MemberView, NewInvite, OrgView};

use super::CurrentOrg;
use crate::error::AppError;
#[cfg(feature = "ssr")]
use crate::ssr;
#[cfg(feature = "ssr")]
use tollbooth::orgs::{self, Role};

/// The organization and the caller's role (404 unless a member).
#[server(endpoint = "org_context")]
pub async fn org_context(org_id: String) -> Result<CurrentOrg, AppError> {
    // Answers for a suspended organization too: the layout shows its
    // "suspended" page from it.
    let (ctx, scope, _) = ssr::scope_even_if_suspended(&org_id).await?;
    let org = orgs::get(&ctx.db, &scope).await?;
    let plan = tollbooth::plans::org_plan(&ctx.db, &scope.org_id).await?;
    let grace_until = tollbooth::billing::service::grace_until(&ctx.db, &scope.org_id, &plan.time_zone).await?;
    let trial = tollbooth::trials::notice(&ctx.db, &scope.org_id, tollbooth::clock::now_ms()).await?;
    let sample_usage = tollbooth::sample::has_sample_usage(&ctx.db, &scope.org_id).await?;
    Ok(CurrentOrg { org, role: scope.role, is_demo: plan.demo_mode(), plan_name: plan.plan_name, grace_until, trial, sample_usage })
}

/// Renames the organization and sets its time zone and whether the gateway
/// refuses models without a price (a checkbox: present means on).
#[server(endpoint = "update_org")]
pub async fn update_org(
    org_id: String,
    name: String,
    time_zone: String,
    #[server(default)] refuse_unpriced_models: Option<String>,
) -> Result<OrgView, AppError> {
    let (ctx, scope, user) = ssr::scope(&org_id).await?;
    let input = orgs::SettingsInput { name: &name, time_zone: &time_zone, refuse_unpriced_models: refuse_unpriced_models.is_some() };
    Ok(orgs::update_settings(&ctx.db, &scope, &input, &ssr::by(&user).await).await?)
}

/// The origins whose pages may frame the embeddable usage meter (any member).
#[server(endpoint = "embed_origins")]
pub async fn embed_origins(org_id: String) -> Result<Vec<String>, AppError> {
    let (ctx, scope, _) = ssr::scope(&org_id).await?;
    Ok(tollbooth::embed::origins(&ctx.db, &scope.org_id).await?)
}

/// Replaces the embed origins (owners and admins): one origin a line, or
/// separated by commas or spaces; a bad one is refused naming it.
#[server(endpoint = "update_embed_origins")]
pub async fn update_embed_origins(org_id: String, #[server(default)] origins: String) -> Result<Vec<String>, AppError> {
    let (ctx, scope, user) = ssr::scope(&org_id).await?;
    scope.require(Role::Admin)?;
    Ok(tollbooth::embed::set_origins(&ctx.db, &scope.org_id, &[origins], &ssr::by(&user).await).await?)
}

/// Members, and pending invites for those who manage them.
#[server(endpoint = "list_members")]
pub async fn list_members(org_id: String) -> Result<(Vec<MemberView>, Vec<InviteView>), AppError> {
    let (ctx, scope, _) = ssr::scope(&org_id).await?;
    let members = orgs::list_members(&ctx.db, &scope).await?;
    let invites = if scope.role.can_manage() { orgs::list_invites(&ctx.db, &scope).await? } else { vec![] };
    Ok((members, invites))
}

/// Changes a member's role.
#[server(endpoint = "change_role")]
pub async fn change_role(org_id: String, user_id: String, role: String) -> Result<(), AppError> {
    let (ctx, scope, user) = ssr::scope(&org_id).await?;
    let role = Role::parse(&role)?;
    Ok(orgs::change_role(&ctx.db, &scope, &user_id, role, &ssr::by(&user).await).await?)
}

/// Removes a member.
#[server(endpoint = "remove_member")]
pub async fn remove_member(org_id: String, user_id: String) -> Result<(), AppError> {
    let (ctx, scope, user) = ssr::scope(&org_id).await?;
    Ok(orgs::remove_member(&ctx.db, &scope, &user_id, &ssr::by(&user).await).await?)
}

/// An invite with its link, shown to the inviter.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CreatedInvite {
    pub invite: NewInvite,
    pub link: String,
}

/// Invites someone by e-mail; returns the link to hand them.
#[server(endpoint = "invite_member")]
pub async fn invite_member(org_id: String, email: String, role: String) -> Result<CreatedInvite, AppError> {
    let (ctx, scope, user) = ssr::scope(&org_id).await?;
    let role = Role::parse(&role)?;
    let invite = orgs::invite(&ctx.db, &scope, &email, role, &ssr::by(&user).await).await?;
    let link = format!("{}/invite/{}", ctx.public_url.trim_end_matches('/'), invite.token);
    Ok(CreatedInvite { invite, link })
}

/// Revokes a pending invite.
#[server(endpoint = "revoke_invite")]
pub async fn revoke_invite(org_id: String, invite_id: String) -> Result<(), AppError> {
    let (ctx, scope, user) = ssr::scope(&org_id).await?;
    Ok(orgs::revoke_invite(&ctx.db, &scope, &invite_id, &ssr::by(&user).await).await?)
}

/// What an invite link offers.
#[server(endpoint = "get_invite")]
pub async fn get_invite(token: String) -> Result<InvitePreview, AppError> {
    Ok(orgs::preview_invite(&ssr::ctx()?.db, &token).await?)
}

/// Accepts an invite as the signed-in user, or with a password (existing
/// account's, or a new account's); signs in and returns where to go.
#[server(endpoint = "accept_invite")]
pub async fn accept_invite(token: String, password: Option<String>) -> Result<String, AppError> {
    let ctx = ssr::ctx()?;
    let who = match ssr::maybe_user().await? {
        Some(user) => orgs::Acceptor::SignedIn(user),
        None => orgs::Acceptor::Password(password.unwrap_or_default()),
    };
    let (ip, user_agent) = ssr::origin().await;
    let origin = tollbooth::audit::Origin { ip: ip.as_deref(), user_agent: user_agent.as_deref() };
    let (user, org_id) = orgs::accept_invite(&ctx.db, &token, who, origin).await?;
    ssr::sign_in(&user, Some(&org_id)).await?;
    Ok(format!("/o/{org_id}"))
}
