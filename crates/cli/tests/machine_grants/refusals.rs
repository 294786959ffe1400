//! Bad machine credentials: refused with what to do, and nothing changed.

use crate::harness::*;
use crate::support::home::Home;
use std::path::Path;

/// A bad input: what it is, the login flags, the environment, and the words
/// of the message that says what to do.
type Case = (
    &'static str,
    Vec<String>,
    Vec<(&'static str, &'static str)>,
    &'static str,
);

#[tokio::test(flavor = "multi_thread")]
async fn bad_machine_credentials_are_refused_with_what_to_do_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (bound, urls) = listeners(1).await;
    // The stock provider: no client credentials grant offered.
    let provider = start_provider(dir.path(), &[urls[0].as_str()], None);
    let _servers = sample_servers(bound, &["github-mcp"], &provider.issuer).await;
    let home = Home::new("machine-bad", "github-mcp");
    let url = urls[0].as_str();

    let not_a_key = dir.path().join("public.pem");
    std::fs::write(
        &not_a_key,
        "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----\n",
    )
    .unwrap();
    let not_a_jwt = dir.path().join("token");
    std::fs::write(&not_a_jwt, "this is not a token\n").unwrap();
    let (good_key, _) = key_pair(dir.path());
    let missing = dir.path().join("missing.pem");
    let p = |path: &Path| path.to_str().unwrap().to_string();

    let cases: Vec<Case> = vec![
        (
            "no client secret",
            vec![
                "--client-credentials".into(),
                "--client-id".into(),
                "agent".into(),
            ],
            vec![],
            "MCP_PASSPORT_CLIENT_SECRET",
        ),
        (
            "an empty client secret",
            vec![
                "--client-credentials".into(),
                "--client-id".into(),
                "agent".into(),
            ],
            vec![("MCP_PASSPORT_CLIENT_SECRET", "")],
            "MCP_PASSPORT_CLIENT_SECRET",
        ),
        (
            "an unreadable key file",
            vec![
                "--client-credentials".into(),
                "--client-id".into(),
                "agent".into(),
                "--private-key-file".into(),
                p(&missing),
            ],
            vec![],
            "check the path",
        ),
        (
            "a PEM that is not a private key",
            vec![
                "--client-credentials".into(),
                "--client-id".into(),
                "agent".into(),
                "--private-key-file".into(),
                p(&not_a_key),
            ],
            vec![],
            "give a PEM file with a PKCS#8",
        ),
        (
            "an assertion file that is not a JWT",
            vec!["--assertion-file".into(), p(&not_a_jwt)],
            vec![],
            "does not hold a JWT",
        ),
        (
            "an AS without client_credentials",
            vec![
                "--client-credentials".into(),
                "--client-id".into(),
                "agent".into(),
                "--private-key-file".into(),
                p(&good_key),
            ],
            vec![],
            "does not offer the client_credentials grant",
        ),
        (
            "an AS without client_credentials, with a secret",
            vec![
                "--client-credentials".into(),
                "--client-id".into(),
                "agent".into(),
            ],
            vec![("MCP_PASSPORT_CLIENT_SECRET", SECRET)],
            "does not offer the client_credentials grant",
        ),
    ];

    let (ok, _, err) = run(&home, &["status"], &[]).await;
    assert!(ok, "{err}");
    let check = |what: &str,
                 through: &str,
                 ok: bool,
                 out: &str,
                 err: &str,
                 expected: &str,
                 before: &str| {
        assert!(!ok, "{what} ({through}) was accepted: {out}");
        assert!(
            err.contains(expected),
            "{what} ({through}): the message should say what to do ({expected}): {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
        assert_eq!(
            home.state(),
            before,
            "{what} ({through}) changed the state file"
        );
        assert!(
            keyring_items(&home).trim().is_empty(),
            "{what} ({through}) left something in the keyring"
        );
    };
    for (what, flags, env, expected) in &cases {
        let mut args = vec!["login"];
        args.extend(flags.iter().map(String::as_str));
        args.push(url);
        let before = home.state();
        let (ok, out, err) = run(&home, &args, env).await;
        check(what, "here", ok, &out, &err, expected, &before);
    }

    // The same through a running broker.
    let mut broker = home.spawn_broker(None);
    home.endpoint(&mut broker).await;
    for (what, flags, env, expected) in &cases {
        let mut args = vec!["login"];
        args.extend(flags.iter().map(String::as_str));
        args.push(url);
        let before = home.state();
        let (ok, out, err) = run(&home, &args, env).await;
        check(
            what,
            "through the broker",
            ok,
            &out,
            &err,
            expected,
            &before,
        );
    }
    let (ok, status, _) = run(&home, &["--json", "status"], &[]).await;
    assert!(ok);
    assert!(status.contains("\"grants\":[]"), "{status}");
    broker.start_kill().unwrap();
    let broker_out = broker.wait_with_output().await.unwrap();
    assert!(!String::from_utf8_lossy(&broker_out.stderr).contains(SECRET));
    home.assert_no_secret_on_disk(&[SECRET.to_string()], "after refused machine logins");
}
