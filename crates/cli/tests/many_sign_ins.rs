//! `mcp-passport login URL1 URL2 ...` against several MCP servers that are
//! each their own authorization server and approve at once (the browser is
//! already signed in there): one loopback listener serves every flow, so
//! no redirect finds the port closed; a slow AS holds up nobody; a failing
//! one loses nothing else, and the exit code says so. The "browser" is
//! curl following the redirects to the loopback listener (real HTTP all the
//! way); the refresh tokens go to the real keyring (run under
//! scripts/desktop-session.sh).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use reference_as::per_server::{Behaviour, PerServerAs};
use serde_json::Value;
use std::time::{Duration, Instant};
use support::home::Home;

/// A home whose browser follows the authorization redirects at once.
fn new_home(tag: &str) -> Home {
    let home = Home::new(tag, "none");
    std::fs::write(
        home.dir.path().join("browser.sh"),
        "#!/bin/sh\nexec curl --noproxy '*' -s -L -o /dev/null --max-time 60 \"$1\"\n",
    )
    .unwrap();
    home
}

fn granted_servers(home: &Home) -> Vec<String> {
    let state = home.state_parses("after login");
    let mut ids: Vec<String> = state["grants"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["servers"].as_array().unwrap().clone())
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn one_login_signs_in_to_every_per_server_as_with_a_slow_one_among_them() {
    let slow_for = Duration::from_secs(3);
    let ases = [
        PerServerAs::start(Behaviour::Instant).await.unwrap(),
        PerServerAs::start(Behaviour::Slow(slow_for)).await.unwrap(),
        PerServerAs::start(Behaviour::Instant).await.unwrap(),
        PerServerAs::start(Behaviour::Instant).await.unwrap(),
    ];
    let home = new_home("many");
    let urls: Vec<String> = ases.iter().map(PerServerAs::server_url).collect();
    let mut args = vec!["login", "--timeout", "30"];
    args.extend(urls.iter().map(String::as_str));
    let started = Instant::now();
    let out = home.run(&args, None).await;
    let took = started.elapsed();
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    for url in &urls {
        assert!(
            stdout
                .lines()
                .any(|l| l.contains(url.as_str()) && l.ends_with(": signed in")),
            "{url} has its own line:\n{stdout}"
        );
    }
    assert_eq!(stdout.lines().count(), urls.len(), "{stdout}");
    // The slow AS answered late, and no flow waited out its time limit
    // (that the others finish while it waits is shown by the app's rows test).
    assert!(took >= slow_for, "{took:?}");
    assert!(
        took < Duration::from_secs(30),
        "no flow waited for its time limit: {took:?}"
    );
    let mut expected = urls.clone();
    expected.sort();
    assert_eq!(granted_servers(&home), expected);
    for a in &ases {
        assert_eq!(a.tokens_issued(), 1, "{}", a.issuer());
    }
    // Each server's refresh token is in the keyring: a token comes without a new sign-in.
    let token = home.run(&["token", &urls[1]], None).await;
    assert_eq!(token.status.code(), Some(0), "{}", text(&token.stderr));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_as_loses_nothing_else_and_the_exit_code_says_so() {
    let ases = [
        PerServerAs::start(Behaviour::Instant).await.unwrap(),
        PerServerAs::start(Behaviour::Deny).await.unwrap(),
        PerServerAs::start(Behaviour::Instant).await.unwrap(),
        PerServerAs::start(Behaviour::Instant).await.unwrap(),
    ];
    let home = new_home("deny");
    let urls: Vec<String> = ases.iter().map(PerServerAs::server_url).collect();
    let mut args = vec!["--json", "login", "--timeout", "30"];
    args.extend(urls.iter().map(String::as_str));
    let out = home.run(&args, None).await;
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(7), "{stdout}\n{stderr}");
    let report: Value = serde_json::from_str(stdout.trim()).unwrap();
    let servers = report["servers"].as_array().unwrap();
    assert_eq!(servers.len(), 4, "{report}");
    for (i, url) in urls.iter().enumerate() {
        let line = servers
            .iter()
            .find(|s| s["server"] == url.as_str())
            .unwrap_or_else(|| panic!("no line for {url}: {report}"));
        if i == 1 {
            assert_eq!(line["state"], "failed", "{line}");
            assert_eq!(line["code"], "access_denied", "{line}");
            assert!(
                line["message"].as_str().unwrap().contains("access_denied"),
                "{line}"
            );
        } else {
            assert_eq!(line["state"], "signed-in", "{line}");
        }
    }
    assert_eq!(report["grants"].as_array().unwrap().len(), 3);
    let error: Value = serde_json::from_str(stderr.trim().lines().last().unwrap()).unwrap();
    assert_eq!(error["error"]["code"], "partly_signed_in", "{stderr}");
    let mut kept: Vec<String> = vec![urls[0].clone(), urls[2].clone(), urls[3].clone()];
    kept.sort();
    assert_eq!(granted_servers(&home), kept);

    // Text: one line per server, the failed one saying why.
    let again = new_home("deny-text");
    let mut args = vec!["login", "--timeout", "30"];
    args.extend(urls.iter().map(String::as_str));
    let out = again.run(&args, None).await;
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(7), "{stdout}");
    assert!(
        stdout
            .lines()
            .any(|l| l.contains(urls[1].as_str()) && l.contains(": failed: ")),
        "{stdout}"
    );
    assert_eq!(
        stdout
            .lines()
            .filter(|l| l.ends_with(": signed in"))
            .count(),
        3
    );

    // Only the failing one: its own exit code, as before.
    let alone = new_home("deny-alone");
    let out = alone
        .run(&["login", "--timeout", "30", &urls[1]], None)
        .await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        alone.state_parses("nothing kept")["grants"]
            .as_array()
            .is_none_or(Vec::is_empty)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn through_a_running_broker_each_server_gets_its_own_outcome() {
    let ases = [
        PerServerAs::start(Behaviour::Instant).await.unwrap(),
        PerServerAs::start(Behaviour::Instant).await.unwrap(),
        PerServerAs::start(Behaviour::Deny).await.unwrap(),
    ];
    let home = new_home("broker");
    let mut broker = home.spawn_broker(None);
    let _endpoint = home.endpoint(&mut broker).await;
    let urls: Vec<String> = ases.iter().map(PerServerAs::server_url).collect();
    let mut args = vec!["--json", "login", "--timeout", "30"];
    args.extend(urls.iter().map(String::as_str));
    let out = home.run(&args, None).await;
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(7), "{stdout}\n{stderr}");
    let report: Value = serde_json::from_str(stdout.trim()).unwrap();
    let states: Vec<(&str, &str)> = report["servers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["server"].as_str().unwrap(), s["state"].as_str().unwrap()))
        .collect();
    assert_eq!(states.len(), 3, "{report}");
    for (url, want) in urls.iter().zip(["signed-in", "signed-in", "failed"]) {
        assert!(states.contains(&(url.as_str(), want)), "{url}: {report}");
    }
    let _ = broker.kill().await;
}

/// The figures: wall time and AS requests for 5 instant per-server
/// sign-ins in one command.
#[tokio::test(flavor = "multi_thread")]
async fn five_instant_per_server_sign_ins_in_one_command() {
    // For scale, first: one instant sign-in alone, the same way (the first
    // command of the session also wakes the keyring).
    let one = PerServerAs::start(Behaviour::Instant).await.unwrap();
    let alone = new_home("five-baseline");
    let started = Instant::now();
    let out = alone
        .run(&["login", "--timeout", "30", &one.server_url()], None)
        .await;
    let took_one = started.elapsed();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    let mut ases = Vec::new();
    for _ in 0..5 {
        ases.push(PerServerAs::start(Behaviour::Instant).await.unwrap());
    }
    let home = new_home("five");
    let urls: Vec<String> = ases.iter().map(PerServerAs::server_url).collect();
    let mut args = vec!["login", "--timeout", "30"];
    args.extend(urls.iter().map(String::as_str));
    let started = Instant::now();
    let out = home.run(&args, None).await;
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let requests: u64 = ases.iter().map(PerServerAs::as_requests).sum();
    println!(
        "5 instant per-server sign-ins in one command: {} ms wall time (process start to exit; one alone: {} ms), {requests} AS requests ({} per AS: metadata, registration, authorization, token)",
        took.as_millis(),
        took_one.as_millis(),
        requests / 5
    );
    assert_eq!(granted_servers(&home).len(), 5);
    assert_eq!(requests, 5 * 4, "{requests} AS requests");
    assert!(took < Duration::from_secs(20), "{took:?}");
}
