use tollbooth::orgs::{self, Acceptor, OrgScope, Role};
use tollbooth::{test_both_engines, Error};

use super::{by, sign_up, sign_up_on_team, PASSWORD};

fn owner_scope(s: &tollbooth::accounts::Signup) -> OrgScope {
    OrgScope { org_id: s.org.id.clone(), user_id: s.user.id.clone(), role: Role::Owner }
}

fn settings<'a>(name: &'a str, time_zone: &'a str, refuse_unpriced_models: bool) -> orgs::SettingsInput<'a> {
    orgs::SettingsInput { name, time_zone, refuse_unpriced_models }
}

test_both_engines! {
    async fn the_tenant_list_is_searched_counted_and_paged_in_sql(db) {
        let names = ["Acme", "Acme Labs", "50% Off", "Under_score", "Zeta"];
        for (i, name) in names.iter().enumerate() {
            sign_up(db, &format!("o{i}@example.com"), name).await;
        }
        let page = |search: &'static str, offset: i64, limit: Option<i64>| async move {
            tollbooth::admin::tenants_page(db, search, false, offset, limit).await.unwrap()
        };
        let first = page("", 0, Some(2)).await;
        assert_eq!((first.rows.len(), first.total, first.offset), (2, 5, 0));
        let mut seen = vec![];
        for offset in [0, 2, 4] {
            seen.extend(page("", offset, Some(2)).await.rows.into_iter().map(|r| r.name));
        }
        assert_eq!(seen.len(), 5, "three pages hold every organization once: {seen:?}");
        let mut sorted = seen.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), 5, "{seen:?}");
        assert_eq!(page("ACME", 0, None).await.total, 2, "case-insensitive");
        for (search, want) in [("%", "50% Off"), ("_", "Under_score"), ("50%", "50% Off")] {
            let found = page(search, 0, None).await;
            assert_eq!(found.rows.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(), vec![want], "{search} is matched literally");
        }
        assert_eq!(page("nomatch", 0, None).await.total, 0);
        let trialing = tollbooth::admin::tenants_page(db, "", true, 0, None).await.unwrap();
        assert_eq!(trialing.total, 0, "no organization is trialing");
        assert_eq!(tollbooth::admin::tenants(db, "", false).await.unwrap().len(), 5, "the API's list is every organization");
    }

    async fn a_non_member_gets_not_found_for_an_organization(db) {
        let a = sign_up(db, "a@example.com", "A").await;
        let b = sign_up(db, "b@example.com", "B").await;
        assert!(orgs::authorize(db, &a.org.id, &a.user.id).await.is_ok());
        for org in [b.org.id.as_str(), "not-a-uuid", "0190a0a0-0000-7000-8000-000000000000"] {
            let err = orgs::authorize(db, org, &a.user.id).await.unwrap_err();
            assert!(matches!(err, Error::NotFound(_)), "{org}: {err:?}");
        }
    }

    async fn the_last_owner_can_be_neither_demoted_nor_removed(db) {
        let a = sign_up(db, "a@example.com", "A").await;
        let scope = owner_scope(&a);
        let err = orgs::change_role(db, &scope, &a.user.id, Role::Admin, &by()).await.unwrap_err();
        assert!(matches!(err, Error::Conflict { field: "role", .. }), "{err:?}");
        let err = orgs::remove_member(db, &scope, &a.user.id, &by()).await.unwrap_err();
        assert!(matches!(err, Error::Conflict { .. }), "{err:?}");
        assert_eq!(orgs::list_members(db, &scope).await.unwrap()[0].role, Role::Owner);
    }

    async fn an_invite_creates_an_account_and_membership_once(db) {
        let a = sign_up_on_team(db, "a@example.com", "A").await;
        let scope = owner_scope(&a);
        let inv = orgs::invite(db, &scope, "New.Person@example.com", Role::Admin, &by()).await.unwrap();
        assert!(inv.token.starts_with("inv_"));
        assert_eq!(orgs::list_invites(db, &scope).await.unwrap().len(), 1);
        let preview = orgs::preview_invite(db, &inv.token).await.unwrap();
        assert_eq!((preview.org_name.as_str(), preview.email.as_str()), ("A", "new.person@example.com"));

        let (user, org_id) = orgs::accept_invite(db, &inv.token, Acceptor::Password(PASSWORD.into()), tollbooth::audit::Origin::default()).await.unwrap();
        assert_eq!(org_id, a.org.id);
        let members = orgs::list_members(db, &scope).await.unwrap();
        assert_eq!(members.len(), 2);
        assert!(members.iter().any(|m| m.user_id == user.id && m.role == Role::Admin));
        assert!(orgs::list_invites(db, &scope).await.unwrap().is_empty());

        let again = orgs::accept_invite(db, &inv.token, Acceptor::Password(PASSWORD.into()), tollbooth::audit::Origin::default()).await.unwrap_err();
        assert!(matches!(again, Error::Conflict { field: "invite", .. }), "{again:?}");
        assert!(tollbooth::accounts::login(db, "new.person@example.com", PASSWORD, None).await.is_ok());
    }

    async fn the_starter_plan_refuses_a_second_member_naming_the_limit(db) {
        let a = sign_up(db, "a@example.com", "A").await;
        let err = orgs::invite(db, &owner_scope(&a), "b@example.com", Role::Member, &by()).await.unwrap_err();
        assert_eq!(err.status_code(), 403);
        assert!(err.public_message().contains("Members limit of 1 reached"), "{}", err.public_message());
        assert!(orgs::list_invites(db, &owner_scope(&a)).await.unwrap().is_empty(), "nothing stored");
    }

    async fn an_invite_is_only_for_the_invited_account(db) {
        let a = sign_up_on_team(db, "a@example.com", "A").await;
        let b = sign_up(db, "b@example.com", "B").await;
        let inv = orgs::invite(db, &owner_scope(&a), "c@example.com", Role::Member, &by()).await.unwrap();
        let err = orgs::accept_invite(db, &inv.token, Acceptor::SignedIn(b.user.clone()), tollbooth::audit::Origin::default()).await.unwrap_err();
        assert_eq!(err.status_code(), 403);
        let err = orgs::accept_invite(db, "inv_nonsense", Acceptor::SignedIn(b.user), tollbooth::audit::Origin::default()).await.unwrap_err();
        assert!(matches!(err, Error::NotFound(_)));
    }

    async fn admins_manage_members_but_not_owners(db) {
        let a = sign_up_on_team(db, "a@example.com", "A").await;
        let owner = owner_scope(&a);
        let inv = orgs::invite(db, &owner, "admin@example.com", Role::Admin, &by()).await.unwrap();
        let (admin_user, _) = orgs::accept_invite(db, &inv.token, Acceptor::Password(PASSWORD.into()), tollbooth::audit::Origin::default()).await.unwrap();
        let admin = orgs::authorize(db, &a.org.id, &admin_user.id).await.unwrap();
        assert_eq!(admin.role, Role::Admin);

        assert_eq!(orgs::invite(db, &admin, "x@example.com", Role::Owner, &by()).await.unwrap_err().status_code(), 403);
        assert_eq!(orgs::change_role(db, &admin, &a.user.id, Role::Member, &by()).await.unwrap_err().status_code(), 403);
        assert_eq!(orgs::remove_member(db, &admin, &a.user.id, &by()).await.unwrap_err().status_code(), 403);

        // With a second owner, the first may step down.
        orgs::change_role(db, &owner, &admin_user.id, Role::Owner, &by()).await.unwrap();
        orgs::change_role(db, &owner, &a.user.id, Role::Member, &by()).await.unwrap();
        let roles: Vec<_> = orgs::list_members(db, &owner).await.unwrap().into_iter().map(|m| m.role).collect();
        assert!(roles.contains(&Role::Owner) && roles.contains(&Role::Member));
    }

    async fn a_member_may_not_invite_or_change_settings(db) {
        let a = sign_up(db, "a@example.com", "A").await;
        let member = OrgScope { role: Role::Member, ..owner_scope(&a) };
        assert_eq!(orgs::invite(db, &member, "x@example.com", Role::Member, &by()).await.unwrap_err().status_code(), 403);
        assert_eq!(orgs::update_settings(db, &member, &settings("B", "UTC", true), &by()).await.unwrap_err().status_code(), 403);
    }

    async fn settings_validate_the_time_zone(db) {
        let a = sign_up(db, "a@example.com", "A").await;
        let scope = owner_scope(&a);
        let org = orgs::update_settings(db, &scope, &settings(" Renamed ", "Europe/Paris", false), &by()).await.unwrap();
        assert_eq!((org.name.as_str(), org.time_zone.as_str()), ("Renamed", "Europe/Paris"));
        let err = orgs::update_settings(db, &scope, &settings("Renamed", "Mars/Olympus", false), &by()).await.unwrap_err();
        assert_eq!(err.field(), Some("time zone"));
        assert_eq!(orgs::get(db, &scope).await.unwrap().time_zone, "Europe/Paris", "a refused change keeps the stored value");
    }

    async fn refusing_unpriced_models_is_off_until_saved_read_by_each_key_and_audited(db) {
        let a = sign_up(db, "a@example.com", "A").await;
        let scope = owner_scope(&a);
        assert!(!orgs::get(db, &scope).await.unwrap().refuse_unpriced_models, "off by default");
        let key = tollbooth::api_keys::create(db, &scope, &tollbooth::api_keys::NewKey {
            name: "k", rate_limit_per_minute: None, scopes: tollbooth::api_keys::Scopes::ALL, model_allowlist: None,
        }, &by()).await.unwrap();
        assert!(!tollbooth::api_keys::authenticate(db, &key.secret).await.unwrap().refuse_unpriced_models);

        let org = orgs::update_settings(db, &scope, &settings("A", "UTC", true), &by()).await.unwrap();
        assert!(org.refuse_unpriced_models);
        assert!(orgs::get(db, &scope).await.unwrap().refuse_unpriced_models);
        assert!(tollbooth::api_keys::authenticate(db, &key.secret).await.unwrap().refuse_unpriced_models, "read with the key");
        // The same settings again record nothing.
        orgs::update_settings(db, &scope, &settings("A", "UTC", true), &by()).await.unwrap();
        let f = tollbooth::audit::AuditFilter { action: "org.settings_change".into(), ..Default::default() };
        let log = tollbooth::audit::list(db, Some(&scope.org_id), &f, "UTC", 10).await.unwrap();
        assert_eq!(log.len(), 1);
        let details: serde_json::Value = serde_json::from_str(&log[0].details).unwrap();
        assert_eq!(details["before"]["refuse_unpriced_models"], false);
        assert_eq!(details["after"]["refuse_unpriced_models"], true);
        assert_eq!(details["after"]["time_zone"], "UTC");

        let org = orgs::update_settings(db, &scope, &settings("A", "UTC", false), &by()).await.unwrap();
        assert!(!org.refuse_unpriced_models);
    }
}
