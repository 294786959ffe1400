//! SECURITY-CASES 25: the crash matrix. SIGKILL at every step of a refresh,
//! of a sign-in's code exchange, of a narrowing revoke and of the state-file
//! write, in the `mcp-passport` command and in the broker
//! (`mcp-passport serve`), then a restart. After it the grant works (its
//! token is accepted by the real sample server), or, when the AS allows no
//! grace and the rotated refresh token was lost, it says "sign-in needed";
//! never a crash loop, a corrupt state file, a stale token served as fresh,
//! or a secret the AS issued on disk (the fault proxy in front of the AS
//! records every one of them).
//!
//! The debug build's fault switch (`MCP_PASSPORT_FAULT`, see
//! `passport_core::fault`) names the point. Every case runs with refresh
//! grace 0 and 5 s at the reference AS; the cases run a few at a time and
//! the test prints the table.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use std::sync::Arc;
use support::home::{Home, broker_token, killed};
use support::stack::Stack;

/// Which process dies, doing what.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Victim {
    /// `mcp-passport token github-mcp` (a refresh in the command).
    Token,
    /// `mcp-passport login` (a sign-in).
    Login,
    /// `mcp-passport revoke slack-mcp` (a narrowing revoke).
    Revoke,
    /// The broker, refreshing on a `/v1/token` request.
    Broker,
}

const GRACE: i64 = 5;

const MATRIX: &[(Victim, &str)] = &[
    (Victim::Token, "refresh-before-request"),
    (Victim::Token, "refresh-after-response"),
    (Victim::Token, "refresh-after-keyring-write"),
    (Victim::Token, "refresh-after-state-write"),
    (Victim::Token, "state-file-before-rename"),
    (Victim::Login, "login-after-code-exchange"),
    (Victim::Login, "state-file-before-rename"),
    (Victim::Revoke, "narrow-before-request"),
    (Victim::Revoke, "narrow-after-response"),
    (Victim::Revoke, "narrow-after-keyring-write"),
    (Victim::Revoke, "narrow-before-revocation"),
    (Victim::Revoke, "narrow-before-state-write"),
    (Victim::Broker, "refresh-before-request"),
    (Victim::Broker, "refresh-after-response"),
    (Victim::Broker, "refresh-after-keyring-write"),
    (Victim::Broker, "refresh-after-state-write"),
    (Victim::Broker, "state-file-before-rename"),
];

/// Whether the grant survived: `works` or `sign-in needed`, plus what else
/// was seen (for the table).
struct Outcome {
    grant: &'static str,
    note: String,
}

