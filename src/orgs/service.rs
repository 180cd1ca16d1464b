//! Organization services: membership checks, roles, settings, invites.

use std::str::FromStr;

use super::{store, OrgSummary, InvitePreview, InviteView, MemberView, MyOrg, NewInvite, OrgName, OrgScope, OrgView, Role};
use serde_json::json;

use crate::accounts::{self, Email, Password, UserView};
use crate::audit::{self, By};
use crate::clock::now_ms;
use crate::db::Db;
use crate::ids::{is_valid_id, new_id};
use crate::secrets;
use crate::{Error, Result};

/// How long an invite link stays valid.
pub const INVITE_TTL_MS: i64 = 7 * 24 * 3600 * 1000;

/// Creates an organization with `user_id` as its owner inside a caller's transaction.
pub async fn create_with_owner(conn: &mut sqlx::AnyConnection, name: &OrgName, user_id: &str) -> Result<OrgView> {
    let org = OrgView {
        id: new_id(),
        name: name.as_str().to_string(),
        time_zone: "UTC".into(),
        created_at: now_ms(),
        refuse_unpriced_models: false,
    };
    store::insert_org(conn, &org).await?;
    store::insert_membership(conn, &org.id, user_id, Role::Owner, org.created_at).await?;
    Ok(org)
}

/// The caller's scope in `org_id`: `NotFound` unless `user_id` is a member.
pub async fn authorize(db: &Db, org_id: &str, user_id: &str) -> Result<OrgScope> {
    if !is_valid_id(org_id) {
        return Err(Error::NotFound("organization"));
    }
    let mut conn = db.reader().acquire().await?;
    match store::role(&mut conn, org_id, user_id).await? {
        Some(role) => Ok(OrgScope { org_id: org_id.to_string(), user_id: user_id.to_string(), role }),
        None => Err(Error::NotFound("organization")),
    }
}

/// The organization the scope is in.
pub async fn get(db: &Db, scope: &OrgScope) -> Result<OrgView> {
    let mut conn = db.reader().acquire().await?;
    store::get_org(&mut conn, &scope.org_id).await?.ok_or(Error::NotFound("organization"))
}

/// Every organization the user belongs to, by name.
pub async fn list_mine(db: &Db, user_id: &str) -> Result<Vec<MyOrg>> {
    let mut conn = db.reader().acquire().await?;
    store::orgs_of_user(&mut conn, user_id).await
}

/// Every organization on the platform (platform admins only).
pub async fn list_all(db: &Db, actor: &UserView) -> Result<Vec<OrgSummary>> {
    if !actor.is_platform_admin {
        return Err(Error::Forbidden("platform admins only".into()));
    }
    let mut conn = db.reader().acquire().await?;
    store::all_orgs(&mut conn).await
}

/// Members of the scope's organization (any member may see them).
pub async fn list_members(db: &Db, scope: &OrgScope) -> Result<Vec<MemberView>> {
    let mut conn = db.reader().acquire().await?;
    store::members(&mut conn, &scope.org_id).await
}

/// Validates an IANA time zone name such as `Europe/Paris`.
pub fn parse_time_zone(raw: &str) -> Result<String> {
    let s = raw.trim();
    chrono_tz::Tz::from_str(s)
        .map(|tz| tz.name().to_string())
        .map_err(|_| Error::invalid("time zone", format!("{s:?} is not an IANA time zone such as Europe/Paris or UTC")))
}

/// What the Settings page saves.
#[derive(Debug, Clone)]
pub struct SettingsInput<'a> {
    pub name: &'a str,
    /// An IANA time zone: days and months start at midnight there.
    pub time_zone: &'a str,
    /// Refuse gateway calls to models without a price (400) rather than
    /// forwarding them and recording them unpriced.
    pub refuse_unpriced_models: bool,
}

