use crate::helpers::*;
use game_event_service::domain::stock::ALL_TIME;
use game_event_service::domain::{ClaimId, EventId};
use mongodb::bson::{doc, Document};
use std::collections::HashSet;

/// The field a take or release marks on a shard while it is in flight.
fn marker_key(c: &ClaimId) -> String {
    use sha2::Digest;
    let h = sha2::Sha256::digest(c.as_str().as_bytes());
    let hex: String = h[..12].iter().map(|b| format!("{b:02x}")).collect();
    format!("ops.k{hex}")
}

fn claims(n: usize) -> Vec<ClaimId> {
    (0..n).map(|_| ClaimId::mint()).collect()
}

#[tokio::test]
async fn units_are_taken_once_per_claim_up_to_the_stock_and_released_once() {
    let app = spawn_app_with(|s| s.claims.worker_enabled = false).await;
    let store = &app.state.store;
    let event = EventId::mint();
    let cs = claims(40);
    let held = store.take_units(&event, ALL_TIME, 25, &cs).await.unwrap();
    assert_eq!(held.len(), 25);
    // A redelivered batch takes nothing more and keeps the same holders.
    let again = store.take_units(&event, ALL_TIME, 25, &cs).await.unwrap();
    assert_eq!(again, held);
    assert_eq!(store.stock_count(&event).await.unwrap(), 25);
    assert_eq!(store.count_reservations(&event).await.unwrap(), 25);
    // Releasing twice gives one unit back, and a released unit can be taken by someone else.
    let one = held.iter().next().unwrap().clone();
    store.release_stock(&event, &one).await.unwrap();
    store.release_stock(&event, &one).await.unwrap();
    assert_eq!(store.stock_count(&event).await.unwrap(), 24);
    let late = claims(3);
    let got = store.take_units(&event, ALL_TIME, 25, &late).await.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(store.stock_count(&event).await.unwrap(), 25);
    app.cleanup().await;
}

#[tokio::test]
async fn a_crash_between_count_and_reservation_neither_leaks_nor_double_counts() {
    let app = spawn_app_with(|s| s.claims.worker_enabled = false).await;
    let store = &app.state.store;
    let event = EventId::mint();
    // Create the shards, then fake a take that crashed after moving the count of shard 3.
    store.take_units(&event, ALL_TIME, 10, &[]).await.unwrap();
    let crashed = ClaimId::mint();
    let shards = store.db.collection::<Document>("stock_shards");
    let shard = format!("{event}:{ALL_TIME}:3");
    assert!(shards
        .find_one(doc! {"_id": &shard})
        .await
        .unwrap()
        .is_some());
    assert_eq!(store.stock_count(&event).await.unwrap(), 0);
    let key = marker_key(&crashed);
    shards
        .update_one(
            doc! {"_id": &shard},
            doc! {"$inc": {"taken": 1_i64}, "$set": {&key: format!("+:{crashed}")}},
        )
        .await
        .unwrap();
    // The retry finds its marker: reservation written, count not moved again.
    let held = store
        .take_units(&event, ALL_TIME, 10, std::slice::from_ref(&crashed))
        .await
        .unwrap();
    assert!(held.contains(&crashed));
    assert_eq!(store.stock_count(&event).await.unwrap(), 1);
    assert_eq!(store.count_reservations(&event).await.unwrap(), 1);
    // A crash with the count moved and then a rejection: the unit comes back exactly once.
    let orphan = ClaimId::mint();
    let h = marker_key(&orphan);
    shards
        .update_one(
            doc! {"_id": &shard},
            doc! {"$inc": {"taken": 1_i64}, "$set": {&h: format!("+:{orphan}")}},
        )
        .await
        .unwrap();
    assert_eq!(store.stock_count(&event).await.unwrap(), 2);
    store.release_stock(&event, &orphan).await.unwrap();
    store.release_stock(&event, &orphan).await.unwrap();
    assert_eq!(store.stock_count(&event).await.unwrap(), 1);
    app.cleanup().await;
}

#[tokio::test]
async fn a_launch_sized_stock_is_representable() {
    let app = spawn_app_with(|s| s.claims.worker_enabled = false).await;
    let store = &app.state.store;
    let event = EventId::mint();
    let cs = claims(50);
    let held = store
        .take_units(&event, ALL_TIME, 10_000_000, &cs)
        .await
        .unwrap();
    assert_eq!(held, cs.iter().cloned().collect::<HashSet<_>>());
    let shards = store.db.collection::<Document>("stock_shards");
    assert_eq!(
        shards
            .count_documents(doc! {"eventId": event.as_str()})
            .await
            .unwrap(),
        16
    );
    app.cleanup().await;
}
