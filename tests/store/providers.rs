use sqlx::Row;
use tollbooth::audit::AuditFilter;
use tollbooth::db::Db;
use tollbooth::egress::EgressPolicy;
use tollbooth::pricing::{store as prices, ModelPrice, PriceBook, UnitPrice};
use tollbooth::providers::{
    self, check_secret_box, ConnectionInput, Defaults, Family, ProviderKind, ProviderSettings, SecretBox, Upstream,
};
use tollbooth::{test_both_engines, Error};

use super::{by, sign_up};

const GROQ_KEY: &str = "gsk_live_0123456789abcdefWXYZ";
const OPENAI_KEY: &str = "sk-proj-org-own-key-9876";
const ANTHROPIC_KEY: &str = "sk-ant-org-own-key-5555";

/// Connections may point at 127.0.0.1 (the tests' upstream double); no server keys.
fn settings() -> ProviderSettings {
    ProviderSettings { secrets: SecretBox::random(), defaults: Defaults::without_keys(), egress: EgressPolicy::allow_private() }
}

/// Server defaults with keys for both families.
fn keyed_defaults() -> Defaults {
    Defaults::new("http://127.0.0.1:7001/v1", Some("sk-server-openai-0000"), "http://127.0.0.1:7002", Some("sk-server-anthropic-1111")).unwrap()
}

fn input<'a>(kind: &'a str, base_url: Option<&'a str>, api_key: Option<&'a str>) -> ConnectionInput<'a> {
    ConnectionInput { kind, base_url, api_key }
}

async fn save(db: &Db, s: &ProviderSettings, org: &str, name: &str, i: ConnectionInput<'_>) -> providers::Saved {
    providers::upsert(db, s, org, name, &i, &by()).await.unwrap()
}

async fn resolve(db: &Db, s: &ProviderSettings, d: &Defaults, org: &str, family: Family, model: &str) -> Option<Upstream> {
    providers::resolve(db, &s.secrets, d, org, family, model).await.unwrap()
}

async fn audit_details(db: &Db, org: &str, action: &str) -> Vec<serde_json::Value> {
    let f = AuditFilter { action: action.into(), ..Default::default() };
    let log = tollbooth::audit::list(db, Some(org), &f, "UTC", 50).await.unwrap();
    log.iter().map(|e| serde_json::from_str(&e.details).unwrap()).collect()
}

/// Every stored column of every connection row, as text.
async fn stored_text(db: &Db) -> String {
    let rows = sqlx::query("SELECT org_id, name, kind, base_url, api_key_ciphertext, nonce, key_last4, updated_by FROM provider_connections")
        .fetch_all(db.reader())
        .await
        .unwrap();
    let mut out = String::new();
    for r in rows {
        for i in 0..8 {
            out.push_str(&r.try_get::<Option<String>, _>(i).unwrap().unwrap_or_default());
            out.push('|');
        }
    }
    out
}

