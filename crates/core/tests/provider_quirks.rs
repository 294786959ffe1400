//! Provider quirks against a small standard AS on real HTTP made to behave
//! like the providers the profiles answer (issue 10, section 4). Each test
//! shows the sign-in failing (or coming back without a refresh token)
//! without the quirk, and working with it:
//!
//! - Entra-like: refuses `resource` (AADSTS9010010 at the authorization
//!   redirect, or `invalid_target` at the token endpoint);
//! - Google-like: a refresh token only with `access_type=offline` and
//!   `prompt=consent`, and the token endpoint on another origin;
//! - OIDC-like: a refresh token only with `offline_access` (SEP-2207);
//! - GitHub-like: no registration at all, one pre-registered client.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use passport_core::clock::SystemClock;
use passport_core::discovery::DiscoveryError;
use passport_core::engine::{Engine, EngineConfig, LoginRequest, LoginTarget, Opener};
use passport_core::error::EngineError;
use passport_core::headless::HeadlessOpener;
use passport_core::http::HttpClient;
use passport_core::providers::QuirkOverrides;
use passport_core::registration::ClientChoice;
use passport_core::secret::ClientSecret;
use passport_core::store::{MemoryStore, StoreKey, TokenStore};
use reference_as::quirky::{Behaviour, start, value, values};
use serde_json::json;
use std::sync::Arc;

struct Client {
    engine: Engine,
    store: Arc<MemoryStore>,
    dir: tempfile::TempDir,
}

fn client() -> Client {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(MemoryStore::new());
    let engine = Engine::new(
        EngineConfig::new(dir.path().join("state.json")),
        HttpClient::new().unwrap(),
        Arc::new(SystemClock),
        Arc::clone(&store) as Arc<dyn TokenStore>,
    )
    .unwrap();
    Client { engine, store, dir }
}

impl Client {
    /// Signs in to `urls` with a loopback redirect on `port`.
    async fn login(
        &self,
        urls: &[String],
        overrides: &QuirkOverrides,
        client: Option<ClientChoice>,
        port: u16,
    ) -> Result<Vec<passport_core::model::Grant>, EngineError> {
        let redirect = format!("http://127.0.0.1:{port}/callback");
        let flows = self.engine.flows();
        let opener = HeadlessOpener::new(
            &redirect,
            Arc::new(move |url: String| {
                let _ = flows.deliver(&url, chrono::Utc::now());
            }),
        )
        .unwrap();
        let request = LoginRequest {
            target: LoginTarget::Servers(urls.to_vec()),
            servers: vec![],
            client,
            redirect_uri: redirect,
            scope: None,
            timeout: std::time::Duration::from_secs(10),
            account: None,
        };
        self.engine
            .login_with(&request, overrides, &opener as &dyn Opener)
            .await
    }

    fn has_refresh_token(&self, grant: &passport_core::model::Grant) -> bool {
        self.store
            .get(&StoreKey::RefreshToken {
                grant_id: grant.id.clone(),
            })
            .unwrap()
            .is_some()
    }

    /// The state file as written (the settings must survive a restart).
    fn state_file(&self) -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(self.dir.path().join("state.json")).unwrap()).unwrap()
    }
}

#[tokio::test]
async fn an_as_refusing_resource_at_the_redirect_is_learned_and_signed_in_again_without_it() {
    let (as_, urls, _) = start(
        Behaviour {
            refuse_resource_at_authorize: true,
            ..Behaviour::default()
        },
        1,
    )
    .await
    .unwrap();
    let c = client();
    let grants = c
        .login(&urls, &QuirkOverrides::default(), None, 45201)
        .await
        .unwrap();
    {
        let seen = as_.seen.lock().unwrap();
        assert_eq!(seen.authorize.len(), 2, "refused once, then asked again");
        assert_eq!(
            values(&seen.authorize[0], "resource"),
            vec![urls[0].clone()]
        );
        assert!(values(&seen.authorize[1], "resource").is_empty());
        assert!(
            values(&seen.token[0], "resource").is_empty(),
            "nor in the token request"
        );
    }
    assert_eq!(
        c.state_file()["providers"][&as_.issuer]["no_resource"],
        json!(true)
    );
    // Refreshes send none either, and the next sign-in asks without it at once.
    c.engine.token(&urls[0]).await.unwrap();
    c.login(&urls, &QuirkOverrides::default(), None, 45202)
        .await
        .unwrap();
    let seen = as_.seen.lock().unwrap();
    assert!(seen.token.iter().all(|t| values(t, "resource").is_empty()));
    assert_eq!(seen.authorize.len(), 3);
    assert!(values(&seen.authorize[2], "resource").is_empty());
    assert_eq!(grants.len(), 1);
}

