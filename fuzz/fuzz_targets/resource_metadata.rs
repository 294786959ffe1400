//! RFC 9728 protected resource metadata as an MCP server serves it
//! (untrusted JSON): read the way discovery reads it; the issuers it names
//! go through the URL policy, the scope choice and the well-known URLs of
//! its resource are derived. Never a panic; derived URLs stay on the
//! resource's origin.
#![no_main]

use libfuzzer_sys::fuzz_target;
use passport_core::challenge::BearerChallenge;
use passport_core::discovery::{choose_scope, resource_metadata_urls};
use passport_core::http::Response;
use passport_core::metadata::ResourceMetadata;
use passport_core::url_policy;

fuzz_target!(|data: &[u8]| {
    let document = Response {
        status: http::StatusCode::OK,
        headers: http::HeaderMap::new(),
        body: data.to_vec(),
    };
    let Some(resource) = document.json::<ResourceMetadata>() else {
        return;
    };
    if let Some(scope) = choose_scope(None, Some(&resource)) {
        assert_eq!(
            Some(scope),
            resource.scopes_supported.as_ref().map(|s| s.join(" "))
        );
    }
    let challenge = BearerChallenge::default();
    let _ = choose_scope(Some(&challenge), Some(&resource));
    if let Ok(server) = url_policy::check_user_url(&resource.resource) {
        for url in resource_metadata_urls(&server) {
            assert_eq!(url.origin(), server.origin());
        }
        for issuer in &resource.authorization_servers {
            let _ = url_policy::check_endpoint(issuer, &server);
        }
    }
});
