//! Issue 15, accounts: atomic throttling, invite guessing, signup limits,
//! the writer left free during argon2, password change and session validity.

use std::time::Duration;

use tollbooth::accounts::{self, login, PasswordChange, PasswordGate, SignupInput, BAD_CREDENTIALS, SESSION_MAX_AGE_MS};
use tollbooth::audit::{AuditFilter, By};
use tollbooth::clock::now_ms;
use tollbooth::orgs::{self, Acceptor, OrgScope, Role};
use tollbooth::{test_both_engines, Error};

use super::{by, sign_up, sign_up_on_team, PASSWORD};

fn origin(ip: &str) -> tollbooth::audit::Origin<'_> {
    tollbooth::audit::Origin { ip: Some(ip), user_agent: Some("store-test") }
}

fn input(email: &str) -> SignupInput {
    SignupInput { email: email.into(), password: PASSWORD.into(), org_name: "Org".into() }
}

test_both_engines! {
    async fn parallel_wrong_logins_for_one_email_never_pass_the_limit(db) {
        sign_up(db, "ada@example.com", "Org").await;
        let tries = (0..20).map(|i| {
            let db = db.clone();
            // Different IPs: only the per-e-mail limit is in play.
            async move { login(&db, "ada@example.com", "wrong-password", Some(&format!("10.1.0.{i}"))).await }
        });
        let answers = futures_join_all(tries).await;
        let wrong = answers.iter().filter(|r| matches!(r, Err(Error::Unauthorized(m)) if *m == BAD_CREDENTIALS)).count();
        let throttled = answers.iter().filter(|r| matches!(r, Err(Error::Throttled { .. }))).count();
        println!("20 parallel wrong logins: {wrong} checked, {throttled} throttled");
        assert!(wrong <= accounts::throttle::MAX_FAILURES_PER_EMAIL as usize, "{wrong} passwords were checked");
        assert_eq!(wrong + throttled, 20, "{answers:?}");
    }

    async fn a_wrong_invite_password_is_throttled_and_audited_like_a_login(db) {
        let a = sign_up_on_team(db, "a@example.com", "A").await;
        sign_up(db, "victim@example.com", "V").await;
        let scope = OrgScope { org_id: a.org.id.clone(), user_id: a.user.id.clone(), role: Role::Owner };
        let inv = orgs::invite(db, &scope, "victim@example.com", Role::Member, &by()).await.unwrap();
        for _ in 0..accounts::throttle::MAX_FAILURES_PER_EMAIL {
            let err = orgs::accept_invite(db, &inv.token, Acceptor::Password("guess-guess".into()), origin("10.2.0.1")).await.unwrap_err();
            assert!(matches!(err, Error::Unauthorized(m) if m == BAD_CREDENTIALS), "{err:?}");
        }
        // Even the right password is refused now, through the invite and at login.
        let err = orgs::accept_invite(db, &inv.token, Acceptor::Password(PASSWORD.into()), origin("10.2.0.1")).await.unwrap_err();
        assert!(matches!(err, Error::Throttled { .. }), "{err:?}");
        assert!(matches!(login(db, "victim@example.com", PASSWORD, None).await, Err(Error::Throttled { .. })));

        let f = AuditFilter { action: "auth.login".into(), ..Default::default() };
        let log = tollbooth::audit::list(db, None, &f, "UTC", 50).await.unwrap();
        let via_invite: Vec<_> = log.iter().filter(|e| e.details.contains("\"via\":\"invite\"")).collect();
        assert_eq!(via_invite.len(), accounts::throttle::MAX_FAILURES_PER_EMAIL as usize + 1, "{log:?}");
        for e in &via_invite {
            assert_eq!((e.result.as_str(), e.actor_label.as_str(), e.actor_id.as_deref()), ("failure", "victim@example.com", None));
            assert_eq!(e.ip.as_deref(), Some("10.2.0.1"));
        }
        assert!(via_invite.iter().any(|e| e.details.contains("throttled")));
        assert!(orgs::list_invites(db, &scope).await.unwrap().len() == 1, "the invite is still pending");
    }

    async fn a_password_check_leaves_the_writer_free_while_it_waits_for_argon2(db) {
        sign_up(db, "ada@example.com", "Org").await;
        // Hold every hashing permit: the login below stops at the gate.
        let mut held = Vec::new();
        for _ in 0..PasswordGate::PERMITS {
            held.push(db.password_gate().acquire().await.unwrap());
        }
        let pending = tokio::spawn({
            let db = db.clone();
            async move { login(&db, "ada@example.com", "wrong-password", None).await }
        });
        // Its attempt is counted before it verifies: wait for that row.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM throttle_attempts WHERE throttle_key = 'email:ada@example.com'")
                .fetch_one(db.reader())
                .await
                .unwrap();
            if n == 1 {
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "the login never counted its attempt");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // Meanwhile a write goes through (on SQLite: the one writer is free).
        let write = tokio::time::timeout(Duration::from_secs(5), async {
            let mut tx = db.begin().await.unwrap();
            sqlx::query("UPDATE organizations SET name = 'Renamed' WHERE name = 'Org'").execute(&mut *tx).await.unwrap();
            tx.commit().await.unwrap();
        })
        .await;
        assert!(write.is_ok(), "a write waited for the password check");
        drop(held);
        let answer = pending.await.unwrap();
        assert!(matches!(answer, Err(Error::Unauthorized(_))), "{answer:?}");
    }

    async fn signups_are_throttled_per_ip_and_a_taken_email_costs_one_hash_too(db) {
        let ip = Some("10.3.0.1");
        let gate = db.password_gate();
        let before = gate.computed();
        accounts::signup(db, input("one@example.com"), ip, 3).await.unwrap();
        assert_eq!(gate.computed(), before + 1);
        let dup = accounts::signup(db, input("ONE@example.com"), ip, 3).await.unwrap_err();
        assert_eq!(gate.computed(), before + 2, "the duplicate path hashes like a new account");
        assert_eq!(dup.status_code(), 409);
        accounts::signup(db, input("two@example.com"), ip, 3).await.unwrap();
        let err = accounts::signup(db, input("three@example.com"), ip, 3).await.unwrap_err();
        assert!(matches!(err, Error::Throttled { retry_after_secs } if retry_after_secs > 0 && retry_after_secs <= 3600), "{err:?}");
        accounts::signup(db, input("three@example.com"), Some("10.3.0.2"), 3).await.expect("another IP is not affected");
    }

    async fn a_password_change_needs_the_current_password_and_ends_older_sessions(db) {
        let s = sign_up(db, "ada@example.com", "Org").await;
        let by = By::user(&s.user.id, &s.user.email).from(Some("10.4.0.1".into()), None);
        let earlier = now_ms() - 1000;
        assert!(accounts::session_user(db, &s.user.id, earlier).await.unwrap().is_some());
        let change = |current: &str, new: &str, confirm: &str| PasswordChange { current: current.into(), new: new.into(), confirm: confirm.into() };

        let err = accounts::change_password(db, &by, change(PASSWORD, "new-password-1", "new-password-2")).await.unwrap_err();
        assert_eq!(err.field(), Some("confirm password"));
        let err = accounts::change_password(db, &by, change(PASSWORD, "short", "short")).await.unwrap_err();
        assert_eq!(err.field(), Some("new password"));
        let err = accounts::change_password(db, &by, change("not-my-password", "new-password-1", "new-password-1")).await.unwrap_err();
        assert_eq!(err.field(), Some("current password"));

        let signed_in_at = accounts::change_password(db, &by, change(PASSWORD, "new-password-1", "new-password-1")).await.unwrap();
        assert!(accounts::session_user(db, &s.user.id, earlier).await.unwrap().is_none(), "older sessions end");
        assert!(accounts::session_user(db, &s.user.id, signed_in_at).await.unwrap().is_some(), "the changer's session goes on");
        assert!(login(db, "ada@example.com", PASSWORD, None).await.is_err());
        assert!(login(db, "ada@example.com", "new-password-1", None).await.is_ok());

        let f = AuditFilter { action: "auth.password_change".into(), ..Default::default() };
        let log = tollbooth::audit::list(db, None, &f, "UTC", 10).await.unwrap();
        let results: Vec<&str> = log.iter().rev().map(|e| e.result.as_str()).collect();
        assert_eq!(results, vec!["failure", "success"]);
        assert!(log.iter().all(|e| e.ip.as_deref() == Some("10.4.0.1") && e.actor_label == "ada@example.com"));
    }

    async fn wrong_current_passwords_are_throttled_like_logins(db) {
        let s = sign_up(db, "ada@example.com", "Org").await;
        let by = By::user(&s.user.id, &s.user.email);
        let wrong = PasswordChange { current: "not-my-password".into(), new: "new-password-1".into(), confirm: "new-password-1".into() };
        for _ in 0..accounts::throttle::MAX_FAILURES_PER_EMAIL {
            assert_eq!(accounts::change_password(db, &by, wrong.clone()).await.unwrap_err().field(), Some("current password"));
        }
        let right = PasswordChange { current: PASSWORD.into(), ..wrong };
        assert!(matches!(accounts::change_password(db, &by, right).await, Err(Error::Throttled { .. })));
    }

    async fn sessions_end_thirty_days_after_sign_in_and_on_sign_out_everywhere(db) {
        let s = sign_up(db, "ada@example.com", "Org").await;
        let day = 24 * 3600 * 1000;
        assert_eq!(SESSION_MAX_AGE_MS, 30 * day);
        assert!(accounts::session_user(db, &s.user.id, now_ms() - 29 * day).await.unwrap().is_some());
        assert!(accounts::session_user(db, &s.user.id, now_ms() - 31 * day).await.unwrap().is_none(), "past the absolute lifetime");

        let signed_in = now_ms();
        accounts::end_all_sessions(db, &By::user(&s.user.id, &s.user.email)).await.unwrap();
        assert!(accounts::session_user(db, &s.user.id, signed_in).await.unwrap().is_none(), "a session of this very millisecond ends too");
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert!(accounts::session_user(db, &s.user.id, now_ms()).await.unwrap().is_some(), "a later sign-in works");
        let f = AuditFilter { action: "auth.logout_everywhere".into(), ..Default::default() };
        assert_eq!(tollbooth::audit::list(db, None, &f, "UTC", 10).await.unwrap().len(), 1);
    }
}

/// Spawns the futures (they run in parallel) and collects their outputs in order.
async fn futures_join_all<F: std::future::Future + Send + 'static>(futs: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futs.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}
