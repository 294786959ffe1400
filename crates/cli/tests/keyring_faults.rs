//! SECURITY-CASES 24 and 27, keyring faults with the real Secret Service
//! (the gnome-keyring-daemon of `scripts/desktop-session.sh`): the daemon
//! stopped, the refresh token deleted behind the broker's back, the
//! collection locked. No token is handed out without the keyring, no secret
//! the AS issued is ever found under the home (no plaintext fallback), a
//! deleted refresh token makes the grant say "sign-in needed", and
//! everything works again once the keyring is back.
//!
//! A stopped daemon is started again by the bus on demand, locked; a locked
//! collection asks for an unlock prompt. Nobody answers the prompt in the
//! test session; keyring calls then fail after their time limit (5 s) with
//! the keyring's error, and work again once it is unlocked (see `docs/faults.md`).
//!
//! The scenarios stop and restart the session's keyring daemon, so they run
//! one after another in a single test. The daemon is restarted the way the
//! session script starts it (same login password), and left running.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use std::process::Command;
use std::time::{Duration, Instant};
use support::home::{Home, broker_token};
use support::session_keyring::{self, lock_login_collection};
use support::stack::Stack;

fn stop_keyring() {
    assert!(
        session_keyring::stop(),
        "the Secret Service did not go away"
    );
}

/// Puts the session's keyring back, unlocked, and checks it is.
fn restore_keyring() {
    assert!(
        session_keyring::restart_unlocked(),
        "the Secret Service did not come back"
    );
    assert!(
        session_keyring::login_collection_unlocked(),
        "the login collection is still locked"
    );
}

