//! Signing in from a machine whose browser is elsewhere (SSH, containers,
//! WSL): the device flow (a code typed on any device) where the
//! authorization server offers it, else paste-back (the browser on another
//! machine lands on this machine's unreachable loopback address, and the
//! person pastes that address here).

use crate::broker_client::AdminAnswer;
use crate::cli::SignInOptions;
use crate::commands::Failure;
use passport_broker::admin_api::{DeviceShown, Pasted};
use passport_core::clock::Clock;
use passport_core::device::{DeviceCode, DeviceError};
use passport_core::engine::{DevicePrompt, Engine, LoginRequest, Opener};
use passport_core::error::EngineError;
use passport_core::flows::Flows;
use passport_core::model::Grant;
use std::sync::Arc;
use url::Url;

/// The redirect URI registered for device sign-ins (never visited: the
/// device grant has no redirect, but registration asks for one).
pub const DEVICE_REDIRECT_URI: &str = "http://127.0.0.1/callback";

/// How a sign-in reaches a browser.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Way {
    /// A browser on this machine (or the headless follower, or printing).
    Here,
    /// The device flow only (`--device`).
    Device,
    /// Paste-back only (`--paste`).
    Paste,
    /// No display: the device flow where offered, else paste-back.
    DeviceOrPaste,
}

/// Whether this session has no local browser to open: an SSH session, or
/// (Linux and other Unixes but macOS) no graphical display; unless
/// `$BROWSER` names a way to open pages anyway.
pub fn no_local_browser(var: impl Fn(&str) -> Option<String>) -> bool {
    let set = |name: &str| var(name).is_some_and(|v| !v.is_empty());
    if set("BROWSER") {
        return false;
    }
    let ssh = set("SSH_CONNECTION") || set("SSH_TTY");
    let no_display =
        cfg!(all(unix, not(target_os = "macos"))) && !set("DISPLAY") && !set("WAYLAND_DISPLAY");
    ssh || no_display
}

/// The way `options` ask for, with the environment deciding when they do not.
pub fn way(options: &SignInOptions) -> Way {
    if options.device {
        Way::Device
    } else if options.paste {
        Way::Paste
    } else if options.headless_authorize || options.no_browser {
        Way::Here
    } else if no_local_browser(|name| std::env::var(name).ok()) {
        Way::DeviceOrPaste
    } else {
        Way::Here
    }
}

/// Runs the device flow when `way` asks for it: `Some` with its outcome,
/// or `None` when the sign-in should go on by a browser (not asked for, or
/// not offered by the server and paste-back may follow).
pub async fn try_device(
    engine: &Engine,
    way: Way,
    asked: &LoginRequest,
) -> Option<Result<Vec<Grant>, Failure>> {
    if !matches!(way, Way::Device | Way::DeviceOrPaste) {
        return None;
    }
    let request = LoginRequest {
        redirect_uri: DEVICE_REDIRECT_URI.into(),
        ..asked.clone()
    };
    match engine.login_device(&request, &PrintDeviceCode).await {
        Err(EngineError::Device(DeviceError::NotOffered { issuer }))
            if way == Way::DeviceOrPaste =>
        {
            eprintln!(
                "{} offers no sign-in with a code; signing in by pasting the browser's address instead.",
                passport_core::text::untrusted(&issuer, 300)
            );
            None
        }
        other => Some(other.map_err(Failure::from)),
    }
}

/// Prints a device code for the person.
pub struct PrintDeviceCode;

impl DevicePrompt for PrintDeviceCode {
    fn show(&self, issuer: &str, code: &DeviceCode) {
        eprintln!("{}", device_text(issuer, code));
    }
}

/// What the person is told about a device code.
pub fn device_text(issuer: &str, code: &DeviceCode) -> String {
    shown_text(
        issuer,
        code.verification_uri.as_str(),
        code.verification_uri_complete.as_ref().map(|u| u.as_str()),
        &code.user_code,
        code.expires_in.as_secs(),
    )
}

/// What the person is told about a device code a running broker sent.
pub fn device_shown_text(code: &DeviceShown) -> String {
    shown_text(
        &code.issuer,
        &code.verification_uri,
        code.verification_uri_complete.as_deref(),
        &code.user_code,
        code.expires_in,
    )
}

fn shown_text(
    issuer: &str,
    uri: &str,
    complete: Option<&str>,
    user_code: &str,
    expires_in: u64,
) -> String {
    let clean = |s: &str| passport_core::text::untrusted(s, 2000);
    let mut text = format!(
        "To sign in to {}, open this address on any device:\n  {}\nand enter the code: {}",
        clean(issuer),
        clean(uri),
        clean(user_code)
    );
    if let Some(complete) = complete {
        text.push_str(&format!(
            "\n(or open {}, which has the code filled in)",
            clean(complete)
        ));
    }
    text.push_str(&format!(
        "\nWaiting for your approval (the code expires in {} minutes)...",
        expires_in.div_ceil(60)
    ));
    text
}

