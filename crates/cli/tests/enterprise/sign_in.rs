//! One sign-in at the IdP: every server's token, renewal with no browser,
//! revoking one server; and a server refused by the IdP or lacking the
//! profile failing alone.

use crate::harness::*;
use crate::support::home::Home;
use passport_core::store::{StoreKey, TokenStore as _};
use reference_as::per_server::{Behaviour, PerServerAs};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread")]
async fn one_idp_sign_in_gives_every_server_its_token_and_renews_them_without_a_browser() {
    let demo = demo().await;
    let servers: Vec<String> = demo
        .info()
        .servers
        .iter()
        .map(|s| s.resource.clone())
        .collect();
    assert_eq!(servers.len(), 3);
    let idp = demo.idp_issuer().unwrap().to_string();
    let home = Home::new("enterprise", "");

    let (ok, stdout, stderr) = login(&home, &demo, "demo", &servers).await;
    assert!(ok, "login --idp failed:\n{stdout}\n{stderr}");
    for s in &servers {
        assert!(stdout.contains(s), "{s} in {stdout}");
    }
    // One sign-in at the IdP, none at the AS; an ID-JAG and a JWT bearer grant per server.
    // (The browser asks the IdP's authorization page twice in one sign-in:
    // the sign-in form, then straight back to the CLI after it.)
    let idp_visits = demo.idp_state().unwrap().base.requests.snapshot().2;
    assert_eq!(idp_visits, 2, "one IdP sign-in");
    assert_eq!(demo.as_requests().2, 0, "no AS browser visit");
    assert_eq!(demo.idp_requests().1, 3, "one token exchange per server");
    assert_eq!(
        demo.jwt_bearer_requests(),
        3,
        "one JWT bearer grant per server"
    );

    // One grant, its issuer the IdP, each server with its own token and expiry.
    let state = home.state_parses("after login");
    let grants = state["grants"].as_array().unwrap();
    assert_eq!(grants.len(), 1, "{state}");
    let grant = &grants[0];
    assert_eq!(grant["issuer"], idp.as_str());
    assert_eq!(grant["mode"], "enterprise");
    let listed: Vec<&str> = grant["servers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            assert_eq!(s["token_kind"], "own", "{s}");
            assert!(s["expires_at"].is_string(), "{s}");
            s["id"].as_str().unwrap()
        })
        .collect();
    assert_eq!(
        listed,
        servers.iter().map(String::as_str).collect::<Vec<_>>()
    );
    let grant_id = grant["id"].as_str().unwrap().to_string();
    let entry = &state["enterprise"][0];
    assert_eq!(entry["grant_id"], grant_id.as_str());
    assert_eq!(entry["servers"][0]["issuer"], demo.info().issuer.as_str());

    // The IdP session is in the keyring; no secret is on disk.
    let keyring = passport_keyring::KeyringStore::new(&home.service);
    let idp_key = StoreKey::IdpRefreshToken {
        grant_id: grant_id.clone(),
    };
    let first_rt = keyring
        .get(&idp_key)
        .unwrap()
        .expect("the IdP refresh token");
    let secret = demo.enterprise().unwrap().as_client_secret.clone().unwrap();
    let stored_secret = keyring
        .get(&StoreKey::EnterpriseSecret {
            grant_id: grant_id.clone(),
        })
        .unwrap();
    assert_eq!(stored_secret.as_deref(), Some(secret.as_str()));
    home.assert_no_secret_on_disk(&[first_rt.clone(), secret], "after login");

    // status names the IdP and each server's expiry.
    let status = home.run(&["status"], None).await;
    let status = String::from_utf8_lossy(&status.stdout);
    assert!(
        status.contains(&idp) && status.contains("enterprise"),
        "{status}"
    );
    assert_eq!(status.matches("expires in").count(), 3, "{status}");

    // Through the broker's proxy: its first tokens come by the IdP refresh
    // token (the ID token was never written anywhere), then new ID-JAGs.
    let mut broker = home.spawn_broker(None);
    let (port, key) = home.endpoint(&mut broker).await;
    for s in &servers {
        let listed = tools(port, &key, s).await.unwrap();
        assert!(!listed.is_empty(), "{s} lists its tools");
    }
    let rotated = keyring.get(&idp_key).unwrap().expect("still signed in");
    assert_ne!(
        rotated, first_rt,
        "the broker used (and rotated) the IdP refresh token"
    );
    assert!(demo.idp_requests().1 >= 6, "{:?}", demo.idp_requests());

    // Revoke one server: it leaves the grant alone.
    let revoked = &servers[0];
    let out = home.run(&["revoke", revoked], None).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        tools(port, &key, revoked).await.is_err(),
        "{revoked} is no longer served"
    );
    let state = home.state_parses("after revoke");
    let left: Vec<&str> = state["grants"][0]["servers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(left, vec![servers[1].as_str(), servers[2].as_str()]);
    assert_eq!(
        state["enterprise"][0]["servers"].as_array().unwrap().len(),
        2
    );

    // After the tokens expire, new ones come from the IdP session, with no browser.
    let (exchanges, grants_at_as) = (demo.idp_requests().1, demo.jwt_bearer_requests());
    tokio::time::sleep(Duration::from_secs(u64::try_from(ACCESS_TTL).unwrap() + 1)).await;
    for s in &servers[1..] {
        let listed = tools(port, &key, s).await.unwrap();
        assert!(!listed.is_empty(), "{s} after expiry");
    }
    assert!(
        demo.idp_requests().1 >= exchanges + 2,
        "new ID-JAGs after expiry"
    );
    assert!(demo.jwt_bearer_requests() >= grants_at_as + 2);
    assert_eq!(
        demo.idp_state().unwrap().base.requests.snapshot().2,
        idp_visits,
        "still the one IdP sign-in"
    );
    assert_eq!(demo.as_requests().2, 0, "still no AS browser visit");

    // Logout ends the IdP session (its refresh token revoked there) and
    // forgets the grant and its secrets.
    let last_rt = keyring.get(&idp_key).unwrap().expect("still signed in");
    let out = home.run(&["logout", &idp], None).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(keyring.get(&idp_key).unwrap().is_none());
    let enterprise = demo.enterprise().unwrap();
    let refused = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .post(format!("{idp}/token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", last_rt.as_str()),
            ("client_id", enterprise.idp_client_id.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400, "the IdP sign-in was revoked");
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant", "{body}");
    let state = home.state_parses("after logout");
    assert!(state["grants"].as_array().unwrap().is_empty(), "{state}");
    let _ = broker.kill().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_the_idp_refuses_or_whose_as_lacks_the_profile_fails_alone_and_says_what_to_do() {
    let demo = demo().await;
    // A plain per-server AS: no JWT bearer grant in its metadata.
    let plain = PerServerAs::start(Behaviour::Instant).await.unwrap();
    let mut servers: Vec<String> = demo
        .info()
        .servers
        .iter()
        .map(|s| s.resource.clone())
        .collect();
    servers.push(plain.server_url());
    let home = Home::new("enterprise-denied", "");
    // alice may reach github-mcp only.
    let (ok, stdout, stderr) = login(&home, &demo, "alice", &servers).await;
    assert!(!ok, "a refused server makes login fail:\n{stdout}");
    let state = home.state_parses("after a partial login");
    let granted: Vec<&str> = state["grants"][0]["servers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    let github = demo
        .info()
        .servers
        .iter()
        .find(|s| s.id == "github-mcp")
        .unwrap()
        .resource
        .clone();
    assert_eq!(granted, vec![github.as_str()]);
    let all = format!("{stdout}{stderr}");
    let failed = |server: &str| {
        all.lines()
            .find(|l| l.contains(server) && l.contains("FAILED"))
            .unwrap_or_else(|| panic!("{server} failed alone: {all}"))
            .to_string()
    };
    for s in demo.info().servers.iter().filter(|s| s.id != "github-mcp") {
        let line = failed(&s.resource);
        assert!(
            line.contains("refused access") && line.contains("ask your administrator"),
            "{line}"
        );
    }
    let line = failed(&plain.server_url());
    assert!(
        line.contains("does not accept enterprise sign-in")
            && line.contains("sign in to that server directly"),
        "{line}"
    );
    assert_eq!(
        plain.tokens_issued(),
        0,
        "nothing asked of the plain AS's token endpoint"
    );
    assert_eq!(demo.as_requests().2, 0, "no AS browser visit");

    // When every server fails, the IdP sign-in is ended there (its refresh
    // token revoked), not just dropped: alice keeps only the first one.
    let idp_live = || {
        demo.idp_state()
            .unwrap()
            .base
            .store
            .tx(|c| reference_as::db::live_grants_of(c, "alice"))
            .unwrap()
            .len()
    };
    let live_before = idp_live();
    assert_eq!(live_before, 1, "the first sign-in is live at the IdP");
    let refused: Vec<String> = demo
        .info()
        .servers
        .iter()
        .filter(|s| s.id != "github-mcp")
        .map(|s| s.resource.clone())
        .collect();
    let home = Home::new("enterprise-all-refused", "");
    let (ok, stdout, stderr) = login(&home, &demo, "alice", &refused).await;
    assert!(
        !ok,
        "every server refused makes login fail:\n{stdout}\n{stderr}"
    );
    let state = home.state_parses("after a refused login");
    assert!(state["grants"].as_array().unwrap().is_empty(), "{state}");
    assert_eq!(
        idp_live(),
        live_before,
        "the unused IdP sign-in was revoked at the IdP"
    );
}
