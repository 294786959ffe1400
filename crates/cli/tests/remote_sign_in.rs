//! Signing in from a shell without a browser, through the real binary, the
//! reference AS over HTTP and the session's keyring: the device flow (a
//! person types the code on the AS's page; the command honours `interval`
//! and `slow_down`), chosen by itself in an SSH session, and paste-back
//! (bad pastes are explained and change nothing; a good one completes).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use reference_as::approve::{Approval, approve_device, approve_elsewhere};
use reference_as::demo::{Demo, DemoConfig};
use std::time::{Duration, Instant};
use support::home::Home;
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader, Lines};
use tokio::process::ChildStderr;

type Stderr = Lines<BufReader<ChildStderr>>;

/// Reads the command's standard error until a line satisfies `want`
/// (at most 30 s); returns that line. Everything read is kept in `seen`.
async fn wait_line(lines: &mut Stderr, seen: &mut String, want: impl Fn(&str) -> bool) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        match tokio::time::timeout_at(deadline, lines.next_line()).await {
            Ok(Ok(Some(line))) => {
                seen.push_str(&line);
                seen.push('\n');
                if want(&line) {
                    return line;
                }
            }
            Ok(_) => panic!("the command ended without printing the line wanted:\n{seen}"),
            Err(_) => panic!("the line wanted did not come within 30 s:\n{seen}"),
        }
    }
}

fn person(url: &str, servers: &[&str]) -> Approval {
    Approval {
        url: url.to_string(),
        user: ("demo".into(), "demo".into()),
        servers: servers.iter().map(|s| s.to_string()).collect(),
        exec: None,
    }
}

