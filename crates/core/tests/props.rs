//! Property tests for `scope`: the `servers:a,b` pattern is how the granted
//! servers travel in every token response, and narrowing a grant rebuilds
//! it with `join`, so splitting and joining must agree on every input, and
//! a hostile scope string must never produce an empty, spaced or
//! comma-holding server id. `union` builds authorization requests from
//! several scopes: it must lose nothing and repeat nothing.

use passport_core::scope::{global_request, join, split, union};
use proptest::prelude::*;

/// A plain scope item: no space, not empty, not a `servers:` entry.
fn plain_item() -> impl Strategy<Value = String> {
    "[a-z][a-z:_.]{0,11}".prop_filter("not a servers: entry", |s| !s.starts_with("servers:"))
}

/// A server id as catalogs name them.
fn server_id() -> impl Strategy<Value = String> {
    "[a-z0-9][a-z0-9_.-]{0,15}"
}

/// Scope strings from the pattern's own alphabet (spaces, commas, colons,
/// `servers:` entries, empty items) or any text at all.
fn scope_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "( |,|a|b|c|servers:|mcp:global|servers:a,b|,,){0,16}",
        any::<String>(),
    ]
}

/// The first occurrence of each item, in order.
fn dedup(items: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for item in items {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// What `join` writes, `split` reads back: plain items in order, the
    /// ids in order, and no `servers:` entry when there are no ids.
    #[test]
    fn join_then_split_round_trips(
        plain in prop::collection::vec(plain_item(), 0..6),
        ids in prop::collection::vec(server_id(), 0..6),
    ) {
        let (plain, ids) = (dedup(plain), dedup(ids));
        let (read_plain, read_ids) = split(&join(&plain, &ids));
        prop_assert_eq!(read_plain, plain);
        prop_assert_eq!(read_ids, (!ids.is_empty()).then_some(ids));
    }

    /// Whatever the input, split yields no empty, spaced or comma-holding
    /// id and no id twice, and the plain items are unique, non-empty and
    /// free of spaces and `servers:` entries.
    #[test]
    fn split_never_yields_hostile_ids(scope in scope_text()) {
        let (plain, ids) = split(&scope);
        for id in ids.iter().flatten() {
            prop_assert!(!id.is_empty() && !id.contains(',') && !id.contains(' '), "{:?}", id);
        }
        if let Some(ids) = &ids {
            prop_assert_eq!(&dedup(ids.clone()), ids);
        }
        for item in &plain {
            prop_assert!(!item.is_empty() && !item.contains(' ') && !item.starts_with("servers:"));
        }
        prop_assert_eq!(&dedup(plain.clone()), &plain);
    }

    /// The ids are those of every `servers:` entry (several entries merge),
    /// in first-occurrence order; `Some` exactly when an entry exists, even
    /// an empty one.
    #[test]
    fn split_merges_every_servers_entry_in_order(scope in scope_text()) {
        let entries: Vec<&str> = scope
            .split(' ')
            .filter_map(|item| item.strip_prefix("servers:"))
            .collect();
        let expected = dedup(
            entries
                .iter()
                .flat_map(|list| list.split(','))
                .filter(|id| !id.is_empty())
                .map(str::to_string),
        );
        let (_, ids) = split(&scope);
        prop_assert_eq!(ids, (!entries.is_empty()).then_some(expected));
    }

    /// Splitting what was split and joined gives the same answer, whatever
    /// the original text (a `servers:` entry without ids is dropped).
    #[test]
    fn split_join_split_is_stable(scope in scope_text()) {
        let (plain, ids) = split(&scope);
        let again = split(&join(&plain, ids.as_deref().unwrap_or_default()));
        prop_assert_eq!(again.0, plain);
        prop_assert_eq!(again.1, ids.filter(|ids| !ids.is_empty()));
    }

    /// `join` trusts its ids: one holding a comma or a space does not
    /// survive the round trip, which is why ids only ever come from `split`
    /// or a catalog the engine has already checked.
    #[test]
    fn ids_with_separators_do_not_round_trip(
        head in server_id(),
        separator in prop_oneof![Just(','), Just(' ')],
        tail in server_id(),
    ) {
        let id = format!("{head}{separator}{tail}");
        let (_, read) = split(&join(&[], std::slice::from_ref(&id)));
        prop_assert_ne!(read, Some(vec![id]));
    }

    /// The global request scope always asks for the four Multi-Server
    /// scopes and carries the hint's ids, once each, in order.
    #[test]
    fn global_request_carries_the_hint(ids in prop::collection::vec(server_id(), 0..6)) {
        let (plain, hint) = split(&global_request(&ids));
        prop_assert_eq!(plain, vec!["mcp:global", "mcp:tools", "mcp:resources", "mcp:prompts"]);
        let ids = dedup(ids);
        prop_assert_eq!(hint, (!ids.is_empty()).then_some(ids));
    }

    /// The union holds every item of every input, once, first occurrence
    /// first; `None` exactly when there is no item at all.
    #[test]
    fn union_is_a_superset_without_repeats(
        a in scope_text(),
        b in scope_text(),
        skip in any::<bool>(),
    ) {
        let inputs = [Some(a.as_str()), skip.then_some(""), Some(b.as_str())];
        let all: Vec<String> = inputs
            .iter()
            .flatten()
            .flat_map(|s| s.split(' '))
            .filter(|x| !x.is_empty())
            .map(str::to_string)
            .collect();
        let joined = union(inputs);
        prop_assert_eq!(joined.is_none(), all.is_empty());
        let items: Vec<String> = joined.iter().flat_map(|s| s.split(' ')).map(str::to_string).collect();
        prop_assert_eq!(items, dedup(all));
    }

    /// As sets, `union(a, b)` and `union(b, a)` are equal.
    #[test]
    fn union_is_commutative_as_sets(a in scope_text(), b in scope_text()) {
        let set = |s: Option<String>| {
            let mut items: Vec<String> = s.iter().flat_map(|s| s.split(' ')).map(str::to_string).collect();
            items.sort();
            items
        };
        prop_assert_eq!(set(union([Some(a.as_str()), Some(b.as_str())])), set(union([Some(b.as_str()), Some(a.as_str())])));
    }

    /// Union is idempotent: with itself, or applied to its own result, it
    /// changes nothing.
    #[test]
    fn union_is_idempotent(a in scope_text(), b in scope_text()) {
        let once = union([Some(a.as_str()), Some(b.as_str())]);
        prop_assert_eq!(union([once.as_deref()]), once.clone());
        prop_assert_eq!(union([once.as_deref(), once.as_deref()]), once.clone());
        prop_assert_eq!(union([once.as_deref(), Some(a.as_str()), Some(b.as_str())]), once);
    }
}
