//! The store against the real Secret Service. Run through
//! `scripts/desktop-session.sh` (Xvfb + D-Bus + an unlocked gnome-keyring,
//! fresh HOME); outside such a session these tests fail and say so.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use passport_core::store::{StoreError, StoreKey, TokenStore};
use passport_keyring::KeyringStore;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

const HOWTO: &str = "run these tests through scripts/desktop-session.sh \
    (Xvfb + D-Bus + an unlocked gnome-keyring), e.g. \
    `bash scripts/desktop-session.sh cargo test -p passport-keyring`";
/// Set in a re-executed copy of this test binary.
const CHILD: &str = "PASSPORT_KEYRING_TEST_CHILD";

/// Tests run one at a time: the keyring-file test compares the file before
/// and after its own write.
static SERIAL: Mutex<()> = Mutex::new(());

/// Fails the test, saying how to run it, unless a Secret Service answers.
fn desktop() -> MutexGuard<'static, ()> {
    let serial = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
    let bus = std::env::var("DBUS_SESSION_BUS_ADDRESS").unwrap_or_default();
    assert!(!bus.is_empty(), "no D-Bus session bus: {HOWTO}");
    let probe = KeyringStore::new("io.github.mcppassport.test-probe");
    let key = StoreKey::RefreshToken {
        grant_id: "probe".into(),
    };
    if let Err(e) = probe.get(&key) {
        panic!("no usable Secret Service in this session ({e}): {HOWTO}");
    }
    serial
}

fn store() -> KeyringStore {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let n = N.fetch_add(1, Ordering::Relaxed);
    let pid = std::process::id();
    KeyringStore::new(&format!("io.github.mcppassport.test-{pid}-{nanos}-{n}"))
}

fn grant(id: &str) -> StoreKey {
    StoreKey::RefreshToken {
        grant_id: id.into(),
    }
}

/// What `secret-tool` prints on stdout (and, with `stderr`, on stderr after it).
fn secret_tool(args: &[&str], stderr: bool) -> String {
    let out = Command::new("secret-tool")
        .args(args)
        .output()
        .expect("secret-tool (libsecret-tools, from scripts/setup.sh) runs");
    let mut text = String::from_utf8(out.stdout).unwrap();
    if stderr {
        text.push_str(&String::from_utf8_lossy(&out.stderr));
    }
    text
}

/// What `secret-tool lookup service S username A` prints (the secret, or nothing).
fn lookup(store: &KeyringStore, key: &StoreKey) -> String {
    let (service, account) = (store.service(), key.account());
    secret_tool(&["lookup", "service", service, "username", &account], false)
}

/// Runs one test of this binary again in a child process with `env`.
fn rerun(test: &str, env: &[(&str, &str)], remove: &[&str]) -> (bool, String) {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", test, "--nocapture"]).env(CHILD, "1");
    for (k, v) in env {
        cmd.env(k, v);
    }
    for k in remove {
        cmd.env_remove(k);
    }
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&stdout),
        String::from_utf8_lossy(&stderr)
    );
    (status.success() && text.contains("1 passed"), text)
}

#[test]
fn get_of_a_missing_item_is_none_and_delete_of_a_missing_item_is_ok() {
    let _s = desktop();
    let store = store();
    assert_eq!(store.get(&grant("never-stored")).unwrap(), None);
    store.delete(&grant("never-stored")).unwrap();
}

#[test]
fn put_get_overwrite_delete_round_trip() {
    let _s = desktop();
    let store = store();
    let key = grant("g1");
    store.put(&key, "rt-one").unwrap();
    assert_eq!(store.get(&key).unwrap().as_deref(), Some("rt-one"));
    store.put(&key, "rt-two").unwrap();
    assert_eq!(store.get(&key).unwrap().as_deref(), Some("rt-two"));
    store.delete(&key).unwrap();
    assert_eq!(store.get(&key).unwrap(), None);
    store.delete(&key).expect("deleting it again is fine");
}

#[test]
fn items_are_really_in_the_secret_service_under_service_and_username() {
    let _s = desktop();
    let store = store();
    let key = StoreKey::ClientSecret {
        issuer: "https://as.example".into(),
    };
    store.put(&key, "cs-one").unwrap();
    assert_eq!(
        lookup(&store, &key),
        "cs-one",
        "not in the Secret Service: a mock?"
    );
    let listing = secret_tool(&["search", "--all", "service", store.service()], true);
    for line in [
        format!("attribute.service = {}", store.service()),
        format!("attribute.username = {}", key.account()),
        "attribute.target = default".to_string(),
    ] {
        assert!(listing.contains(&line), "{line} missing in:\n{listing}");
    }
    store.put(&key, "cs-two").unwrap();
    assert_eq!(lookup(&store, &key), "cs-two");
    store.delete(&key).unwrap();
    assert_eq!(
        lookup(&store, &key),
        "",
        "delete removed it from the Secret Service"
    );
}