fn granted(home: &Home) -> Vec<String> {
    let state = home.state_parses("after the sign-in");
    state["grants"]
        .as_array()
        .map(|grants| {
            grants
                .iter()
                .flat_map(|g| g["servers"].as_array().cloned().unwrap_or_default())
                .filter_map(|s| s["id"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

fn slow_device_demo() -> DemoConfig {
    DemoConfig {
        servers: vec!["github-mcp".into(), "slack-mcp".into()],
        device_interval: 1,
        // The AS asks for more than it announced, so the command meets a
        // `slow_down` and must keep 5 seconds more from then on.
        device_enforced_interval: Some(2),
        ..DemoConfig::default()
    }
}

/// Starts the broker (`serve`) for `home` and waits for its endpoint file.
async fn broker(home: &Home) -> tokio::process::Child {
    let mut broker = home.spawn_broker(None);
    home.endpoint(&mut broker).await;
    broker
}

#[tokio::test(flavor = "multi_thread")]
async fn device_sign_in_is_chosen_in_an_ssh_session_and_honours_slow_down() {
    device_sign_in(false).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn device_sign_in_through_a_running_broker_shows_the_code_here() {
    device_sign_in(true).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn paste_back_explains_bad_pastes_keeps_nothing_and_completes_with_the_right_one() {
    paste_back(false).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn paste_back_through_a_running_broker_reaches_its_waiting_sign_in() {
    paste_back(true).await;
}

async fn device_sign_in(through_broker: bool) {
    let demo = Demo::start(slow_device_demo()).await.unwrap();
    let issuer = demo.info().issuer.clone();
    let home = Home::new("device", "github-mcp");
    let broker = if through_broker {
        Some(broker(&home).await)
    } else {
        None
    };
    let started = Instant::now();
    let mut child = home.spawn_at_terminal(
        &["login", &issuer],
        &[("SSH_CONNECTION", "10.0.0.2 50000 10.0.0.1 22")],
        &["BROWSER"],
    );
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = String::new();
    let code_line = wait_line(&mut lines, &mut seen, |l| l.contains("enter the code: ")).await;
    let user_code = code_line.rsplit(' ').next().unwrap().to_string();
    let complete = wait_line(&mut lines, &mut seen, |l| l.contains("(or open ")).await;
    let url = complete
        .split("(or open ")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .unwrap()
        .to_string();
    assert!(url.ends_with(&user_code), "{url} carries {user_code}");
    assert!(!seen.contains("device_code"), "{seen}");
    approve_device(&person(&url, &["github-mcp"]))
        .await
        .unwrap();
    let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    while let Ok(Some(line)) = lines.next_line().await {
        seen.push_str(&line);
        seen.push('\n');
    }
    assert!(out.status.success(), "{seen}");
    let took = started.elapsed();
    let (polls, slow_downs) = demo.device_polls();
    assert_eq!(
        slow_downs, 1,
        "one slow_down, then the longer interval kept"
    );
    assert!(polls <= 3, "{polls} polls");
    // 1 s (announced), then 1 + 5 s after the slow_down.
    assert!(took >= Duration::from_secs(7), "{took:?}");
    assert_eq!(granted(&home), vec!["github-mcp".to_string()]);
    let token = home.run(&["token", "github-mcp"], None).await;
    assert!(token.status.success());
    eprintln!(
        "device sign-in (broker: {through_broker}): {took:?}, {polls} polls, {slow_downs} slow_down"
    );
    if through_broker {
        home.stop_broker().await;
    }
    drop(broker);
    demo.shutdown().await;
}

async fn paste_back(through_broker: bool) {
    let demo = Demo::start(DemoConfig::default()).await.unwrap();
    let issuer = demo.info().issuer.clone();
    let home = Home::new("paste", "github-mcp");
    let broker = if through_broker {
        Some(broker(&home).await)
    } else {
        None
    };
    let mut child = home.spawn_at_terminal(&["login", "--paste", &issuer], &[], &[]);
    let mut stdin = child.stdin.take().unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = String::new();
    wait_line(&mut lines, &mut seen, |l| {
        l.starts_with("Open this address")
    })
    .await;
    let url = wait_line(&mut lines, &mut seen, |l| l.starts_with("  http")).await;
    let landed = approve_elsewhere(&person(url.trim(), &["github-mcp", "slack-mcp"]))
        .await
        .unwrap();
    assert!(landed.starts_with("http://127.0.0.1:"), "{landed}");
    let mut wrong_state = url::Url::parse(&landed).unwrap();
    let pairs: Vec<(String, String)> = wrong_state
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == "state" {
                "not-this-one".into()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    wrong_state.query_pairs_mut().clear().extend_pairs(&pairs);
    let state = url::Url::parse(&landed)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    let mut denied = url::Url::parse(&landed).unwrap();
    denied
        .query_pairs_mut()
        .clear()
        .append_pair("error", "access_denied")
        .append_pair("error_description", "the user denied access")
        .append_pair("state", &state)
        .append_pair("iss", &issuer);

    for (paste, answer) in [
        ("yes, done", "that is not the address"),
        (wrong_state.as_str(), "not from this sign-in"),
        (denied.as_str(), "answered access_denied"),
    ] {
        stdin
            .write_all(format!("{paste}\n").as_bytes())
            .await
            .unwrap();
        wait_line(&mut lines, &mut seen, |l| l.contains(answer)).await;
        wait_line(&mut lines, &mut seen, |l| {
            l.contains("Paste the address again")
        })
        .await;
        assert!(granted(&home).is_empty(), "nothing kept after {paste:?}");
    }
    stdin
        .write_all(format!("{landed}\n").as_bytes())
        .await
        .unwrap();
    let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    while let Ok(Some(line)) = lines.next_line().await {
        seen.push_str(&line);
        seen.push('\n');
    }
    assert!(out.status.success(), "{seen}");
    assert!(seen.contains("Address accepted"), "{seen}");
    assert_eq!(
        granted(&home),
        vec!["github-mcp".to_string(), "slack-mcp".to_string()]
    );
    if through_broker {
        // The broker holds the grant: its token route serves it.
        let token = home.run(&["token", "slack-mcp"], None).await;
        assert!(token.status.success(), "{token:?}");
        home.stop_broker().await;
    }
    drop(broker);
    demo.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_display_paste_back_follows_where_no_device_flow_is_offered() {
    let demo = Demo::start(DemoConfig {
        device_flow: false,
        ..DemoConfig::default()
    })
    .await
    .unwrap();
    let issuer = demo.info().issuer.clone();
    let home = Home::new("nodisplay", "github-mcp");
    let mut child = home.spawn_at_terminal(
        &["login", &issuer],
        &[],
        &[
            "BROWSER",
            "DISPLAY",
            "WAYLAND_DISPLAY",
            "SSH_CONNECTION",
            "SSH_TTY",
        ],
    );
    let mut stdin = child.stdin.take().unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = String::new();
    wait_line(&mut lines, &mut seen, |l| {
        l.contains("offers no sign-in with a code")
    })
    .await;
    let url = wait_line(&mut lines, &mut seen, |l| l.starts_with("  http")).await;
    let landed = approve_elsewhere(&person(url.trim(), &["github-mcp"]))
        .await
        .unwrap();
    stdin
        .write_all(format!("{landed}\n").as_bytes())
        .await
        .unwrap();
    let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    while let Ok(Some(line)) = lines.next_line().await {
        seen.push_str(&line);
        seen.push('\n');
    }
    assert!(out.status.success(), "{seen}");
    assert_eq!(granted(&home), vec!["github-mcp".to_string()]);
    demo.shutdown().await;
}
