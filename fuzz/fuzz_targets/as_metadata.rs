//! RFC 8414 authorization server metadata as an AS serves it (untrusted
//! JSON): read the way discovery reads it, then checked against its own
//! issuer and against a fixed one. Never a panic; a document that passes
//! the check offers S256 and names the issuer exactly; every metadata URL
//! derived from an issuer stays on its origin.
#![no_main]

use libfuzzer_sys::fuzz_target;
use passport_core::discovery::{check_as_metadata, metadata_urls, mode_of};
use passport_core::http::Response;
use passport_core::metadata::{AsMetadata, CatalogServer};
use passport_core::url_policy;

fn response(body: &[u8]) -> Response {
    Response {
        status: http::StatusCode::OK,
        headers: http::HeaderMap::new(),
        body: body.to_vec(),
    }
}

fuzz_target!(|data: &[u8]| {
    let document = response(data);
    if let Some(metadata) = document.json::<AsMetadata>() {
        let _ = mode_of(&metadata);
        let _ = metadata.is_multi_server();
        if check_as_metadata(&metadata.issuer, &metadata).is_ok() {
            assert!(metadata.supports_s256());
        }
        for issuer in ["https://as.example", "http://127.0.0.1:9400"] {
            match check_as_metadata(issuer, &metadata) {
                Ok(()) => {
                    assert_eq!(metadata.issuer, issuer);
                    assert!(metadata.supports_s256());
                }
                // The document's words reach the terminal: no control characters.
                Err(e) => {
                    let message = e.to_string();
                    assert!(!message.chars().any(char::is_control), "{message:?}");
                }
            }
        }
        if let Ok(issuer) = url::Url::parse(&metadata.issuer) {
            for url in metadata_urls(&issuer) {
                let at = |u: &url::Url| {
                    (
                        u.scheme().to_string(),
                        u.host_str().map(str::to_string),
                        u.port(),
                    )
                };
                assert_eq!(at(&url), at(&issuer));
                assert!(url.query().is_none() && url.fragment().is_none());
            }
        }
    }
    // The same bytes as a catalog entry list, filtered as the catalog is.
    if let Some(servers) = document.json::<Vec<CatalogServer>>() {
        let Ok(origin) = url::Url::parse("https://as.example") else {
            return;
        };
        for server in &servers {
            let _ = url_policy::check_endpoint(&server.resource, &origin);
        }
    }
});
