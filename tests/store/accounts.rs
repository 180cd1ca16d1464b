use tollbooth::accounts::{self, create_admin, login, SignupInput, BAD_CREDENTIALS};
use tollbooth::orgs::{self, Role};
use tollbooth::{test_both_engines, Error};

use super::{sign_up, PASSWORD};

test_both_engines! {
    async fn signup_creates_the_user_and_an_org_they_own(db) {
        let s = sign_up(db, " Ada@Example.com ", "Analytical Engines").await;
        assert_eq!(s.user.email, "ada@example.com");
        assert!(!s.user.is_platform_admin);
        let mine = orgs::list_mine(db, &s.user.id).await.unwrap();
        assert_eq!(mine.len(), 1);
        assert_eq!((mine[0].name.as_str(), mine[0].role), ("Analytical Engines", Role::Owner));
        assert_eq!(s.org.time_zone, "UTC");
    }

    async fn signup_with_a_taken_email_is_refused_and_creates_no_org(db) {
        let first = sign_up(db, "ada@example.com", "First").await;
        let err = accounts::signup(db, SignupInput { email: "ADA@example.com".into(), password: PASSWORD.into(), org_name: "Second".into() }, None, 0)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Conflict { field: "email", .. }), "{err:?}");
        let said = err.public_message().to_lowercase();
        assert!(!said.contains("exist") && !said.contains("already") && !said.contains("taken"), "neutral answer: {said}");
        let admin = create_admin(db, "root@example.com", Some(PASSWORD)).await.unwrap().user;
        let all = orgs::list_all(db, &admin).await.unwrap();
        assert_eq!(all.len(), 1, "the failed signup must not leave an organization behind");
        assert_eq!(all[0].id, first.org.id);
    }

    async fn signup_rejects_bad_input_naming_the_field(db) {
        let cases = [
            ("not-an-email", PASSWORD, "Org", "email"),
            ("a@example.com", "short", "Org", "password"),
            ("a@example.com", PASSWORD, "   ", "organization name"),
        ];
        for (email, password, org, field) in cases {
            let err = accounts::signup(db, SignupInput { email: email.into(), password: password.into(), org_name: org.into() }, None, 0)
                .await
                .unwrap_err();
            assert_eq!(err.field(), Some(field), "{err:?}");
        }
    }

    async fn login_accepts_the_right_password_and_refuses_others_with_one_message(db) {
        let s = sign_up(db, "ada@example.com", "Org").await;
        assert_eq!(login(db, "ADA@example.com", PASSWORD, None).await.unwrap().id, s.user.id);
        let wrong = login(db, "ada@example.com", "wrong-password", None).await.unwrap_err();
        let unknown = login(db, "nobody@example.com", PASSWORD, None).await.unwrap_err();
        let malformed = login(db, "nonsense", PASSWORD, None).await.unwrap_err();
        for e in [wrong, unknown, malformed] {
            assert!(matches!(e, Error::Unauthorized(m) if m == BAD_CREDENTIALS), "{e:?}");
        }
    }

    async fn repeated_failures_for_one_email_are_throttled_even_with_the_right_password(db) {
        sign_up(db, "ada@example.com", "Org").await;
        for _ in 0..accounts::throttle::MAX_FAILURES_PER_EMAIL {
            assert!(matches!(login(db, "ada@example.com", "wrong-password", Some("10.0.0.1")).await, Err(Error::Unauthorized(_))));
        }
        let err = login(db, "ada@example.com", PASSWORD, Some("10.0.0.2")).await.unwrap_err();
        match err {
            Error::Throttled { retry_after_secs } => assert!(retry_after_secs > 0 && retry_after_secs <= 900),
            other => panic!("expected throttling, got {other:?}"),
        }
        // Another account is not affected.
        sign_up(db, "bob@example.com", "Other").await;
        assert!(login(db, "bob@example.com", PASSWORD, Some("10.0.0.3")).await.is_ok());
    }

    async fn create_admin_creates_or_promotes(db) {
        let s = sign_up(db, "ops@example.com", "Ops").await;
        let promoted = create_admin(db, "ops@example.com", None).await.unwrap();
        assert!(!promoted.created && promoted.user.is_platform_admin);
        assert_eq!(promoted.user.id, s.user.id);
        assert!(login(db, "ops@example.com", PASSWORD, None).await.unwrap().is_platform_admin);
        let err = create_admin(db, "new@example.com", None).await.unwrap_err();
        assert_eq!(err.field(), Some("password"));
        assert!(create_admin(db, "new@example.com", Some(PASSWORD)).await.unwrap().created);
    }
}
