//! Signing in through the browser and a deep link, the single instance, start at login.

use super::harness::{APP, Gui};
use crate::{ONE_AT_A_TIME, WAIT};
use std::time::Duration;

async fn countdowns(gui: &Gui) -> Vec<String> {
    serde_json::from_value(
        gui.session
            .eval("return [...document.querySelectorAll('tr.server .countdown')].map(c => c.textContent)")
            .await,
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn signing_in_through_the_browser_and_a_deep_link_lists_the_chosen_servers_with_a_countdown()
{
    let _one = ONE_AT_A_TIME.lock().await;
    let gui = Gui::start("sign-in", &["github-mcp", "slack-mcp"]).await;
    gui.session
        .wait_for(
            "the welcome",
            "return !document.getElementById('welcome').hidden",
            WAIT,
        )
        .await;
    gui.shot("1-welcome").await;
    gui.sign_in(2).await;
    let servers = gui.servers().await;
    let ids: Vec<&str> = servers.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(
        ids,
        ["github-mcp", "slack-mcp"],
        "the servers ticked in the picker"
    );
    assert!(
        servers.iter().all(|(_, status)| status == "active"),
        "{servers:?}"
    );
    let first = countdowns(&gui).await;
    assert!(
        first.iter().all(|c| c.contains("min")),
        "an hour-long token counts down in minutes: {first:?}"
    );
    let rows = gui
        .session
        .eval("window.heldRow = document.querySelector('tr.server'); window.heldButton = document.querySelector('button.add-servers'); return true")
        .await;
    assert_eq!(rows, serde_json::json!(true));
    // The countdown moves on the minute (it shows seconds only in a token's
    // last five minutes, so an open dashboard wakes once a minute).
    gui.session
        .wait_for_with(
            "the countdown to move",
            "const [first] = arguments; const now = [...document.querySelectorAll('tr.server .countdown')].map(c => c.textContent); return now.every((c, i) => c !== first[i] && /^\\d+ min$/.test(c))",
            serde_json::json!([first]),
            Duration::from_secs(65),
        )
        .await;
    let held = gui
        .session
        .eval("return window.heldRow === document.querySelector('tr.server') && window.heldButton === document.querySelector('button.add-servers') && window.heldRow.isConnected")
        .await;
    assert_eq!(
        held,
        serde_json::json!(true),
        "a row and a button keep their elements across ticks"
    );
    let welcome_hidden = gui
        .session
        .eval("return document.getElementById('welcome').hidden")
        .await;
    assert_eq!(welcome_hidden, serde_json::json!(true));
    let page = gui
        .session
        .eval("return document.documentElement.outerHTML")
        .await;
    let (_, key) = gui.endpoint();
    assert!(
        !page.as_str().unwrap().contains(&key),
        "the page never holds a client key"
    );
    gui.shot("2-dashboard").await;

    gui.session.resize(800, 600).await;
    let fits = gui
        .session
        .wait_for(
            "the 800x600 layout",
            "return window.innerWidth <= 800 && document.documentElement.scrollWidth <= window.innerWidth",
            WAIT,
        )
        .await;
    assert_eq!(
        fits,
        serde_json::json!(true),
        "nothing overflows sideways at 800x600"
    );
    gui.shot("3-800x600").await;
    gui.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_launch_is_forwarded_and_a_callback_with_a_wrong_state_changes_nothing() {
    let _one = ONE_AT_A_TIME.lock().await;
    let gui = Gui::start("second-launch", &["github-mcp"]).await;
    gui.sign_in(1).await;
    let before = std::fs::read_to_string(gui.dir.path().join("home/state.json")).unwrap();
    let shown = "return [document.getElementById('banner-text').textContent, [...document.querySelectorAll('tr.server')].map(r => r.dataset.id + ':' + r.dataset.status).join(',')]";
    let shown_before = gui.session.eval(shown).await;

    let started = std::time::Instant::now();
    let second = tokio::process::Command::new(APP)
        .arg("io.github.mcppassport:/oauth/callback?code=forged&state=not-a-pending-flow")
        .output();
    let second = tokio::time::timeout(Duration::from_secs(10), second)
        .await
        .expect("the second launch exits")
        .unwrap();
    assert!(
        second.status.success(),
        "the second launch hands over and exits 0"
    );
    println!("second launch exited after {:?}", started.elapsed());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !gui.log().contains("callback was dropped") && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    assert_eq!(gui.session.windows().await.len(), 1, "no second window");
    let after = std::fs::read_to_string(gui.dir.path().join("home/state.json")).unwrap();
    assert_eq!(before, after, "the state is unchanged");
    assert_eq!(
        shown_before,
        gui.session.eval(shown).await,
        "the dashboard shows the same"
    );
    assert!(
        gui.log().contains("callback was dropped"),
        "the first instance received and dropped it"
    );
    assert!(
        !gui.log().contains("forged"),
        "the dropped code is not logged"
    );
    gui.shot("1-after-forged-callback").await;
    gui.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn start_at_login_is_off_by_default_and_the_switch_writes_and_removes_the_entry() {
    let _one = ONE_AT_A_TIME.lock().await;
    let gui = Gui::start("autostart", &["github-mcp"]).await;
    let autostart = dirs::config_dir().unwrap().join("autostart");
    let entries = || -> Vec<String> {
        std::fs::read_dir(&autostart)
            .map(|d| {
                d.filter_map(Result::ok)
                    .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                    .filter(|t| t.contains("mcp-passport-app"))
                    .collect()
            })
            .unwrap_or_default()
    };
    let checked = "return document.getElementById('autostart').checked";
    gui.session
        .wait_for(
            "the dashboard",
            "return document.getElementById('autostart') !== null",
            WAIT,
        )
        .await;
    assert_eq!(
        gui.session.eval(checked).await,
        serde_json::json!(false),
        "off by default"
    );
    assert!(entries().is_empty());

    gui.session.click("#autostart").await;
    gui.session.wait_for("switched on", checked, WAIT).await;
    let on = eventually(|| {
        let on = entries();
        (!on.is_empty()).then_some(on)
    })
    .await;
    assert_eq!(on.len(), 1, "one autostart entry");
    assert!(
        on[0].contains("--hidden"),
        "it starts in the tray: {}",
        on[0]
    );
    gui.shot("1-start-at-login").await;

    gui.session.click("#autostart").await;
    gui.session
        .wait_for(
            "switched off",
            "return !document.getElementById('autostart').checked",
            WAIT,
        )
        .await;
    eventually(|| entries().is_empty().then_some(())).await;
    assert!(entries().is_empty(), "the entry is removed");
    gui.stop().await;
}

/// Polls `check` until it gives a value (10 s at most), then returns the
/// last answer, or panics naming what did not happen.
async fn eventually<T>(check: impl Fn() -> Option<T>) -> T {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the autostart entry did not change within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
