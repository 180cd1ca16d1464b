use reqwest::StatusCode;
use serde_json::Value;

use crate::app_test;
use crate::helpers::PASSWORD;

fn session_cookie(resp: &reqwest::Response) -> Option<String> {
    resp.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("tollbooth_session="))
        .map(str::to_string)
}

app_test! {
    async fn signup_signs_in_and_logout_signs_out(app) {
        let org = app.signup(&app.client, "ada@example.com", "Engines").await;
        let me = app.whoami(&app.client).await;
        assert_eq!(me["user"]["email"], "ada@example.com");
        assert_eq!(me["current_org"], Value::from(org.clone()));
        assert_eq!(me["orgs"][0]["role"], "owner");

        let resp = app.server_fn(&app.client, "logout", &[]).await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(app.whoami(&app.client).await, Value::Null);
    }

    async fn the_session_cookie_is_http_only_lax_and_cycled_at_login(app) {
        let resp = app.server_fn(&app.client, "signup", &[("email", "ada@example.com"), ("password", PASSWORD), ("org_name", "E")]).await;
        let first = session_cookie(&resp).expect("signup sets the session cookie");
        assert!(first.contains("HttpOnly") && first.contains("SameSite=Lax"), "{first}");
        assert!(!first.contains("Secure"), "plain http must not mark the cookie Secure: {first}");

        let old = first.split(';').next().unwrap().to_string();
        let resp = app.server_fn(&app.client, "login", &[("email", "ada@example.com"), ("password", PASSWORD)]).await;
        assert_eq!(resp.status(), StatusCode::OK);
        let second = session_cookie(&resp).expect("login sets a new cookie");
        assert_ne!(second.split(';').next().unwrap(), old, "login must issue a new session id");

        // The pre-login id no longer signs anyone in.
        let stale = app.fresh_client();
        let resp = stale.post(app.url("/api/whoami")).header("Accept", "application/json").header("Origin", app.origin()).header("Cookie", old).send().await.unwrap();
        assert_eq!(resp.json::<Value>().await.unwrap(), Value::Null);
    }

    async fn wrong_passwords_get_one_message_then_429(app) {
        app.signup(&app.fresh_client(), "ada@example.com", "E").await;
        let client = app.fresh_client();
        let mut messages = vec![];
        for email in ["ada@example.com", "nobody@example.com"] {
            let resp = app.server_fn(&client, "login", &[("email", email), ("password", "wrong-password")]).await;
            assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
            messages.push(resp.json::<Value>().await.unwrap()["message"].clone());
        }
        assert_eq!(messages[0], messages[1], "unknown e-mail and wrong password read the same");
        for _ in 1..tollbooth::accounts::throttle::MAX_FAILURES_PER_EMAIL {
            app.server_fn(&client, "login", &[("email", "ada@example.com"), ("password", "wrong-password")]).await;
        }
        let resp = app.server_fn(&client, "login", &[("email", "ada@example.com"), ("password", PASSWORD)]).await;
        assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(resp.headers().get("retry-after").is_some());
    }

    async fn org_server_functions_refuse_other_orgs_ids_with_404(app) {
        let a = app.fresh_client();
        let b = app.fresh_client();
        let org_a = app.signup(&a, "a@example.com", "A").await;
        let org_b = app.signup(&b, "b@example.com", "B").await;
        let resp = app.server_fn(&b, "create_api_key", &[("org_id", &org_b), ("name", "b-key"), ("scopes", "ingest,read,manage")]).await;
        let key_b: Value = resp.json().await.unwrap();
        let key_b_id = key_b["key"]["id"].as_str().unwrap().to_string();

        let calls: Vec<(&str, Vec<(&str, &str)>)> = vec![
            ("org_context", vec![("org_id", &org_b)]),
            ("list_api_keys", vec![("org_id", &org_b)]),
            ("create_api_key", vec![("org_id", &org_b), ("name", "x"), ("scopes", "read")]),
            ("revoke_api_key", vec![("org_id", &org_b), ("key_id", &key_b_id)]),
            ("revoke_api_key", vec![("org_id", &org_a), ("key_id", &key_b_id)]),
            ("list_members", vec![("org_id", &org_b)]),
            ("update_org", vec![("org_id", &org_b), ("name", "pwned"), ("time_zone", "UTC")]),
            ("invite_member", vec![("org_id", &org_b), ("email", "x@example.com"), ("role", "owner")]),
        ];
        for (name, form) in calls {
            let resp = app.server_fn(&a, name, &form).await;
            assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{name} {form:?}");
        }
        let csv = a.get(app.url(&format!("/o/{org_b}/usage.csv"))).send().await.unwrap();
        assert_eq!(csv.status(), StatusCode::NOT_FOUND, "B's CSV export");
        let listed: Value = app.server_fn(&b, "list_api_keys", &[("org_id", &org_b)]).await.json().await.unwrap();
        assert!(listed[0]["revoked_at"].is_null(), "B's key must be untouched");
        let ctx: Value = app.server_fn(&b, "org_context", &[("org_id", &org_b)]).await.json().await.unwrap();
        assert_eq!(ctx["org"]["name"], "B");
    }

    async fn signed_out_calls_get_401(app) {
        let resp = app.server_fn(&app.client, "list_api_keys", &[("org_id", "0190a0a0-0000-7000-8000-000000000000")]).await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["message"], "please sign in");
    }
}