async fn crash_case(victim: Victim, point: &str, grace: i64, case: usize) -> Outcome {
    let stack = Stack::start(&["github-mcp", "slack-mcp"], 2, grace).await;
    let issuer = stack.issuer();
    let home = Home::new(&format!("crash{case}"), "github-mcp,slack-mcp");
    let when = format!("{victim:?} at {point}, grace {grace}s");
    let mut note = String::new();
    if victim != Victim::Login {
        home.login(&issuer).await;
    }
    match victim {
        Victim::Token | Victim::Login | Victim::Revoke => {
            let args: &[&str] = match victim {
                Victim::Token => &["token", "github-mcp"],
                Victim::Login => &["login", &issuer],
                _ => &["revoke", "slack-mcp"],
            };
            let out = home.run(args, Some(point)).await;
            assert!(killed(out.status), "{when}: not killed ({:?})", out.status);
        }
        Victim::Broker => {
            let mut broker = home.spawn_broker(Some(point));
            let endpoint = home.endpoint(&mut broker).await;
            let answer = broker_token(&endpoint, "github-mcp").await;
            let status = tokio::time::timeout(std::time::Duration::from_secs(20), broker.wait())
                .await
                .unwrap_or_else(|_| panic!("{when}: the broker did not reach the point"))
                .unwrap();
            assert!(killed(status), "{when}: not killed ({status:?})");
            assert!(answer.is_none(), "{when}: answered {answer:?} before dying");
        }
    }
    home.state_parses(&format!("{when}, right after the crash"));
    home.assert_no_secret_on_disk(&stack.proxy.secrets(), &format!("{when}, after the crash"));
    if victim == Victim::Login {
        let status = home.run(&["status", "--json"], None).await;
        assert!(
            status.status.success(),
            "{when}: status failed after the crash"
        );
        let listed: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
        note = format!(
            "{} grant(s) kept; signed in again",
            listed["grants"].as_array().map_or(0, Vec::len)
        );
        home.login(&issuer).await;
    }
    let (grant, token) = if victim == Victim::Broker {
        after_broker_restart(&home, &when).await
    } else {
        after_command_restart(&home, &when).await
    };
    if let Some(token) = &token {
        assert!(
            stack.accepted("github-mcp", token).await,
            "{when}: the token served after the restart is refused by the server (stale)"
        );
    } else {
        assert_eq!(home.grant_status(), "sign-in-needed", "{when}");
    }
    if victim == Victim::Revoke {
        let slack = home.run(&["token", "slack-mcp"], None).await;
        assert!(
            matches!(slack.status.code(), Some(3 | 6)),
            "{when}: the revoked server's token is still handed out"
        );
        let state = home.state_parses(&when);
        let here = if state["grants"][0]["blocked"]
            .as_array()
            .is_some_and(|b| b.iter().any(|b| b == "slack-mcp"))
        {
            "blocked here"
        } else {
            "removed here"
        };
        let granted = stack.granted_at_as();
        let at_as = if granted.is_empty() {
            "no live grant at the AS"
        } else if granted.iter().any(|s| s == "slack-mcp") {
            "still in the AS grant"
        } else {
            "narrowed at the AS"
        };
        assert!(
            point == "narrow-before-request" || at_as != "still in the AS grant",
            "{when}: the AS answered the narrowing, yet its grant still names slack-mcp"
        );
        note = format!("slack-mcp {here}, {at_as}");
        if at_as == "still in the AS grant" && token.is_some() {
            // The narrowing never reached the AS: running revoke again finishes it.
            let again = home.run(&["revoke", "slack-mcp"], None).await;
            assert_eq!(
                again.status.code(),
                Some(0),
                "{when}: revoke again: {}",
                String::from_utf8_lossy(&again.stderr)
            );
            assert!(
                !stack.granted_at_as().iter().any(|s| s == "slack-mcp"),
                "{when}: revoking again did not narrow the AS grant"
            );
            note.push_str("; revoke again narrowed it");
        }
    }
    let leftovers: Vec<String> = std::fs::read_dir(home.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{when}: left {leftovers:?}");
    let secrets = stack.proxy.secrets();
    assert!(secrets.len() >= 2, "{when}: the proxy saw no tokens");
    home.assert_no_secret_on_disk(&secrets, &format!("{when}, after the restart"));
    home.run(&["logout"], None).await;
    stack.shutdown().await;
    Outcome { grant, note }
}

/// Runs `token` twice in new processes: `works` with the token, or `sign-in needed`.
async fn after_command_restart(home: &Home, when: &str) -> (&'static str, Option<String>) {
    let first = home.run(&["token", "github-mcp"], None).await;
    let second = home.run(&["token", "github-mcp"], None).await;
    match (first.status.code(), second.status.code()) {
        (Some(0), Some(0)) => {
            let token = String::from_utf8(second.stdout).unwrap().trim().to_string();
            ("works", Some(token))
        }
        (Some(3), Some(3)) => ("sign-in needed", None),
        other => panic!(
            "{when}: after the restart: {other:?}: {} / {}",
            String::from_utf8_lossy(&first.stderr),
            String::from_utf8_lossy(&second.stderr)
        ),
    }
}

/// Starts the broker again over the dead one's endpoint file, asks it twice,
/// and checks it keeps running (no crash loop).
async fn after_broker_restart(home: &Home, when: &str) -> (&'static str, Option<String>) {
    let mut broker = home.spawn_broker(None);
    let endpoint = home.endpoint(&mut broker).await;
    let first = broker_token(&endpoint, "github-mcp").await;
    let second = broker_token(&endpoint, "github-mcp").await;
    let via_cli = home.run(&["token", "github-mcp"], None).await;
    assert!(
        broker.try_wait().unwrap().is_none(),
        "{when}: the restarted broker stopped"
    );
    broker.start_kill().unwrap();
    let _ = broker.wait().await;
    let (Some((s1, b1)), Some((s2, b2))) = (first, second) else {
        panic!("{when}: the restarted broker did not answer");
    };
    match (s1, s2) {
        (200, 200) => {
            let token = b2["access_token"].as_str().unwrap().to_string();
            assert_eq!(
                String::from_utf8_lossy(&via_cli.stdout).trim(),
                token,
                "{when}: the command did not get the broker's token"
            );
            ("works", Some(token))
        }
        (401, 401) => {
            assert_eq!(b2["error"]["code"], "sign_in_needed", "{when}");
            assert_eq!(via_cli.status.code(), Some(3), "{when}");
            ("sign-in needed", None)
        }
        other => panic!("{when}: after the restart: {other:?}: {b1} / {b2}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sec_25_sigkill_at_every_step_then_restart_loses_nothing_it_should_keep() {
    let started = std::time::Instant::now();
    let limit = Arc::new(tokio::sync::Semaphore::new(4));
    let mut cases = tokio::task::JoinSet::new();
    let mut n = 0;
    for grace in [0, GRACE] {
        for &(victim, point) in MATRIX {
            n += 1;
            let limit = Arc::clone(&limit);
            cases.spawn(async move {
                let _permit = limit.acquire_owned().await.unwrap();
                let outcome = crash_case(victim, point, grace, n).await;
                (victim, point, grace, outcome)
            });
        }
    }
    let mut rows = Vec::new();
    while let Some(done) = cases.join_next().await {
        rows.push(done.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic())));
    }
    rows.sort_by_key(|(v, p, g, _)| (format!("{v:?}"), p.to_string(), *g));
    let table: Vec<String> = rows
        .iter()
        .map(|(v, p, g, o)| format!("| {v:?} | {p} | {g} s | {} | {} |", o.grant, o.note))
        .collect();
    println!(
        "| process | point | grace | grant | notes |\n|---|---|---|---|---|\n{}\n({} cases in {:.1} s)",
        table.join("\n"),
        rows.len(),
        started.elapsed().as_secs_f64()
    );
    for (victim, point, grace, outcome) in &rows {
        if outcome.grant == "sign-in needed" {
            assert!(
                *grace == 0 && point.ends_with("after-response"),
                "{victim:?} at {point} with grace {grace} s lost the grant; only a crash between the \
                 token response and the keyring write, with no grace, may:\n{}",
                table.join("\n")
            );
        }
    }
    let with_grace_lost = rows
        .iter()
        .filter(|(_, _, g, o)| *g > 0 && o.grant != "works")
        .count();
    assert_eq!(with_grace_lost, 0, "with a grace every grant survives");
}
