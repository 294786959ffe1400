//! The store against the real Secret Service. Run through
//! `scripts/desktop-session.sh` (Xvfb + D-Bus + an unlocked gnome-keyring);
//! outside such a session these tests fail and say so.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use passport_core::store::{StoreError, StoreKey, TokenStore};
use passport_keyring::KeyringStore;
use std::process::Command;

fn require_secret_service() {
    let bus = std::env::var("DBUS_SESSION_BUS_ADDRESS").unwrap_or_default();
    assert!(
        !bus.is_empty(),
        "no D-Bus session: run these tests through scripts/desktop-session.sh"
    );
}

fn store() -> KeyringStore {
    require_secret_service();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    KeyringStore::new(&format!(
        "io.github.mcppassport.test-{}-{nanos}",
        std::process::id()
    ))
}

fn lookup(store: &KeyringStore, key: &StoreKey) -> String {
    let out = Command::new("secret-tool")
        .args([
            "lookup",
            "service",
            store.service(),
            "username",
            &key.account(),
        ])
        .output()
        .expect("secret-tool (libsecret-tools) is installed");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn round_trip_overwrite_and_delete_in_the_real_secret_service() {
    let store = store();
    let key = StoreKey::RefreshToken {
        grant_id: "g1".into(),
    };
    assert_eq!(store.get(&key).unwrap(), None);
    store.put(&key, "rt-one").unwrap();
    assert_eq!(store.get(&key).unwrap().as_deref(), Some("rt-one"));
    assert_eq!(
        lookup(&store, &key),
        "rt-one",
        "the item is really in the Secret Service, not a mock"
    );
    store.put(&key, "rt-two").unwrap();
    assert_eq!(store.get(&key).unwrap().as_deref(), Some("rt-two"));
    store.delete(&key).unwrap();
    assert_eq!(store.get(&key).unwrap(), None);
    assert_eq!(lookup(&store, &key), "");
    store.delete(&key).expect("deleting a missing item is fine");
}

#[test]
fn stores_with_different_app_identifiers_do_not_see_each_other() {
    let (a, b) = (store(), store());
    let key = StoreKey::ClientSecret {
        issuer: "http://127.0.0.1:9400".into(),
    };
    a.put(&key, "secret-a").unwrap();
    assert_eq!(b.get(&key).unwrap(), None);
    a.delete(&key).unwrap();
}

#[test]
fn sec_27_unreachable_keyring_is_a_typed_error_not_a_fallback() {
    require_secret_service();
    if std::env::var("KEYRING_CHILD").is_ok() {
        let store = KeyringStore::new("io.github.mcppassport.test-unreachable");
        let key = StoreKey::RefreshToken {
            grant_id: "g".into(),
        };
        let err = store.put(&key, "x").expect_err("no keyring, no success");
        assert!(
            matches!(err, StoreError::Unavailable(_) | StoreError::Locked),
            "{err:?}"
        );
        assert!(err.to_string().contains("keyring"), "{err}");
        assert!(matches!(
            store.get(&key),
            Err(StoreError::Unavailable(_) | StoreError::Locked)
        ));
        return;
    }
    let child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "sec_27_unreachable_keyring_is_a_typed_error_not_a_fallback",
        ])
        .env("KEYRING_CHILD", "1")
        .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus")
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&child.stdout);
    assert!(
        child.status.success() && out.contains("1 passed"),
        "in a process with no reachable keyring, every call is a typed error: {out}"
    );
}
