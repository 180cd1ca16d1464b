use reqwest::StatusCode;

use crate::app_test;

app_test! {
    async fn the_login_page_renders_on_the_server(app) {
        let resp = app.client.get(app.url("/login")).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let html = resp.text().await.unwrap();
        assert!(html.contains("Sign in to Tollbooth"));
        assert!(html.contains("/pkg/tollbooth.js"), "the page loads the hydrate bundle");
    }

    async fn organization_pages_redirect_signed_out_visitors_to_login(app) {
        let resp = app
            .client
            .get(app.url("/o/0190a0a0-0000-7000-8000-000000000000/keys"))
            .header("Accept", "text/html")
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_redirection(), "{}", resp.status());
        assert_eq!(resp.headers()["location"], "/login");
    }

    async fn unknown_pages_are_404(app) {
        let resp = app.client.get(app.url("/no/such/page")).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::NOT_FOUND);
        assert!(resp.text().await.unwrap().contains("Not found"));
    }

    async fn another_orgs_page_is_404_for_a_signed_in_member(app) {
        let b = app.fresh_client();
        let org_b = app.signup(&b, "b@example.com", "Secret B").await;
        app.signup(&app.client, "a@example.com", "A").await;
        let resp = app.client.get(app.url(&format!("/o/{org_b}/members"))).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::NOT_FOUND);
        let html = resp.text().await.unwrap();
        assert!(!html.contains("Secret B") && !html.contains("b@example.com"));
    }
}

app_test! {
    async fn a_server_function_call_with_missing_arguments_answers_400_naming_them(app) {
        let org = app.signup(&app.client, "ada@example.com", "Acme").await;
        // `name` is missing.
        let resp = app.server_fn(&app.client, "create_api_key", &[("org_id", &org)]).await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        let body: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(body["status"], 400);
        assert!(body["message"].as_str().is_some_and(|m| m.contains("name")), "{body}");
        // A good call still answers 200, and nothing was created by the bad one.
        let resp = app.server_fn(&app.client, "list_api_keys", &[("org_id", &org)]).await;
        assert_eq!(resp.status(), StatusCode::OK);
        let keys: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(keys.as_array().map(Vec::len), Some(0));
    }
}
