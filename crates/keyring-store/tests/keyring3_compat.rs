//! The store and `keyring` 3 read each other's items (real Secret Service),
//! and the store's connections are shared by calls from many threads.
//!
//! Existing users' secrets were written by `keyring::Entry`; the store
//! talks to the Secret Service itself and must find, replace and delete
//! exactly those items, and write items `keyring` 3 finds. Run through
//! `scripts/desktop-session.sh`.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use dbus_secret_service::{EncryptionType, SecretService};
use passport_core::store::{StoreKey, TokenStore};
use passport_keyring::KeyringStore;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};

const HOWTO: &str = "run these tests through scripts/desktop-session.sh \
    (Xvfb + D-Bus + an unlocked gnome-keyring)";

fn store() -> KeyringStore {
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let pid = std::process::id();
    let store = KeyringStore::new(&format!("io.github.mcppassport.test-compat-{pid}-{n}"));
    if let Err(e) = store.get(&grant("probe")) {
        panic!("no usable Secret Service in this session ({e}): {HOWTO}");
    }
    store
}

fn grant(id: &str) -> StoreKey {
    StoreKey::RefreshToken {
        grant_id: id.into(),
    }
}

fn entry(store: &KeyringStore, key: &StoreKey) -> keyring::Entry {
    keyring::Entry::new(store.service(), &key.account()).unwrap()
}

/// Every item filed under the store's service: (collection, label, attributes).
fn items(store: &KeyringStore) -> Vec<(String, String, HashMap<String, String>)> {
    let ss = SecretService::connect(EncryptionType::Dh).unwrap();
    let found = ss
        .search_items(HashMap::from([("service", store.service())]))
        .unwrap();
    assert!(found.locked.is_empty(), "a locked item in the test session");
    let collections = ss.get_all_collections().unwrap();
    found
        .unlocked
        .iter()
        .map(|item| {
            let collection = collections
                .iter()
                .find(|c| {
                    c.get_all_items()
                        .unwrap()
                        .iter()
                        .any(|i| i.path == item.path)
                })
                .map(|c| c.path.to_string())
                .unwrap_or_default();
            (
                collection,
                item.get_label().unwrap(),
                item.get_attributes().unwrap(),
            )
        })
        .collect()
}

#[test]
fn an_item_written_by_keyring_3_is_read_replaced_and_deleted_by_the_store() {
    let store = store();
    let key = grant("from-keyring-3");
    entry(&store, &key).set_password("rt-old").unwrap();
    assert_eq!(store.get(&key).unwrap().as_deref(), Some("rt-old"));
    store.put(&key, "rt-new").unwrap();
    assert_eq!(entry(&store, &key).get_password().unwrap(), "rt-new");
    assert_eq!(
        items(&store).len(),
        1,
        "replaced in place, not a second item"
    );
    store.delete(&key).unwrap();
    assert!(matches!(
        entry(&store, &key).get_password(),
        Err(keyring::Error::NoEntry)
    ));
    assert!(items(&store).is_empty());
}

#[test]
fn an_item_written_by_the_store_is_the_item_keyring_3_writes() {
    let store = store();
    let (ours, theirs) = (grant("by-store"), grant("by-keyring-3"));
    store.put(&ours, "rt-ours").unwrap();
    entry(&store, &theirs).set_password("rt-theirs").unwrap();
    let mut all = items(&store);
    assert_eq!(all.len(), 2, "{all:?}");
    all.sort_by_key(|(_, _, attributes)| attributes["username"].clone());
    let [
        (their_collection, their_label, their_attributes),
        (our_collection, our_label, our_attributes),
    ] = <[_; 2]>::try_from(all).unwrap();
    assert_eq!(our_collection, their_collection, "same collection");
    assert!(!our_collection.is_empty());
    let name_free = |label: &str, key: &StoreKey| label.replace(&key.account(), "USER");
    assert_eq!(
        name_free(&our_label, &ours),
        name_free(&their_label, &theirs),
        "same label"
    );
    // gnome-keyring sometimes reports an `xdg:schema` it added by itself
    // (seen while other tests write the same keyring); neither writer sets it.
    let without_user = |mut attributes: HashMap<String, String>| {
        attributes.remove("username");
        attributes.remove("xdg:schema");
        attributes
    };
    assert_eq!(our_attributes["username"], ours.account());
    assert_eq!(
        without_user(our_attributes),
        without_user(their_attributes),
        "same attributes"
    );
    // keyring 3 reads, replaces and deletes the store's item.
    assert_eq!(entry(&store, &ours).get_password().unwrap(), "rt-ours");
    entry(&store, &ours).set_password("rt-replaced").unwrap();
    assert_eq!(store.get(&ours).unwrap().as_deref(), Some("rt-replaced"));
    entry(&store, &ours).delete_credential().unwrap();
    assert_eq!(store.get(&ours).unwrap(), None);
    store.delete(&theirs).unwrap();
    assert!(items(&store).is_empty());
}

#[test]
fn an_item_of_an_old_keyring_version_without_target_is_found() {
    let store = store();
    let key = grant("no-target");
    let ss = SecretService::connect(EncryptionType::Dh).unwrap();
    let account = key.account();
    ss.get_default_collection()
        .unwrap()
        .create_item(
            "old item",
            HashMap::from([("service", store.service()), ("username", account.as_str())]),
            b"rt-legacy",
            true,
            "text/plain",
        )
        .unwrap();
    assert_eq!(store.get(&key).unwrap().as_deref(), Some("rt-legacy"));
    store.put(&key, "rt-updated").unwrap();
    assert_eq!(items(&store).len(), 1, "updated in place");
    assert_eq!(entry(&store, &key).get_password().unwrap(), "rt-updated");
    store.delete(&key).unwrap();
    assert!(items(&store).is_empty());
}

#[test]
fn many_threads_share_a_few_connections_and_every_call_is_right() {
    const THREADS: usize = 8;
    const ROUNDS: usize = 25;
    let store = store();
    let shared = grant("shared");
    std::thread::scope(|scope| {
        for t in 0..THREADS {
            let (store, shared) = (&store, &shared);
            scope.spawn(move || {
                let key = grant(&format!("thread-{t}"));
                for round in 0..ROUNDS {
                    let secret = format!("rt-{t}-{round}");
                    store.put(&key, &secret).unwrap();
                    assert_eq!(store.get(&key).unwrap(), Some(secret));
                    store.put(shared, &format!("rt-shared-{t}")).unwrap();
                    let seen = store.get(shared).unwrap().unwrap();
                    assert!(seen.starts_with("rt-shared-"), "{seen}");
                }
                store.delete(&key).unwrap();
                assert_eq!(store.get(&key).unwrap(), None);
            });
        }
    });
    store.delete(&shared).unwrap();
    assert!(items(&store).is_empty(), "{:?}", items(&store));
    let calls = THREADS * (ROUNDS * 4 + 2) + 2;
    let opened = store.connections_opened();
    assert!(
        (1..=THREADS).contains(&opened),
        "{calls} calls from {THREADS} threads opened {opened} connections"
    );
}
