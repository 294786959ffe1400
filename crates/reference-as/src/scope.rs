//! Scope strings: the plain scopes plus the pattern's `servers:a,b,c` entry.
//!
//! The grant's server set travels in `scope` so that a client can read what
//! it was granted without decoding the access token, and so that a refresh
//! can narrow it with plain RFC 6749 scope narrowing.

/// The scopes this AS knows, besides `servers:...`.
pub const SUPPORTED: &[&str] = &[
    "mcp:global",
    "mcp:tools",
    "mcp:resources",
    "mcp:prompts",
    "mcp:write",
    "offline_access",
];

/// Scopes granted when a request names none.
pub const DEFAULT: &[&str] = &["mcp:tools", "mcp:resources", "mcp:prompts"];

/// A parsed `scope` parameter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    /// Plain scopes, in request order, without duplicates.
    pub plain: Vec<String>,
    /// The ids of a `servers:` entry, if one was present.
    pub servers: Option<Vec<String>>,
}

impl Scope {
    /// Parses a space-separated scope string. Empty ids in `servers:` are dropped.
    pub fn parse(raw: &str) -> Self {
        let mut scope = Scope::default();
        for item in raw.split(' ').filter(|s| !s.is_empty()) {
            if let Some(list) = item.strip_prefix("servers:") {
                let ids = scope.servers.get_or_insert_with(Vec::new);
                for id in list.split(',').filter(|s| !s.is_empty()) {
                    if !ids.iter().any(|x| x == id) {
                        ids.push(id.to_string());
                    }
                }
            } else if !scope.plain.iter().any(|x| x == item) {
                scope.plain.push(item.to_string());
            }
        }
        scope
    }

    /// Whether a plain scope is present.
    pub fn has(&self, name: &str) -> bool {
        self.plain.iter().any(|s| s == name)
    }

    /// The plain scopes this AS does not know.
    pub fn unknown(&self) -> Vec<&str> {
        self.plain
            .iter()
            .map(String::as_str)
            .filter(|s| !SUPPORTED.contains(s))
            .collect()
    }
}

/// Formats plain scopes and a server list as one scope string.
pub fn format(plain: &[String], servers: &[String]) -> String {
    let mut parts: Vec<String> = plain.to_vec();
    if !servers.is_empty() {
        parts.push(format!("servers:{}", servers.join(",")));
    }
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_plain_scopes_and_server_list() {
        let s = Scope::parse("mcp:global mcp:tools servers:a,b,,a  mcp:tools");
        assert_eq!(s.plain, vec!["mcp:global", "mcp:tools"]);
        assert_eq!(s.servers, Some(vec!["a".to_string(), "b".to_string()]));
        assert!(s.has("mcp:global"));
    }

    #[test]
    fn absent_server_list_is_none_not_empty() {
        assert_eq!(Scope::parse("mcp:tools").servers, None);
        assert_eq!(Scope::parse("servers:").servers, Some(vec![]));
    }

    #[test]
    fn unknown_scopes_are_reported() {
        assert_eq!(Scope::parse("mcp:tools admin").unknown(), vec!["admin"]);
    }

    #[test]
    fn format_round_trips() {
        let text = format(&["mcp:tools".into()], &["a".into(), "b".into()]);
        assert_eq!(text, "mcp:tools servers:a,b");
        assert_eq!(
            Scope::parse(&text).servers,
            Some(vec!["a".into(), "b".into()])
        );
    }
}
