//! Reading and writing `scope` strings with the pattern's `servers:a,b,c`.

/// Splits a scope string into plain scopes and the `servers:` ids (`None`
/// when no `servers:` entry is present).
pub fn split(scope: &str) -> (Vec<String>, Option<Vec<String>>) {
    let mut plain = Vec::new();
    let mut servers: Option<Vec<String>> = None;
    for item in scope.split(' ').filter(|s| !s.is_empty()) {
        match item.strip_prefix("servers:") {
            Some(list) => {
                let ids = servers.get_or_insert_with(Vec::new);
                for id in list.split(',').filter(|s| !s.is_empty()) {
                    if !ids.iter().any(|x| x == id) {
                        ids.push(id.to_string());
                    }
                }
            }
            None if !plain.iter().any(|x| x == item) => plain.push(item.to_string()),
            None => {}
        }
    }
    (plain, servers)
}

/// Joins plain scopes and (when not empty) a `servers:` entry.
pub fn join(plain: &[String], servers: &[String]) -> String {
    let mut parts = plain.to_vec();
    if !servers.is_empty() {
        parts.push(format!("servers:{}", servers.join(",")));
    }
    parts.join(" ")
}

/// The union of several space-separated scope strings, first occurrence
/// order kept; `None` when there is nothing in them.
pub fn union<'a>(scopes: impl IntoIterator<Item = Option<&'a str>>) -> Option<String> {
    let mut all: Vec<&str> = Vec::new();
    for item in scopes
        .into_iter()
        .flatten()
        .flat_map(|s| s.split(' '))
        .filter(|x| !x.is_empty())
    {
        if !all.contains(&item) {
            all.push(item);
        }
    }
    (!all.is_empty()).then(|| all.join(" "))
}

/// The scope of a global authorization request, with a `servers:` hint.
pub fn global_request(hint: &[String]) -> String {
    let plain: Vec<String> = ["mcp:global", "mcp:tools", "mcp:resources", "mcp:prompts"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    join(&plain, hint)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_plain_and_servers() {
        let (plain, servers) = split("mcp:global mcp:tools servers:a,b,a,,c");
        assert_eq!(plain, vec!["mcp:global", "mcp:tools"]);
        assert_eq!(servers, Some(vec!["a".into(), "b".into(), "c".into()]));
        assert_eq!(split("openid").1, None);
    }

    #[test]
    fn union_keeps_first_occurrence_order_and_drops_duplicates() {
        assert_eq!(
            union([Some("a b"), None, Some("b c ")]).as_deref(),
            Some("a b c")
        );
        assert_eq!(union([None, Some(" ")]), None);
    }

    #[test]
    fn join_round_trips_and_omits_empty_server_list() {
        assert_eq!(join(&["x".into()], &[]), "x");
        let s = join(&["x".into()], &["a".into(), "b".into()]);
        assert_eq!(
            split(&s),
            (
                vec!["x".to_string()],
                Some(vec!["a".to_string(), "b".to_string()])
            )
        );
        assert_eq!(
            global_request(&["a".into()]),
            "mcp:global mcp:tools mcp:resources mcp:prompts servers:a"
        );
    }
}
