//! Live broadcast runs: one on air per input, across processes.

use std::time::Duration;

use crate::Fixture;

async fn one_run_is_on_air_per_input_until_it_ends_or_its_lease_runs_out(f: &Fixture) {
    let db = &f.db;
    let long = Duration::from_secs(60);
    assert!(db.claim_live_run("in1", "r1", long).await.unwrap());
    assert!(
        !db.claim_live_run("in1", "r2", long).await.unwrap(),
        "second publisher"
    );
    assert!(
        db.claim_live_run("in2", "r3", long).await.unwrap(),
        "other input"
    );
    assert_eq!(db.live_run("in1").await.unwrap().as_deref(), Some("r1"));
    assert!(db.renew_live_run("in1", "r1", long).await.unwrap());
    assert!(!db.renew_live_run("in1", "r2", long).await.unwrap());

    db.end_live_run("in1", "r2").await.unwrap(); // not the holder: nothing
    assert_eq!(db.live_run("in1").await.unwrap().as_deref(), Some("r1"));
    db.end_live_run("in1", "r1").await.unwrap();
    assert_eq!(db.live_run("in1").await.unwrap(), None);

    // A holder that stopped renewing (a crashed ingest) is taken over.
    assert!(
        db.claim_live_run("in1", "r4", Duration::ZERO)
            .await
            .unwrap()
    );
    tokio::time::sleep(Duration::from_millis(2)).await;
    assert_eq!(db.live_run("in1").await.unwrap(), None);
    assert!(db.claim_live_run("in1", "r5", long).await.unwrap());
    assert!(!db.renew_live_run("in1", "r4", long).await.unwrap());
}

conformance!(one_run_is_on_air_per_input_until_it_ends_or_its_lease_runs_out);
