//! Per-call cost of the keyring: `keyring` 3 (a new Secret Service
//! connection and encrypted session per call) against the store (its
//! connections kept). Writes, reads and deletes `CALLS` items with each, one
//! call at a time, then does `CALLS` times what one serial token refresh
//! asks of the keyring (read the refresh token, write the rotated one), and
//! prints p50 and max in ms, measured in the same run on the same daemon,
//! and the ratio of the p50s (which is what holds on a busy machine).
//!
//! Run through `scripts/desktop-session.sh`:
//! `scripts/desktop-session.sh cargo bench --workspace --features mcp-passport-app/demo --bench keyring`
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[cfg(target_os = "linux")]
fn main() {
    linux::main();
}

#[cfg(not(target_os = "linux"))]
fn main() {
    println!("the keyring bench compares Secret Service paths: Linux only");
}

#[cfg(target_os = "linux")]
mod linux {
    use passport_core::store::{StoreKey, TokenStore};
    use passport_keyring::KeyringStore;
    use std::time::{Duration, Instant};

    const CALLS: usize = 200;

    /// p50 and max of per-call times, in ms.
    fn summary(mut times: Vec<Duration>) -> (f64, f64) {
        times.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        (ms(times[times.len() / 2]), ms(times[times.len() - 1]))
    }

    fn timed(calls: usize, mut call: impl FnMut(usize)) -> Vec<Duration> {
        (0..calls)
            .map(|i| {
                let start = Instant::now();
                call(i);
                start.elapsed()
            })
            .collect()
    }

    fn key(i: usize) -> StoreKey {
        StoreKey::RefreshToken {
            grant_id: format!("bench-{i}"),
        }
    }

    /// Write, read, delete and refresh times with `keyring::Entry`.
    fn keyring_3(service: &str) -> [Vec<Duration>; 4] {
        let entry = |i| keyring::Entry::new(service, &key(i).account()).unwrap();
        let write = timed(CALLS, |i| {
            entry(i).set_password(&format!("rt-{i}")).unwrap()
        });
        let read = timed(CALLS, |i| {
            assert_eq!(entry(i).get_password().unwrap(), format!("rt-{i}"));
        });
        let refresh = timed(CALLS, |i| {
            let old = entry(i).get_password().unwrap();
            entry(i).set_password(&format!("{old}'")).unwrap();
        });
        let delete = timed(CALLS, |i| entry(i).delete_credential().unwrap());
        [write, read, delete, refresh]
    }

    /// Write, read, delete and refresh times with the store.
    fn store(store: &KeyringStore) -> [Vec<Duration>; 4] {
        let write = timed(CALLS, |i| store.put(&key(i), &format!("rt-{i}")).unwrap());
        let read = timed(CALLS, |i| {
            assert_eq!(store.get(&key(i)).unwrap(), Some(format!("rt-{i}")));
        });
        let refresh = timed(CALLS, |i| {
            let old = store.get(&key(i)).unwrap().unwrap();
            store.put(&key(i), &format!("{old}'")).unwrap();
        });
        let delete = timed(CALLS, |i| store.delete(&key(i)).unwrap());
        [write, read, delete, refresh]
    }

    pub fn main() {
        let pid = std::process::id();
        let ours = KeyringStore::new(&format!("io.github.mcppassport.bench-store-{pid}"));
        if let Err(e) = ours.get(&key(0)) {
            eprintln!("no usable Secret Service ({e}): run through scripts/desktop-session.sh");
            std::process::exit(1);
        }
        let baseline = keyring_3(&format!("io.github.mcppassport.bench-keyring3-{pid}"));
        let kept = store(&ours);
        println!(
            "keyring calls, {CALLS} each, one at a time (ms per call; same run, same daemon)\n"
        );
        println!("| call | keyring 3 p50 | keyring 3 max | store p50 | store max | p50 ratio |");
        println!("|---|---|---|---|---|---|");
        let names = ["write", "read", "delete", "refresh (read + write)"];
        for (name, (before, after)) in names.iter().zip(baseline.into_iter().zip(kept)) {
            let ((b50, bmax), (a50, amax)) = (summary(before), summary(after));
            println!(
                "| {name} | {b50:.2} | {bmax:.2} | {a50:.2} | {amax:.2} | {:.1}x faster |",
                b50 / a50
            );
        }
        println!(
            "\nthe store opened {} Secret Service connection(s) for {} calls",
            ours.connections_opened(),
            5 * CALLS + 1
        );
    }
}
