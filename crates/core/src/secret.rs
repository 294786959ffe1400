//! Secret values: tokens, codes, verifiers and client secrets.
//!
//! Each is a newtype that prints as `[redacted]` in `Debug` and `Display`
//! and implements neither `Serialize` nor `Deserialize`, so a secret cannot
//! reach a log line, a panic message, the state file or the UI by accident.
//! Reading one is an explicit `.expose()` call.

macro_rules! secret_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq)]
        pub struct $name(String);

        impl $name {
            /// Wraps a secret value.
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }

            /// The secret itself.
            ///
            /// Security: never log, display or persist the returned value
            /// outside the OS keyring.
            pub fn expose(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(concat!(stringify!($name), "([redacted])"))
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("[redacted]")
            }
        }
    };
}

secret_type!(
    /// An OAuth access token (held in memory only).
    AccessToken
);
secret_type!(
    /// An OAuth refresh token (held in the OS keyring only).
    RefreshToken
);
secret_type!(
    /// A client secret from pre-registration or dynamic registration.
    ClientSecret
);
secret_type!(
    /// An authorization code from a callback.
    AuthCode
);
secret_type!(
    /// An OpenID Connect ID token or an ID-JAG (held in memory only).
    IdToken
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print_their_value() {
        let token = AccessToken::new("eyJhbGciOi.very-secret");
        assert_eq!(format!("{token}"), "[redacted]");
        assert_eq!(format!("{token:?}"), "AccessToken([redacted])");
        assert_eq!(
            format!("{:?}", Some(RefreshToken::new("rt-123"))),
            "Some(RefreshToken([redacted]))"
        );
        assert_eq!(token.expose(), "eyJhbGciOi.very-secret");
    }
}
