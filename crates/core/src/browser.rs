//! The system browser as an [`Opener`]: `$BROWSER` when set (the first entry
//! of its `:`-separated list), else the desktop's default handler (`open` on
//! macOS, `FileProtocolHandler` on Windows, `xdg-open` elsewhere).
//!
//! The program is started directly with the URL as one argument, never
//! through a shell, so nothing in the URL can become a command. It opens only
//! what [`url_policy::check_browser_url`](crate::url_policy::check_browser_url)
//! accepts (https, or http on loopback), whoever asks. The CLI and the
//! desktop app share it; tests point `$BROWSER` at a program that plays the
//! person at the browser.

use crate::engine::Opener;
use url::Url;

/// Opens URLs in the system browser.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemBrowser;

impl SystemBrowser {
    /// The program and leading arguments that open a URL here.
    pub fn command() -> (String, Vec<String>) {
        let from_env = std::env::var("BROWSER")
            .ok()
            .and_then(|b| b.split(':').next().map(str::to_string))
            .filter(|b| !b.trim().is_empty());
        match from_env {
            Some(p) => (p, Vec::new()),
            None if cfg!(target_os = "macos") => ("open".into(), Vec::new()),
            None if cfg!(windows) => (
                "rundll32".into(),
                vec!["url.dll,FileProtocolHandler".into()],
            ),
            None => ("xdg-open".into(), Vec::new()),
        }
    }
}

impl Opener for SystemBrowser {
    fn open(&self, url: &Url) -> Result<(), String> {
        crate::url_policy::check_browser_url(url.as_str()).map_err(|e| e.to_string())?;
        let (program, mut args) = Self::command();
        args.push(url.to_string());
        std::process::Command::new(&program)
            .args(&args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .map(|_| ())
            .map_err(|e| format!("{program}: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_urls_a_browser_must_not_open() {
        for raw in [
            "http://example.com/authorize",
            "file:///etc/passwd",
            "javascript:alert(1)",
        ] {
            let url = Url::parse(raw).unwrap_or_else(|e| panic!("{raw}: {e}"));
            assert!(SystemBrowser.open(&url).is_err(), "{raw} was opened");
        }
    }
}
