//! The app's sign-in to several per-server authorization servers at once,
//! on the real controller and engine (no GUI): every server of the sign-in
//! has a row ("waiting for browser", then "signed in" or "failed: why")
//! that changes as its own flow ends, a slow AS holds up nobody, and a
//! failing one loses nothing else. The browser follows the redirects to
//! the loopback listener over real HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use passport_app::passport::{Event, Passport, RowState, SignInRow};
use passport_app::settings::{Redirect, Settings};
use passport_core::engine::Opener;
use passport_core::store::MemoryStore;
use reference_as::per_server::{Behaviour, PerServerAs};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

/// A browser already signed in everywhere: it follows the redirects, the
/// last one to the app's loopback listener.
struct FollowingBrowser;

impl Opener for FollowingBrowser {
    fn open(&self, url: &url::Url) -> Result<(), String> {
        let url = url.clone();
        tokio::spawn(async move {
            let client = passport_core::http::client_builder().build().unwrap();
            let _ = client.get(url).send().await;
        });
        Ok(())
    }
}

type Snapshots = Arc<Mutex<Vec<(Duration, Vec<SignInRow>)>>>;

fn state_of<'a>(rows: &'a [SignInRow], server: &str) -> Option<&'a SignInRow> {
    rows.iter().find(|r| r.server == server)
}

#[tokio::test(flavor = "multi_thread")]
async fn each_server_has_a_row_that_ends_on_its_own() {
    let slow_for = Duration::from_secs(2);
    let ases = [
        PerServerAs::start(Behaviour::Instant).await.unwrap(),
        PerServerAs::start(Behaviour::Slow(slow_for)).await.unwrap(),
        PerServerAs::start(Behaviour::Instant).await.unwrap(),
        PerServerAs::start(Behaviour::Deny).await.unwrap(),
    ];
    let urls: Vec<String> = ases.iter().map(PerServerAs::server_url).collect();
    let home = tempfile::tempdir().unwrap();
    let settings = Settings {
        paths: passport_broker::paths::Paths::under(home.path().to_path_buf()),
        keyring_service: "unused".into(),
        redirect: Redirect::Loopback,
        broker_port: 0,
        demo: false,
        hidden: true,
    };
    let snapshots: Snapshots = Arc::default();
    let me: Arc<OnceLock<Weak<Passport>>> = Arc::new(OnceLock::new());
    let started = Instant::now();
    let (seen, myself) = (Arc::clone(&snapshots), Arc::clone(&me));
    let passport = Passport::open(
        settings,
        Arc::new(MemoryStore::new()),
        Arc::new(FollowingBrowser),
        Arc::new(move |e| {
            if e == Event::Changed
                && let Some(p) = myself.get().and_then(Weak::upgrade)
            {
                let rows = p.overview(false).activity.sign_in_rows;
                seen.lock().unwrap().push((started.elapsed(), rows));
            }
        }),
    )
    .unwrap();
    me.set(Arc::downgrade(&passport)).unwrap();

    passport.sign_in(&urls.join(" ")).unwrap();
    let overview = loop {
        let o = passport.overview(false);
        if o.activity.signing_in.is_none() {
            break o;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "no end");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };

    // At the end: one row per server, each with its own outcome.
    let rows = &overview.activity.sign_in_rows;
    assert_eq!(rows.len(), 4, "{rows:?}");
    for (i, url) in urls.iter().enumerate() {
        let row = state_of(rows, url).unwrap_or_else(|| panic!("no row for {url}: {rows:?}"));
        if i == 3 {
            assert_eq!(row.state, RowState::Failed, "{row:?}");
            assert!(row.label().starts_with("failed: "), "{row:?}");
            assert!(row.label().contains("access_denied"), "{row:?}");
        } else {
            assert_eq!(row.state, RowState::SignedIn, "{row:?}");
            assert_eq!(row.label(), "signed in");
        }
    }
    let error = overview.activity.error.clone().unwrap();
    assert_eq!(error.code, "partly_signed_in", "{error:?}");
    let granted: Vec<String> = overview
        .accounts
        .iter()
        .flat_map(|a| a.servers.iter().map(|s| s.id.clone()))
        .collect();
    assert_eq!(granted.len(), 3, "{granted:?}");
    assert!(!granted.contains(&urls[3]));

    // On the way: every server was waiting for the browser, and the instant
    // ones were signed in while the slow one still waited.
    let snapshots = snapshots.lock().unwrap().clone();
    assert!(
        snapshots.iter().any(|(_, rows)| rows.len() == 4
            && rows
                .iter()
                .all(|r| r.state == RowState::Waiting && r.label() == "waiting for browser")),
        "{snapshots:?}"
    );
    let (when, _) = snapshots
        .iter()
        .find(|(_, rows)| {
            [0, 2]
                .iter()
                .all(|&i| state_of(rows, &urls[i]).is_some_and(|r| r.state == RowState::SignedIn))
                && state_of(rows, &urls[1]).is_some_and(|r| r.state == RowState::Waiting)
        })
        .unwrap_or_else(|| panic!("the instant servers waited for the slow one: {snapshots:?}"));
    assert!(*when < slow_for, "{when:?}");
    // The page sees the rows, never a token.
    let wire = serde_json::to_value(&overview).unwrap();
    assert_eq!(wire["activity"]["sign_in_rows"][0]["state"], "signed-in");
}
