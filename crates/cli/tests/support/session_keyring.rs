//! The test session's Secret Service (gnome-keyring, started by
//! `scripts/desktop-session.sh`): ask it over D-Bus, lock its login
//! collection, stop it, and put it back as the session script started it.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The login keyring's password in `scripts/desktop-session.sh`.
pub const SESSION_KEYRING_PASSWORD: &str = "passport";

/// `dbus-send --session --print-reply ARGS`: the reply as text.
pub fn bus(args: &[&str]) -> String {
    let out = Command::new("dbus-send")
        .args(["--session", "--print-reply"])
        .args(args)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// Whether something owns `org.freedesktop.secrets` on the bus.
pub fn secrets_owned() -> bool {
    bus(&[
        "--dest=org.freedesktop.DBus",
        "/org/freedesktop/DBus",
        "org.freedesktop.DBus.NameHasOwner",
        "string:org.freedesktop.secrets",
    ])
    .contains("boolean true")
}

/// The pid of the process that owns `org.freedesktop.secrets`, if any.
pub fn keyring_pid() -> Option<u32> {
    bus(&[
        "--dest=org.freedesktop.DBus",
        "/org/freedesktop/DBus",
        "org.freedesktop.DBus.GetConnectionUnixProcessID",
        "string:org.freedesktop.secrets",
    ])
    .split_whitespace()
    .skip_while(|w| *w != "uint32")
    .nth(1)
    .and_then(|p| p.parse().ok())
}

/// Waits (at most 10 s) until the Secret Service is on the bus, or gone;
/// whether it got there.
pub fn wait_for(owned: bool) -> bool {
    let start = Instant::now();
    while secrets_owned() != owned {
        if start.elapsed() > Duration::from_secs(10) {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    true
}

/// Stops the process that owns the Secret Service now; whether it went.
pub fn stop() -> bool {
    match keyring_pid() {
        Some(pid) => {
            let _ = Command::new("kill").arg(pid.to_string()).status();
            wait_for(false)
        }
        None => true,
    }
}

/// Locks the login collection (the next keyring call waits for an unlock
/// prompt nobody answers).
pub fn lock_login_collection() {
    let reply = bus(&[
        "--dest=org.freedesktop.secrets",
        "/org/freedesktop/secrets",
        "org.freedesktop.Secret.Service.Lock",
        "array:objpath:/org/freedesktop/secrets/collection/login",
    ]);
    assert!(reply.contains("collection/login"), "not locked: {reply}");
}

/// Whether the login collection is unlocked.
pub fn login_collection_unlocked() -> bool {
    bus(&[
        "--dest=org.freedesktop.secrets",
        "/org/freedesktop/secrets/collection/login",
        "org.freedesktop.DBus.Properties.Get",
        "string:org.freedesktop.Secret.Collection",
        "string:Locked",
    ])
    .contains("boolean false")
}

/// Puts the session's keyring back: stops whatever owns the Secret Service
/// now (the bus may have started a locked one on demand), then starts
/// gnome-keyring-daemon as the session script does, which unlocks the
/// login collection with the password on stdin, and leaves it running.
/// Whether it is back; never panics (it runs from `Drop` too).
pub fn restart_unlocked() -> bool {
    use std::io::Write as _;
    if !stop() {
        return false;
    }
    let Ok(mut daemon) = Command::new("gnome-keyring-daemon")
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
    else {
        return false;
    };
    if let Some(mut stdin) = daemon.stdin.take() {
        let _ = stdin.write_all(SESSION_KEYRING_PASSWORD.as_bytes());
    }
    // Left running for the rest of the session; reaped if it ends first.
    std::thread::spawn(move || daemon.wait());
    wait_for(true)
}

/// The login collection locked until dropped; then the keyring is put back
/// unlocked, pass or fail, so later tests find it usable.
pub struct Locked;

impl Locked {
    /// Locks the login collection.
    pub fn login_collection() -> Self {
        lock_login_collection();
        Locked
    }
}

impl Drop for Locked {
    fn drop(&mut self) {
        restart_unlocked();
    }
}
