//! TLS for every client built by [`crate::http::client_builder`], with the
//! system's trusted roots read when a first certificate must be checked,
//! not when the client is made.
//!
//! The platform verifier (what reqwest uses by default) reads and parses the
//! whole certificate store as it is made: on Linux the bundle and every file
//! in `/etc/ssl/certs`, about 300 files. The desktop app made two clients at
//! start (the engine's and the broker's) and `mcp-passport headers` one, all
//! before their first request, which mostly goes to loopback over plain HTTP
//! and never needs a root. Here the same verifier is made at the first TLS
//! handshake instead; signatures are checked with the same crypto provider,
//! which needs no roots. The configuration is otherwise reqwest's own:
//! its default protocol versions and HTTP/1.1.

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, Error, SignatureScheme};
use std::sync::{Arc, OnceLock};

/// The platform's verifier, made at the first certificate it must check.
#[derive(Debug)]
struct RootsAtFirstUse {
    provider: Arc<CryptoProvider>,
    verifier: OnceLock<Result<rustls_platform_verifier::Verifier, Error>>,
}

impl RootsAtFirstUse {
    fn verifier(&self) -> Result<&rustls_platform_verifier::Verifier, Error> {
        self.verifier
            .get_or_init(|| rustls_platform_verifier::Verifier::new(Arc::clone(&self.provider)))
            .as_ref()
            .map_err(Clone::clone)
    }
}

impl ServerCertVerifier for RootsAtFirstUse {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        self.verifier()?.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        )
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A client TLS configuration that reads the system's roots at first use.
pub fn client_config() -> Result<rustls::ClientConfig, Error> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier = RootsAtFirstUse {
        provider: Arc::clone(&provider),
        verifier: OnceLock::new(),
    };
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_root_is_read_until_a_certificate_is_checked() {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let lazy = RootsAtFirstUse {
            provider,
            verifier: OnceLock::new(),
        };
        assert!(!lazy.supported_verify_schemes().is_empty());
        assert!(lazy.verifier.get().is_none(), "made before any check");
        let name = ServerName::try_from("example.com").unwrap_or_else(|e| panic!("{e}"));
        let junk = CertificateDer::from(vec![0u8; 8]);
        let checked = lazy.verify_server_cert(&junk, &[], &name, &[], UnixTime::now());
        assert!(checked.is_err(), "a malformed certificate is refused");
        assert!(lazy.verifier.get().is_some(), "made at the first check");
    }
}
