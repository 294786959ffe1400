//! `WWW-Authenticate` values from MCP servers (untrusted): the challenge
//! parser never panics, ignores values over its limit, and never returns an
//! empty parameter value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use passport_core::challenge::{MAX_CHALLENGE_LEN, parse_www_authenticate};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let parsed = parse_www_authenticate(&text);
    if text.len() > MAX_CHALLENGE_LEN {
        assert!(parsed.is_none());
    }
    if let Some(challenge) = parsed {
        for value in [
            &challenge.resource_metadata,
            &challenge.scope,
            &challenge.error,
        ]
        .into_iter()
        .flatten()
        {
            assert!(!value.is_empty());
        }
    }
});
