use tollbooth::clock::now_ms;
use tollbooth::sessions;
use tollbooth::test_both_engines;

test_both_engines! {
    async fn sessions_round_trip_and_expire(db) {
        assert!(sessions::insert(db, "s1", "{\"a\":1}", now_ms() + 60_000).await.unwrap());
        assert!(!sessions::insert(db, "s1", "{}", now_ms() + 60_000).await.unwrap(), "ids are unique");
        let data = |found: Option<(String, i64)>| found.map(|(d, _)| d);
        assert_eq!(data(sessions::load(db, "s1").await.unwrap()).as_deref(), Some("{\"a\":1}"));
        sessions::upsert(db, "s1", "{\"a\":2}", now_ms() + 60_000).await.unwrap();
        assert_eq!(data(sessions::load(db, "s1").await.unwrap()).as_deref(), Some("{\"a\":2}"));

        sessions::upsert(db, "old", "{}", now_ms() - 1).await.unwrap();
        assert_eq!(sessions::load(db, "old").await.unwrap(), None, "expired sessions are not returned");
        assert_eq!(sessions::delete_expired(db).await.unwrap(), 1);
        sessions::delete(db, "s1").await.unwrap();
        assert_eq!(sessions::load(db, "s1").await.unwrap(), None);
    }
}

test_both_engines! {
    async fn session_rows_are_keyed_by_the_digest_of_the_id_never_the_id(db) {
        let id = "the-cookie-value";
        assert!(sessions::insert(db, id, "{}", now_ms() + 60_000).await.unwrap());
        let keys: Vec<String> = sqlx::query_scalar("SELECT id FROM sessions").fetch_all(db.reader()).await.unwrap();
        assert_eq!(keys, vec![tollbooth::secrets::digest(id)]);
        assert!(sessions::load(db, id).await.unwrap().is_some(), "found by its id");
        let by_stored_key = sessions::load(db, &keys[0]).await.unwrap();
        assert_eq!(by_stored_key, None, "the stored key is not a usable id");
    }
}
