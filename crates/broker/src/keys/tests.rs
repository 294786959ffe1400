//! The key file's tests: minting and verifying, changes made by other
//! handles (other processes), and the bounds on what the file keeps.
#![allow(clippy::unwrap_used)]

use super::*;

#[test]
fn every_minted_key_verifies_and_a_changed_one_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let keys = Keys::open(dir.path().join("keys.json")).unwrap();
    for _ in 0..200 {
        let (record, key) = keys.mint("c", None, Utc::now()).unwrap();
        assert_eq!(keys.verify(&key).map(|k| k.id.clone()), Some(record.id));
        let mut tampered = key.clone();
        tampered.pop();
        assert!(keys.verify(&tampered).is_none());
    }
}

#[test]
fn keys_minted_or_revoked_by_another_process_take_effect_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Keys::open(dir.path().join("keys.json")).unwrap();
    let (_, own) = broker.mint("mcp-passport-cli", None, Utc::now()).unwrap();
    // `connect` in another process opens the same file and mints a key.
    std::thread::sleep(std::time::Duration::from_millis(20));
    let other = Keys::open(dir.path().join("keys.json")).unwrap();
    let (_, cursor) = other.mint("cursor", None, Utc::now()).unwrap();
    assert!(
        broker.verify(&cursor).is_some(),
        "the broker sees the new key"
    );
    assert!(broker.verify(&own).is_some(), "and keeps its own");
    std::thread::sleep(std::time::Duration::from_millis(20));
    other.revoke("cursor").unwrap();
    assert!(
        broker.verify(&cursor).is_none(),
        "a revocation elsewhere is honoured"
    );
    assert!(broker.verify(&own).is_some());
}

#[test]
fn a_key_minted_elsewhere_verifies_right_after_a_verified_one() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Keys::open(dir.path().join("keys.json")).unwrap();
    let (_, own) = broker.mint("mcp-passport-cli", None, Utc::now()).unwrap();
    let other = Keys::open(dir.path().join("keys.json")).unwrap();
    // No pause: the broker has just looked at the file, and the new
    // file may carry the same modification time.
    assert!(broker.verify(&own).is_some());
    let (_, cursor) = other.mint("cursor", None, Utc::now()).unwrap();
    assert!(
        broker.verify(&cursor).is_some(),
        "a key that does not verify gets a fresh look at the file"
    );
    assert!(broker.verify("mpk_0000_nothing").is_none());
}

#[test]
fn revoked_records_are_bounded_and_the_newest_kept() {
    let dir = tempfile::tempdir().unwrap();
    let keys = Keys::open(dir.path().join("keys.json")).unwrap();
    let (_, live) = keys.mint("zed", None, Utc::now()).unwrap();
    for _ in 0..KEEP_REVOKED + 20 {
        keys.mint("cursor", None, Utc::now()).unwrap();
        keys.revoke("cursor").unwrap();
    }
    let (last, _) = keys.mint("cursor", None, Utc::now()).unwrap();
    keys.revoke("cursor").unwrap();
    let on_disk = Keys::open(dir.path().join("keys.json")).unwrap().list();
    assert_eq!(on_disk.iter().filter(|k| k.revoked).count(), KEEP_REVOKED);
    assert!(on_disk.iter().any(|k| k.id == last.id && k.revoked));
    assert!(keys.verify(&live).is_some(), "live keys are never pruned");
}

#[test]
fn the_brokers_key_is_replaced_not_accumulated() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.json");
    let mut previous: Option<String> = None;
    for _ in 0..10 {
        let keys = Keys::open(&path).unwrap();
        let (_, key) = keys.replace("mcp-passport-cli", None, Utc::now()).unwrap();
        if let Some(old) = &previous {
            assert!(keys.verify(old).is_none(), "the old key no longer works");
        }
        assert!(keys.verify(&key).is_some());
        previous = Some(key);
    }
    assert_eq!(Keys::open(&path).unwrap().list().len(), 1);
}

#[test]
fn concurrent_changes_from_separate_handles_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.json");
    let minted: Vec<String> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..8)
            .map(|n| {
                let path = &path;
                s.spawn(move || {
                    // One handle each, as separate processes would have.
                    let keys = Keys::open(path).unwrap();
                    (0..10)
                        .map(|_| keys.mint(&format!("c{n}"), None, Utc::now()).unwrap().1)
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    });
    let keys = Keys::open(&path).unwrap();
    assert_eq!(keys.list().len(), 80);
    assert!(minted.iter().all(|k| keys.verify(k).is_some()));
}
