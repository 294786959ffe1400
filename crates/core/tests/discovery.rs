//! Discovery and client registration over real HTTP: against the reference
//! AS and its sample MCP servers (the in-process demo), and, for the hostile
//! cases of SECURITY-CASES (5, 7, 8, 15, 16, 19, 20), against small axum
//! servers on 127.0.0.1 that say what an attacker or a broken server would.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use axum::Router;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::routing::{any, get, post};
use passport_core::discovery::{
    self, DiscoveryError, check_as_metadata, discover_server, fetch_as_metadata, fetch_catalog,
    mode_of,
};
use passport_core::http::{HttpClient, HttpError};
use passport_core::metadata::AsMetadata;
use passport_core::model::{ClientAuth, Mode, Registration};
use passport_core::registration::{ClientChoice, RegistrationError, register};
use passport_core::secret::ClientSecret;
use passport_core::url_policy::UrlError;
use reference_as::demo::{Demo, DemoConfig};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

// ---------------------------------------------------------------- helpers

/// Serves the router made from its own base URL on 127.0.0.1:0.
async fn serve(app: impl FnOnce(String) -> Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let router = app(base.clone());
    tokio::spawn(async move { axum::serve(listener, router).await });
    base
}

/// Paths requested, in order.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    fn push(&self, what: impl Into<String>) {
        self.0.lock().unwrap().push(what.into());
    }
    fn all(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
    fn count(&self, needle: &str) -> usize {
        self.all().iter().filter(|p| p.contains(needle)).count()
    }
}

/// A small AS metadata document whose endpoints live on `base`.
fn as_doc(issuer: &str, base: &str) -> Value {
    json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{base}/authorize"),
        "token_endpoint": format!("{base}/token"),
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": ["mcp:tools"],
    })
}

/// An AS that serves `doc(base)` at the root RFC 8414 URL and logs every request.
async fn as_with(doc: impl Fn(&str) -> Value + Send + 'static) -> (String, Log) {
    let log = Log::default();
    let seen = log.clone();
    let base = serve(move |base| {
        let body = doc(&base);
        Router::new()
            .route(
                "/.well-known/oauth-authorization-server",
                get(move || async move { axum::Json(body) }),
            )
            .fallback(move |uri: Uri| {
                let seen = seen.clone();
                async move {
                    seen.push(uri.path());
                    StatusCode::NOT_FOUND
                }
            })
    })
    .await;
    (base, log)
}

fn http() -> HttpClient {
    HttpClient::new().unwrap()
}