#[tokio::test]
async fn an_as_refusing_resource_at_the_token_endpoint_is_learned_too() {
    let (as_, urls, _) = start(
        Behaviour {
            refuse_resource_at_token: true,
            ..Behaviour::default()
        },
        1,
    )
    .await
    .unwrap();
    let c = client();
    let grants = c
        .login(&urls, &QuirkOverrides::default(), None, 45203)
        .await
        .unwrap();
    assert_eq!(grants.len(), 1);
    assert!(c.engine.provider_quirks(&as_.issuer).no_resource);
    let seen = as_.seen.lock().unwrap();
    assert_eq!(
        seen.token.len(),
        2,
        "refused with resource, accepted without"
    );
    assert_eq!(values(&seen.token[0], "resource"), vec![urls[0].clone()]);
    assert!(values(&seen.token[1], "resource").is_empty());
    assert!(values(&seen.authorize[1], "resource").is_empty());
}

#[tokio::test]
async fn several_servers_go_multi_resource_then_per_server_with_resource_then_without() {
    let (as_, urls, _) = start(
        Behaviour {
            refuse_resource_at_authorize: true,
            ..Behaviour::default()
        },
        2,
    )
    .await
    .unwrap();
    let c = client();
    let grants = c
        .login(&urls, &QuirkOverrides::default(), None, 45204)
        .await
        .unwrap();
    assert_eq!(grants.len(), 2, "one per server");
    let seen = as_.seen.lock().unwrap();
    let asked: Vec<Vec<String>> = seen
        .authorize
        .iter()
        .map(|a| values(a, "resource"))
        .collect();
    assert_eq!(
        asked,
        vec![urls.clone(), vec![urls[0].clone()], vec![], vec![]],
        "multi-resource, per server with resource, then without (learned for the second)"
    );
}

#[tokio::test]
async fn extra_authorization_parameters_bring_the_refresh_token_and_are_remembered() {
    let google_like = Behaviour {
        refresh_needs: vec![("access_type", "offline"), ("prompt", "consent")],
        ..Behaviour::default()
    };
    // Without them: signed in, but no refresh token.
    let (_, urls, _) = start(google_like.clone(), 1).await.unwrap();
    let c = client();
    let grants = c
        .login(&urls, &QuirkOverrides::default(), None, 45205)
        .await
        .unwrap();
    assert!(!c.has_refresh_token(&grants[0]));
    // With them (login options): a refresh token, and the setting kept.
    let (as_, urls, _) = start(google_like, 1).await.unwrap();
    let c = client();
    let mut overrides = QuirkOverrides::default();
    overrides
        .authorize_params
        .insert("access_type".into(), "offline".into());
    overrides
        .authorize_params
        .insert("prompt".into(), "consent".into());
    let grants = c.login(&urls, &overrides, None, 45206).await.unwrap();
    assert!(c.has_refresh_token(&grants[0]));
    assert_eq!(
        c.state_file()["providers"][&as_.issuer]["authorize_params"],
        json!({"access_type": "offline", "prompt": "consent"})
    );
    let grants = c
        .login(&urls, &QuirkOverrides::default(), None, 45207)
        .await
        .unwrap();
    assert!(
        c.has_refresh_token(&grants[0]),
        "remembered for the next sign-in"
    );
    let seen = as_.seen.lock().unwrap();
    assert_eq!(
        value(&seen.authorize[1], "access_type").as_deref(),
        Some("offline")
    );
}

