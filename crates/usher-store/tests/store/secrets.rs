//! SPEC §9 on both backends: account signing keys sealed under the master key (keys in
//! the clear are sealed, a rotation re-seals, the database is scrubbed after: SQLite's
//! WAL checkpointed, PostgreSQL's table rewritten), and single revoked tokens.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use usher_core::KeyId;
use usher_core::time_fmt::now_micros;
use usher_store::master_key::{MasterKeys, account_key_aad, seal_account_keys};
use usher_store::{KeyKind, KeyRecord};

use crate::{Fixture, account};

async fn keys_in_the_clear_are_sealed_and_rotation_reseals_them(f: &Fixture) {
    let a = account(&f.db).await;
    let der = b"pretend PKCS#8 DER of an RSA key".to_vec();
    let id = KeyId::generate();
    f.db.insert_key(
        &KeyRecord {
            id: id.clone(),
            account_id: a.clone(),
            kind: KeyKind::Account,
            public_key: "cHVi".into(),
            private_key: Some(STANDARD.encode(&der)),
            master_key_id: None,
            created: now_micros(),
            revoked_at: None,
        },
        usize::MAX,
    )
    .await
    .unwrap();
    let (keys, _) = MasterKeys::load_or_create(&f.dir.path().join("master.key")).unwrap();
    assert!(f.db.master_key_ids_in_use().await.unwrap().is_empty());

    assert_eq!(seal_account_keys(&f.db, &keys).await.unwrap(), 1);
    let stored = f.db.account_key(&a).await.unwrap().unwrap();
    let first = keys.current_id();
    assert_eq!(stored.master_key_id.as_deref(), Some(first.as_str()));
    let sealed = stored.private_key.clone().unwrap();
    assert_ne!(sealed, STANDARD.encode(&der));
    let aad = account_key_aad(&id, &a);
    assert_eq!(*keys.open(&first, &sealed, &aad).unwrap(), der);
    assert_eq!(
        f.db.master_key_ids_in_use().await.unwrap(),
        std::slice::from_ref(&first)
    );
    assert_eq!(seal_account_keys(&f.db, &keys).await.unwrap(), 0, "once");

    let second = keys.rotate().unwrap();
    assert_eq!(seal_account_keys(&f.db, &keys).await.unwrap(), 1);
    let stored = f.db.account_key(&a).await.unwrap().unwrap();
    assert_eq!(stored.master_key_id.as_deref(), Some(second.as_str()));
    assert_eq!(
        *keys
            .open(&second, stored.private_key.as_deref().unwrap(), &aad)
            .unwrap(),
        der
    );
    assert_eq!(f.db.master_key_ids_in_use().await.unwrap(), [second]);
    // A stale reader's re-seal of the old row changes nothing.
    let mut stale = stored.clone();
    stale.private_key = Some(sealed);
    assert!(!f.db.reseal_key(&stale, &first, "x").await.unwrap());
}

conformance!(keys_in_the_clear_are_sealed_and_rotation_reseals_them);

async fn single_tokens_are_revoked_per_video_until_they_expire(f: &Fixture) {
    let (a, b) = (account(&f.db).await, account(&f.db).await);
    let uid = crate::video(&f.db, &a, 1, "v").await;
    let other = crate::video(&f.db, &a, 2, "w").await;
    assert!(!f.db.is_token_revoked(&uid, "jti:1").await.unwrap());
    let epoch = f.db.access_epoch();
    assert_eq!(
        f.db.revoke_token(&b, &uid, "jti:1", 100, 5).await.unwrap(),
        None,
        "another account's video"
    );
    assert!(!f.db.is_token_revoked(&uid, "jti:1").await.unwrap());
    f.db.revoke_token(&a, &uid, "jti:1", 100, 5)
        .await
        .unwrap()
        .unwrap();
    assert!(f.db.access_epoch() > epoch, "edges are told");
    assert!(f.db.is_token_revoked(&uid, "jti:1").await.unwrap());
    assert!(!f.db.is_token_revoked(&other, "jti:1").await.unwrap());
    assert!(!f.db.is_token_revoked(&uid, "jti:2").await.unwrap());
    // Revoked again with an earlier expiry: the later one stays.
    f.db.revoke_token(&a, &uid, "jti:1", 50, 6)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(f.db.forget_expired_revocations(99, 0).await.unwrap(), 0);
    assert!(f.db.is_token_revoked(&uid, "jti:1").await.unwrap());
    assert_eq!(f.db.forget_expired_revocations(101, 0).await.unwrap(), 1);
    assert!(!f.db.is_token_revoked(&uid, "jti:1").await.unwrap());
    // Deleting the video forgets its revocations.
    f.db.revoke_token(&a, &uid, "jti:3", 1000, 7)
        .await
        .unwrap()
        .unwrap();
    f.db.delete_video(&a, &uid).await.unwrap().unwrap();
    assert!(!f.db.is_token_revoked(&uid, "jti:3").await.unwrap());
}

conformance!(single_tokens_are_revoked_per_video_until_they_expire);

async fn rate_counters_count_per_counter_and_minute(f: &Fixture) {
    let w = f.db.rate_hit("auth-fail:ip:127.0.0.1", 100).await.unwrap();
    assert_eq!((w.current, w.previous), (1, 0));
    f.db.rate_hit("auth-fail:ip:127.0.0.1", 100).await.unwrap();
    f.db.rate_hit("other", 100).await.unwrap();
    let w = f.db.rate_hit("auth-fail:ip:127.0.0.1", 101).await.unwrap();
    assert_eq!(
        (w.current, w.previous),
        (1, 2),
        "the previous minute is read too"
    );
    let w =
        f.db.rate_window("auth-fail:ip:127.0.0.1", 101)
            .await
            .unwrap();
    assert_eq!((w.current, w.previous), (1, 2), "reading does not count");
    assert_eq!(f.db.rate_window("nothing", 101).await.unwrap().current, 0);
    // Concurrent hits from many tasks (processes share the table) all count.
    let hits: Vec<_> = (0..20)
        .map(|_| {
            let db = f.db.clone();
            tokio::spawn(async move { db.rate_hit("burst", 7).await.unwrap() })
        })
        .collect();
    for h in hits {
        h.await.unwrap();
    }
    assert_eq!(f.db.rate_window("burst", 7).await.unwrap().current, 20);
    assert_eq!(
        f.db.forget_old_rate_windows(101).await.unwrap(),
        1,
        "burst, at minute 7"
    );
    assert_eq!(
        f.db.rate_window("auth-fail:ip:127.0.0.1", 101)
            .await
            .unwrap()
            .previous,
        2,
        "the previous minute is kept"
    );
}

conformance!(rate_counters_count_per_counter_and_minute);