#[test]
fn an_item_written_by_secret_tool_is_read_by_the_store() {
    let _s = desktop();
    let store = store();
    let key = grant("from-secret-tool");
    let mut child = Command::new("secret-tool")
        .args(["store", "--label=test", "service", store.service()])
        .args(["username", &key.account(), "target", "default"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"rt-outside")
        .unwrap();
    assert!(child.wait().unwrap().success());
    assert_eq!(store.get(&key).unwrap().as_deref(), Some("rt-outside"));
    store.delete(&key).unwrap();
}

#[test]
fn stores_with_different_app_identifiers_do_not_see_each_other() {
    let _s = desktop();
    let (a, b) = (store(), store());
    let key = grant("shared-name");
    a.put(&key, "secret-a").unwrap();
    assert_eq!(b.get(&key).unwrap(), None);
    b.put(&key, "secret-b").unwrap();
    assert_eq!(a.get(&key).unwrap().as_deref(), Some("secret-a"));
    b.delete(&key).unwrap();
    assert_eq!(a.get(&key).unwrap().as_deref(), Some("secret-a"));
    a.delete(&key).unwrap();
}

#[test]
fn put_has_reached_the_keyring_file_encrypted_when_it_returns() {
    let _s = desktop();
    let data = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap()).join(".local/share"));
    let file = data.join("keyrings/login.keyring");
    let read = || std::fs::read(&file).unwrap_or_default();
    let before = read();
    let (store, secret) = (store(), "rt-durable-4f1c9a");
    store.put(&grant("durable"), secret).unwrap();
    let after = read();
    assert_ne!(before, after, "{} did not change on put", file.display());
    let plain = secret.as_bytes();
    assert!(
        !after.windows(plain.len()).any(|w| w == plain),
        "secret in plaintext on disk"
    );
    store.delete(&grant("durable")).unwrap();
}

#[test]
fn sec_27_unreachable_keyring_is_a_typed_error_not_a_fallback() {
    if std::env::var_os(CHILD).is_some() {
        return unreachable_child();
    }
    let _s = desktop();
    let home = std::env::temp_dir().join(format!("passport-keyring-home-{}", std::process::id()));
    std::fs::create_dir_all(&home).unwrap();
    let (passed, out) = rerun(
        "sec_27_unreachable_keyring_is_a_typed_error_not_a_fallback",
        &[
            (
                "DBUS_SESSION_BUS_ADDRESS",
                "unix:path=/nonexistent/passport-bus",
            ),
            ("HOME", home.to_str().unwrap()),
        ],
        &["XDG_DATA_HOME", "XDG_CONFIG_HOME"],
    );
    let written: Vec<_> = std::fs::read_dir(&home).unwrap().collect();
    std::fs::remove_dir_all(&home).unwrap();
    assert!(
        passed,
        "with no reachable keyring, every call is a typed error:\n{out}"
    );
    assert!(
        written.is_empty(),
        "something was written instead: {written:?}"
    );
}

/// In the child: the bus is unreachable, so every call must be `Unavailable`.
fn unreachable_child() {
    let store = KeyringStore::new("io.github.mcppassport.test-unreachable");
    let (key, secret) = (grant("g"), "rt-must-not-leak");
    let results = [
        store.put(&key, secret).map(|()| None),
        store.get(&key),
        store.delete(&key).map(|()| None),
    ];
    for result in results {
        let err = result.expect_err("no keyring, no success");
        eprintln!("error: {err}");
        assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
        let text = format!("{err} {err:?}");
        assert!(text.contains("Start or unlock your keyring"), "{text}");
        assert!(!text.contains(secret), "{text}");
    }
}

#[test]
fn outside_a_desktop_session_the_tests_fail_and_say_how_to_run_them() {
    if std::env::var_os(CHILD).is_some() {
        // In the child there is no bus: this must fail, never pass or skip.
        let _s = desktop();
        return;
    }
    let _s = desktop();
    let (passed, out) = rerun(
        "outside_a_desktop_session_the_tests_fail_and_say_how_to_run_them",
        &[],
        &["DBUS_SESSION_BUS_ADDRESS"],
    );
    assert!(!passed, "a test passed with no desktop session:\n{out}");
    assert!(out.contains("scripts/desktop-session.sh"), "{out}");
}
