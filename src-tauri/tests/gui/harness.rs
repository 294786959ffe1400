//! One app under test: the demo stack in this process (so a test can act
//! at the authorization server), a fresh home and keyring service, the app
//! started by `tauri-driver` with `BROWSER` pointing at a script that hands
//! each sign-in URL to this process, which then plays the person at the
//! browser: it fills in the AS's sign-in and picker forms over HTTP and
//! delivers the redirect by launching the app binary with the callback URL,
//! exactly as the OS does with a deep link.

use super::webdriver::Session;
use reference_as::approve::{Approval, approve};
use reference_as::demo::{Demo, DemoConfig};
use std::os::unix::process::CommandExt as _;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The app binary.
pub const APP: &str = env!("CARGO_BIN_EXE_mcp-passport-app");

/// One running app, its demo and its driver.
pub struct Gui {
    pub demo: Demo,
    pub session: Session,
    pub dir: tempfile::TempDir,
    name: &'static str,
    /// The app's stderr, kept under `target/test-logs`.
    log_file: PathBuf,
    driver: DriverGroup,
    /// The servers the person ticks; `None` while they leave the page open.
    selection: Arc<Mutex<Option<Vec<String>>>>,
    approver: tokio::task::JoinHandle<()>,
}

/// `tauri-driver` in its own process group; dropping it kills the group
/// (driver, WebKitWebDriver and the app), so a failed test leaves no app
/// behind to swallow the next test's launch as a "second instance".
struct DriverGroup(Child);

impl Drop for DriverGroup {
    fn drop(&mut self) {
        let group = format!("-{}", self.0.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.0.wait();
        // The app is gone only once the bus has let go of its name.
        wait_for_no_app(Duration::from_secs(10));
    }
}

/// The session-bus name a running app holds (tauri-plugin-single-instance):
/// an app started while it is owned hands its arguments over and exits.
const INSTANCE_NAME: &str = "io.github.mcppassport.SingleInstance";

/// Whether an app holds [`INSTANCE_NAME`] on the session bus.
fn app_running() -> bool {
    let answer = Command::new("dbus-send")
        .args([
            "--session",
            "--print-reply",
            "--dest=org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus.NameHasOwner",
            &format!("string:{INSTANCE_NAME}"),
        ])
        .output()
        .expect("dbus-send (package dbus) runs");
    String::from_utf8_lossy(&answer.stdout).contains("boolean true")
}

/// Waits (at most `timeout`) until no app holds the single-instance name,
/// as a killed app keeps it until the bus sees its connection close.
/// Returns whether it was released.
pub fn wait_for_no_app(timeout: Duration) -> bool {
    let started = std::time::Instant::now();
    while app_running() {
        if started.elapsed() > timeout {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    if started.elapsed() > Duration::from_millis(20) {
        eprintln!(
            "the last app let go of {INSTANCE_NAME} after {:?}",
            started.elapsed()
        );
    }
    true
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn tauri_driver() -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join("tauri-driver"))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| dirs::home_dir().map(|h| h.join(".cargo")))
        .map(|d| d.join("bin/tauri-driver"));
    on_path
        .into_iter()
        .chain(cargo_home)
        .find(|p| p.is_file())
        .expect("tauri-driver is not installed; run scripts/setup.sh (it runs `cargo install tauri-driver --locked`)")
}

/// Where screenshots go: `target/gui-screenshots/`.
pub fn screenshot_dir() -> PathBuf {
    target_dir().join("gui-screenshots")
}

/// Where the app's logs are kept after the test, for the leak scan
/// (`scripts/leak-scan.sh` reads `target/test-logs`).
pub fn log_dir() -> PathBuf {
    let dir = target_dir().join("test-logs");
    std::fs::create_dir_all(&dir).expect("the test log folder");
    dir
}

fn target_dir() -> PathBuf {
    PathBuf::from(APP)
        .parent()
        .and_then(|d| d.parent())
        .map(PathBuf::from)
        .expect("the target folder")
}

impl Gui {
    /// Starts the demo and the app; the person at the browser will tick `pick`.
    pub async fn start(name: &'static str, pick: &[&str]) -> Gui {
        // A new app would otherwise hand over to the last test's and exit.
        assert!(
            wait_for_no_app(Duration::from_secs(10)),
            "an MCP Passport app still holds {INSTANCE_NAME} on this session bus 10 s after its test ended"
        );
        let demo = Demo::start(DemoConfig {
            introspect: true,
            ..DemoConfig::default()
        })
        .await
        .expect("the demo starts");
        let dir = tempfile::tempdir().expect("temp dir");
        let opened = dir.path().join("opened");
        let browser = dir.path().join("browser.sh");
        std::fs::write(
            &browser,
            format!(
                "#!/bin/sh\nprintf '%s\\n' \"$1\" >> '{}'\n",
                opened.display()
            ),
        )
        .expect("browser script");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&browser, std::fs::Permissions::from_mode(0o755))
                .expect("chmod");
        }
        let service = format!("io.github.mcppassport.gui-{name}-{}", std::process::id());
        let (port, native) = (free_port(), free_port());
        let log_file = log_dir().join(format!("gui-{name}-{}.log", std::process::id()));
        let log = std::fs::File::create(&log_file).expect("log file");
        let driver = Command::new(tauri_driver())
            .process_group(0)
            .args([
                "--port",
                &port.to_string(),
                "--native-port",
                &native.to_string(),
            ])
            .env("MCP_PASSPORT_HOME", dir.path().join("home"))
            .env("MCP_PASSPORT_KEYRING_SERVICE", &service)
            .env("MCP_PASSPORT_PORT", "0")
            .env("MCP_PASSPORT_LOG", "info")
            .env("BROWSER", &browser)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map(DriverGroup)
            .expect("tauri-driver starts");
        let status = format!("http://127.0.0.1:{port}/status");
        let mut ready = false;
        for _ in 0..100 {
            if reqwest::get(&status)
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                ready = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(ready, "tauri-driver did not answer on {status}");
        let session = Session::start(port, APP, &[]).await;
        let selection = Arc::new(Mutex::new(Some(
            pick.iter().map(|s| s.to_string()).collect(),
        )));
        let approver = tokio::spawn(play_the_person_at_the_browser(
            opened,
            Arc::clone(&selection),
        ));
        Gui {
            demo,
            session,
            dir,
            name,
            log_file,
            driver,
            selection,
            approver,
        }
    }

