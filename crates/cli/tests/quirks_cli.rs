//! Provider quirk options of `mcp-passport login` end to end: the real
//! binary, the reference AS, the real keyring (run under
//! scripts/desktop-session.sh). An option is checked before anything is
//! contacted, and remembered for the issuer it was given for, with or
//! without a running broker.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use reference_as::demo::{Demo, DemoConfig};
use support::home::Home;

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
