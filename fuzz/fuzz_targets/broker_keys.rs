//! The client key file, as another process (or a damaged disk) may leave
//! it: loading it never panics, and a presented key is accepted only when
//! its id names a live record whose digest matches.
#![no_main]

use libfuzzer_sys::fuzz_target;
use passport_broker::keys::Keys;
use std::sync::OnceLock;

fn dir() -> &'static tempfile::TempDir {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("temp dir"))
}

fuzz_target!(|data: &[u8]| {
    let (file, presented) = match data.iter().position(|b| *b == 0) {
        Some(at) => (
            &data[..at],
            String::from_utf8_lossy(&data[at + 1..]).into_owned(),
        ),
        None => (data, String::new()),
    };
    let path = dir().path().join("keys.json");
    std::fs::write(&path, file).expect("write key file");
    let Ok(keys) = Keys::open(&path) else {
        return;
    };
    let records = keys.list();
    let mut candidates = vec![presented];
    candidates.extend(records.iter().map(|k| format!("mpk_{}_{}", k.id, k.hash)));
    candidates.extend(records.iter().map(|k| format!("mpk_{}_", k.id)));
    for candidate in candidates {
        if let Some(record) = keys.verify(&candidate) {
            assert!(!record.revoked);
            assert!(candidate.starts_with(&format!("mpk_{}_", record.id)));
        }
    }
});
