use tollbooth::orgs::{OrgScope, Role};
use tollbooth::plans::{self, LimitInput, Metric, Period, PlanInput};
use tollbooth::quota::resources;
use tollbooth::{projects, test_both_engines, Error};

use super::quota::admin;
use super::{move_to_plan, sign_up};

fn owner(s: &tollbooth::accounts::Signup) -> OrgScope {
    OrgScope { org_id: s.org.id.clone(), user_id: s.user.id.clone(), role: Role::Owner }
}

test_both_engines! {
    async fn new_signups_get_starter_with_the_seeded_limits(db) {
        let a = sign_up(db, "a@example.com", "A").await;
        let p = plans::org_plan(db, &a.org.id).await.unwrap();
        assert_eq!(p.plan_code, "starter");
        let tokens = p.limit(Metric::Tokens, Period::Month).unwrap();
        assert_eq!((tokens.value, tokens.hard), (100_000, true));
        assert_eq!(p.limit(Metric::Projects, Period::Total).unwrap().value, 3);
        let all = plans::list(db).await.unwrap();
        let codes: Vec<_> = all.iter().map(|p| p.code.as_str()).collect();
        assert_eq!(codes, ["starter", "pro", "team", "enterprise", "demo"]);
        assert_eq!(all[1].price_label(), "$29/month");
        assert!(all[3].limits.is_empty(), "Enterprise is unlimited: no limit rows at all");
    }

    async fn a_plan_in_use_cannot_be_deleted_but_can_be_archived(db) {
        let root = admin(db).await;
        let a = sign_up(db, "a@example.com", "A").await;
        let input = PlanInput { code: "growth".into(), name: "Growth".into(), monthly_price_usd: "49".into(), ..Default::default() };
        plans::create(db, &root, &input).await.unwrap();
        assert!(matches!(plans::create(db, &root, &input).await.unwrap_err(), Error::Conflict { field: "code", .. }));
        move_to_plan(db, &a.org.id, "growth").await;
        let err = plans::delete(db, &root, "growth").await.unwrap_err();
        assert!(err.to_string().contains("1 organization(s) are on the Growth plan"), "{err}");
        plans::set_archived(db, &root, "growth", true).await.unwrap();
        let b = sign_up(db, "b@example.com", "B").await;
        let err = plans::set_org_plan(db, &root, &b.org.id, "growth", Default::default()).await.unwrap_err();
        assert_eq!(err.field(), Some("plan"));
        move_to_plan(db, &a.org.id, "pro").await;
        plans::delete(db, &root, "growth").await.unwrap();
        assert!(matches!(plans::get(db, "growth").await.unwrap_err(), Error::NotFound(_)));
        // Only platform admins edit the catalog.
        assert_eq!(plans::create(db, &a.user, &input).await.unwrap_err().status_code(), 403);
    }

    async fn a_plans_retention_round_trips_and_bad_months_are_refused_by_name(db) {
        let root = admin(db).await;
        assert!(plans::list(db).await.unwrap().iter().all(|p| p.retention_months == plans::DEFAULT_RETENTION_MONTHS), "seeded plans keep 13");
        let input = PlanInput { code: "archive-fast".into(), name: "Archive fast".into(), retention_months: " 24 ".into(), ..Default::default() };
        assert_eq!(plans::create(db, &root, &input).await.unwrap().retention_months, 24);
        assert_eq!(plans::get(db, "archive-fast").await.unwrap().retention_months, 24);
        let shorter = PlanInput { retention_months: "1".into(), ..input.clone() };
        assert_eq!(plans::update(db, &root, &shorter).await.unwrap().retention_months, 1);
        let listed = plans::list(db).await.unwrap();
        assert_eq!(listed.iter().find(|p| p.code == "archive-fast").unwrap().retention_months, 1);
        let longest = PlanInput { retention_months: "120".into(), ..input.clone() };
        assert_eq!(plans::update(db, &root, &longest).await.unwrap().retention_months, 120);

        for bad in ["0", "121", "x"] {
            let change = PlanInput { retention_months: bad.into(), ..input.clone() };
            let err = plans::update(db, &root, &change).await.unwrap_err();
            assert_eq!(err.field(), Some("retention_months"), "{bad}: {err}");
            assert_eq!(err.status_code(), 422, "{bad}");
            let new = PlanInput { code: "never".into(), retention_months: bad.into(), ..input.clone() };
            assert_eq!(plans::create(db, &root, &new).await.unwrap_err().field(), Some("retention_months"), "{bad}");
        }
        assert!(plans::update(db, &root, &PlanInput { retention_months: "x".into(), ..input.clone() })
            .await
            .unwrap_err()
            .public_message()
            .contains("\"x\" is not a whole number of months"));
        assert_eq!(plans::get(db, "archive-fast").await.unwrap().retention_months, 120, "a refused change changes nothing");
        assert!(matches!(plans::get(db, "never").await.unwrap_err(), Error::NotFound(_)));
    }

    async fn an_override_shows_beside_the_plan_value_and_can_be_cleared(db) {
        let root = admin(db).await;
        let a = sign_up(db, "a@example.com", "A").await;
        let input = LimitInput { metric: "tokens".into(), period: "month".into(), value: "250,000".into(), hard: false, overage_usd: "0.000002".into() };
        let p = plans::set_override(db, &root, &a.org.id, &input, Default::default()).await.unwrap();
        let line = p.limits.iter().find(|l| l.metric == Metric::Tokens && l.period == Period::Month).unwrap();
        assert_eq!(line.plan.as_ref().unwrap().value, 100_000);
        assert_eq!(line.effective().unwrap().value, 250_000);
        let unlimited = LimitInput { metric: "projects".into(), period: "total".into(), ..Default::default() };
        let p = plans::set_override(db, &root, &a.org.id, &unlimited, Default::default()).await.unwrap();
        assert!(p.limit(Metric::Projects, Period::Total).is_none(), "overridden to unlimited");
        let p = plans::clear_override(db, &root, &a.org.id, "tokens", "month", Default::default()).await.unwrap();
        assert_eq!(p.limit(Metric::Tokens, Period::Month).unwrap().value, 100_000);
        let bad = LimitInput { metric: "projects".into(), period: "month".into(), value: "3".into(), hard: true, ..Default::default() };
        assert_eq!(plans::set_override(db, &root, &a.org.id, &bad, Default::default()).await.unwrap_err().field(), Some("period"));
    }

    async fn projects_stay_within_the_plan_and_archived_ones_do_not_count(db) {
        let a = sign_up(db, "a@example.com", "A").await;
        let scope = owner(&a);
        for name in ["One", "Two", "Three"] {
            projects::create(db, &scope, name, "").await.unwrap();
        }
        let err = projects::create(db, &scope, "Four", "").await.unwrap_err();
        assert_eq!(err.status_code(), 403);
        assert!(err.public_message().contains("Projects limit of 3 reached: 3 in use"), "{}", err.public_message());
        let dup = projects::create(db, &owner(&sign_up(db, "b@example.com", "B").await), "One", "one").await;
        assert!(dup.is_ok(), "slugs are unique per organization only");
        let list = projects::list(db, &scope).await.unwrap();
        projects::set_archived(db, &scope, &list[0].id, true).await.unwrap();
        let four = projects::create(db, &scope, "Four", "").await.unwrap();
        assert_eq!(four.slug, "four");
        assert!(projects::set_archived(db, &scope, &list[0].id, false).await.is_err(), "restoring would pass the limit");
        projects::set_archived(db, &scope, &four.id, true).await.unwrap();
        let err = projects::create(db, &scope, "Again", "four").await.unwrap_err();
        assert!(matches!(err, Error::Conflict { field: "slug", .. }), "an archived project keeps its slug: {err:?}");
    }

    async fn documents_are_counted_within_the_plan_and_never_below_zero(db) {
        let a = sign_up(db, "a@example.com", "A").await;
        assert_eq!(resources::change_documents(db, &a.org.id, 20).await.unwrap().used, 20);
        let Err(Error::LimitReached(r)) = resources::change_documents(db, &a.org.id, 6).await else { panic!("expected a refusal") };
        assert_eq!(r.status, 403);
        assert_eq!((r.details["limit"].as_i64(), r.details["used"].as_i64()), (Some(25), Some(20)));
        assert_eq!(resources::change_documents(db, &a.org.id, 5).await.unwrap().used, 25);
        assert_eq!(resources::change_documents(db, &a.org.id, -30).await.unwrap_err().field(), Some("delta"));
        assert_eq!(resources::change_documents(db, &a.org.id, -5).await.unwrap(), resources::DocumentsCount { used: 20, limit: Some(25) });
    }
}