test_both_engines! {
    async fn a_connection_is_created_listed_replaced_and_deleted_and_every_change_is_audited(db) {
        let s = settings();
        let org = sign_up(db, "owner@a.example", "A").await.org.id;
        let created = save(db, &s, &org, "groq", input("openai_compatible", Some("http://127.0.0.1:9/openai/v1/"), Some(GROQ_KEY))).await;
        assert!(created.created);
        assert_eq!(created.connection.key_last4, "WXYZ");
        assert_eq!(created.connection.base_url.as_deref(), Some("http://127.0.0.1:9/openai/v1"));
        let listed = providers::list(db, &org).await.unwrap();
        assert_eq!(listed, vec![created.connection.clone()]);

        // Replaced without a key: the stored key stays.
        let moved = save(db, &s, &org, "groq", input("openai_compatible", Some("http://127.0.0.1:10/v1"), Some(""))).await;
        assert!(!moved.created);
        assert_eq!(moved.connection.key_last4, "WXYZ");
        let up = resolve(db, &s, &Defaults::without_keys(), &org, Family::OpenAi, "groq/llama-3.1-8b-instant").await.unwrap();
        assert_eq!((up.base_url.as_str(), up.api_key.expose()), ("http://127.0.0.1:10/v1", GROQ_KEY));
        // Replaced with a new key.
        let rekeyed = save(db, &s, &org, "groq", input("openai_compatible", Some("http://127.0.0.1:10/v1"), Some("gsk_live_another_key_0042"))).await;
        assert_eq!(rekeyed.connection.key_last4, "0042");
        let up = resolve(db, &s, &Defaults::without_keys(), &org, Family::OpenAi, "groq/x").await.unwrap();
        assert_eq!(up.api_key.expose(), "gsk_live_another_key_0042");

        let stored = stored_text(db).await;
        for secret in [GROQ_KEY, "gsk_live_another_key_0042"] {
            assert!(!stored.contains(secret), "the key is not stored in clear");
            assert!(!stored.contains(&hex::encode(secret)), "nor hex-encoded");
        }

        providers::delete(db, &org, "groq", &by()).await.unwrap();
        assert!(providers::list(db, &org).await.unwrap().is_empty());
        assert!(matches!(providers::delete(db, &org, "groq", &by()).await, Err(Error::NotFound(_))));
        assert!(matches!(providers::delete(db, &org, "Not A Name", &by()).await, Err(Error::NotFound(_))));

        let upserts = audit_details(db, &org, "provider.upsert").await;
        assert_eq!(upserts.len(), 3);
        let first = upserts.iter().find(|d| d["created"] == true).unwrap();
        assert_eq!(first["kind"], "openai_compatible");
        assert_eq!(first["key_last4"], "WXYZ");
        assert_eq!(first["base_url"], "http://127.0.0.1:9/openai/v1");
        assert_eq!(upserts.iter().filter(|d| d["key_changed"] == false).count(), 1);
        let deletes = audit_details(db, &org, "provider.delete").await;
        assert_eq!(deletes.len(), 1);
        assert_eq!(deletes[0]["name"], "groq");
        let all = format!("{upserts:?}{deletes:?}");
        assert!(!all.contains(GROQ_KEY) && !all.contains("gsk_live_another_key_0042"), "no key in the audit log");
    }

    async fn resolve_prefers_the_organizations_connections_then_the_server_defaults(db) {
        let s = settings();
        let defaults = keyed_defaults();
        let org = sign_up(db, "owner@a.example", "A").await.org.id;

        // Nothing of its own: the server defaults, when they have keys.
        let up = resolve(db, &s, &defaults, &org, Family::OpenAi, "gpt-4o").await.unwrap();
        assert_eq!((up.provider.as_str(), up.kind, up.base_url.as_str()), ("openai", ProviderKind::OpenAi, "http://127.0.0.1:7001/v1"));
        assert_eq!((up.api_key.expose(), up.model.as_str(), up.price_model.as_str()), ("sk-server-openai-0000", "gpt-4o", "gpt-4o"));
        assert!(!up.base_url_by_org, "the operator's URL");
        let up = resolve(db, &s, &defaults, &org, Family::Anthropic, "claude-3-5-haiku-latest").await.unwrap();
        assert_eq!((up.provider.as_str(), up.kind, up.api_key.expose()), ("anthropic", ProviderKind::Anthropic, "sk-server-anthropic-1111"));
        assert!(resolve(db, &s, &Defaults::without_keys(), &org, Family::OpenAi, "gpt-4o").await.is_none(), "no key anywhere");
        assert!(resolve(db, &s, &Defaults::without_keys(), &org, Family::Anthropic, "claude").await.is_none());

        // Its own openai connection wins, at the default base URL unless it names one.
        save(db, &s, &org, "openai", input("openai", None, Some(OPENAI_KEY))).await;
        let up = resolve(db, &s, &defaults, &org, Family::OpenAi, "gpt-4o").await.unwrap();
        assert_eq!((up.provider.as_str(), up.base_url.as_str(), up.api_key.expose()), ("openai", "http://127.0.0.1:7001/v1", OPENAI_KEY));
        assert!(!up.base_url_by_org, "the connection uses the operator's URL");
        save(db, &s, &org, "openai", input("openai", Some("http://127.0.0.1:8001/v1"), None)).await;
        let up = resolve(db, &s, &Defaults::without_keys(), &org, Family::OpenAi, "gpt-4o").await.unwrap();
        assert_eq!((up.base_url.as_str(), up.api_key.expose()), ("http://127.0.0.1:8001/v1", OPENAI_KEY));
        assert!(up.base_url_by_org, "a URL the organization typed");
        // The openai connection does not serve Anthropic's family.
        let up = resolve(db, &s, &defaults, &org, Family::Anthropic, "claude-3-5-haiku-latest").await.unwrap();
        assert_eq!(up.api_key.expose(), "sk-server-anthropic-1111");
        save(db, &s, &org, "anthropic", input("anthropic", None, Some(ANTHROPIC_KEY))).await;
        let up = resolve(db, &s, &defaults, &org, Family::Anthropic, "claude-3-5-haiku-latest").await.unwrap();
        assert_eq!((up.provider.as_str(), up.kind, up.base_url.as_str(), up.api_key.expose()), ("anthropic", ProviderKind::Anthropic, "http://127.0.0.1:7002", ANTHROPIC_KEY));
    }

    async fn a_prefixed_model_goes_to_its_openai_compatible_connection_and_is_priced_by_the_books_name(db) {
        let s = settings();
        let org = sign_up(db, "owner@a.example", "A").await.org.id;
        let mut p = ModelPrice::new("groq/llama-3.3-70b-versatile", "groq");
        p.input = Some(UnitPrice::parse("0.00000059").unwrap());
        let mut book = PriceBook::default();
        book.insert(p);
        prices::import(db, &book, "test", Some(0)).await.unwrap();
        save(db, &s, &org, "groq", input("openai_compatible", Some("http://127.0.0.1:9100/openai/v1"), Some(GROQ_KEY))).await;
        save(db, &s, &org, "openai", input("openai", None, Some(OPENAI_KEY))).await;

        let up = resolve(db, &s, &Defaults::without_keys(), &org, Family::OpenAi, "groq/llama-3.3-70b-versatile").await.unwrap();
        assert_eq!((up.provider.as_str(), up.kind), ("groq", ProviderKind::OpenAiCompatible));
        assert_eq!((up.base_url.as_str(), up.api_key.expose()), ("http://127.0.0.1:9100/openai/v1", GROQ_KEY));
        assert_eq!((up.model.as_str(), up.price_model.as_str()), ("llama-3.3-70b-versatile", "groq/llama-3.3-70b-versatile"));
        assert!(up.base_url_by_org);
        // A model the book does not know by the prefixed name is priced by its own.
        let up = resolve(db, &s, &Defaults::without_keys(), &org, Family::OpenAi, "groq/gpt-4o-mini").await.unwrap();
        assert_eq!((up.provider.as_str(), up.model.as_str(), up.price_model.as_str()), ("groq", "gpt-4o-mini", "gpt-4o-mini"));
        // Only the rest after the first `/` is stripped.
        let up = resolve(db, &s, &Defaults::without_keys(), &org, Family::OpenAi, "groq/meta/llama-4").await.unwrap();
        assert_eq!(up.model, "meta/llama-4");
        // A prefix that is not one of its connections is part of the model's name.
        let up = resolve(db, &s, &Defaults::without_keys(), &org, Family::OpenAi, "together/llama").await.unwrap();
        assert_eq!((up.provider.as_str(), up.model.as_str(), up.api_key.expose()), ("openai", "together/llama", OPENAI_KEY));
        let up = resolve(db, &s, &Defaults::without_keys(), &org, Family::OpenAi, "groq/").await.unwrap();
        assert_eq!((up.provider.as_str(), up.model.as_str()), ("openai", "groq/"), "an empty model is not stripped");
        // Anthropic's wire family never goes to an OpenAI-compatible server.
        let up = resolve(db, &s, &keyed_defaults(), &org, Family::Anthropic, "groq/llama-3.3-70b-versatile").await.unwrap();
        assert_eq!((up.provider.as_str(), up.model.as_str()), ("anthropic", "groq/llama-3.3-70b-versatile"));
    }

    async fn one_organizations_connections_are_invisible_and_useless_to_another(db) {
        let s = settings();
        let a = sign_up(db, "owner@a.example", "A").await.org.id;
        let b = sign_up(db, "owner@b.example", "B").await.org.id;
        save(db, &s, &a, "groq", input("openai_compatible", Some("http://127.0.0.1:9/v1"), Some(GROQ_KEY))).await;
        save(db, &s, &a, "openai", input("openai", None, Some(OPENAI_KEY))).await;

        assert!(providers::list(db, &b).await.unwrap().is_empty());
        assert!(resolve(db, &s, &Defaults::without_keys(), &b, Family::OpenAi, "groq/llama").await.is_none());
        assert!(resolve(db, &s, &Defaults::without_keys(), &b, Family::OpenAi, "gpt-4o").await.is_none());
        let up = resolve(db, &s, &keyed_defaults(), &b, Family::OpenAi, "groq/llama").await.unwrap();
        assert_eq!((up.provider.as_str(), up.api_key.expose(), up.model.as_str()), ("openai", "sk-server-openai-0000", "groq/llama"));
        assert!(matches!(providers::delete(db, &b, "groq", &by()).await, Err(Error::NotFound(_))));

        // B's own groq is B's; A's is untouched.
        let bs = save(db, &s, &b, "groq", input("openai_compatible", Some("http://127.0.0.1:11/v1"), Some("gsk_live_b_key_of_b_0007"))).await;
        assert!(bs.created, "a name is per organization");
        let up = resolve(db, &s, &Defaults::without_keys(), &a, Family::OpenAi, "groq/llama").await.unwrap();
        assert_eq!((up.base_url.as_str(), up.api_key.expose()), ("http://127.0.0.1:9/v1", GROQ_KEY));

        // A's ciphertext copied into B's row does not decrypt there (the
        // organization is part of the associated data).
        let row = sqlx::query("SELECT api_key_ciphertext, nonce FROM provider_connections WHERE org_id = $1 AND name = 'groq'")
            .bind(&a).fetch_one(db.reader()).await.unwrap();
        sqlx::query("UPDATE provider_connections SET api_key_ciphertext = $1, nonce = $2 WHERE org_id = $3 AND name = 'groq'")
            .bind(row.try_get::<String, _>("api_key_ciphertext").unwrap())
            .bind(row.try_get::<String, _>("nonce").unwrap())
            .bind(&b)
            .execute(db.writer()).await.unwrap();
        let moved = providers::resolve(db, &s.secrets, &Defaults::without_keys(), &b, Family::OpenAi, "groq/llama").await;
        assert!(matches!(moved, Err(Error::Internal(_))), "{moved:?}");
    }

    async fn invalid_connections_are_refused_naming_the_field_and_nothing_is_stored(db) {
        let s = settings();
        let strict = ProviderSettings { egress: EgressPolicy::public_only(), ..settings() };
        let org = sign_up(db, "owner@a.example", "A").await.org.id;
        let cases: Vec<(&ProviderSettings, &str, ConnectionInput<'_>, &str)> = vec![
            (&s, "Groq", input("openai_compatible", Some("http://127.0.0.1:9/v1"), Some(GROQ_KEY)), "name"),
            (&s, "groq/x", input("openai_compatible", Some("http://127.0.0.1:9/v1"), Some(GROQ_KEY)), "name"),
            (&s, "groq", input("", Some("http://127.0.0.1:9/v1"), Some(GROQ_KEY)), "kind"),
            (&s, "groq", input("azure", Some("http://127.0.0.1:9/v1"), Some(GROQ_KEY)), "kind"),
            (&s, "groq", input("openai", None, Some(GROQ_KEY)), "kind"),
            (&s, "openai", input("anthropic", None, Some(GROQ_KEY)), "kind"),
            (&s, "groq", input("openai_compatible", None, Some(GROQ_KEY)), "base_url"),
            (&s, "groq", input("openai_compatible", Some("api.groq.com/v1"), Some(GROQ_KEY)), "base_url"),
            (&s, "groq", input("openai_compatible", Some("https://u:p@api.groq.com/v1"), Some(GROQ_KEY)), "base_url"),
            (&strict, "groq", input("openai_compatible", Some("http://127.0.0.1:9/v1"), Some(GROQ_KEY)), "base_url"),
            (&strict, "openai", input("openai", Some("http://169.254.169.254/v1"), Some(GROQ_KEY)), "base_url"),
            (&s, "groq", input("openai_compatible", Some("http://127.0.0.1:9/v1"), None), "api_key"),
            (&s, "groq", input("openai_compatible", Some("http://127.0.0.1:9/v1"), Some("has space")), "api_key"),
        ];
        for (settings, name, i, field) in cases {
            let e = providers::upsert(db, settings, &org, name, &i, &by()).await.unwrap_err();
            assert_eq!(e.field(), Some(field), "{name} {:?}: {e}", i.kind);
            assert_eq!(e.status_code(), 422, "{e}");
            assert!(!e.to_string().contains(GROQ_KEY), "{e}");
        }
        let e = providers::upsert(db, &strict, &org, "groq", &input("openai_compatible", Some("http://127.0.0.1:9/v1"), Some(GROQ_KEY)), &by()).await.unwrap_err();
        assert!(e.to_string().contains("TOLLBOOTH_UPSTREAM_ALLOW_PRIVATE"), "the refusal says what would allow it: {e}");

        // Without a server key nothing can be stored, and the answer says why.
        let keyless = ProviderSettings { secrets: SecretBox::unavailable(), ..settings() };
        let e = providers::upsert(db, &keyless, &org, "openai", &input("openai", None, Some(OPENAI_KEY)), &by()).await.unwrap_err();
        assert_eq!((e.field(), e.status_code()), (Some("api_key"), 409));
        assert!(e.to_string().contains("TOLLBOOTH_SECRET_KEY"), "{e}");

        assert!(providers::list(db, &org).await.unwrap().is_empty());
        assert!(audit_details(db, &org, "provider.").await.is_empty(), "a refusal records nothing");
    }

    async fn an_organization_has_at_most_twenty_connections(db) {
        let s = settings();
        let org = sign_up(db, "owner@a.example", "A").await.org.id;
        for i in 0..providers::MAX_CONNECTIONS {
            save(db, &s, &org, &format!("vllm{i}"), input("openai_compatible", Some("http://127.0.0.1:9/v1"), Some(GROQ_KEY))).await;
        }
        let e = providers::upsert(db, &s, &org, "onemore", &input("openai_compatible", Some("http://127.0.0.1:9/v1"), Some(GROQ_KEY)), &by()).await.unwrap_err();
        assert_eq!((e.field(), e.status_code()), (Some("name"), 409));
        // Replacing one is still fine.
        assert!(!save(db, &s, &org, "vllm0", input("openai_compatible", Some("http://127.0.0.1:9/v2"), None)).await.created);
    }

    async fn the_start_up_check_refuses_stored_keys_this_server_cannot_read(db) {
        let s = settings();
        assert!(check_secret_box(db, &SecretBox::unavailable()).await.is_ok(), "nothing stored: no key needed");
        let org = sign_up(db, "owner@a.example", "A").await.org.id;
        save(db, &s, &org, "openai", input("openai", None, Some(OPENAI_KEY))).await;
        assert!(check_secret_box(db, &s.secrets).await.is_ok());
        for other in [SecretBox::unavailable(), SecretBox::random()] {
            let e = check_secret_box(db, &other).await.unwrap_err();
            assert_eq!(e.field(), Some("TOLLBOOTH_SECRET_KEY"), "{e}");
        }
    }
}