/// Runs a command that needs the keyring while it is not usable: within
/// the keyring's time limit (5 s) plus slack it must exit with the keyring's
/// code (5) and say so, never print a token. Returns what it did.
async fn without_keyring(home: &Home, args: &[&str]) -> String {
    let started = Instant::now();
    let out = tokio::time::timeout(Duration::from_secs(12), home.run(args, None))
        .await
        .unwrap_or_else(|_| panic!("{args:?} hung on the keyring instead of failing"));
    assert_eq!(out.status.code(), Some(5), "{args:?}: {}", stderr(&out));
    assert!(stderr(&out).contains("keyring"), "{}", stderr(&out));
    format!(
        "exit 5 after {:.1} s: {}",
        started.elapsed().as_secs_f64(),
        stderr(&out).trim()
    )
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn sec_27_keyring_stopped_locked_or_emptied_gives_clear_errors_and_recovers() {
    let stack = Stack::start(&["github-mcp"], 3, 0).await;
    let home = Home::new("keyring", "github-mcp");
    let mut rows = Vec::new();

    // 0. No Secret Service reachable at all (no session bus).
    home.login(&stack.issuer()).await;
    let no_bus = [("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus")];
    let out = home.run_with(&["token", "github-mcp"], None, &no_bus).await;
    let said = stderr(&out);
    assert_eq!(
        out.status.code(),
        Some(5),
        "token, no Secret Service: {said}"
    );
    assert!(said.to_lowercase().contains("keyring"), "{said}");
    let again = home
        .run_with(&["login", &stack.issuer()], None, &no_bus)
        .await;
    assert_eq!(
        again.status.code(),
        Some(5),
        "login, no Secret Service: {}",
        stderr(&again)
    );
    home.assert_no_secret_on_disk(&stack.proxy.secrets(), "no Secret Service");
    let back = home.run(&["token", "github-mcp"], None).await;
    assert_eq!(
        back.status.code(),
        Some(0),
        "with the bus: {}",
        stderr(&back)
    );
    rows.push(format!(
        "| no session bus (no Secret Service reachable) | token and login exit 5: {} | works with the bus |",
        said.trim()
    ));

    // 1. The daemon stopped (the bus starts a locked one on demand).
    stop_keyring();
    let stopped = without_keyring(&home, &["token", "github-mcp"]).await;
    restore_keyring();
    home.assert_no_secret_on_disk(&stack.proxy.secrets(), "keyring stopped");
    let back = home.run(&["token", "github-mcp"], None).await;
    assert_eq!(
        back.status.code(),
        Some(0),
        "after restart: {}",
        stderr(&back)
    );
    let token = String::from_utf8(back.stdout).unwrap();
    assert!(stack.accepted("github-mcp", token.trim()).await);
    rows.push(format!(
        "| daemon stopped | {stopped} | works once the daemon is back |"
    ));

    // 2. The refresh token deleted behind a running broker's back.
    let mut broker = home.spawn_broker(None);
    let endpoint = home.endpoint(&mut broker).await;
    let (status, body) = broker_token(&endpoint, "github-mcp").await.unwrap();
    assert_eq!(status, 200, "{body}");
    let cleared = Command::new("secret-tool")
        .args(["clear", "service", &home.service])
        .status()
        .unwrap();
    assert!(cleared.success());
    let (status, served) = broker_token(&endpoint, "github-mcp").await.unwrap();
    assert_eq!(status, 200, "the unexpired token is still served: {served}");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (status, refused) = broker_token(&endpoint, "github-mcp").await.unwrap();
    assert_eq!(status, 401, "{refused}");
    assert_eq!(refused["error"]["code"], "sign_in_needed");
    assert!(broker.try_wait().unwrap().is_none(), "the broker died");
    broker.start_kill().unwrap();
    let _ = broker.wait().await;
    assert_eq!(home.grant_status(), "sign-in-needed");
    let cli = home.run(&["token", "github-mcp"], None).await;
    assert_eq!(cli.status.code(), Some(3), "{}", stderr(&cli));
    rows.push(format!(
        "| item deleted | unexpired token served, then 401 sign_in_needed (\"{}\"), exit 3 | sign-in needed; works after login |",
        refused["error"]["message"].as_str().unwrap_or_default()
    ));
    home.login(&stack.issuer()).await;

    // 3. The collection locked: unlocking needs a prompt nobody answers.
    lock_login_collection();
    let locked = without_keyring(&home, &["token", "github-mcp"]).await;
    restore_keyring();
    home.assert_no_secret_on_disk(&stack.proxy.secrets(), "keyring locked");
    let back = home.run(&["token", "github-mcp"], None).await;
    assert_eq!(
        back.status.code(),
        Some(0),
        "after unlock: {}",
        stderr(&back)
    );
    rows.push(format!(
        "| collection locked | {locked} | works once unlocked |"
    ));

    // 4. The collection locked under a running broker whose token expires.
    let mut broker = home.spawn_broker(None);
    let endpoint = home.endpoint(&mut broker).await;
    let (status, body) = broker_token(&endpoint, "github-mcp").await.unwrap();
    assert_eq!(status, 200, "{body}");
    lock_login_collection();
    let (status, served) = broker_token(&endpoint, "github-mcp").await.unwrap();
    assert_eq!(status, 200, "the unexpired token is served: {served}");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let asked = tokio::time::timeout(
        Duration::from_secs(12),
        broker_token(&endpoint, "github-mcp"),
    )
    .await;
    let during = match &asked {
        Ok(Some((status, body))) => {
            assert_ne!(*status, 200, "a token from a locked keyring: {body}");
            assert_eq!(body["error"]["code"], "keyring_unavailable", "{body}");
            format!("{status} {}", body["error"]["code"])
        }
        Ok(None) => panic!("the broker died"),
        Err(_) => panic!("the broker hung on the locked keyring"),
    };
    restore_keyring();
    let started = Instant::now();
    let after = loop {
        let answer = tokio::time::timeout(
            Duration::from_secs(5),
            broker_token(&endpoint, "github-mcp"),
        )
        .await;
        match answer {
            Ok(Some((200, _))) => {
                break format!(
                    "serves tokens again {:.1} s after unlocking, no restart",
                    started.elapsed().as_secs_f64()
                );
            }
            _ if started.elapsed() > Duration::from_secs(25) => {
                panic!("still no token 25 s after unlocking: the broker needs a restart");
            }
            _ => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    };
    assert!(broker.try_wait().unwrap().is_none(), "the broker died");
    broker.start_kill().unwrap();
    let _ = broker.wait().await;
    home.assert_no_secret_on_disk(&stack.proxy.secrets(), "keyring locked under the broker");
    rows.push(format!(
        "| collection locked, broker refreshing | unexpired token served; once expired: {during} | {after} |"
    ));

    println!(
        "| keyring fault | what happened | after |\n|---|---|---|\n{}",
        rows.join("\n")
    );
    home.run(&["logout"], None).await;
    stack.shutdown().await;
}
