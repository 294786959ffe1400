//! A closed dashboard is dropped after a while, and WebKit's web process
//! with it, and comes back from the tray and from a second launch: the app
//! binary started directly (no WebDriver, whose session a dropped web view
//! would end), with `MCP_PASSPORT_DASHBOARD_KEEP_SECONDS=1`, watched
//! through its log, its child processes, the X display and its tray.

use super::harness::{APP, log_dir, wait_for_no_app};
use super::status_notifier::Tray;
use super::tray::{close_window, running};
use crate::{ONE_AT_A_TIME, WAIT};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const WINDOW_TITLE: &str = "MCP Passport";
const LOADED: &str = "dashboard page loaded";
const DROPPED: &str = "hidden dashboard dropped";

#[tokio::test(flavor = "multi_thread")]
async fn a_closed_dashboard_is_dropped_with_its_web_process_and_comes_back_from_the_tray_and_a_launch()
 {
    let _one = ONE_AT_A_TIME.lock().await;
    assert!(
        wait_for_no_app(Duration::from_secs(10)),
        "an MCP Passport app still runs on this session bus"
    );
    let tray = Tray::watch().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let log = log_dir().join(format!("gui-dashboard-drop-{}.log", std::process::id()));
    let app = App::start(dir.path(), &log);
    let item = tray.item(WAIT).await;

    // Open at start: one page load, one web process.
    wait_count(&log, LOADED, 1).await;
    wait_web_processes(app.pid(), 1).await;

    // Closed: hidden at once, then dropped, and its web process ends; the
    // app lives on in the tray.
    close_window(WINDOW_TITLE);
    wait_count(&log, DROPPED, 1).await;
    wait_web_processes(app.pid(), 0).await;
    assert!(running(app.pid()), "the app runs on with no window");
    assert_eq!(tray.registered().await.len(), 1, "still in the tray");

    // Open dashboard (tray): made again, loaded, a web process again.
    tray.click(&item, "Open dashboard").await;
    wait_count(&log, LOADED, 2).await;
    wait_web_processes(app.pid(), 1).await;

    // Closed and dropped again, then a second launch (as a launcher does)
    // hands over to the running app, which makes the dashboard again.
    close_window(WINDOW_TITLE);
    wait_count(&log, DROPPED, 2).await;
    wait_web_processes(app.pid(), 0).await;
    let second = Command::new(APP)
        .env("MCP_PASSPORT_HOME", dir.path().join("home"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("a second launch");
    assert!(second.success(), "the second launch hands over: {second}");
    wait_count(&log, LOADED, 3).await;
    wait_web_processes(app.pid(), 1).await;
    // The window is on the display (close_window finds exactly one).
    close_window(WINDOW_TITLE);
    wait_count(&log, DROPPED, 3).await;

    // Quit still ends the app.
    tray.click(&item, "Quit MCP Passport").await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while running(app.pid()) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the app still runs after Quit"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(app);
    tray.stop().await;
}

/// The app, started with its window open; killed if the test fails.
struct App(Child);

impl App {
    fn start(dir: &Path, log: &PathBuf) -> App {
        let stderr = std::fs::File::create(log).expect("log file");
        let child = Command::new(APP)
            .env("MCP_PASSPORT_HOME", dir.join("home"))
            .env(
                "MCP_PASSPORT_KEYRING_SERVICE",
                format!("io.github.mcppassport.gui-drop-{}", std::process::id()),
            )
            .env("MCP_PASSPORT_PORT", "0")
            .env("MCP_PASSPORT_LOG", "info")
            .env("MCP_PASSPORT_DASHBOARD_KEEP_SECONDS", "1")
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("the app starts");
        App(child)
    }

    fn pid(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        wait_for_no_app(Duration::from_secs(10));
    }
}

/// Waits until `line` appears `count` times in the log at `log`.
async fn wait_count(log: &Path, line: &str, count: usize) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let seen = text.matches(line).count();
        if seen == count {
            return;
        }
        assert!(
            seen < count && tokio::time::Instant::now() < deadline,
            "{line:?} {seen} times, waiting for {count}; the log:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until `count` WebKit web processes run under the process `app`.
async fn wait_web_processes(app: u32, count: usize) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let seen = web_processes(app);
        if seen == count {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{seen} WebKit web processes under the app, waiting for {count}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// How many live `WebKitWebProcess` descendants the process `app` has.
fn web_processes(app: u32) -> usize {
    let parent = |pid: u32| -> Option<(String, u32, bool)> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let (head, rest) = stat.rsplit_once(") ")?;
        let comm = head.split_once(" (")?.1.to_string();
        let mut fields = rest.split(' ');
        let zombie = fields.next()? == "Z";
        Some((comm, fields.next()?.parse().ok()?, zombie))
    };
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| {
            let Some((comm, mut up, zombie)) = parent(pid) else {
                return false;
            };
            if zombie || !comm.starts_with("WebKitWebProces") {
                return false;
            }
            while up > 1 {
                if up == app {
                    return true;
                }
                up = parent(up).map_or(0, |(_, p, _)| p);
            }
            false
        })
        .count()
}
