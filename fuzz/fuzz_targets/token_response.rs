//! Token endpoint answers (untrusted): the first byte picks the HTTP status,
//! the second the content type, the rest is the body, served by a loopback
//! server and read through the engine's own `TokenEndpoint` (code exchange
//! or refresh), exactly as a real answer is. Never a panic, and no error
//! message carries a control character (the AS's text reaches terminals).
#![no_main]

use libfuzzer_sys::fuzz_target;
use passport_core::http::HttpClient;
use passport_core::metadata::AsMetadata;
use passport_core::model::{ClientAuth, ClientRecord, Registration};
use passport_core::secret::{AuthCode, ClientSecret, RefreshToken};
use passport_core::token::{TokenEndpoint, TokenError};
use std::sync::{Arc, Mutex, OnceLock};

const STATUSES: [u16; 8] = [200, 200, 400, 401, 403, 500, 201, 302];
const CONTENT_TYPES: [&str; 4] = [
    "application/json",
    "application/json; charset=utf-8",
    "text/html",
    "",
];

/// What the loopback token endpoint answers next.
type Next = Arc<Mutex<(u16, &'static str, Vec<u8>)>>;

struct Harness {
    runtime: tokio::runtime::Runtime,
    http: HttpClient,
    metadata: AsMetadata,
    next: Next,
}

fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let next: Next = Arc::new(Mutex::new((200, CONTENT_TYPES[0], Vec::new())));
        let served = Arc::clone(&next);
        let addr = runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let addr = listener.local_addr().expect("addr");
            let app = axum::Router::new().fallback(move || {
                let served = Arc::clone(&served);
                async move {
                    let (status, content_type, body) = served.lock().expect("lock").clone();
                    let mut response = http::Response::new(axum::body::Body::from(body));
                    *response.status_mut() =
                        http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::OK);
                    if !content_type.is_empty() {
                        response.headers_mut().insert(
                            http::header::CONTENT_TYPE,
                            http::HeaderValue::from_static(content_type),
                        );
                    }
                    response
                }
            });
            tokio::spawn(async move { axum::serve(listener, app).await });
            addr
        });
        let issuer = format!("http://{addr}");
        let metadata = AsMetadata {
            issuer: issuer.clone(),
            authorization_endpoint: format!("{issuer}/authorize"),
            token_endpoint: format!("{issuer}/token"),
            registration_endpoint: None,
            revocation_endpoint: Some(format!("{issuer}/revoke")),
            scopes_supported: None,
            code_challenge_methods_supported: Some(vec!["S256".into()]),
            authorization_response_iss_parameter_supported: true,
            client_id_metadata_document_supported: false,
            token_endpoint_auth_methods_supported: None,
            resource_indicators_supported: None,
            mcp_server_catalog_endpoint: None,
            device_authorization_endpoint: None,
            grant_types_supported: None,
            dpop_signing_alg_values_supported: None,
        };
        Harness {
            runtime,
            http: HttpClient::new().expect("http client"),
            metadata,
            next,
        }
    })
}

fn check(error: &TokenError) {
    let message = error.to_string();
    assert!(
        !message.chars().any(char::is_control),
        "control character in {message:?}"
    );
}

fuzz_target!(|data: &[u8]| {
    let [status, content_type, body @ ..] = data else {
        return;
    };
    let h = harness();
    let answered = STATUSES[usize::from(*status) % STATUSES.len()];
    *h.next.lock().expect("lock") = (
        answered,
        CONTENT_TYPES[usize::from(*content_type) % CONTENT_TYPES.len()],
        body.to_vec(),
    );
    let record = ClientRecord {
        issuer: h.metadata.issuer.clone(),
        client_id: "client".into(),
        auth: if status & 0x80 == 0 {
            ClientAuth::None
        } else {
            ClientAuth::ClientSecretBasic
        },
        registration: Registration::Dynamic,
        redirect_uris: vec!["http://127.0.0.1:5555/callback".into()],
    };
    let secret = ClientSecret::new("secret");
    let Ok(endpoint) = TokenEndpoint::new(&h.http, &h.metadata, &record, Some(&secret)) else {
        return;
    };
    h.runtime.block_on(async {
        let result = match content_type & 0xC0 {
            0x00 => {
                let verifier = oauth2::PkceCodeVerifier::new("v".repeat(43));
                endpoint
                    .exchange_code(
                        AuthCode::new("code"),
                        verifier,
                        "http://127.0.0.1:5555/callback",
                        &["http://127.0.0.1:9401/mcp".into()],
                    )
                    .await
            }
            0x40 => {
                if let Err(e) = endpoint.revoke_refresh(&RefreshToken::new("rt")).await {
                    check(&e);
                }
                return;
            }
            _ => {
                endpoint
                    .refresh(
                        &RefreshToken::new("rt"),
                        Some("mcp:global servers:a"),
                        Some("a"),
                    )
                    .await
            }
        };
        match result {
            // Only a 200 answer carries tokens.
            Ok(_) => assert_eq!(answered, 200),
            Err(e) => check(&e),
        }
    });
});
