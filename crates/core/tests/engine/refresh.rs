use crate::support::*;
use passport_core::clock::Clock;
use passport_core::error::EngineError;
use passport_core::model::GrantStatus;
use reference_as::demo::DemoConfig;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sec_21_a_thousand_concurrent_requests_on_an_expired_token_make_one_refresh() {
    let h = Harness::start(DemoConfig::default()).await;
    h.global_login(&["github-mcp"]).await;
    let first = h.engine.token("github-mcp").await.unwrap();
    h.clock.advance(chrono::Duration::hours(2));
    let before = h.refreshes();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..1000 {
        let engine = h.engine.clone();
        tasks.spawn(async move {
            engine
                .token("github-mcp")
                .await
                .map(|t| t.access_token.expose().to_string())
        });
    }
    let tokens: Vec<String> = tasks
        .join_all()
        .await
        .into_iter()
        .map(|r| r.expect("token"))
        .collect();
    assert_eq!(
        h.refreshes() - before,
        1,
        "exactly one refresh reached the AS"
    );
    assert!(
        tokens.iter().all(|t| t == &tokens[0]),
        "all 1000 got the same new token"
    );
    assert_ne!(tokens[0], first.access_token.expose());
    h.demo.shutdown().await;
}

#[tokio::test]
async fn fresh_tokens_are_served_from_memory_and_refreshed_near_expiry() {
    let h = Harness::start(DemoConfig {
        access_ttl: 600,
        ..DemoConfig::default()
    })
    .await;
    h.global_login(&["github-mcp"]).await;
    let a = h.engine.token("github-mcp").await.unwrap();
    let refreshes = h.refreshes();
    let b = h.engine.token("github-mcp").await.unwrap();
    assert_eq!(a.access_token, b.access_token);
    assert_eq!(h.refreshes(), refreshes, "a fresh token costs no refresh");
    h.clock.advance(chrono::Duration::seconds(600 - 30));
    let c = h.engine.token("github-mcp").await.unwrap();
    assert_ne!(
        a.access_token, c.access_token,
        "within 10% of its lifetime the token is renewed"
    );
    assert_eq!(h.refreshes(), refreshes + 1);
    h.demo.shutdown().await;
}

#[tokio::test]
async fn as_down_keeps_serving_unexpired_tokens_and_reports_unreachable() {
    let mut h = Harness::start(DemoConfig::default()).await;
    h.global_login(&["github-mcp"]).await;
    let a = h.engine.token("github-mcp").await.unwrap();
    h.demo.stop_authorization_server().await;
    h.clock.advance(chrono::Duration::minutes(58));
    let b = h
        .engine
        .token("github-mcp")
        .await
        .expect("an unexpired token is still served");
    assert_eq!(a.access_token, b.access_token);
    assert!(matches!(
        h.engine.grants()[0].status,
        GrantStatus::Unreachable { .. }
    ));
    h.clock.advance(chrono::Duration::minutes(3));
    assert!(
        matches!(
            h.engine.token("github-mcp").await,
            Err(EngineError::Unreachable { .. })
        ),
        "an expired token is not served as fresh"
    );
    h.demo.shutdown().await;
}

/// docs/faults.md: each retry time is the backoff (2 s, doubling, at most
/// 5 minutes) plus a jitter under 1 s, and the jitter differs between
/// attempts (so many clients that failed together do not retry together).
#[tokio::test]
async fn retry_times_after_an_outage_are_the_backoff_plus_a_jitter_that_varies() {
    let mut h = Harness::start(DemoConfig::default()).await;
    h.global_login(&["github-mcp"]).await;
    h.engine.token("github-mcp").await.unwrap();
    h.demo.stop_authorization_server().await;
    h.clock.advance(chrono::Duration::minutes(61));
    let mut jitters = Vec::new();
    for expected_attempt in 1..=20u32 {
        let now = h.clock.now();
        assert!(matches!(
            h.engine.token("github-mcp").await,
            Err(EngineError::Unreachable { .. })
        ));
        let GrantStatus::Unreachable {
            retry_at, attempts, ..
        } = h.engine.grants()[0].status.clone()
        else {
            panic!("not unreachable: {:?}", h.engine.grants()[0].status);
        };
        assert_eq!(attempts, expected_attempt, "one AS attempt per retry time");
        let backoff = 2i64.saturating_mul(1 << (attempts - 1).min(10)).min(300);
        let jitter = (retry_at - now - chrono::Duration::seconds(backoff)).num_milliseconds();
        assert!(
            (0..1000).contains(&jitter),
            "attempt {attempts}: retry {} ms after the failure, not {backoff} s plus under 1 s",
            (retry_at - now).num_milliseconds()
        );
        jitters.push(jitter);
        // Asking again before the retry time reaches nobody and changes nothing.
        assert!(h.engine.token("github-mcp").await.is_err());
        assert!(matches!(
            h.engine.grants()[0].status,
            GrantStatus::Unreachable { attempts: a, .. } if a == attempts
        ));
        h.clock
            .advance(retry_at - now + chrono::Duration::milliseconds(1));
    }
    let spread = jitters.iter().max().unwrap() - jitters.iter().min().unwrap();
    // 20 draws from 0..1000 ms all within 300 ms of each other: about 1 in 10^8.
    assert!(spread > 300, "the jitter hardly varies: {jitters:?}");
    h.demo.shutdown().await;
}

