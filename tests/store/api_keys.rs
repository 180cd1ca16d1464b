use tollbooth::api_keys::{self, ModelAllowlist, NewKey, Scope, Scopes, KEY_PREFIX};
use tollbooth::orgs::{OrgScope, Role};
use tollbooth::{test_both_engines, Error};

use super::sign_up;

fn owner_scope(s: &tollbooth::accounts::Signup) -> OrgScope {
    OrgScope { org_id: s.org.id.clone(), user_id: s.user.id.clone(), role: Role::Owner }
}

/// A key with every scope and the given rate limit.
fn key(name: &str, rate_limit_per_minute: Option<i64>) -> NewKey<'_> {
    NewKey { name, rate_limit_per_minute, scopes: Scopes::ALL, model_allowlist: None }
}

test_both_engines! {
    async fn a_key_authenticates_until_it_is_revoked(db) {
        let a = sign_up(db, "a@example.com", "A").await;
        let scope = owner_scope(&a);
        let new = api_keys::create(db, &scope, &key(" backend ", Some(120)), &crate::by()).await.unwrap();
        assert!(new.secret.starts_with(KEY_PREFIX) && api_keys::is_well_formed(&new.secret));
        let p = api_keys::authenticate(db, &new.secret).await.unwrap();
        assert_eq!((p.org_id.as_str(), p.org_name.as_str(), p.key_name.as_str()), (a.org.id.as_str(), "A", "backend"));
        assert_eq!(p.rate_limit_per_minute, Some(120), "the key's own rate limit is read on authentication");

        let listed = api_keys::list(db, &scope).await.unwrap();
        assert_eq!(listed.len(), 1);
        assert!(listed[0].last_used_at.is_some(), "authentication records the last use");
        assert!(new.secret.starts_with(&listed[0].prefix) && listed[0].prefix.len() < new.secret.len());
        assert_eq!(listed[0].rate_limit_per_minute, Some(120));

        api_keys::revoke(db, &scope, &new.key.id, &crate::by()).await.unwrap();
        api_keys::revoke(db, &scope, &new.key.id, &crate::by()).await.unwrap();
        // Created once, revoked once: the second revoke changed nothing.
        let f = tollbooth::audit::AuditFilter { action: "api_key.".into(), ..Default::default() };
        let log = tollbooth::audit::list(db, Some(&scope.org_id), &f, "UTC", 10).await.unwrap();
        let actions: Vec<&str> = log.iter().rev().map(|e| e.action.as_str()).collect();
        assert_eq!(actions, vec!["api_key.create", "api_key.revoke"]);
        assert!(log.iter().all(|e| e.target.as_deref() == Some(new.key.id.as_str())));
        let err = api_keys::authenticate(db, &new.secret).await.unwrap_err();
        assert!(matches!(err, Error::Unauthorized(m) if m.contains("revoked")));
    }

    async fn another_orgs_key_cannot_be_revoked(db) {
        let a = sign_up(db, "a@example.com", "A").await;
        let b = sign_up(db, "b@example.com", "B").await;
        let key_b = api_keys::create(db, &owner_scope(&b), &key("b", None), &crate::by()).await.unwrap();
        let err = api_keys::revoke(db, &owner_scope(&a), &key_b.key.id, &crate::by()).await.unwrap_err();
        assert!(matches!(err, Error::NotFound(_)));
        assert!(api_keys::authenticate(db, &key_b.secret).await.is_ok());
        assert!(api_keys::list(db, &owner_scope(&a)).await.unwrap().is_empty());
    }

    async fn malformed_and_unknown_keys_are_unauthorized(db) {
        for token in ["", "Bearer", "tb_live_123", &format!("{KEY_PREFIX}{}", "0".repeat(48))] {
            assert!(matches!(api_keys::authenticate(db, token).await, Err(Error::Unauthorized(_))), "{token}");
        }
    }

    async fn members_cannot_create_or_revoke_keys(db) {
        let a = sign_up(db, "a@example.com", "A").await;
        let member = OrgScope { role: Role::Member, ..owner_scope(&a) };
        assert_eq!(api_keys::create(db, &member, &key("x", None), &crate::by()).await.unwrap_err().status_code(), 403);
        let err = api_keys::create(db, &owner_scope(&a), &key("  ", None), &crate::by()).await.unwrap_err();
        assert_eq!(err.field(), Some("name"));
        let err = api_keys::create(db, &owner_scope(&a), &key("fast", Some(0)), &crate::by()).await.unwrap_err();
        assert_eq!(err.field(), Some("rate_limit_per_minute"));
    }

    async fn scopes_are_kept_read_on_authentication_and_changed_with_an_audit_entry(db) {
        let a = sign_up(db, "a@example.com", "A").await;
        let scope = owner_scope(&a);
        let ingest_only = NewKey { name: "client app", rate_limit_per_minute: None, scopes: Scopes::of(&[Scope::Ingest]).unwrap(), model_allowlist: None };
        let new = api_keys::create(db, &scope, &ingest_only, &crate::by()).await.unwrap();
        let p = api_keys::authenticate(db, &new.secret).await.unwrap();
        assert_eq!(p.scopes.list(), vec![Scope::Ingest]);
        assert!(p.require(Scope::Ingest).is_ok());
        let err = p.require(Scope::Manage).unwrap_err();
        assert!(matches!(&err, Error::Forbidden(m) if m == "this key lacks the manage scope"), "{err:?}");
        assert_eq!(api_keys::list(db, &scope).await.unwrap()[0].scopes.list(), vec![Scope::Ingest]);

        let read = Scopes::of(&[Scope::Ingest, Scope::Read]).unwrap();
        let view = api_keys::set_scopes(db, &scope, &new.key.id, read, &crate::by()).await.unwrap();
        assert_eq!(view.scopes, read);
        assert_eq!(api_keys::authenticate(db, &new.secret).await.unwrap().scopes, read);
        // The same scopes again change nothing and record nothing.
        api_keys::set_scopes(db, &scope, &new.key.id, read, &crate::by()).await.unwrap();
        let f = tollbooth::audit::AuditFilter { action: "api_key.scopes_change".into(), ..Default::default() };
        let log = tollbooth::audit::list(db, Some(&scope.org_id), &f, "UTC", 10).await.unwrap();
        assert_eq!(log.len(), 1);
        let details: serde_json::Value = serde_json::from_str(&log[0].details).unwrap();
        assert_eq!(details["from"], serde_json::json!(["ingest"]));
        assert_eq!(details["to"], serde_json::json!(["ingest", "read"]));

        let member = OrgScope { role: Role::Member, ..owner_scope(&a) };
        assert_eq!(api_keys::set_scopes(db, &member, &new.key.id, Scopes::ALL, &crate::by()).await.unwrap_err().status_code(), 403);
        let b = sign_up(db, "b@example.com", "B").await;
        let err = api_keys::set_scopes(db, &owner_scope(&b), &new.key.id, Scopes::ALL, &crate::by()).await.unwrap_err();
        assert!(matches!(err, Error::NotFound(_)), "another organization's key is not found");
    }

    async fn a_model_allowlist_is_kept_read_on_authentication_and_changed_with_an_audit_entry(db) {
        let a = sign_up(db, "a@example.com", "A").await;
        let scope = owner_scope(&a);
        let mini = ModelAllowlist::parse("gpt-4o-mini").unwrap();
        let new = NewKey { model_allowlist: mini.clone(), ..key("gateway", None) };
        let created = api_keys::create(db, &scope, &new, &crate::by()).await.unwrap();
        assert_eq!(created.key.model_allowlist, mini);
        let p = api_keys::authenticate(db, &created.secret).await.unwrap();
        assert_eq!(p.model_allowlist, mini, "read by the authentication's one query");
        assert!(p.allows_model("gpt-4o-mini") && !p.allows_model("claude-sonnet-4-5"));
        let f = tollbooth::audit::AuditFilter { action: "api_key.create".into(), ..Default::default() };
        let log = tollbooth::audit::list(db, Some(&scope.org_id), &f, "UTC", 10).await.unwrap();
        let details: serde_json::Value = serde_json::from_str(&log[0].details).unwrap();
        assert_eq!(details["model_allowlist"], serde_json::json!(["gpt-4o-mini"]));

        let wider = ModelAllowlist::parse("gpt-4o*\nclaude-*").unwrap();
        let view = api_keys::set_model_allowlist(db, &scope, &created.key.id, wider.clone(), &crate::by()).await.unwrap();
        assert_eq!(view.model_allowlist, wider);
        assert!(api_keys::authenticate(db, &created.secret).await.unwrap().allows_model("claude-sonnet-4-5"));
        // The same list again records nothing; clearing it allows every model.
        api_keys::set_model_allowlist(db, &scope, &created.key.id, wider.clone(), &crate::by()).await.unwrap();
        let view = api_keys::set_model_allowlist(db, &scope, &created.key.id, None, &crate::by()).await.unwrap();
        assert_eq!(view.model_allowlist, None);
        assert!(api_keys::authenticate(db, &created.secret).await.unwrap().allows_model("anything/at-all"));
        let f = tollbooth::audit::AuditFilter { action: "api_key.models_change".into(), ..Default::default() };
        let log = tollbooth::audit::list(db, Some(&scope.org_id), &f, "UTC", 10).await.unwrap();
        let changes: Vec<serde_json::Value> = log.iter().rev().map(|e| serde_json::from_str(&e.details).unwrap()).collect();
        assert_eq!(changes.len(), 2);
        assert_eq!((&changes[0]["from"], &changes[0]["to"]), (&serde_json::json!(["gpt-4o-mini"]), &serde_json::json!(["gpt-4o*", "claude-*"])));
        assert_eq!((&changes[1]["from"], &changes[1]["to"]), (&serde_json::json!(["gpt-4o*", "claude-*"]), &serde_json::Value::Null));

        let member = OrgScope { role: Role::Member, ..owner_scope(&a) };
        assert_eq!(api_keys::set_model_allowlist(db, &member, &created.key.id, mini.clone(), &crate::by()).await.unwrap_err().status_code(), 403);
        let b = sign_up(db, "b@example.com", "B").await;
        let err = api_keys::set_model_allowlist(db, &owner_scope(&b), &created.key.id, mini.clone(), &crate::by()).await.unwrap_err();
        assert!(matches!(err, Error::NotFound(_)), "another organization's key is not found");
        api_keys::revoke(db, &scope, &created.key.id, &crate::by()).await.unwrap();
        let err = api_keys::set_model_allowlist(db, &scope, &created.key.id, mini, &crate::by()).await.unwrap_err();
        assert_eq!(err.field(), Some("model_allowlist"), "a revoked key is not changed");
    }

    async fn the_operator_creates_keys_for_any_organization(db) {
        let a = sign_up(db, "a@example.com", "A").await;
        let new = api_keys::create_for_org(db, &a.org.id, &key("ops", None), &tollbooth::audit::By::system("cli")).await.unwrap();
        assert_eq!(api_keys::authenticate(db, &new.secret).await.unwrap().org_id, a.org.id);
        let missing = "0190a0a0-0000-7000-8000-000000000000";
        let err = api_keys::create_for_org(db, missing, &key("x", None), &tollbooth::audit::By::system("cli")).await.unwrap_err();
        assert!(matches!(err, Error::NotFound(_)));
    }
}
