use tollbooth::clock::now_ms;
use tollbooth::sessions;
use tollbooth::test_both_engines;

test_both_engines! {
    async fn sessions_round_trip_and_expire(db) {
        assert!(sessions::insert(db, "s1", "{\"a\":1}", now_ms() + 60_000).await.unwrap());
        assert!(!sessions::insert(db, "s1", "{}", now_ms() + 60_000).await.unwrap(), "ids are unique");
        assert_eq!(sessions::load(db, "s1").await.unwrap().as_deref(), Some("{\"a\":1}"));
        sessions::upsert(db, "s1", "{\"a\":2}", now_ms() + 60_000).await.unwrap();
        assert_eq!(sessions::load(db, "s1").await.unwrap().as_deref(), Some("{\"a\":2}"));

        sessions::upsert(db, "old", "{}", now_ms() - 1).await.unwrap();
        assert_eq!(sessions::load(db, "old").await.unwrap(), None, "expired sessions are not returned");
        assert_eq!(sessions::delete_expired(db).await.unwrap(), 1);
        sessions::delete(db, "s1").await.unwrap();
        assert_eq!(sessions::load(db, "s1").await.unwrap(), None);
    }
}
