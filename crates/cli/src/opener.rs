//! Opening the sign-in page: the system browser (or `$BROWSER`), started
//! directly with the URL as one argument and no shell, or printing the URL.

use passport_core::engine::Opener;
use url::Url;

/// Opens URLs in the system browser, saying so on stderr first.
pub struct SystemBrowser;

impl Opener for SystemBrowser {
    fn open(&self, url: &Url) -> Result<(), String> {
        eprintln!("Opening your browser to sign in. If it does not open, visit:\n  {url}");
        passport_core::browser::SystemBrowser.open(url)
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
