//! Which sample server to run: its id, display name and description.
//!
//! The id is what the Multi-Server AS puts in a token's `aud` and what picks
//! the server's tools, so it lives apart from the serving code: the demo
//! builds its catalog from these values before any server runs.

/// The identity of one sample server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerSpec {
    /// The server id, as it appears in `aud` and in `servers:` scopes.
    pub id: String,
    /// A human-readable name (also the RFC 9728 `resource_name`).
    pub name: String,
    /// One sentence on what the server offers.
    pub description: String,
}

impl ServerSpec {
    /// The spec for `id`: the well-known ids (see [`default_ids`]) get their
    /// own names and descriptions, any other id a generic one.
    pub fn for_id(id: &str) -> ServerSpec {
        let (name, description) = match id {
            "github-mcp" => (
                "GitHub (sample)",
                "Issues of an in-memory repository: list them and open new ones.",
            ),
            "slack-mcp" => (
                "Slack (sample)",
                "Channels of an in-memory workspace: list them and post messages.",
            ),
            "notion-mcp" => (
                "Notion (sample)",
                "Pages of an in-memory workspace: search them and create new ones.",
            ),
            _ => {
                return ServerSpec {
                    id: id.to_string(),
                    name: format!("{id} (sample)"),
                    description: format!(
                        "A generic sample MCP server with the id {id}: it echoes text and reports who you are."
                    ),
                };
            }
        };
        ServerSpec {
            id: id.to_string(),
            name: name.to_string(),
            description: description.to_string(),
        }
    }
}

/// The ids of the sample servers the demo runs by default.
pub fn default_ids() -> Vec<String> {
    ["github-mcp", "slack-mcp", "notion-mcp"]
        .iter()
        .map(|s| s.to_string())
        .collect()
}
