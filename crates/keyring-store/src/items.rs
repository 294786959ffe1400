//! Items named and found exactly as keyring 3's Secret Service backend
//! does (Linux), so secrets written by earlier versions are still found and
//! secrets written now are read by them.
//!
//! An item carries the attributes `service`, `username`, `target`
//! (`default`) and `application` (`rust-keyring`), and the label
//! `USER@SERVICE:default (keyring v3.6.3)`. It is searched for in all
//! collections by `target`, `service` and `username`; if none matches, in
//! the default collection by `service` and `username` alone (items of older
//! versions had no `target`). More than one match is an error. A locked
//! match is unlocked first. A write replaces the secret of the match, or
//! creates the item in the default collection, unlocking it first.

use crate::connections::Failure;
use dbus_secret_service::{Collection, Item, SecretService};
use passport_core::store::StoreError;
use std::collections::HashMap;

/// The `target` keyring 3 gives an entry made without one.
const TARGET: &str = "default";
/// The `application` keyring 3 sets on the items it creates.
const APPLICATION: &str = "rust-keyring";
/// The keyring version keyring 3 writes into the label.
const KEYRING_VERSION: &str = "3.6.3";
/// The secret's content type.
const TEXT: &str = "text/plain";

/// Why an item operation failed other than by a Secret Service error.
pub type Failed = Failure<StoreError>;

/// One item's identity: the store's service name and the key's account.
#[derive(Debug, Clone)]
pub struct Name {
    /// The app identifier.
    pub service: String,
    /// The key's account.
    pub user: String,
}

impl Name {
    /// The label keyring 3 gives a new item.
    pub fn label(&self) -> String {
        format!(
            "{}@{}:{TARGET} (keyring v{KEYRING_VERSION})",
            self.user, self.service
        )
    }

    fn search(&self, with_target: bool) -> HashMap<&str, &str> {
        let mut attributes = HashMap::from([
            ("service", self.service.as_str()),
            ("username", self.user.as_str()),
        ]);
        if with_target {
            attributes.insert("target", TARGET);
        }
        attributes
    }

    fn attributes(&self) -> HashMap<&str, &str> {
        let mut attributes = self.search(true);
        attributes.insert("application", APPLICATION);
        attributes
    }
}

/// The one item named `name`, unlocked, if there is one.
fn find<'a>(service: &'a SecretService, name: &Name) -> Result<Option<Item<'a>>, Failed> {
    let found = service.search_items(name.search(true))?;
    let count = found.unlocked.len() + found.locked.len();
    if count == 0 {
        let default = service.get_default_collection()?;
        let legacy = default.search_items(name.search(false))?;
        if legacy.len() > 1 {
            return Err(ambiguous(legacy.len()));
        }
        // The collection's items borrow the collection; name the one found
        // on the service instead.
        return Ok(legacy
            .first()
            .map(|item| Item::new(service, item.path.clone())));
    }
    if count > 1 {
        return Err(ambiguous(count));
    }
    if let Some(item) = found.unlocked.into_iter().next() {
        return Ok(Some(item));
    }
    let mut locked = found.locked.into_iter();
    match locked.next() {
        Some(item) => {
            item.unlock()?;
            Ok(Some(item))
        }
        None => Ok(None),
    }
}

fn ambiguous(count: usize) -> Failed {
    Failure::Other(StoreError::Failed(format!(
        "{count} keyring items match one key; remove the duplicates"
    )))
}

/// The secret of the item named `name`, if there is one.
pub fn get(service: &SecretService, name: &Name) -> Result<Option<String>, Failed> {
    let Some(item) = find(service, name)? else {
        return Ok(None);
    };
    let bytes = item.get_secret()?;
    String::from_utf8(bytes).map(Some).map_err(|_| {
        Failure::Other(StoreError::Failed(
            "the stored item is not UTF-8 text".into(),
        ))
    })
}

/// Replaces the secret of the item named `name`, or creates the item.
pub fn put(service: &SecretService, name: &Name, secret: &str) -> Result<(), Failed> {
    if let Some(item) = find(service, name)? {
        item.set_secret(secret.as_bytes(), TEXT)?;
        return Ok(());
    }
    let collection = match unlocked_default(service) {
        Ok(collection) => collection,
        Err(_) => service.get_default_collection()?,
    };
    collection.create_item(
        &name.label(),
        name.attributes(),
        secret.as_bytes(),
        true,
        TEXT,
    )?;
    Ok(())
}

/// Deletes the item named `name`; no item is fine.
pub fn delete(service: &SecretService, name: &Name) -> Result<(), Failed> {
    if let Some(item) = find(service, name)? {
        item.delete()?;
    }
    Ok(())
}

fn unlocked_default(service: &SecretService) -> Result<Collection<'_>, Failed> {
    let collection = service.get_default_collection()?;
    if collection.is_locked()? {
        collection.unlock()?;
    }
    Ok(collection)
}