#[tokio::test]
async fn offline_access_is_asked_for_at_once_where_the_as_lists_it() {
    let (as_, urls, _) = start(
        Behaviour {
            offline_access_gated: true,
            ..Behaviour::default()
        },
        1,
    )
    .await
    .unwrap();
    let c = client();
    let grants = c
        .login(&urls, &QuirkOverrides::default(), None, 45208)
        .await
        .unwrap();
    assert!(c.has_refresh_token(&grants[0]));
    assert_eq!(c.engine.grants().len(), 1, "the first grant was replaced");
    {
        let seen = as_.seen.lock().unwrap();
        assert_eq!(seen.authorize.len(), 2, "asked again once");
        assert_eq!(
            value(&seen.authorize[0], "scope").as_deref(),
            Some("files:read")
        );
        assert_eq!(
            value(&seen.authorize[1], "scope").as_deref(),
            Some("files:read offline_access")
        );
    }
    assert_eq!(
        c.state_file()["providers"][&as_.issuer]["offline_access"],
        json!(true)
    );
    // An AS that does not list it is never sent it (SEP-2207), and not asked again.
    let (plain, urls, _) = start(
        Behaviour {
            refresh_needs: vec![("never", "sent")],
            ..Behaviour::default()
        },
        1,
    )
    .await
    .unwrap();
    let grants = c
        .login(&urls, &QuirkOverrides::default(), None, 45209)
        .await
        .unwrap();
    assert!(!c.has_refresh_token(&grants[0]));
    let seen = plain.seen.lock().unwrap();
    assert_eq!(seen.authorize.len(), 1);
    assert_eq!(
        value(&seen.authorize[0], "scope").as_deref(),
        Some("files:read")
    );
}

#[tokio::test]
async fn sec_07_a_token_endpoint_on_another_host_needs_a_confirmation_for_that_issuer() {
    let (as_, urls, other_host) = start(
        Behaviour {
            token_elsewhere: true,
            ..Behaviour::default()
        },
        1,
    )
    .await
    .unwrap();
    let c = client();
    let err = c
        .login(&urls, &QuirkOverrides::default(), None, 45210)
        .await
        .unwrap_err();
    let EngineError::Discovery(DiscoveryError::ForeignEndpoint { hosts, issuer, .. }) = &err else {
        panic!("{err}")
    };
    assert_eq!(hosts, &vec![other_host.clone()]);
    assert_eq!(err.code(), "endpoint_host_unconfirmed");
    assert!(
        err.to_string().contains(&other_host),
        "names the host: {err}"
    );
    assert!(
        as_.seen.lock().unwrap().authorize.is_empty(),
        "nothing was started"
    );
    // Confirmed for that issuer: the sign-in and its token requests go there.
    c.engine.allow_endpoint_hosts(issuer, hosts).unwrap();
    c.login(&urls, &QuirkOverrides::default(), None, 45211)
        .await
        .unwrap();
    assert_eq!(as_.seen.lock().unwrap().token.len(), 1);
    c.engine.token(&urls[0]).await.unwrap();
    // Another issuer naming a foreign host is still refused, confirmation or not.
    let (_, others, other_host2) = start(
        Behaviour {
            token_elsewhere: true,
            ..Behaviour::default()
        },
        1,
    )
    .await
    .unwrap();
    assert!(matches!(
        c.login(&others, &QuirkOverrides::default(), None, 45212)
            .await,
        Err(EngineError::Discovery(
            DiscoveryError::ForeignEndpoint { .. }
        ))
    ));
    // The login option allows it for the issuer that uses it, and keeps it.
    let overrides = QuirkOverrides {
        endpoint_hosts: vec![other_host2.clone(), "unrelated.example".into()],
        ..QuirkOverrides::default()
    };
    c.login(&others, &overrides, None, 45213).await.unwrap();
    let state = c.state_file();
    let issuer2 = url::Url::parse(&others[0])
        .unwrap()
        .origin()
        .ascii_serialization();
    assert_eq!(
        state["providers"][&issuer2]["endpoint_hosts"],
        json!([other_host2]),
        "only the host it uses"
    );
}