/// Renames the organization, sets its time zone and its gateway setting
/// (owners and admins); audited as `org.settings_change` with the settings
/// before and after. Saving the same settings records nothing.
pub async fn update_settings(db: &Db, scope: &OrgScope, input: &SettingsInput<'_>, by: &By) -> Result<OrgView> {
    scope.require(Role::Admin)?;
    let name = OrgName::parse(input.name)?;
    let tz = parse_time_zone(input.time_zone)?;
    let mut tx = db.begin().await?;
    let before = store::get_org(&mut tx, &scope.org_id).await?.ok_or(Error::NotFound("organization"))?;
    store::update_settings(&mut tx, &scope.org_id, name.as_str(), &tz, input.refuse_unpriced_models).await?;
    if before.time_zone != tz {
        // Days and months move with the zone: recount this month's usage.
        crate::quota::time_zone_changed(&mut tx, db, &scope.org_id, &tz).await?;
    }
    let org = store::get_org(&mut tx, &scope.org_id).await?.ok_or(Error::NotFound("organization"))?;
    if org != before {
        let settings = |o: &OrgView| json!({ "name": o.name, "time_zone": o.time_zone, "refuse_unpriced_models": o.refuse_unpriced_models });
        let details = json!({ "before": settings(&before), "after": settings(&org) });
        audit::record_in(&mut tx, db.engine, &by.entry(Some(&scope.org_id), "org.settings_change", Some(&scope.org_id)).details(details))
            .await?;
    }
    tx.commit().await?;
    crate::api_keys::forget_org_keys(&scope.org_id);
    Ok(org)
}

/// Changes a member's role. Owners may grant any role; admins may not touch
/// owners nor make anyone an owner. The organization always keeps an owner.
pub async fn change_role(db: &Db, scope: &OrgScope, user_id: &str, new_role: Role, by: &By) -> Result<()> {
    scope.require(Role::Admin)?;
    let mut tx = db.begin().await?;
    store::lock_org(&mut tx, &scope.org_id).await?;
    let current = store::role(&mut tx, &scope.org_id, user_id).await?.ok_or(Error::NotFound("member"))?;
    if scope.role < Role::Owner && (current == Role::Owner || new_role == Role::Owner) {
        return Err(Error::Forbidden("only an owner can grant or change the owner role".into()));
    }
    if current == Role::Owner && new_role != Role::Owner && store::count_owners(&mut tx, &scope.org_id).await? <= 1 {
        return Err(Error::conflict("role", "an organization must keep at least one owner; make someone else owner first"));
    }
    store::set_role(&mut tx, &scope.org_id, user_id, new_role).await?;
    let email = store::user_email(&mut tx, user_id).await?;
    let entry = by
        .entry(Some(&scope.org_id), "member.role_change", Some(user_id))
        .details(json!({ "email": email, "from": current.as_str(), "to": new_role.as_str() }));
    audit::record_in(&mut tx, db.engine, &entry).await?;
    tx.commit().await?;
    Ok(())
}

/// Removes a member (owners and admins; anyone may remove themselves).
/// The last owner cannot be removed.
pub async fn remove_member(db: &Db, scope: &OrgScope, user_id: &str, by: &By) -> Result<()> {
    if user_id != scope.user_id {
        scope.require(Role::Admin)?;
    }
    let mut tx = db.begin().await?;
    store::lock_org(&mut tx, &scope.org_id).await?;
    let current = store::role(&mut tx, &scope.org_id, user_id).await?.ok_or(Error::NotFound("member"))?;
    if current == Role::Owner && scope.role < Role::Owner {
        return Err(Error::Forbidden("only an owner can remove an owner".into()));
    }
    if current == Role::Owner && store::count_owners(&mut tx, &scope.org_id).await? <= 1 {
        return Err(Error::conflict("member", "the last owner cannot be removed; make someone else owner first"));
    }
    store::delete_membership(&mut tx, &scope.org_id, user_id).await?;
    let email = store::user_email(&mut tx, user_id).await?;
    let entry = by
        .entry(Some(&scope.org_id), "member.remove", Some(user_id))
        .details(json!({ "email": email, "role": current.as_str(), "left": user_id == scope.user_id }));
    audit::record_in(&mut tx, db.engine, &entry).await?;
    tx.commit().await?;
    Ok(())
}

