//! SECURITY-CASES 5, 7, 8, 16, 18, 19 and 20 on discovery and requests,
//! against small hostile servers on 127.0.0.1 and the real reference AS.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use axum::Router;
use axum::routing::{get, post};
use passport_core::discovery::{DiscoveryError, discover_server, fetch_as_metadata};
use passport_core::http::{HttpClient, HttpError};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

/// Serves `app` on 127.0.0.1:0 and returns its base URL.
async fn serve(app: impl FnOnce(String) -> Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let router = app(base.clone());
    tokio::spawn(async move { axum::serve(listener, router).await });
    base
}

fn metadata(issuer: &str, base: &str) -> Value {
    json!({
        "issuer": issuer, "authorization_endpoint": format!("{base}/authorize"), "token_endpoint": format!("{base}/token"),
        "code_challenge_methods_supported": ["S256"], "scopes_supported": ["mcp:tools"],
    })
}

async fn as_with(doc: impl Fn(&str) -> Value + Send + Sync + 'static) -> String {
    let doc = Arc::new(doc);
    serve(move |base| {
        let body = doc(&base);
        Router::new().route(
            "/.well-known/oauth-authorization-server",
            get(move || async move { axum::Json(body) }),
        )
    })
    .await
}

fn http() -> HttpClient {
    HttpClient::new().unwrap()
}

#[tokio::test]
async fn sec_05_issuer_differing_by_trailing_slash_case_or_port_is_refused() {
    let base = as_with(|base| metadata(&format!("{base}/"), base)).await;
    assert!(matches!(
        fetch_as_metadata(&http(), &base).await,
        Err(DiscoveryError::IssuerMismatch { .. })
    ));
    let base = as_with(|base| metadata(&base.replace("http://", "HTTP://"), base)).await;
    assert!(matches!(
        fetch_as_metadata(&http(), &base).await,
        Err(DiscoveryError::IssuerMismatch { .. })
    ));
    let good = as_with(|base| metadata(base, base)).await;
    assert!(fetch_as_metadata(&http(), &good).await.is_ok());
}

#[tokio::test]
async fn sec_07_foreign_token_endpoint_is_refused() {
    let base = as_with(|base| {
        let mut m = metadata(base, base);
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
}

#[tokio::test]
async fn sec_08_metadata_issuer_differing_from_fetch_url_is_refused() {
    let base = as_with(|_| metadata("https://as.example", "https://as.example")).await;
    let err = fetch_as_metadata(&http(), &base).await.unwrap_err();
    assert!(
        matches!(err, DiscoveryError::IssuerMismatch { .. }),
        "{err}"
    );
}

#[tokio::test]
async fn sec_16_as_without_s256_is_refused() {
    let plain_only = as_with(|base| {
        let mut m = metadata(base, base);
        m["code_challenge_methods_supported"] = json!(["plain"]);
        m
    })
    .await;
    assert!(matches!(
        fetch_as_metadata(&http(), &plain_only).await,
        Err(DiscoveryError::NoS256 { .. })
    ));
    let absent = as_with(|base| {
        let mut m = metadata(base, base);
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
}

#[tokio::test]
async fn sec_19_metadata_or_registration_redirect_to_another_host_fails() {
    let base = serve(|_| {
        Router::new()
            .route(
                "/.well-known/oauth-authorization-server",
                get(|| async {
                    (
                        axum::http::StatusCode::FOUND,
                        [("location", "http://127.0.0.2:9/meta")],
                    )
                }),
            )
            .route(
                "/register",
                post(|| async {
                    (
                        axum::http::StatusCode::TEMPORARY_REDIRECT,
                        [("location", "http://127.0.0.2:9/register")],
                    )
                }),
            )
    })
    .await;
    let err = fetch_as_metadata(&http(), &base).await.unwrap_err();
    assert!(
        matches!(err, DiscoveryError::Http(HttpError::Redirect { .. })),
        "{err}"
    );
}

#[tokio::test]
async fn sec_20_prm_resource_mismatch_starts_no_authorization() {
    let hits = Arc::new(Mutex::new(0));
    let count = hits.clone();
    let base = serve(move |base| {
        let prm =
            json!({"resource": format!("{base}/other"), "authorization_servers": [base.clone()]});
        let count = count.clone();
        Router::new()
            .route(
                "/mcp",
                post(|| async { axum::http::StatusCode::UNAUTHORIZED }),
            )
            .route(
                "/.well-known/oauth-protected-resource/mcp",
                get(move || async move { axum::Json(prm) }),
            )
            .route(
                "/.well-known/oauth-authorization-server",
                get(move || {
                    *count.lock().unwrap() += 1;
                    async { axum::http::StatusCode::NOT_FOUND }
                }),
            )
    })
    .await;
    let err = discover_server(&http(), &format!("{base}/mcp"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, DiscoveryError::ResourceMismatch { .. }),
        "{err}"
    );
    assert_eq!(*hits.lock().unwrap(), 0, "the AS was never contacted");
}

#[tokio::test]
async fn discovery_from_a_sample_server_finds_the_reference_as_in_multi_server_mode() {
    let demo = reference_as::demo::Demo::start(reference_as::demo::DemoConfig::default())
        .await
        .unwrap();
    let server = demo.info().servers[0].resource.clone();
    let found = discover_server(&http(), &server).await.unwrap();
    assert_eq!(found.issuer, demo.info().issuer);
    assert_eq!(found.resource.resource, server);
    assert!(
        found
            .challenge
            .as_ref()
            .and_then(|c| c.resource_metadata.as_deref())
            .is_some_and(|u| u.ends_with("/.well-known/oauth-protected-resource/mcp"))
    );
    assert_eq!(
        passport_core::discovery::mode_of(&found.metadata),
        passport_core::model::Mode::MultiServer
    );
    let catalog = passport_core::discovery::fetch_catalog(&http(), &found.metadata)
        .await
        .unwrap();
    assert_eq!(catalog.len(), 3);
    demo.shutdown().await;
}
