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
        launch(&program, &args).map(|_| ())
    }
}

/// Starts `program` with `args` and no shell, and waits for it on a thread
/// of its own, so a long-running app leaves no zombie process per sign-in.
/// Returns the process id.
fn launch(program: &str, args: &[String]) -> Result<u32, String> {
    let mut child = std::process::Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| format!("{program}: {e}"))?;
    let pid = child.id();
    let reaper = std::thread::Builder::new()
        .name("browser-reaper".into())
        .spawn(move || {
            let _ = child.wait();
        });
    if let Err(e) = reaper {
        // No thread to wait on it: the process still runs; at worst it is
        // left as a zombie until this process exits.
        tracing::debug!(error = %e, "cannot wait for the browser process");
    }
    Ok(pid)
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

    #[cfg(target_os = "linux")]
    #[test]
    fn the_started_process_is_waited_for_and_leaves_no_zombie() {
        let pid = launch("true", &[]).expect("true runs");
        let stat = format!("/proc/{pid}/stat");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        // Reaped: the process entry is gone. A zombie keeps its entry with state Z.
        while std::path::Path::new(&stat).exists() {
            assert!(
                std::time::Instant::now() < deadline,
                "process {pid} was not reaped: {:?}",
                std::fs::read_to_string(&stat)
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    #[test]
    fn a_missing_program_is_an_error_that_names_it() {
        let err = launch("no-such-browser-program", &[]).expect_err("no such program");
        assert!(err.starts_with("no-such-browser-program:"), "{err}");
    }
}