/// Creates an invite for `email` with `role`; the returned token goes in the link.
pub async fn invite(db: &Db, scope: &OrgScope, email: &str, role: Role, by: &By) -> Result<NewInvite> {
    scope.require(Role::Admin)?;
    if role == Role::Owner && scope.role < Role::Owner {
        return Err(Error::Forbidden("only an owner can invite another owner".into()));
    }
    let email = Email::parse(email)?;
    let token = format!("inv_{}", secrets::random_hex(24));
    let now = now_ms();
    let invite = InviteView { id: new_id(), email: email.to_string(), role, created_at: now, expires_at: now + INVITE_TTL_MS };
    let mut tx = db.begin().await?;
    if store::is_member_email(&mut tx, &scope.org_id, email.as_str()).await? {
        return Err(Error::conflict("email", format!("{email} is already a member")));
    }
    // Members and pending invites together stay within the plan.
    crate::quota::resources::lock_org(&mut tx, db.engine, &scope.org_id).await?;
    crate::quota::resources::ensure_room(db, &mut tx, &scope.org_id, crate::plans::Metric::Members, 1).await?;
    store::insert_invite(&mut tx, &scope.org_id, &invite, &secrets::digest(&token), &scope.user_id).await?;
    let entry = by
        .entry(Some(&scope.org_id), "member.invite", Some(&invite.id))
        .details(json!({ "email": invite.email, "role": role.as_str() }));
    audit::record_in(&mut tx, db.engine, &entry).await?;
    tx.commit().await?;
    Ok(NewInvite { invite, token })
}

/// Pending (not accepted, revoked or expired) invites of the organization.
pub async fn list_invites(db: &Db, scope: &OrgScope) -> Result<Vec<InviteView>> {
    scope.require(Role::Admin)?;
    let mut conn = db.reader().acquire().await?;
    store::pending_invites(&mut conn, &scope.org_id, now_ms()).await
}

/// Revokes a pending invite of the organization.
pub async fn revoke_invite(db: &Db, scope: &OrgScope, invite_id: &str, by: &By) -> Result<()> {
    scope.require(Role::Admin)?;
    let mut tx = db.begin().await?;
    if !store::revoke_invite(&mut tx, &scope.org_id, invite_id, now_ms()).await? {
        return Err(Error::NotFound("invite"));
    }
    audit::record_in(&mut tx, db.engine, &by.entry(Some(&scope.org_id), "member.invite_revoke", Some(invite_id))).await?;
    tx.commit().await?;
    Ok(())
}

async fn pending_invite(conn: &mut sqlx::AnyConnection, token: &str) -> Result<store::InviteRow> {
    let row = store::invite_by_token_hash(conn, &secrets::digest(token.trim())).await?.ok_or(Error::NotFound("invite"))?;
    if row.accepted_at.is_some() {
        return Err(Error::conflict("invite", "this invite has already been used"));
    }
    if row.revoked_at.is_some() || row.view.expires_at <= now_ms() {
        return Err(Error::conflict("invite", "this invite has expired or was revoked; ask for a new one"));
    }
    Ok(row)
}

/// What an invite link offers, for the page shown before accepting. It does
/// not say whether the invited e-mail has an account: anyone holding the
/// link (or its inviter) would learn it.
pub async fn preview_invite(db: &Db, token: &str) -> Result<InvitePreview> {
    let mut conn = db.reader().acquire().await?;
    let row = pending_invite(&mut conn, token).await?;
    let org = store::get_org(&mut conn, &row.org_id).await?.ok_or(Error::NotFound("invite"))?;
    Ok(InvitePreview { org_name: org.name, email: row.view.email, role: row.view.role, expires_at: row.view.expires_at })
}

/// Who accepts an invite.
#[derive(Debug, Clone)]
pub enum Acceptor {
    /// A signed-in user; their e-mail must be the invited one.
    SignedIn(UserView),
    /// Not signed in: the password of the existing account for the invited
    /// e-mail, or the password for a new account.
    Password(String),
}

/// Who joins: a known user, or a new account to create with this hash.
enum Joiner {
    Existing(UserView),
    New(accounts::PasswordHash),
}

