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
