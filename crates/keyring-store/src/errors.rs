//! From `keyring` errors to the engine's typed [`StoreError`].
//!
//! Messages are built from the error kind and the platform's own text,
//! never from stored bytes, so no secret can end up in an error.

use passport_core::store::StoreError;

/// Maps a `keyring` error (other than `NoEntry`, which the callers handle)
/// to a [`StoreError`].
pub(crate) fn map_error(e: keyring::Error) -> StoreError {
    match e {
        keyring::Error::NoStorageAccess(inner) => {
            let text = inner.to_string();
            if is_locked(&text) {
                StoreError::Locked
            } else {
                StoreError::Unavailable(text)
            }
        }
        keyring::Error::PlatformFailure(inner) => StoreError::Unavailable(inner.to_string()),
        keyring::Error::NoEntry => StoreError::Failed("no such item".into()),
        keyring::Error::BadEncoding(_) => {
            StoreError::Failed("the stored item is not UTF-8 text".into())
        }
        keyring::Error::Ambiguous(items) => StoreError::Failed(format!(
            "{} keyring items match one key; remove the duplicates",
            items.len()
        )),
        other => StoreError::Failed(other.to_string()),
    }
}

/// Maps a Secret Service error to a [`StoreError`] the way keyring 3 does
/// for its own calls: a locked object, no result or a dismissed prompt is
/// "no storage access", anything else a platform failure.
#[cfg(target_os = "linux")]
pub(crate) fn map_service_error(e: dbus_secret_service::Error) -> StoreError {
    use dbus_secret_service::Error;
    map_error(match e {
        Error::Locked | Error::NoResult | Error::Prompt => {
            keyring::Error::NoStorageAccess(Box::new(e))
        }
        other => keyring::Error::PlatformFailure(Box::new(other)),
    })
}

/// Whether a storage-access error means "locked and not unlocked":
/// the Secret Service says "object locked" or "unlock prompt was dismissed".
fn is_locked(text: &str) -> bool {
    let text = text.to_ascii_lowercase();
    text.contains("locked") || text.contains("unlock prompt")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Platform(&'static str);
    impl std::fmt::Display for Platform {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }
    impl std::error::Error for Platform {}

    fn no_access(text: &'static str) -> keyring::Error {
        keyring::Error::NoStorageAccess(Box::new(Platform(text)))
    }

    #[test]
    fn a_locked_collection_or_dismissed_prompt_is_locked() {
        assert_eq!(
            map_error(no_access("Secret Service: object locked")),
            StoreError::Locked
        );
        assert_eq!(
            map_error(no_access("Secret Service: unlock prompt was dismissed")),
            StoreError::Locked
        );
    }

    #[test]
    fn no_service_is_unavailable_with_the_platform_reason() {
        let e = map_error(keyring::Error::PlatformFailure(Box::new(Platform(
            "No DBus session or Secret Service provider found",
        ))));
        assert!(matches!(&e, StoreError::Unavailable(r) if r.contains("No DBus session")));
        assert!(e.to_string().contains("then try again"), "{e}");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn secret_service_errors_map_as_keyring_3_maps_them() {
        use dbus_secret_service::Error;
        assert_eq!(map_service_error(Error::Locked), StoreError::Locked);
        assert_eq!(map_service_error(Error::Prompt), StoreError::Locked);
        assert!(matches!(
            map_service_error(Error::NoResult),
            StoreError::Unavailable(r) if r.contains("no result")
        ));
        assert!(matches!(
            map_service_error(Error::Unavailable),
            StoreError::Unavailable(r) if r.contains("No DBus session")
        ));
    }

    #[test]
    fn undecodable_item_is_failed_without_its_bytes() {
        let e = map_error(keyring::Error::BadEncoding(b"rt-secret\xff".to_vec()));
        assert!(matches!(e, StoreError::Failed(_)));
        assert!(!format!("{e} {e:?}").contains("rt-secret"), "{e:?}");
    }
}
