use std::time::Duration;

use tollbooth::test_both_engines;

use super::sign_up;

test_both_engines! {
    async fn a_transaction_abandoned_while_it_begins_leaves_the_writer_usable(db) {
        // A request whose client goes away is dropped wherever it waits,
        // here between its BEGIN reaching the connection and the
        // transaction coming back.
        for wait_us in 0..50 {
            let _ = tokio::time::timeout(Duration::from_micros(wait_us), db.begin()).await;
            let d = db.clone();
            let begun = tokio::spawn(async move { d.begin().await.map(|_| ()) });
            tokio::task::yield_now().await;
            tokio::time::sleep(Duration::from_micros(wait_us * 10)).await;
            begun.abort();
        }
        // The writer still begins, writes and commits.
        let s = sign_up(db, "after@example.com", "After").await;
        let (name,): (String,) = sqlx::query_as("SELECT name FROM organizations WHERE id = $1").bind(&s.org.id).fetch_one(db.reader()).await.unwrap();
        assert_eq!(name, "After");
    }
}