fn redirect(to: &str) -> (StatusCode, [(&'static str, String); 1]) {
    (StatusCode::FOUND, [("location", to.to_string())])
}

async fn demo() -> Demo {
    Demo::start(DemoConfig::default()).await.unwrap()
}

// ------------------------------------------------------ SECURITY-CASES

#[tokio::test]
async fn sec_05_issuer_differing_by_trailing_slash_case_or_port_is_refused() {
    // The document adds a trailing slash.
    let (base, _) = as_with(|base| as_doc(&format!("{base}/"), base)).await;
    let err = fetch_as_metadata(&http(), &base).await.unwrap_err();
    assert!(
        matches!(err, DiscoveryError::IssuerMismatch { .. }),
        "{err}"
    );
    // The user's issuer has the slash, the document has none.
    let (base, _) = as_with(|base| as_doc(base, base)).await;
    let err = fetch_as_metadata(&http(), &format!("{base}/"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, DiscoveryError::IssuerMismatch { .. }),
        "{err}"
    );
    // Letter case of the scheme and of the host.
    let (base, _) = as_with(|base| as_doc(&base.replace("http://", "HTTP://"), base)).await;
    let err = fetch_as_metadata(&http(), &base).await.unwrap_err();
    assert!(
        matches!(err, DiscoveryError::IssuerMismatch { .. }),
        "{err}"
    );
    let (base, _) = as_with(|base| as_doc(&base.replace("127.0.0.1", "LOCALHOST"), base)).await;
    let local = base.replace("127.0.0.1", "localhost");
    let err = fetch_as_metadata(&http(), &local).await.unwrap_err();
    assert!(
        matches!(err, DiscoveryError::IssuerMismatch { .. }),
        "{err}"
    );
    // The default port written out (no port 443 to serve on here: the same
    // exact comparison, checked on the document directly), both ways.
    let doc = |issuer: &str| -> AsMetadata {
        serde_json::from_value(as_doc(issuer, "https://as.example")).unwrap()
    };
    let err = check_as_metadata("https://as.example", &doc("https://as.example:443")).unwrap_err();
    assert!(
        matches!(err, DiscoveryError::IssuerMismatch { .. }),
        "{err}"
    );
    let err = check_as_metadata("https://as.example:443", &doc("https://as.example")).unwrap_err();
    assert!(
        matches!(err, DiscoveryError::IssuerMismatch { .. }),
        "{err}"
    );
    // The identical issuer passes.
    let (good, _) = as_with(|base| as_doc(base, base)).await;
    let metadata = fetch_as_metadata(&http(), &good).await.unwrap();
    assert_eq!(metadata.issuer, good);
}

#[tokio::test]
async fn sec_07_foreign_token_endpoint_is_refused() {
    // Honest authorization endpoint, token endpoint on another host.
    let (base, _) = as_with(|base| {
        let mut m = as_doc(base, base);
        m["token_endpoint"] = json!("http://127.0.0.2:9/token");
        m
    })
    .await;
    let err = fetch_as_metadata(&http(), &base).await.unwrap_err();
    assert!(
        matches!(
            err,
            DiscoveryError::ForeignEndpoint {
                endpoint: "token",
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("127.0.0.2"), "{err}");
    // Same host, another port is another origin too.
    let (base, _) = as_with(|base| {
        let mut m = as_doc(base, base);
        m["token_endpoint"] = json!("http://127.0.0.1:9/token");
        m
    })
    .await;
    assert!(matches!(
        fetch_as_metadata(&http(), &base).await,
        Err(DiscoveryError::ForeignEndpoint {
            endpoint: "token",
            ..
        })
    ));
    // And so is a foreign registration or catalog endpoint.
    for field in ["registration_endpoint", "mcp_server_catalog_endpoint"] {
        let (base, _) = as_with(move |base| {
            let mut m = as_doc(base, base);
            m[field] = json!("http://127.0.0.2:9/x");
            m
        })
        .await;
        assert!(
            matches!(
                fetch_as_metadata(&http(), &base).await,
                Err(DiscoveryError::ForeignEndpoint { .. })
            ),
            "{field}"
        );
    }
}

#[tokio::test]
async fn sec_08_metadata_issuer_differing_from_fetch_url_is_refused() {
    let (base, _) = as_with(|_| as_doc("https://as.example", "https://as.example")).await;
    let err = fetch_as_metadata(&http(), &base).await.unwrap_err();
    let DiscoveryError::IssuerMismatch { expected, found } = &err else {
        panic!("{err}")
    };
    assert_eq!(expected, &base);
    assert_eq!(found, "https://as.example");
    // A path-based issuer whose path-inserted document claims the root issuer.
    let base = serve(|base| {
        let doc = as_doc(&base, &base);
        Router::new().route(
            "/.well-known/oauth-authorization-server/tenant1",
            get(move || async move { axum::Json(doc) }),
        )
    })
    .await;
    let err = fetch_as_metadata(&http(), &format!("{base}/tenant1"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, DiscoveryError::IssuerMismatch { .. }),
        "{err}"
    );
}

#[tokio::test]
async fn sec_15_metadata_pointing_at_link_local_or_loopback_from_remote_is_refused() {
    // Over HTTP: a (loopback) AS whose token endpoint is the cloud metadata address.
    let (base, _) = as_with(|base| {
        let mut m = as_doc(base, base);
        m["token_endpoint"] = json!("http://169.254.169.254/latest/meta-data/");
        m
    })
    .await;
    let err = fetch_as_metadata(&http(), &base).await.unwrap_err();
    assert!(
        matches!(err, DiscoveryError::Url(UrlError::ForbiddenHost(_))),
        "{err}"
    );
    // A server whose 401 points its resource metadata at the metadata address.
    let server = serve(|_| {
        Router::new().route(
            "/mcp",
            post(|| async {
                (
                    StatusCode::UNAUTHORIZED,
                    [(
                        "www-authenticate",
                        r#"Bearer resource_metadata="http://169.254.169.254/latest/meta-data/""#,
                    )],
                )
            }),
        )
    })
    .await;
    let err = discover_server(&http(), &format!("{server}/mcp"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, DiscoveryError::Url(UrlError::ForbiddenHost(_))),
        "{err}"
    );
    // A remote issuer cannot point at this machine or at link-local
    // addresses (no remote AS in a test: the same check, on the document).
    for (field, bad) in [
        ("token_endpoint", "http://127.0.0.1:8080/token"),
        ("authorization_endpoint", "https://localhost/authorize"),
        ("token_endpoint", "https://169.254.169.254/token"),
        ("registration_endpoint", "https://[fe80::1]/register"),
        ("revocation_endpoint", "https://[::1]/revoke"),
    ] {
        let mut doc = as_doc("https://as.example", "https://as.example");
        doc[field] = json!(bad);
        let doc: AsMetadata = serde_json::from_value(doc).unwrap();
        assert!(
            matches!(
                check_as_metadata("https://as.example", &doc),
                Err(DiscoveryError::Url(
                    UrlError::LoopbackFromRemote(_) | UrlError::ForbiddenHost(_)
                ))
            ),
            "{bad}"
        );
    }
}

#[tokio::test]
async fn sec_16_as_without_s256_is_refused() {
    let (plain_only, _) = as_with(|base| {
        let mut m = as_doc(base, base);
        m["code_challenge_methods_supported"] = json!(["plain"]);
        m
    })
    .await;
    let err = fetch_as_metadata(&http(), &plain_only).await.unwrap_err();
    assert!(matches!(err, DiscoveryError::NoS256 { .. }), "{err}");
    assert!(err.to_string().contains("S256"));
    let (absent, _) = as_with(|base| {
        let mut m = as_doc(base, base);
        m.as_object_mut()
            .unwrap()
            .remove("code_challenge_methods_supported");
        m
    })
    .await;
    assert!(matches!(
        fetch_as_metadata(&http(), &absent).await,
        Err(DiscoveryError::NoS256 { .. })
    ));
    let (lower, _) = as_with(|base| {
        let mut m = as_doc(base, base);
        m["code_challenge_methods_supported"] = json!(["s256", "plain"]);
        m
    })
    .await;
    assert!(matches!(
        fetch_as_metadata(&http(), &lower).await,
        Err(DiscoveryError::NoS256 { .. })
    ));
}

#[tokio::test]
async fn sec_19_metadata_or_registration_redirect_to_another_host_fails() {
    // Where the redirects point: it must never be contacted.
    let elsewhere = Log::default();
    let seen = elsewhere.clone();
    let other = serve(move |base| {
        let doc = as_doc(&base, &base);
        Router::new().fallback(move |uri: Uri| {
            let seen = seen.clone();
            let doc = doc.clone();
            async move {
                seen.push(uri.path());
                axum::Json(doc)
            }
        })
    })
    .await;
    let target = other.clone();
    let base = serve(move |base| {
        let doc = {
            let mut m = as_doc(&base, &base);
            m["registration_endpoint"] = json!(format!("{base}/register"));
            m
        };
        let (t1, t2, t3) = (target.clone(), target.clone(), target.clone());
        Router::new()
            .route(
                "/tenant/.well-known/openid-configuration",
                get(move || async move { axum::Json(doc) }),
            )
            .route(
                "/.well-known/oauth-authorization-server",
                get(move || async move { redirect(&format!("{t1}/meta")) }),
            )
            .route(
                "/register",
                post(move || async move {
                    (
                        StatusCode::TEMPORARY_REDIRECT,
                        [("location", format!("{t2}/register"))],
                    )
                }),
            )
            .route(
                "/.well-known/oauth-protected-resource/mcp",
                get(move || async move { redirect(&format!("{t3}/prm")) }),
            )
            .route("/mcp", post(|| async { StatusCode::UNAUTHORIZED }))
    })
    .await;
    // Metadata answering 302.
    let err = fetch_as_metadata(&http(), &base).await.unwrap_err();
    assert!(
        matches!(
            err,
            DiscoveryError::Http(HttpError::Redirect { status: 302, .. })
        ),
        "{err}"
    );
    // Protected resource metadata answering 302.
    let err = discover_server(&http(), &format!("{base}/mcp"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, DiscoveryError::Http(HttpError::Redirect { .. })),
        "{err}"
    );
    // Registration answering 307 (the metadata itself is fine, found by
    // OIDC path appending).
    let issuer = format!("{base}/tenant");
    let metadata: AsMetadata = serde_json::from_value({
        let mut m = as_doc(&issuer, &base);
        m["registration_endpoint"] = json!(format!("{base}/register"));
        m
    })
    .unwrap();
    let err = register(
        &http(),
        &issuer,
        &metadata,
        &ClientChoice::Dynamic,
        &["http://127.0.0.1:1/callback".into()],
        "MCP Passport",
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            err,
            RegistrationError::Http(HttpError::Redirect { status: 307, .. })
        ),
        "{err}"
    );
    assert!(
        elsewhere.all().is_empty(),
        "followed a redirect: {:?}",
        elsewhere.all()
    );
    // Plain http off loopback is refused before any request.
    let remote: AsMetadata = serde_json::from_value({
        let mut m = as_doc("https://as.example", "https://as.example");
        m["registration_endpoint"] = json!("http://as.example/register");
        m
    })
    .unwrap();
    let err = register(
        &http(),
        "https://as.example",
        &remote,
        &ClientChoice::Dynamic,
        &["http://127.0.0.1:1/callback".into()],
        "MCP Passport",
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, RegistrationError::Url(UrlError::Scheme(_))),
        "{err}"
    );
}

/// A server at `/mcp` whose 401 names `/prm` and whose `/prm` says `resource`;
/// its AS metadata requests are counted.
async fn server_claiming(resource: impl Fn(&str) -> String + Send + 'static) -> (String, Log) {
    let log = Log::default();
    let seen = log.clone();
    let base = serve(move |base| {
        let prm = json!({"resource": resource(&base), "authorization_servers": [base.clone()]});
        let doc = as_doc(&base, &base);
        let header = format!(r#"Bearer resource_metadata="{base}/prm""#);
        Router::new()
                .route(
                    "/mcp",
                    post(move || async move {
                        (StatusCode::UNAUTHORIZED, [("www-authenticate", header)])
                    }),
                )
                .route("/prm", get(move || async move { axum::Json(prm) }))
                .route(
                    "/.well-known/{*rest}",
                    any(move |uri: Uri| {
                        let seen = seen.clone();
                        let doc = doc.clone();
                        async move {
                            seen.push(uri.path());
                            axum::Json(doc)
                        }
                    }),
                )
    })
    .await;
    (base, log)
}

#[tokio::test]
async fn sec_20_prm_resource_mismatch_starts_no_authorization() {
    for wrong in [
        |base: &str| format!("{base}/other"),
        |base: &str| format!("{base}/mcp/"),
        |base: &str| format!("{base}/MCP"),
        |_: &str| "https://attacker.example/mcp".to_string(),
        |base: &str| base.to_string(),
    ] {
        let (base, as_hits) = server_claiming(wrong).await;
        let err = discover_server(&http(), &format!("{base}/mcp"))
            .await
            .unwrap_err();
        assert!(
            matches!(err, DiscoveryError::ResourceMismatch { .. }),
            "{err}"
        );
        assert!(err.to_string().contains("no sign-in was started"), "{err}");
        assert_eq!(as_hits.all(), Vec::<String>::new(), "the AS was contacted");
    }
    // The same server naming itself correctly is accepted.
    let (base, as_hits) = server_claiming(|base| format!("{base}/mcp")).await;
    let found = discover_server(&http(), &format!("{base}/mcp"))
        .await
        .unwrap();
    assert_eq!(found.issuer, base);
    assert_eq!(as_hits.count("oauth-authorization-server"), 1);
}

// ---------------------------------------------------- against the demo

#[tokio::test]
async fn discovery_from_a_sample_server_finds_the_reference_as_in_multi_server_mode() {
    let demo = demo().await;
    let server = demo.info().servers[0].resource.clone();
    let found = discover_server(&http(), &server).await.unwrap();
    assert_eq!(found.server_url, server);
    assert_eq!(found.issuer, demo.info().issuer);
    assert_eq!(found.metadata.issuer, demo.info().issuer);
    assert_eq!(found.resource.resource, server);
    assert!(
        found
            .challenge
            .as_ref()
            .and_then(|c| c.resource_metadata.as_deref())
            .is_some_and(|u| u.contains("/.well-known/oauth-protected-resource"))
    );
    assert_eq!(mode_of(&found.metadata), Mode::MultiServer);
    let catalog = fetch_catalog(&http(), &found.metadata).await.unwrap();
    assert_eq!(catalog.len(), 3);
    let resources: Vec<_> = catalog.iter().map(|c| c.resource.clone()).collect();
    for entry in &demo.info().servers {
        assert!(resources.contains(&entry.resource), "{}", entry.resource);
    }
    // Every sample server leads to the same AS.
    for entry in &demo.info().servers[1..] {
        let other = discover_server(&http(), &entry.resource).await.unwrap();
        assert_eq!(other.issuer, found.issuer);
    }
    // The scope to ask for comes from the challenge or the PRM.
    let _ = discovery::choose_scope(found.challenge.as_ref(), Some(&found.resource));
    demo.shutdown().await;
}

#[tokio::test]
async fn reference_as_metadata_passes_every_check() {
    let demo = demo().await;
    let issuer = demo.info().issuer.clone();
    let metadata = fetch_as_metadata(&http(), &issuer).await.unwrap();
    assert!(metadata.supports_s256());
    assert!(metadata.registration_endpoint.is_some());
    assert_eq!(mode_of(&metadata), Mode::MultiServer);
    // A near miss of the issuer is refused against the real AS too.
    let near = if issuer.ends_with('/') {
        issuer.trim_end_matches('/').to_string()
    } else {
        format!("{issuer}/")
    };
    assert!(matches!(
        fetch_as_metadata(&http(), &near).await,
        Err(DiscoveryError::IssuerMismatch { .. })
    ));
    demo.shutdown().await;
}

#[tokio::test]
async fn dynamic_registration_at_the_reference_as_returns_a_public_client() {
    let demo = demo().await;
    let issuer = demo.info().issuer.clone();
    let metadata = fetch_as_metadata(&http(), &issuer).await.unwrap();
    let redirect = vec!["http://127.0.0.1:53682/callback".to_string()];
    let client = register(
        &http(),
        &issuer,
        &metadata,
        &ClientChoice::Dynamic,
        &redirect,
        "MCP Passport (test)",
    )
    .await
    .unwrap();
    assert!(!client.record.client_id.is_empty());
    assert_eq!(client.record.issuer, issuer);
    assert_eq!(client.record.auth, ClientAuth::None);
    assert_eq!(client.record.registration, Registration::Dynamic);
    assert_eq!(client.record.redirect_uris, redirect);
    assert!(client.secret.is_none());
    // A second registration is another client.
    let again = register(
        &http(),
        &issuer,
        &metadata,
        &ClientChoice::Dynamic,
        &redirect,
        "MCP Passport (test)",
    )
    .await
    .unwrap();
    assert_ne!(again.record.client_id, client.record.client_id);
    demo.shutdown().await;
}

#[tokio::test]
async fn registration_refused_by_the_reference_as_quotes_its_words() {
    let demo = demo().await;
    let issuer = demo.info().issuer.clone();
    let metadata = fetch_as_metadata(&http(), &issuer).await.unwrap();
    let err = register(
        &http(),
        &issuer,
        &metadata,
        &ClientChoice::Dynamic,
        &["ftp://evil.example/cb".into()],
        "MCP Passport",
    )
    .await
    .unwrap_err();
    // A refused redirect URI is its own error, so the app can fall back to
    // a loopback redirect for exactly this and nothing else.
    let RegistrationError::RedirectUriRefused {
        redirect_uri,
        description,
        ..
    } = &err
    else {
        panic!("{err}")
    };
    assert_eq!(redirect_uri, "ftp://evil.example/cb");
    assert!(description.contains("redirect_uris"));
    let text = err.to_string();
    assert!(text.contains("in its own words: \""), "{text}");
    assert!(text.contains(description.as_str()), "{text}");
    assert_eq!(
        passport_core::error::EngineError::from(err).code(),
        "redirect_uri_refused"
    );
    demo.shutdown().await;
}

#[tokio::test]
async fn client_id_metadata_document_is_chosen_when_supported() {
    let demo = demo().await;
    let issuer = demo.info().issuer.clone();
    let metadata = fetch_as_metadata(&http(), &issuer).await.unwrap();
    assert!(metadata.client_id_metadata_document_supported);
    let url = "https://passport.example/client.json".to_string();
    let redirect = vec!["http://127.0.0.1:53682/callback".to_string()];
    let client = register(
        &http(),
        &issuer,
        &metadata,
        &ClientChoice::MetadataDocument { url: url.clone() },
        &redirect,
        "MCP Passport",
    )
    .await
    .unwrap();
    assert_eq!(client.record.client_id, url);
    assert_eq!(client.record.auth, ClientAuth::None);
    assert_eq!(client.record.registration, Registration::MetadataDocument);
    assert!(client.secret.is_none());
    // Without support, the same choice falls through to dynamic registration.
    let unsupported = AsMetadata {
        client_id_metadata_document_supported: false,
        ..metadata.clone()
    };
    let client = register(
        &http(),
        &issuer,
        &unsupported,
        &ClientChoice::MetadataDocument { url: url.clone() },
        &redirect,
        "MCP Passport",
    )
    .await
    .unwrap();
    assert_eq!(client.record.registration, Registration::Dynamic);
    assert_ne!(client.record.client_id, url);
    // A document URL that cannot be one is refused.
    let err = register(
        &http(),
        &issuer,
        &metadata,
        &ClientChoice::MetadataDocument {
            url: "http://passport.example/client.json".into(),
        },
        &redirect,
        "MCP Passport",
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, RegistrationError::InvalidMetadataDocumentUrl { .. }),
        "{err}"
    );
    demo.shutdown().await;
}

#[tokio::test]
async fn preregistered_client_is_kept_as_given() {
    // No network: an unreachable registration endpoint proves none is used.
    let metadata: AsMetadata = serde_json::from_value({
        let mut m = as_doc("https://as.example", "https://as.example");
        m["registration_endpoint"] = json!("https://as.example/register");
        m["token_endpoint_auth_methods_supported"] = json!(["client_secret_post"]);
        m
    })
    .unwrap();
    let redirect = vec!["http://127.0.0.1:53682/callback".to_string()];
    let given = |secret: Option<&str>, auth: Option<ClientAuth>| ClientChoice::Preregistered {
        client_id: " Exact-Client.ID ".into(),
        client_secret: secret.map(ClientSecret::new),
        auth,
    };
    let cases = [
        (given(None, None), ClientAuth::None),
        (given(Some("s"), None), ClientAuth::ClientSecretPost),
        (
            given(Some("s"), Some(ClientAuth::ClientSecretBasic)),
            ClientAuth::ClientSecretBasic,
        ),
    ];
    for (choice, auth) in cases {
        let client = register(
            &http(),
            "https://as.example",
            &metadata,
            &choice,
            &redirect,
            "MCP Passport",
        )
        .await
        .unwrap();
        assert_eq!(client.record.client_id, " Exact-Client.ID ");
        assert_eq!(client.record.registration, Registration::Preregistered);
        assert_eq!(client.record.auth, auth);
        let ClientChoice::Preregistered { client_secret, .. } = &choice else {
            unreachable!()
        };
        assert_eq!(&client.secret, client_secret);
        assert!(!format!("{client:?}").contains("\"s\""));
    }
    let err = register(
        &http(),
        "https://as.example",
        &metadata,
        &ClientChoice::Preregistered {
            client_id: "  ".into(),
            client_secret: None,
            auth: None,
        },
        &redirect,
        "MCP Passport",
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, RegistrationError::EmptyClientId { .. }),
        "{err}"
    );
}

// ------------------------------------------------- order and fallbacks

#[tokio::test]
async fn as_metadata_urls_are_tried_in_the_spec_order() {
    let log = Log::default();
    let seen = log.clone();
    let base = serve(move |base| {
        let doc = as_doc(&format!("{base}/tenant1"), &base);
        Router::new().fallback(move |uri: Uri| {
            let seen = seen.clone();
            let doc = doc.clone();
            async move {
                seen.push(uri.path());
                if uri.path() == "/tenant1/.well-known/openid-configuration" {
                    Ok(axum::Json(doc))
                } else {
                    Err(StatusCode::NOT_FOUND)
                }
            }
        })
    })
    .await;
    let metadata = fetch_as_metadata(&http(), &format!("{base}/tenant1"))
        .await
        .unwrap();
    assert_eq!(metadata.issuer, format!("{base}/tenant1"));
    assert_eq!(
        log.all(),
        vec![
            "/.well-known/oauth-authorization-server/tenant1",
            "/.well-known/openid-configuration/tenant1",
            "/tenant1/.well-known/openid-configuration",
        ]
    );
}

#[tokio::test]
async fn a_web_page_or_server_error_at_one_metadata_url_moves_on_to_the_next() {
    let base = serve(|base| {
        let doc = as_doc(&base, &base);
        Router::new()
            .route(
                "/.well-known/oauth-authorization-server",
                get(|| async { axum::response::Html("<html>single page app</html>") }),
            )
            .route(
                "/.well-known/openid-configuration",
                get(move || async move { axum::Json(doc) }),
            )
    })
    .await;
    assert!(fetch_as_metadata(&http(), &base).await.is_ok());
    // Only web pages: the error names the first of them.
    let base =
        serve(|_| Router::new().fallback(|| async { axum::response::Html("<html>nope</html>") }))
            .await;
    let err = fetch_as_metadata(&http(), &base).await.unwrap_err();
    assert!(matches!(err, DiscoveryError::NotJson { .. }), "{err}");
    // Only errors: no metadata.
    let base =
        serve(|_| Router::new().fallback(|| async { StatusCode::INTERNAL_SERVER_ERROR })).await;
    let err = fetch_as_metadata(&http(), &base).await.unwrap_err();
    assert!(matches!(err, DiscoveryError::NoMetadata { .. }), "{err}");
    // Nobody listening: a transport error, not "no metadata".
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://127.0.0.1:{}", l.local_addr().unwrap().port())
    };
    let err = fetch_as_metadata(&http(), &closed).await.unwrap_err();
    assert!(
        matches!(err, DiscoveryError::Http(HttpError::Transport { .. })),
        "{err}"
    );
    // An issuer with a query is not an issuer.
    let err = fetch_as_metadata(&http(), &format!("{closed}/?tenant=1"))
        .await
        .unwrap_err();
    assert!(matches!(err, DiscoveryError::InvalidIssuer { .. }), "{err}");
}

