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
