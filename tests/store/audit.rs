use serde_json::json;
use tollbooth::audit::{self, Actor, AuditFilter, NewEntry, Outcome};
use tollbooth::db::Engine;
use tollbooth::test_both_engines;

async fn write_three(db: &tollbooth::db::Db) {
    audit::record(db, &NewEntry::new(Some("org-a"), Actor::user("u1", "a@example.com"), "auth.login", None)).await.unwrap();
    audit::record(db, &NewEntry::new(Some("org-a"), Actor::api_key("k1", "ci"), "key.revoke", Some("k2")).details(json!({"name": "old"}))).await.unwrap();
    audit::record(db, &NewEntry::new(None, Actor::anonymous("x@example.com"), "auth.login", None).result(Outcome::Failure)).await.unwrap();
}

test_both_engines! {
    async fn the_database_refuses_to_update_or_delete_audit_entries(db) {
        write_three(db).await;
        let update = sqlx::query("UPDATE audit_log SET action = 'nothing' WHERE seq = 1").execute(db.writer()).await;
        let err = update.expect_err("UPDATE must be refused").to_string();
        assert!(err.contains("append-only"), "{err}");
        let delete = sqlx::query("DELETE FROM audit_log WHERE seq = 2").execute(db.writer()).await;
        assert!(delete.expect_err("DELETE must be refused").to_string().contains("append-only"));
        if db.engine == Engine::Postgres {
            let truncate = sqlx::query("TRUNCATE audit_log").execute(db.writer()).await;
            assert!(truncate.is_err(), "TRUNCATE must be refused");
        }
        assert_eq!(audit::verify(db).await.unwrap(), (3, None));
    }

    async fn verify_finds_the_first_entry_changed_behind_the_apps_back(db) {
        write_three(db).await;
        // A database tool drops the trigger and edits entry 2.
        let drop = if db.engine == Engine::Postgres {
            "DROP TRIGGER audit_log_no_update ON audit_log"
        } else {
            "DROP TRIGGER audit_log_no_update"
        };
        sqlx::query(drop).execute(db.writer()).await.unwrap();
        sqlx::query("UPDATE audit_log SET result = 'success' WHERE seq = 3").execute(db.writer()).await.unwrap();
        sqlx::query("UPDATE audit_log SET details = '{}' WHERE seq = 2").execute(db.writer()).await.unwrap();
        let (checked, broken) = audit::verify(db).await.unwrap();
        assert_eq!(checked, 1);
        let broken = broken.expect("the chain breaks");
        assert_eq!(broken.seq, 2);
        assert!(broken.reason.contains("do not match its hash"), "{}", broken.reason);
    }

    async fn entries_filter_by_organization_actor_action_result_and_date(db) {
        write_three(db).await;
        let all = audit::list(db, None, &AuditFilter::default(), "UTC", 100).await.unwrap();
        assert_eq!(all.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![3, 2, 1]);
        let org = audit::list(db, Some("org-a"), &AuditFilter::default(), "UTC", 100).await.unwrap();
        assert_eq!(org.len(), 2);
        let f = AuditFilter { actor: "A@EXAMPLE".into(), ..Default::default() };
        assert_eq!(audit::list(db, Some("org-a"), &f, "UTC", 100).await.unwrap().len(), 1);
        let f = AuditFilter { action: "auth.".into(), result: "failure".into(), ..Default::default() };
        let failed = audit::list(db, None, &f, "UTC", 100).await.unwrap();
        assert_eq!((failed.len(), failed[0].actor_label.as_str()), (1, "x@example.com"));
        let f = AuditFilter { from: "2000-01-01".into(), to: "2000-01-02".into(), ..Default::default() };
        assert!(audit::list(db, None, &f, "UTC", 100).await.unwrap().is_empty());
        let bad = AuditFilter { result: "maybe".into(), ..Default::default() };
        assert_eq!(audit::list(db, None, &bad, "UTC", 100).await.unwrap_err().field(), Some("result"));
        let csv = audit::csv(&all);
        assert!(csv.lines().nth(2).unwrap().contains(r#""{""name"":""old""}""#), "{csv}");
    }
}

test_both_engines! {
    async fn a_report_counts_actions_and_lists_failures_and_security_events(db) {
        write_three(db).await;
        audit::record(db, &NewEntry::new(Some("org-a"), Actor::user("u1", "a@example.com"), "access.denied", Some("/o/org-b")).result(Outcome::Denied)).await.unwrap();
        audit::record(db, &NewEntry::new(Some("org-b"), Actor::user("u2", "b@example.com"), "plan.change", None).result(Outcome::Failure)).await.unwrap();
        let (from, to) = (0, tollbooth::clock::now_ms() + 1);
        let all = audit::report(db, None, from, to).await.unwrap();
        assert_eq!((all.total, all.succeeded, all.success_rate.as_deref()), (5, 2, Some("40.0")));
        let login = all.by_action.iter().find(|a| a.action == "auth.login").unwrap();
        assert_eq!((login.total, login.success, login.failure), (2, 1, 1));
        assert_eq!(all.by_action[0].action, "auth.login", "most frequent first");
        assert_eq!(all.failed.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(), vec!["plan.change", "auth.login"]);
        assert_eq!(all.security.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(), vec!["access.denied", "auth.login"]);
        assert_eq!(all.security_total, 2);

        let org = audit::report(db, Some("org-a"), from, to).await.unwrap();
        assert_eq!((org.total, org.success_rate.as_deref()), (3, Some("66.7")));
        assert!(org.failed.is_empty());
        assert_eq!(org.security.len(), 1);

        let empty = audit::report(db, Some("org-a"), 0, 1000).await.unwrap();
        assert_eq!((empty.total, empty.success_rate), (0, None));
        assert_eq!(audit::report(db, None, 10, 10).await.unwrap_err().field(), Some("to"));
    }
}

/// The entries of an organization (`None`: of all) whose action starts
/// with `prefix`, oldest first.
async fn trail(db: &tollbooth::db::Db, org_id: Option<&str>, prefix: &str) -> Vec<tollbooth::audit::AuditEntryView> {
    let f = AuditFilter { action: prefix.into(), ..Default::default() };
    let mut v = audit::list(db, org_id, &f, "UTC", 1000).await.unwrap();
    v.reverse();
    v
}

test_both_engines! {
    async fn member_changes_and_budget_edits_are_audited_with_actor_and_origin(db) {
        use tollbooth::audit::By;
        use tollbooth::orgs::{self, Acceptor, OrgScope, Role};
        let a = crate::sign_up_on_team(db, "owner@example.com", "A").await;
        let owner = OrgScope { org_id: a.org.id.clone(), user_id: a.user.id.clone(), role: Role::Owner };
        let by = By::user(&a.user.id, "owner@example.com").from(Some("203.0.113.9".into()), Some("test-agent".into()));

        let inv = orgs::invite(db, &owner, "b@example.com", Role::Member, &by).await.unwrap();
        let (b, _) = orgs::accept_invite(db, &inv.token, Acceptor::Password(crate::PASSWORD.into()), Default::default()).await.unwrap();
        orgs::change_role(db, &owner, &b.id, Role::Admin, &by).await.unwrap();
        orgs::remove_member(db, &owner, &b.id, &by).await.unwrap();
        let other = orgs::invite(db, &owner, "c@example.com", Role::Member, &by).await.unwrap();
        orgs::revoke_invite(db, &owner, &other.invite.id, &by).await.unwrap();
        // A refused change leaves no entry.
        let last_owner = orgs::change_role(db, &owner, &a.user.id, Role::Member, &by).await;
        assert!(last_owner.is_err());

        let members = trail(db, Some(&a.org.id), "member.").await;
        let got: Vec<(&str, &str, Option<&str>)> =
            members.iter().map(|e| (e.action.as_str(), e.actor_label.as_str(), e.target.as_deref())).collect();
        assert_eq!(
            got,
            vec![
                ("member.invite", "owner@example.com", Some(inv.invite.id.as_str())),
                ("member.join", "b@example.com", Some(b.id.as_str())),
                ("member.role_change", "owner@example.com", Some(b.id.as_str())),
                ("member.remove", "owner@example.com", Some(b.id.as_str())),
                ("member.invite", "owner@example.com", Some(other.invite.id.as_str())),
                ("member.invite_revoke", "owner@example.com", Some(other.invite.id.as_str())),
            ]
        );
        let role_change: serde_json::Value = serde_json::from_str(&members[2].details).unwrap();
        assert_eq!(role_change, json!({"email": "b@example.com", "from": "member", "to": "admin"}));
        assert_eq!((members[0].ip.as_deref(), members[0].user_agent.as_deref()), (Some("203.0.113.9"), Some("test-agent")));

        let key = By::api_key("key-1", "ci key");
        let input = |amount: &str| tollbooth::budgets::BudgetInput {
            name: "Monthly".into(),
            scope: "organization".into(),
            period: "monthly".into(),
            amount_usd: amount.into(),
            ..Default::default()
        };
        let made = tollbooth::budgets::create(db, &a.org.id, &input("10"), &key).await.unwrap();
        tollbooth::budgets::update(db, &a.org.id, &made.id, &input("25.50"), &key).await.unwrap();
        tollbooth::budgets::delete(db, &a.org.id, &made.id, &key).await.unwrap();
        let budgets = trail(db, Some(&a.org.id), "budget.").await;
        assert_eq!(budgets.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(), vec!["budget.create", "budget.update", "budget.delete"]);
        assert!(budgets.iter().all(|e| e.actor_kind == "api_key" && e.actor_label == "ci key"));
        let update: serde_json::Value = serde_json::from_str(&budgets[1].details).unwrap();
        assert_eq!((update["before"]["amount_usd"].as_str(), update["after"]["amount_usd"].as_str()), (Some("10.00"), Some("25.50")));
        assert_eq!(audit::verify(db).await.unwrap().1, None);
    }

    async fn refusals_are_written_once_per_minute_org_and_limit_with_their_count(db) {
        use tollbooth::metering::Sender;
        use tollbooth::plans::Metric;
        use tollbooth::admission;
        use tollbooth::quota::{rules::Ask, ReserveInput};
        let a = crate::sign_up(db, "a@example.com", "A").await;
        crate::quota::limit(db, &a.org.id, "requests", "day", "2").await;
        let sender = Sender { org_id: a.org.id.clone(), api_key_id: None };
        let ask = || ReserveInput { asks: vec![Ask { metric: Metric::Requests, amount: 1 }], ..Default::default() };
        let mut refused = 0;
        for _ in 0..7 {
            if admission::reserve(db, &sender, ask()).await.is_err() {
                refused += 1;
            }
        }
        // A check saying no counts too.
        let check = admission::check(db, &a.org.id, &[Ask { metric: Metric::Requests, amount: 1 }]).await.unwrap();
        assert!(!check.allowed);
        assert_eq!(refused, 5);
        assert_eq!(db.refusals().pending(), 6);

        // Nothing is written while the minute runs; all of it at shutdown.
        let now = tollbooth::clock::now_ms();
        let written_now = audit::flush_refusals(db, now, false).await.unwrap();
        let written = written_now + audit::flush_refusals(db, now, true).await.unwrap();
        assert!(written >= 1 && written <= 2, "one entry, or two if the minute turned: {written}");
        assert_eq!(db.refusals().pending(), 0);
        let entries = trail(db, Some(&a.org.id), "quota.refused").await;
        let total: u64 = entries
            .iter()
            .map(|e| serde_json::from_str::<serde_json::Value>(&e.details).unwrap()["count"].as_u64().unwrap())
            .sum();
        assert_eq!(total, 6);
        assert!(entries.iter().all(|e| e.target.as_deref() == Some("requests/day") && e.result == "denied"));
        // The report counts the entries and what they stand for.
        let r = audit::report(db, Some(&a.org.id), now - 3_600_000, now + 3_600_000).await.unwrap();
        let refused = r.by_action.iter().find(|c| c.action == "quota.refused").expect("in the report");
        assert_eq!((refused.total, refused.denied, refused.occurrences), (written as i64, written as i64, 6));
        let signup = r.by_action.iter().find(|c| c.action != "quota.refused");
        assert!(signup.is_none_or(|c| c.occurrences == c.total));
    }
}

test_both_engines! {
    async fn plan_catalog_edits_are_audited_platform_wide(db) {
        use tollbooth::plans::{self, PlanInput};
        let root = crate::quota::admin(db).await;
        let input = PlanInput { code: "growth".into(), name: "Growth".into(), monthly_price_usd: "49".into(), ..Default::default() };
        plans::create(db, &root, &input).await.unwrap();
        plans::update(db, &root, &PlanInput { monthly_price_usd: "59".into(), ..input.clone() }).await.unwrap();
        plans::set_archived(db, &root, "growth", true).await.unwrap();
        plans::delete(db, &root, "growth").await.unwrap();
        let log = trail(db, None, "plan.").await;
        let got: Vec<(&str, Option<&str>, Option<&str>)> =
            log.iter().map(|e| (e.action.as_str(), e.target.as_deref(), e.org_id.as_deref())).collect();
        assert_eq!(
            got,
            vec![
                ("plan.create", Some("growth"), None),
                ("plan.update", Some("growth"), None),
                ("plan.archive", Some("growth"), None),
                ("plan.delete", Some("growth"), None),
            ]
        );
        assert!(log[1].details.contains("\"monthly_price_usd\":\"59\""), "{}", log[1].details);
        assert!(log.iter().all(|e| e.actor_label == "root@example.com"));
    }
}