#[tokio::test]
async fn without_a_challenge_the_path_prm_then_the_root_prm_is_used() {
    // Path-based PRM, no WWW-Authenticate at all.
    let log = Log::default();
    let seen = log.clone();
    let base = serve(move |base| {
        let prm = json!({"resource": format!("{base}/v1/mcp"), "authorization_servers": [base.clone()], "scopes_supported": ["files:read", "files:write"]});
        let doc = as_doc(&base, &base);
        Router::new()
            .route("/v1/mcp", post(|| async { StatusCode::UNAUTHORIZED }))
            .route(
                "/.well-known/oauth-protected-resource/v1/mcp",
                get(move || async move { axum::Json(prm) }),
            )
            .route(
                "/.well-known/oauth-authorization-server",
                get(move || async move { axum::Json(doc) }),
            )
            .fallback(move |uri: Uri| {
                let seen = seen.clone();
                async move {
                    seen.push(uri.path());
                    StatusCode::NOT_FOUND
                }
            })
    })
    .await;
    let found = discover_server(&http(), &format!("{base}/v1/mcp"))
        .await
        .unwrap();
    assert!(found.challenge.is_none());
    assert_eq!(found.issuer, base);
    assert_eq!(
        discovery::choose_scope(found.challenge.as_ref(), Some(&found.resource)).as_deref(),
        Some("files:read files:write")
    );
    assert_eq!(mode_of(&found.metadata), Mode::PerServer);
    assert!(log.all().is_empty(), "{:?}", log.all());

    // Only a root PRM, naming the server URL; the challenge's scope wins.
    let log = Log::default();
    let seen = log.clone();
    let base = serve(move |base| {
        let prm = json!({"resource": format!("{base}/mcp"), "authorization_servers": [base.clone()], "scopes_supported": ["x"]});
        let doc = as_doc(&base, &base);
        Router::new()
            .route(
                "/mcp",
                post(|| async {
                    (
                        StatusCode::UNAUTHORIZED,
                        [("www-authenticate", r#"Bearer error="invalid_token", scope="tools:call""#)],
                    )
                }),
            )
            .route(
                "/.well-known/oauth-protected-resource",
                get(move || async move { axum::Json(prm) }),
            )
            .route(
                "/.well-known/oauth-authorization-server",
                get(move || async move { axum::Json(doc) }),
            )
            .fallback(move |uri: Uri| {
                let seen = seen.clone();
                async move {
                    seen.push(uri.path());
                    StatusCode::NOT_FOUND
                }
            })
    })
    .await;
    let found = discover_server(&http(), &format!("{base}/mcp"))
        .await
        .unwrap();
    assert_eq!(log.all(), vec!["/.well-known/oauth-protected-resource/mcp"]);
    assert_eq!(
        found.challenge.as_ref().and_then(|c| c.scope.as_deref()),
        Some("tools:call")
    );
    assert_eq!(
        discovery::choose_scope(found.challenge.as_ref(), Some(&found.resource)).as_deref(),
        Some("tools:call")
    );

    // A root PRM may name the origin, the identifier its URL stands for
    // (RFC 9728 section 3.3); a path-based one may not (see sec_20).
    let base = serve(|base| {
        let prm = json!({"resource": base.clone(), "authorization_servers": [base.clone()]});
        let doc = as_doc(&base, &base);
        Router::new()
            .route("/mcp", post(|| async { StatusCode::UNAUTHORIZED }))
            .route(
                "/.well-known/oauth-protected-resource",
                get(move || async move { axum::Json(prm) }),
            )
            .route(
                "/.well-known/oauth-authorization-server",
                get(move || async move { axum::Json(doc) }),
            )
    })
    .await;
    let found = discover_server(&http(), &format!("{base}/mcp"))
        .await
        .unwrap();
    assert_eq!(found.resource.resource, base);
}

#[tokio::test]
async fn the_probe_is_an_mcp_initialize_accepting_json_and_sse() {
    let seen: Arc<Mutex<Option<(HeaderMap, Value)>>> = Arc::default();
    let keep = seen.clone();
    let (base, _) = server_claiming(|base| format!("{base}/mcp")).await;
    // A second server records the probe and points at the first one's PRM.
    let probe = serve(move |_| {
        let header = format!(r#"Bearer resource_metadata="{base}/prm""#);
        Router::new().route(
            "/mcp",
            post(move |headers: HeaderMap, body: axum::body::Bytes| {
                let keep = keep.clone();
                let header = header.clone();
                async move {
                    *keep.lock().unwrap() = Some((
                        headers,
                        serde_json::from_slice(&body).unwrap_or(Value::Null),
                    ));
                    (StatusCode::UNAUTHORIZED, [("www-authenticate", header)])
                }
            }),
        )
    })
    .await;
    // Its PRM names the other server, so discovery stops on the resource check.
    let err = discover_server(&http(), &format!("{probe}/mcp"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, DiscoveryError::ResourceMismatch { .. }),
        "{err}"
    );
    let (headers, body) = seen.lock().unwrap().clone().unwrap();
    let accept = headers.get("accept").unwrap().to_str().unwrap();
    assert!(accept.contains("application/json") && accept.contains("text/event-stream"));
    assert!(headers.get("authorization").is_none());
    assert_eq!(body["jsonrpc"], "2.0");
    assert_eq!(body["method"], "initialize");
    assert!(body["params"]["protocolVersion"].is_string());
}

#[tokio::test]
async fn a_server_that_lets_initialize_through_is_probed_with_a_2026_07_28_discover() {
    let seen: Arc<Mutex<Vec<(HeaderMap, Value)>>> = Arc::default();
    let keep = seen.clone();
    let (base, _) = server_claiming(|base| format!("{base}/mcp")).await;
    // As MCP 2026-07-28 servers may: `initialize` needs no token (and is
    // refused without the version header), everything else answers 401.
    let probe = serve(move |_| {
        let header = format!(r#"Bearer resource_metadata="{base}/prm", scope="mcp:basic""#);
        Router::new().route(
            "/mcp",
            post(move |headers: HeaderMap, body: axum::body::Bytes| {
                let keep = keep.clone();
                let header = header.clone();
                async move {
                    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    let initialize = body["method"] == "initialize";
                    keep.lock().unwrap().push((headers, body));
                    if initialize {
                        (
                            StatusCode::BAD_REQUEST,
                            [("www-authenticate", String::new())],
                        )
                    } else {
                        (StatusCode::UNAUTHORIZED, [("www-authenticate", header)])
                    }
                }
            }),
        )
    })
    .await;
    // The second probe's challenge is followed: its PRM names the other
    // server, so discovery stops on the resource check (not "no metadata").
    let err = discover_server(&http(), &format!("{probe}/mcp"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, DiscoveryError::ResourceMismatch { .. }),
        "{err}"
    );
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "initialize, then server/discover");
    assert_eq!(seen[0].1["method"], "initialize");
    let (headers, body) = &seen[1];
    assert_eq!(body["method"], "server/discover");
    let meta = &body["params"]["_meta"];
    assert_eq!(
        meta["io.modelcontextprotocol/protocolVersion"],
        "2026-07-28"
    );
    assert!(meta["io.modelcontextprotocol/clientCapabilities"].is_object());
    assert_eq!(headers.get("mcp-protocol-version").unwrap(), "2026-07-28");
    assert_eq!(headers.get("mcp-method").unwrap(), "server/discover");
    assert!(headers.get("authorization").is_none());
}

#[tokio::test]
async fn catalog_entries_the_url_policy_refuses_are_dropped_and_errors_surface() {
    let base = serve(|base| {
        let catalog = json!({"servers": [
            {"id": "good", "name": "Good", "resource": format!("{base}/mcp"), "description": ""},
            {"id": "imds", "name": "IMDS", "resource": "http://169.254.169.254/latest", "description": ""},
            {"id": "plain", "name": "Plain", "resource": "http://files.example/mcp", "description": ""},
            {"id": "junk", "name": "Junk", "resource": "not a url", "description": ""},
        ]});
        Router::new()
            .route("/catalog", get(move || async move { axum::Json(catalog) }))
            .route("/broken", get(|| async { StatusCode::SERVICE_UNAVAILABLE }))
    })
    .await;
    let mut metadata: AsMetadata = serde_json::from_value(as_doc(&base, &base)).unwrap();
    assert!(fetch_catalog(&http(), &metadata).await.unwrap().is_empty());
    metadata.mcp_server_catalog_endpoint = Some(format!("{base}/catalog"));
    let catalog = fetch_catalog(&http(), &metadata).await.unwrap();
    let ids: Vec<_> = catalog.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, vec!["good"]);
    metadata.mcp_server_catalog_endpoint = Some(format!("{base}/broken"));
    let err = fetch_catalog(&http(), &metadata).await.unwrap_err();
    assert!(
        matches!(err, DiscoveryError::CatalogUnavailable { status: 503, .. }),
        "{err}"
    );
    metadata.mcp_server_catalog_endpoint = Some("http://127.0.0.2:9/catalog".into());
    assert!(matches!(
        fetch_catalog(&http(), &metadata).await,
        Err(DiscoveryError::ForeignEndpoint { .. })
    ));
}

#[tokio::test]
async fn registration_answers_are_checked() {
    let base = serve(|_| {
        Router::new()
            .route(
                "/ok-secret",
                post(|| async {
                    (
                        StatusCode::OK,
                        axum::Json(json!({"client_id": "c1", "client_secret": "s1"})),
                    )
                }),
            )
            .route(
                "/post",
                post(|| async {
                    (
                        StatusCode::CREATED,
                        axum::Json(json!({"client_id": "c2", "client_secret": "s2", "token_endpoint_auth_method": "client_secret_post"})),
                    )
                }),
            )
            .route(
                "/jwt",
                post(|| async {
                    (
                        StatusCode::CREATED,
                        axum::Json(json!({"client_id": "c3", "token_endpoint_auth_method": "private_key_jwt"})),
                    )
                }),
            )
            .route(
                "/no-id",
                post(|| async { (StatusCode::CREATED, axum::Json(json!({"client_name": "x"}))) }),
            )
            .route(
                "/accepted",
                post(|| async { (StatusCode::ACCEPTED, axum::Json(json!({"client_id": "c4"}))) }),
            )
            .route(
                "/down",
                post(|| async { (StatusCode::BAD_GATEWAY, "<html>bad gateway</html>") }),
            )
            .route(
                "/refuse",
                post(|| async {
                    (
                        StatusCode::BAD_REQUEST,
                        axum::Json(json!({"error": "invalid_client_metadata", "error_description": "client_name is \u{1b}[31mtoo long\nfor us"})),
                    )
                }),
            )
    })
    .await;
    let redirect = vec!["http://127.0.0.1:53682/callback".to_string()];
    let at = |path: &str| -> AsMetadata {
        let mut m = as_doc(&base, &base);
        m["registration_endpoint"] = json!(format!("{base}{path}"));
        serde_json::from_value(m).unwrap()
    };
    let run = |path: &'static str| {
        let metadata = at(path);
        let redirect = redirect.clone();
        let base = base.clone();
        async move {
            register(
                &http(),
                &base,
                &metadata,
                &ClientChoice::Dynamic,
                &redirect,
                "MCP Passport",
            )
            .await
        }
    };
    let c = run("/ok-secret").await.unwrap();
    assert_eq!(
        (c.record.client_id.as_str(), &c.record.auth),
        ("c1", &ClientAuth::ClientSecretBasic)
    );
    assert_eq!(c.secret.as_ref().map(ClientSecret::expose), Some("s1"));
    let c = run("/post").await.unwrap();
    assert_eq!(c.record.auth, ClientAuth::ClientSecretPost);
    assert!(matches!(
        run("/jwt").await,
        Err(RegistrationError::UnsupportedAuthMethod { .. })
    ));
    assert!(matches!(
        run("/no-id").await,
        Err(RegistrationError::Malformed { .. })
    ));
    assert!(matches!(
        run("/accepted").await,
        Err(RegistrationError::Status { status: 202, .. })
    ));
    assert!(matches!(
        run("/down").await,
        Err(RegistrationError::Status { status: 502, .. })
    ));
    let err = run("/refuse").await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, RegistrationError::Refused { .. }), "{text}");
    assert!(text.contains("(invalid_client_metadata)"), "{text}");
    assert!(
        text.contains("in its own words: \"client_name is [31mtoo longfor us\""),
        "{text}"
    );
    assert!(!text.contains('\u{1b}') && !text.contains('\n'));
    // No registration endpoint and no other option: register by hand.
    let mut none = at("/unused");
    none.registration_endpoint = None;
    let err = register(
        &http(),
        &base,
        &none,
        &ClientChoice::Dynamic,
        &redirect,
        "MCP Passport",
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, RegistrationError::NoRegistration { .. }),
        "{err}"
    );
    let text = err.to_string();
    assert!(text.contains("client id it issued"), "{text}");
    // The engine's words are shown by the app too: no command-line flag in them.
    assert!(!text.contains("--"), "{text}");
    // A registration endpoint on another origin.
    let mut foreign = at("/unused");
    foreign.registration_endpoint = Some("http://127.0.0.2:9/register".into());
    assert!(matches!(
        register(
            &http(),
            &base,
            &foreign,
            &ClientChoice::Dynamic,
            &redirect,
            "MCP Passport"
        )
        .await,
        Err(RegistrationError::ForeignEndpoint { .. })
    ));
}
