//! The broker keeps answering while the keyring does not: with the login
//! collection locked (the real gnome-keyring of `scripts/desktop-session.sh`;
//! unlocking needs a prompt nobody answers, so each keyring call waits out
//! its time limit), refreshes of two servers are under way and stuck on the
//! keyring, and token requests for a third server, whose token is fresh in
//! the broker's memory, must still be answered at once.
//!
//! Each server sits behind its own authorization server, so each refresh
//! has its own grant and both wait on the keyring at the same time (one
//! grant would run them one after the other). Real processes: the broker is
//! `mcp-passport serve`; the requests are real HTTP. The session's keyring
//! is put back (restarted and unlocked, as the session script starts it)
//! when the test ends, passed or failed, for the test binaries after it.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use std::time::{Duration, Instant};
use support::home::{Home, broker_token, target_bin};
use support::session_keyring::Locked;
use support::stack::Stack;

/// The slowest answer allowed for a fresh token while the keyring hangs.
const SLOWEST: Duration = Duration::from_millis(50);

/// Makes `home`'s browser approve `servers` at the next sign-in.
fn approve(home: &Home, servers: &str) {
    std::fs::write(
        home.dir.path().join("browser.sh"),
        format!(
            "#!/bin/sh\nexec '{}' approve --servers {servers} \"$1\"\n",
            target_bin("reference-as").display()
        ),
    )
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn fresh_tokens_are_served_at_once_while_other_refreshes_wait_on_a_locked_keyring() {
    // Two servers whose tokens expire at once, one whose token lasts.
    let alpha = Stack::start(&["alpha-mcp"], 2, 0).await;
    let beta = Stack::start(&["beta-mcp"], 2, 0).await;
    let gamma = Stack::start(&["gamma-mcp"], 3600, 0).await;
    let home = Home::new("stall", "alpha-mcp");
    home.login(&alpha.issuer()).await;
    approve(&home, "beta-mcp");
    home.login(&beta.issuer()).await;
    approve(&home, "gamma-mcp");
    home.login(&gamma.issuer()).await;

    let mut broker = home.spawn_broker(None);
    let endpoint = home.endpoint(&mut broker).await;
    let (status, body) = broker_token(&endpoint, "gamma-mcp").await.unwrap();
    assert_eq!(status, 200, "gamma's token before the lock: {body}");

    let locked = Locked::login_collection();
    let stuck: Vec<_> = ["alpha-mcp", "beta-mcp"]
        .into_iter()
        .map(|server| {
            let endpoint = endpoint.clone();
            tokio::spawn(async move {
                let started = Instant::now();
                let answer = broker_token(&endpoint, server).await;
                (server, answer, started.elapsed())
            })
        })
        .collect();
    // Both refreshes are now waiting on the keyring.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let client = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{}/v1/token/gamma-mcp", endpoint.0);
    let mut slowest = Duration::ZERO;
    let mut asked = 0;
    let window = Instant::now();
    while window.elapsed() < Duration::from_secs(3) {
        let started = Instant::now();
        let response = tokio::time::timeout(
            Duration::from_secs(30),
            client.get(&url).bearer_auth(&endpoint.1).send(),
        )
        .await
        .expect("no answer in 30 s")
        .unwrap();
        assert_eq!(response.status(), 200);
        let _ = response.bytes().await.unwrap();
        slowest = slowest.max(started.elapsed());
        asked += 1;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    println!(
        "{asked} token requests for a fresh server while two refreshes waited on the locked keyring: slowest {:.1} ms",
        slowest.as_secs_f64() * 1000.0
    );
    assert!(asked >= 20, "only {asked} requests were answered in 3 s");
    assert!(
        slowest < SLOWEST,
        "a fresh token took {slowest:?} while the keyring hung"
    );

    for task in stuck {
        let (server, answer, took) = task.await.unwrap();
        let (status, body) = answer.expect("the broker died");
        assert_ne!(status, 200, "{server}: a token from a locked keyring");
        assert_eq!(
            body["error"]["code"], "keyring_unavailable",
            "{server}: {body}"
        );
        println!(
            "{server}: {status} keyring_unavailable after {:.1} s",
            took.as_secs_f64()
        );
    }
    assert!(broker.try_wait().unwrap().is_none(), "the broker died");
    broker.start_kill().unwrap();
    let _ = broker.wait().await;
    drop(locked);
    assert!(
        support::session_keyring::login_collection_unlocked(),
        "the login collection is still locked"
    );
    home.run(&["logout"], None).await;
    for stack in [alpha, beta, gamma] {
        stack.shutdown().await;
    }
}