/// "Refresh now" asks the AS even when a fresh token is in memory, so a
/// grant revoked at the AS shows at once (the dashboard's button).
#[tokio::test]
async fn refresh_now_asks_the_as_even_with_a_fresh_token_and_learns_of_a_revoked_grant() {
    let h = Harness::start(DemoConfig::default()).await;
    h.global_login(&["github-mcp"]).await;
    let first = h.engine.token("github-mcp").await.unwrap();
    let before = h.refreshes();
    let again = h.engine.refresh_now("github-mcp").await.unwrap();
    assert_eq!(h.refreshes(), before + 1, "one request to the AS");
    assert_ne!(first.access_token, again.access_token);
    // `token` is satisfied by memory; `refresh_now` is not.
    assert_eq!(
        h.engine.token("github-mcp").await.unwrap().access_token,
        again.access_token
    );
    assert_eq!(h.refreshes(), before + 1);
    revoke_all_at_account_page(&h).await;
    assert!(
        h.engine.token("github-mcp").await.is_ok(),
        "a fresh token is still served from memory"
    );
    assert!(matches!(
        h.engine.refresh_now("github-mcp").await,
        Err(EngineError::SignInNeeded { .. })
    ));
    assert!(matches!(
        h.engine.grants()[0].status,
        GrantStatus::SignInNeeded { .. }
    ));
    h.demo.shutdown().await;
}

#[tokio::test]
async fn grant_revoked_at_the_account_page_becomes_sign_in_needed_without_a_retry_loop() {
    let h = Harness::start(DemoConfig::default()).await;
    let grant = h.global_login(&["github-mcp"]).await;
    h.engine.token("github-mcp").await.unwrap();
    revoke_all_at_account_page(&h).await;
    h.clock.advance(chrono::Duration::hours(2));
    let err = h.engine.token("github-mcp").await.unwrap_err();
    assert_eq!(err.code(), "sign_in_needed");
    assert!(matches!(
        h.engine.grants()[0].status,
        GrantStatus::SignInNeeded { .. }
    ));
    let after = h.refreshes();
    for _ in 0..5 {
        assert_eq!(
            h.engine.token("github-mcp").await.unwrap_err().code(),
            "sign_in_needed"
        );
    }
    assert_eq!(h.refreshes(), after, "no further refresh attempts");
    assert_eq!(h.engine.grants()[0].id, grant.id);
    h.demo.shutdown().await;
}

async fn revoke_all_at_account_page(h: &Harness) {
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .unwrap();
    let account = format!("{}/account", h.issuer());
    let html = browser
        .get(&account)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = value(&html, "csrf");
    browser
        .post(format!("{}/login", h.issuer()))
        .form(&[
            ("username", "demo"),
            ("password", "demo"),
            ("csrf", csrf.as_str()),
            ("return_to", "/account"),
        ])
        .send()
        .await
        .unwrap();
    let html = browser
        .get(&account)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let marker = "action=\"/account/grants/";
    let start = html.find(marker).unwrap() + marker.len();
    let id = &html[start..start + html[start..].find('/').unwrap()];
    let csrf = value(&html, "csrf");
    let r = browser
        .post(format!("{}/account/grants/{id}/revoke", h.issuer()))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 303);
}

fn value(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).unwrap() + marker.len();
    html[start..start + html[start..].find('"').unwrap()].to_string()
}