#[tokio::test]
async fn a_preregistered_client_is_asked_for_once_and_remembered_for_its_issuer() {
    let (as_, urls, _) = start(
        Behaviour {
            preregistered_only: Some(("gh-client", "gh-secret")),
            ..Behaviour::default()
        },
        1,
    )
    .await
    .unwrap();
    let c = client();
    let err = c
        .login(&urls, &QuirkOverrides::default(), None, 45214)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "client_id_needed", "{err}");
    let given = ClientChoice::Preregistered {
        client_id: "gh-client".into(),
        client_secret: Some(ClientSecret::new("gh-secret")),
        auth: None,
    };
    c.login(&urls, &QuirkOverrides::default(), Some(given), 45215)
        .await
        .unwrap();
    let issuer = as_.issuer.clone();
    assert_eq!(
        c.store
            .get(&StoreKey::ClientSecret {
                issuer: issuer.clone()
            })
            .unwrap()
            .as_deref(),
        Some("gh-secret"),
        "the secret is in the store, not the state file"
    );
    assert!(
        !std::fs::read_to_string(c.dir.path().join("state.json"))
            .unwrap()
            .contains("gh-secret")
    );
    // Next time, on another loopback port, no client is given: it is remembered.
    c.login(&urls, &QuirkOverrides::default(), None, 45216)
        .await
        .unwrap();
    let seen = as_.seen.lock().unwrap();
    assert_eq!(
        seen.token.len(),
        2,
        "both exchanges authenticated as the pre-registered client"
    );
    assert_eq!(
        value(&seen.authorize[1], "client_id").as_deref(),
        Some("gh-client")
    );
}

fn google_like_doc(changes: serde_json::Value) -> passport_core::metadata::AsMetadata {
    let mut doc = json!({"issuer": "https://accounts.example",
        "authorization_endpoint": "https://accounts.example/auth",
        "token_endpoint": "https://tokens.example/token",
        "revocation_endpoint": "https://tokens.example/revoke",
        "code_challenge_methods_supported": ["S256"]});
    for (k, v) in changes.as_object().unwrap() {
        doc[k] = v.clone();
    }
    serde_json::from_value(doc).unwrap()
}

#[test]
fn sec_07_an_allowed_host_opens_only_the_token_authorization_and_revocation_endpoints_over_https() {
    use passport_core::discovery::check_as_metadata_allowing as check;
    let issuer = "https://accounts.example";
    let allowed = vec!["tokens.example".to_string()];
    assert!(check(issuer, &google_like_doc(json!({})), &allowed).is_ok());
    let refused = |doc, hosts: &[String]| {
        matches!(
            check(issuer, &doc, hosts),
            Err(DiscoveryError::ForeignEndpoint { .. })
        )
    };
    assert!(
        refused(google_like_doc(json!({})), &[]),
        "not without the host"
    );
    assert!(
        refused(
            google_like_doc(json!({})),
            &["tokens.example:8443".to_string()]
        ),
        "another port is another host"
    );
    for (field, url) in [
        ("token_endpoint", "https://evil.example/token"),
        ("registration_endpoint", "https://tokens.example/register"),
        (
            "mcp_server_catalog_endpoint",
            "https://tokens.example/catalog",
        ),
    ] {
        assert!(
            refused(google_like_doc(json!({field: url})), &allowed),
            "{field} at {url}"
        );
    }
    // Plain http is refused before any host list is looked at.
    assert!(matches!(
        check(
            issuer,
            &google_like_doc(json!({"token_endpoint": "http://tokens.example/token"})),
            &allowed
        ),
        Err(DiscoveryError::Url(_))
    ));
    // Every foreign host is named at once, for one confirmation.
    let Err(DiscoveryError::ForeignEndpoint { hosts, .. }) = check(
        issuer,
        &google_like_doc(json!({"authorization_endpoint": "https://login.example/auth"})),
        &[],
    ) else {
        panic!("accepted")
    };
    assert_eq!(hosts, vec!["login.example", "tokens.example"]);
}