/// Accepts an invite: joins the organization with the invited role. Returns the
/// user (to sign in) and the organization id.
///
/// The password of an existing account is checked like a login (throttled by
/// e-mail and IP, a failure recorded as a failed `auth.login` with
/// `via: invite`), before the write transaction and outside it, so that a
/// failure stays counted and recorded, and the single SQLite writer is not
/// held while argon2 runs.
pub async fn accept_invite(db: &Db, token: &str, who: Acceptor, origin: audit::Origin<'_>) -> Result<(UserView, String)> {
    let row = {
        let mut conn = db.reader().acquire().await?;
        pending_invite(&mut conn, token).await?
    };
    let email = Email::parse(&row.view.email)?;
    let joiner = match who {
        Acceptor::SignedIn(user) => {
            if user.email != email.as_str() {
                return Err(Error::Forbidden(format!("this invite is for {email}; sign in with that account to accept it")));
            }
            Joiner::Existing(user)
        }
        Acceptor::Password(pw) => {
            let exists = {
                let mut conn = db.reader().acquire().await?;
                accounts::find_credentials(&mut conn, &email).await?.is_some()
            };
            if exists {
                match accounts::check_password(db, email.as_str(), &pw, origin.ip).await {
                    Ok(user) => Joiner::Existing(user),
                    Err(e) => {
                        let reason = match &e {
                            Error::Throttled { .. } => "throttled",
                            Error::Unauthorized(_) => "bad_credentials",
                            _ => return Err(e),
                        };
                        let entry = audit::NewEntry::new(None, audit::Actor::anonymous(email.as_str()), "auth.login", None)
                            .result(audit::Outcome::Failure)
                            .origin(origin)
                            .details(json!({ "reason": reason, "via": "invite", "invite": row.view.id }));
                        audit::record_or_log(db, &entry).await;
                        return Err(e);
                    }
                }
            } else {
                Joiner::New(accounts::hash_password(db, &Password::parse(&pw)?).await?)
            }
        }
    };
    let mut tx = db.begin().await?;
    // Read again under the write lock: it may have been used or revoked meanwhile.
    let row = pending_invite(&mut tx, token).await?;
    let user = match joiner {
        Joiner::Existing(user) => user,
        Joiner::New(hash) => accounts::insert_user(&mut tx, &email, &hash, false).await?,
    };
    if store::role(&mut tx, &row.org_id, &user.id).await?.is_some() {
        return Err(Error::conflict("invite", "you are already a member of this organization"));
    }
    if !store::mark_accepted(&mut tx, &row.view.id, now_ms()).await? {
        return Err(Error::conflict("invite", "this invite has already been used"));
    }
    store::insert_membership(&mut tx, &row.org_id, &user.id, row.view.role, now_ms()).await?;
    let entry = audit::NewEntry::new(Some(&row.org_id), audit::Actor::user(&user.id, &user.email), "member.join", Some(&user.id))
        .origin(origin)
        .details(json!({ "invite": row.view.id, "role": row.view.role.as_str() }));
    audit::record_in(&mut tx, db.engine, &entry).await?;
    tx.commit().await?;
    Ok((user, row.org_id))
}

/// A bootstrapped tenant (CLI `create-org`, first-start demo).
#[derive(Debug, Clone)]
pub struct BootstrappedOrg {
    pub org: OrgView,
    pub owner: UserView,
    /// The owner's password when the account was created now.
    pub owner_password: Option<String>,
}

/// Creates an organization owned by `owner_email`, creating that user (with
/// `password`, or a random one that is returned) when missing.
pub async fn bootstrap(db: &Db, name: &str, owner_email: &str, password: Option<&str>) -> Result<BootstrappedOrg> {
    let name = OrgName::parse(name)?;
    let email = Email::parse(owner_email)?;
    let password_text = password.map(str::to_string).unwrap_or_else(|| secrets::random_hex(10));
    let password = Password::parse(&password_text)?;
    // Hashed before the transaction: argon2 must not hold the writer.
    let hash = accounts::hash_password(db, &password).await?;
    let mut tx = db.begin().await?;
    let (owner, created) = accounts::find_or_create_user(&mut tx, &email, &hash).await?;
    let org = create_with_owner(&mut tx, &name, &owner.id).await?;
    tx.commit().await?;
    Ok(BootstrappedOrg { org, owner, owner_password: created.then_some(password_text) })
}

/// A platform admin's read-only view into any organization (its drill-down
/// page): a member-level scope, so only what any member may read is open.
pub async fn admin_scope(db: &Db, actor: &crate::accounts::UserView, org_id: &str) -> Result<OrgScope> {
    if !actor.is_platform_admin {
        return Err(Error::Forbidden("platform admins only".into()));
    }
    let mut conn = db.reader().acquire().await?;
    store::get_org(&mut conn, org_id).await?.ok_or(Error::NotFound("organization"))?;
    Ok(OrgScope { org_id: org_id.to_string(), user_id: actor.id.clone(), role: Role::Member })
}
