//! Opening the sign-in page: the system browser (or `$BROWSER`), started
//! directly with the URL as one argument and no shell, or printing the URL.

use passport_core::engine::Opener;
use url::Url;

/// Opens URLs in the system browser.
pub struct SystemBrowser;

impl Opener for SystemBrowser {
    fn open(&self, url: &Url) -> Result<(), String> {
        let program = std::env::var("BROWSER")
            .ok()
            .and_then(|b| b.split(':').next().map(str::to_string))
            .filter(|b| !b.trim().is_empty());
        let (program, mut args): (String, Vec<String>) = match program {
            Some(p) => (p, Vec::new()),
            None if cfg!(target_os = "macos") => ("open".into(), Vec::new()),
            None if cfg!(windows) => (
                "rundll32".into(),
                vec!["url.dll,FileProtocolHandler".into()],
            ),
            None => ("xdg-open".into(), Vec::new()),
        };
        args.push(url.to_string());
        eprintln!("Opening your browser to sign in. If it does not open, visit:\n  {url}");
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

/// Prints the URL for the user to open.
pub struct PrintUrl;

impl Opener for PrintUrl {
    fn open(&self, url: &Url) -> Result<(), String> {
        eprintln!("Open this URL in your browser to sign in:\n  {url}");
        Ok(())
    }
}
