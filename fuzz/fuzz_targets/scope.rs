//! `scope` strings with `servers:` lists, as token responses carry them
//! (untrusted): splitting never yields an empty, spaced or comma-holding
//! id, nor a repeated one; joining what was split and splitting again gives
//! the same result; the union of two scopes holds every item of each, once.
#![no_main]

use libfuzzer_sys::fuzz_target;
use passport_core::scope::{join, split, union};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (first, second) = text.split_once('\n').unwrap_or((&text, ""));

    let (plain, servers) = split(first);
    for item in &plain {
        assert!(!item.is_empty() && !item.contains(' ') && !item.starts_with("servers:"));
        assert_eq!(plain.iter().filter(|x| *x == item).count(), 1);
    }
    let ids = servers.clone().unwrap_or_default();
    for id in &ids {
        assert!(!id.is_empty() && !id.contains(',') && !id.contains(' '));
        assert_eq!(ids.iter().filter(|x| *x == id).count(), 1);
    }
    let again = split(&join(&plain, &ids));
    assert_eq!(again.0, plain);
    assert_eq!(again.1, servers.filter(|s| !s.is_empty()));

    let both = union([Some(first), Some(second)]);
    let items: Vec<&str> = both.as_deref().unwrap_or("").split(' ').collect();
    for item in first
        .split(' ')
        .chain(second.split(' '))
        .filter(|x| !x.is_empty())
    {
        assert_eq!(items.iter().filter(|x| **x == item).count(), 1);
    }
    assert_eq!(
        both.is_none(),
        first.trim_matches(' ').is_empty() && second.trim_matches(' ').is_empty()
    );
});
