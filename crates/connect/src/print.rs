//! `connect --print <client>`: for clients whose settings live in a window
//! (JetBrains AI Assistant) or that the user prefers to set up by hand, the
//! exact JSON to paste, in the client's own format, with a key minted for
//! that client now and shown once. No file is read or written.

use super::format::{self, Format};
use super::{
    Change, ClientKind, ConnectError, PLACEHOLDER, Request, chosen, client, keys_error,
    render_entries,
};
use passport_broker::keys::Keys;
use serde::Serialize;

/// What to paste, and where.
#[derive(Debug, Clone, Serialize)]
pub struct Printed {
    /// The client.
    pub client: ClientKind,
    /// Its name for people.
    pub display: &'static str,
    /// The servers in it.
    pub servers: Vec<String>,
    /// The JSON to paste, with the key in it.
    pub text: String,
    /// Keys of this client revoked to make way for the new one.
    pub revoked_keys: usize,
}

/// The entries alone, in the client's format, as a file holding only them
/// (for a client with one file per server, those files one after another).
fn text(request: &Request, servers: &[String], key: &str) -> Result<String, ConnectError> {
    let client = client(request.kind);
    let entries = render_entries(request, servers, key);
    if client.format == Format::YamlDir {
        return Ok(entries
            .iter()
            .map(|(name, fields)| super::continue_dev::document(name, fields))
            .collect::<Vec<_>>()
            .join("---\n"));
    }
    format::set_members(client.format, "", client.container, &entries)
        .map_err(|e| ConnectError::other("internal", format!("cannot write the entries: {e}")))
}

/// Mints a key for the client (replacing its earlier one, like `connect`;
/// limited to `wanted` when given) and returns the entries to paste.
pub fn print(request: &Request, keys: &Keys) -> Result<Printed, ConnectError> {
    let servers = chosen(request)?;
    // Everything that can fail does so before the key changes.
    text(request, &servers, PLACEHOLDER)?;
    let client = client(request.kind);
    let (key, revoked) = if client.needs_key {
        let revoked = keys.revoke(client.name).map_err(keys_error)?;
        let limit = (!request.wanted.is_empty()).then(|| servers.clone());
        let (_, key) = keys
            .mint(client.name, limit, chrono::Utc::now())
            .map_err(keys_error)?;
        (key, revoked)
    } else {
        (String::new(), 0)
    };
    Ok(Printed {
        client: request.kind,
        display: client.display,
        text: text(request, &servers, &key)?,
        servers,
        revoked_keys: revoked,
    })
}

/// Disconnects a client set up by hand: revokes its keys (there is no
/// file to edit; the entries pasted into it stop working).
pub fn revoke(kind: ClientKind, keys: &Keys) -> Result<Change, ConnectError> {
    let client = client(kind);
    Ok(Change {
        client: kind,
        display: client.display,
        config: std::path::PathBuf::new(),
        servers: Vec::new(),
        before: Vec::new(),
        after: Vec::new(),
        revoked_keys: keys.revoke(client.name).map_err(keys_error)?,
    })
}