/// The opener of paste-back: prints the address and what to do.
pub struct PasteUrl;

/// What the person is told about a paste-back sign-in.
pub fn paste_text(url: &str) -> String {
    format!(
        "Open this address in a browser on any machine and sign in:\n  {url}\n\
         The browser then lands on a page that cannot load (http://127.0.0.1:...). \
         Copy that page's whole address from the address bar and paste it here:"
    )
}

impl Opener for PasteUrl {
    fn open(&self, url: &Url) -> Result<(), String> {
        eprintln!("{}", paste_text(url.as_str()));
        Ok(())
    }
}

type Lines = tokio::sync::Mutex<tokio::sync::mpsc::UnboundedReceiver<String>>;

/// Lines the person types, read on one thread of their own for the whole
/// command (a blocked read of the terminal must not keep the command from
/// exiting, and a second reader would take lines meant for the first).
pub fn stdin_lines() -> &'static Lines {
    static LINES: std::sync::OnceLock<Lines> = std::sync::OnceLock::new();
    LINES.get_or_init(|| {
        let (lines, received) = tokio::sync::mpsc::unbounded_channel();
        std::thread::spawn(move || {
            for line in std::io::stdin().lines() {
                let Ok(line) = line else { break };
                if lines.send(line).is_err() {
                    break;
                }
            }
        });
        tokio::sync::Mutex::new(received)
    })
}

/// Runs `login` while delivering pasted addresses to `flows`; a bad paste
/// is explained and another one asked for.
pub async fn with_pastes<T>(
    flows: Arc<Flows>,
    clock: Arc<dyn Clock>,
    login: impl std::future::Future<Output = T>,
) -> T {
    let pastes = async move {
        let mut lines = stdin_lines().lock().await;
        while let Some(line) = lines.recv().await {
            if line.trim().is_empty() {
                continue;
            }
            match passport_core::paste::deliver_pasted(&flows, &line, clock.now()) {
                Ok(()) => eprintln!("Address accepted; finishing the sign-in..."),
                Err(e) => eprintln!("{e}.\nPaste the address again:"),
            }
        }
        // The terminal closed: the sign-in still ends by its own timeout.
        std::future::pending::<std::convert::Infallible>().await
    };
    tokio::select! {
        out = login => out,
        never = pastes => match never {},
    }
}

/// Runs a sign-in in the running broker while handing it the addresses
/// the person pastes; the broker's refusals are shown, and another asked for.
pub async fn with_broker_pastes<T>(
    endpoint_file: &std::path::Path,
    login: impl std::future::Future<Output = AdminAnswer<T>>,
) -> AdminAnswer<T> {
    let pastes = async move {
        let mut lines = stdin_lines().lock().await;
        while let Some(line) = lines.recv().await {
            if line.trim().is_empty() {
                continue;
            }
            let pasted = Pasted { url: line };
            match crate::broker_client::admin_paste(endpoint_file, &pasted).await {
                AdminAnswer::Done(_) => eprintln!("Address accepted; finishing the sign-in..."),
                AdminAnswer::Error { message, .. } => {
                    eprintln!("{message}.\nPaste the address again:")
                }
                AdminAnswer::NoBroker => {
                    eprintln!("The broker stopped; the sign-in cannot finish. Sign in again.")
                }
            }
        }
        std::future::pending::<std::convert::Infallible>().await
    };
    tokio::select! {
        out = login => out,
        never = pastes => match never {},
    }
}

#[cfg(test)]
mod tests {
    use super::no_local_browser;

    #[test]
    fn a_remote_or_displayless_session_has_no_local_browser() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert!(no_local_browser(env(&[
            ("SSH_CONNECTION", "10.0.0.2 5555 10.0.0.1 22"),
            ("DISPLAY", ":0")
        ])));
        assert!(no_local_browser(env(&[("SSH_TTY", "/dev/pts/1")])));
        assert!(!no_local_browser(env(&[
            ("SSH_TTY", "/dev/pts/1"),
            ("BROWSER", "w3m")
        ])));
        let bare = no_local_browser(env(&[]));
        assert_eq!(bare, cfg!(all(unix, not(target_os = "macos"))));
        assert!(!no_local_browser(env(&[("WAYLAND_DISPLAY", "wayland-0")])));
    }
}
