//! Provider quirks of `mcp-passport login` end to end: the real binary, the
//! reference AS and its quirky standard AS (`reference_as::quirky`), the
//! real keyring (run under scripts/desktop-session.sh). An option is checked
//! before anything is contacted and remembered for the issuer it was given
//! for, with or without a running broker; at a terminal (a pseudo-terminal
//! from `script`), `login` asks once what a quirky AS needs.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use reference_as::demo::{Demo, DemoConfig};
use reference_as::quirky::{self, Behaviour};
use std::process::Output;
use support::home::Home;

/// Runs `mcp-passport args` on a pseudo-terminal whose keyboard types `typed`.
async fn at_terminal(home: &Home, args: &[&str], typed: &str) -> Output {
    use tokio::io::AsyncWriteExt as _;
    let quote = |a: &str| format!("'{}'", a.replace('\'', "'\\''"));
    let line: Vec<String> = std::iter::once(env!("CARGO_BIN_EXE_mcp-passport"))
        .chain(args.iter().copied())
        .map(quote)
        .collect();
    let mut child = tokio::process::Command::new("script")
        .args(["-qec", &line.join(" "), "/dev/null"])
        .env("MCP_PASSPORT_HOME", home.dir.path())
        .env("MCP_PASSPORT_KEYRING_SERVICE", &home.service)
        .env("MCP_PASSPORT_NO_AUTOSTART", "1")
        .env_remove("MCP_PASSPORT_LOG")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("script(1) from util-linux");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(typed.as_bytes()).await.unwrap();
    let out = tokio::time::timeout(std::time::Duration::from_secs(60), child.wait_with_output());
    let out = out.await.expect("login at a terminal hung").unwrap();
    drop(stdin);
    out
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn login_options_are_remembered_for_the_issuer_with_or_without_a_broker() {
    let demo = Demo::start(DemoConfig::default()).await.unwrap();
    let issuer = demo.info().issuer.clone();
    let home = Home::new("quirks-remembered", "github-mcp");
    let out = home
        .run(
            &[
                "login",
                &issuer,
                "--authorize-param",
                "ui_locales=de",
                "--allow-endpoint-host",
                "unused.example",
            ],
            None,
        )
        .await;
    assert!(
        out.status.success(),
        "login: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let state = home.state_parses("after login");
    let quirks = &state["providers"][&issuer];
    assert_eq!(
        quirks["authorize_params"],
        serde_json::json!({"ui_locales": "de"})
    );
    assert!(
        quirks.get("endpoint_hosts").is_none(),
        "a host the issuer does not use is not kept: {quirks}"
    );
    // Through a running broker, the options travel in the admin request.
    let mut broker = home.spawn_broker(None);
    let _ = home.endpoint(&mut broker).await;
    let out = home.run(&["login", &issuer, "--no-resource"], None).await;
    assert!(
        out.status.success(),
        "login through the broker: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = home.stop_broker().await;
    let state = home.state_parses("after the broker's login");
    assert_eq!(
        state["providers"][&issuer]["no_resource"],
        serde_json::json!(true)
    );
    assert_eq!(
        state["providers"][&issuer]["authorize_params"]["ui_locales"], "de",
        "kept from the first sign-in"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_option_is_refused_with_what_to_do_and_nothing_is_contacted_or_kept() {
    let home = Home::new("quirks-refused", "github-mcp");
    // Nothing listens on this address: a contact would fail differently.
    let issuer = "http://127.0.0.1:9/";
    for (flag, value, says) in [
        (
            "--authorize-param",
            "redirect_uri=https://evil.example/",
            "set by MCP Passport itself",
        ),
        ("--authorize-param", "no-equals-sign", "key=value"),
        (
            "--allow-endpoint-host",
            "https://x.example/path",
            "not a host name",
        ),
    ] {
        let out = home.run(&["login", issuer, flag, value], None).await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{flag} {value} was accepted");
        assert!(stderr.contains(says), "{flag} {value}: {stderr}");
        assert!(
            !stderr.contains("127.0.0.1:9"),
            "nothing contacted: {stderr}"
        );
    }
    assert_eq!(home.state(), "", "nothing was written");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_as_that_registers_no_client_gets_one_asked_for_once_and_its_secret_in_the_keyring() {
    let github_like = Behaviour {
        preregistered_only: Some(("gh-client", "gh-secret")),
        ..Behaviour::default()
    };
    let (as_, urls, _) = quirky::start(github_like, 1).await.unwrap();
    let home = Home::new("quirks-client", "github-mcp");
    let login = ["login", urls[0].as_str(), "--headless-authorize"];
    // Not at a terminal: a clear error naming the options, nothing kept.
    let out = home.run(&login, None).await;
    assert!(!out.status.success());
    assert!(text(&out).contains("--client-id"), "{}", text(&out));
    assert!(!home.state().contains("gh-client"));
    // At a terminal: asked once, signed in.
    let out = at_terminal(&home, &login, "gh-client\ngh-secret\n").await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("client id"), "asked: {}", text(&out));
    // Remembered: the next sign-in asks nothing and authenticates with the
    // secret, which only the keyring holds.
    let out = home.run(&login, None).await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(!home.state().contains("gh-secret"));
    assert!(home.state().contains("gh-client"));
    let seen = as_.seen.lock().unwrap();
    assert_eq!(seen.token.len(), 2, "two exchanges, both authenticated");
}

#[tokio::test(flavor = "multi_thread")]
async fn endpoint_hosts_are_confirmed_once_at_a_terminal_and_refused_without() {
    let google_like = Behaviour {
        token_elsewhere: true,
        ..Behaviour::default()
    };
    let (as_, urls, other_host) = quirky::start(google_like, 1).await.unwrap();
    let login = ["login", urls[0].as_str(), "--headless-authorize"];
    // Not at a terminal: refused, the host named with the option to pass.
    let home = Home::new("quirks-hosts", "github-mcp");
    let out = home.run(&login, None).await;
    assert!(!out.status.success());
    assert!(
        text(&out).contains(&other_host) && text(&out).contains("--allow-endpoint-host"),
        "{}",
        text(&out)
    );
    // Declined at a terminal: still refused, nothing kept.
    let out = at_terminal(&home, &login, "n\n").await;
    assert!(!out.status.success(), "{}", text(&out));
    assert!(home.state_parses("declined").get("providers").is_none());
    assert!(
        as_.seen.lock().unwrap().authorize.is_empty(),
        "no sign-in started"
    );
    // Confirmed: signed in, remembered for that issuer.
    let out = at_terminal(&home, &login, "y\n").await;
    assert!(out.status.success(), "{}", text(&out));
    let state = home.state_parses("confirmed");
    assert_eq!(
        state["providers"][&as_.issuer]["endpoint_hosts"],
        serde_json::json!([other_host])
    );
    let out = home.run(&login, None).await;
    assert!(out.status.success(), "asked once: {}", text(&out));
}