    /// The servers the person ticks at the next picker.
    pub fn pick(&self, servers: &[&str]) {
        *self.selection.lock().expect("selection") =
            Some(servers.iter().map(|s| s.to_string()).collect());
    }

    /// The person leaves the next sign-in page open and does nothing.
    pub fn walk_away(&self) {
        *self.selection.lock().expect("selection") = None;
    }

    /// The demo's issuer.
    pub fn issuer(&self) -> String {
        self.demo.info().issuer.clone()
    }

    /// Saves `target/gui-screenshots/<test>-<step>.png`.
    pub async fn shot(&self, step: &str) {
        self.session
            .screenshot(&screenshot_dir().join(format!("{}-{step}.png", self.name)))
            .await;
    }

    /// The broker's port and the CLI's key, from the app's endpoint file.
    pub fn endpoint(&self) -> (u16, String) {
        let text = std::fs::read_to_string(self.dir.path().join("home/run/endpoint.json"))
            .expect("endpoint file");
        let v: serde_json::Value = serde_json::from_str(&text).expect("endpoint JSON");
        (
            v["port"]
                .as_u64()
                .and_then(|p| u16::try_from(p).ok())
                .expect("port"),
            v["key"].as_str().expect("key").to_string(),
        )
    }

    /// Everything the app wrote to stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_file).unwrap_or_default()
    }

    /// Types the demo's issuer and presses Enter (the keyboard path);
    /// waits until that sign-in has ended with `count` servers.
    pub async fn sign_in(&self, count: usize) {
        self.session
            .wait_for(
                "the welcome",
                "return !document.getElementById('welcome').hidden && document.activeElement.id === 'target'",
                Duration::from_secs(20),
            )
            .await;
        self.session
            .type_into("#target", &format!("{}\u{E007}", self.issuer()))
            .await;
        self.wait_signed_in(count, "").await;
    }

    /// Waits until the sign-in just started has ended: none is pending any
    /// more, the banner is that sign-in's own outcome ("Signed in: ...",
    /// naming `naming`), and the dashboard lists `count` active servers.
    pub async fn wait_signed_in(&self, count: usize, naming: &str) {
        self.session
            .wait_for_with(
                &format!("the sign-in to end with {count} servers, naming '{naming}'"),
                "const [count, naming] = arguments;
                 const banner = document.getElementById('banner');
                 const text = document.getElementById('banner-text').textContent;
                 return !banner.hidden && banner.className === 'info' && text.startsWith('Signed in')
                   && text.includes(naming)
                   && document.querySelectorAll('tr.server').length === count
                   && document.querySelectorAll('tr.server[data-status=active]').length === count",
                serde_json::json!([count, naming]),
                Duration::from_secs(30),
            )
            .await;
    }

    /// Waits until the banner shows the outcome of the action just taken:
    /// of `kind` (`info` or `error`), containing `text`.
    pub async fn wait_banner(&self, kind: &str, text: &str) -> String {
        let shown = self
            .session
            .wait_for_with(
                &format!("the {kind} banner '{text}'"),
                "const [kind, text] = arguments;
                 const banner = document.getElementById('banner');
                 const shown = document.getElementById('banner-text').textContent;
                 return !banner.hidden && banner.className === kind && shown.includes(text) && shown",
                serde_json::json!([kind, text]),
                Duration::from_secs(30),
            )
            .await;
        shown.as_str().unwrap_or_default().to_string()
    }

    /// The server ids the dashboard lists, with their status.
    pub async fn servers(&self) -> Vec<(String, String)> {
        let v = self
            .session
            .eval("return [...document.querySelectorAll('tr.server')].map(r => [r.dataset.id, r.dataset.status])")
            .await;
        serde_json::from_value(v).expect("server rows")
    }

    /// Closes the app, the driver and the demo.
    pub async fn stop(self) {
        self.approver.abort();
        self.session.end().await;
        drop(self.driver);
        self.demo.shutdown().await;
    }
}

async fn play_the_person_at_the_browser(
    opened: PathBuf,
    selection: Arc<Mutex<Option<Vec<String>>>>,
) {
    let mut handled = 0;
    loop {
        let urls: Vec<String> = std::fs::read_to_string(&opened)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect();
        for url in urls.iter().skip(handled) {
            let Some(servers) = selection.lock().ok().and_then(|s| s.clone()) else {
                continue; // away: this page stays open, unanswered
            };
            let approval = Approval {
                url: url.clone(),
                user: ("demo".into(), "demo".into()),
                servers,
                exec: Some(APP.to_string()),
            };
            if let Err(e) = approve(&approval).await {
                eprintln!("the person at the browser could not finish: {e}");
            }
        }
        handled = urls.len();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
