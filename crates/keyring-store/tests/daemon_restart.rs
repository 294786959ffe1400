//! The store's kept Secret Service connection survives the daemon's
//! restart: the next call finds its connection broken, opens a new one and
//! succeeds, with no call lost. Uses the real gnome-keyring-daemon of
//! `scripts/desktop-session.sh`, stopped and started again the way that
//! script starts it (same login password), and left running.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use passport_core::store::{StoreKey, TokenStore};
use passport_keyring::KeyringStore;
use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The login keyring's password in `scripts/desktop-session.sh`.
const SESSION_KEYRING_PASSWORD: &str = "passport";

fn bus(args: &[&str]) -> String {
    let out = Command::new("dbus-send")
        .args(["--session", "--print-reply", "--dest=org.freedesktop.DBus"])
        .arg("/org/freedesktop/DBus")
        .args(args)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// The pid of the process that owns `org.freedesktop.secrets`, if any.
fn keyring_pid() -> Option<u32> {
    bus(&[
        "org.freedesktop.DBus.GetConnectionUnixProcessID",
        "string:org.freedesktop.secrets",
    ])
    .split_whitespace()
    .skip_while(|w| *w != "uint32")
    .nth(1)
    .and_then(|p| p.parse().ok())
}

fn wait_until(what: &str, done: impl Fn() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{what} within 10 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Stops the session's keyring daemon and starts a new one as the session
/// script does (it unlocks the login collection with the password on
/// stdin); returns the new daemon's pid.
fn restart_keyring_daemon() -> u32 {
    let old = keyring_pid()
        .expect("a Secret Service in this session: run through scripts/desktop-session.sh");
    assert!(
        Command::new("kill")
            .arg(old.to_string())
            .status()
            .unwrap()
            .success()
    );
    wait_until("the old daemon leaves the bus", || {
        keyring_pid() != Some(old)
    });
    let mut daemon = Command::new("gnome-keyring-daemon")
        .args([
            "--replace",
            "--foreground",
            "--unlock",
            "--components=secrets",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    daemon
        .stdin
        .take()
        .unwrap()
        .write_all(SESSION_KEYRING_PASSWORD.as_bytes())
        .unwrap();
    let new = daemon.id();
    // Left running for the rest of the session; reaped if it ends first.
    std::thread::spawn(move || daemon.wait());
    wait_until("the new daemon owns the Secret Service", || {
        keyring_pid() == Some(new)
    });
    new
}

#[test]
fn calls_after_a_daemon_restart_reconnect_once_and_lose_nothing() {
    let store = KeyringStore::new(&format!(
        "io.github.mcppassport.test-restart-{}",
        std::process::id()
    ));
    let key = StoreKey::RefreshToken {
        grant_id: "g".into(),
    };
    store.put(&key, "rt-before").unwrap();
    assert_eq!(store.get(&key).unwrap().as_deref(), Some("rt-before"));
    assert_eq!(store.connections_opened(), 1, "one connection, kept");

    restart_keyring_daemon();
    assert_eq!(
        store.get(&key).unwrap().as_deref(),
        Some("rt-before"),
        "the first call after the restart succeeds"
    );
    assert_eq!(store.connections_opened(), 2, "reopened once");

    restart_keyring_daemon();
    store
        .put(&key, "rt-after")
        .expect("a write right after a restart succeeds");
    assert_eq!(store.get(&key).unwrap().as_deref(), Some("rt-after"));
    assert_eq!(store.connections_opened(), 3, "reopened once more");

    // A search and a delete need no encrypted session: the kept connection
    // still works with the new daemon, so nothing is reopened.
    restart_keyring_daemon();
    store
        .delete(&key)
        .expect("a delete right after a restart succeeds");
    assert_eq!(store.get(&key).unwrap(), None);
    assert_eq!(store.connections_opened(), 3);
    store.put(&key, "rt-last").unwrap();
    assert_eq!(store.get(&key).unwrap().as_deref(), Some("rt-last"));
    assert_eq!(
        store.connections_opened(),
        4,
        "the stale session is replaced once"
    );
    store.delete(&key).unwrap();
}
