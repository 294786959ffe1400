//! Deep links: how the browser's return reaches the app.
//!
//! The AS redirects to `io.github.mcppassport:/oauth/callback?...`; the OS
//! starts the app with that URL as an argument. A first launch finds it in
//! its own arguments; while the app runs, `tauri-plugin-single-instance`
//! hands the second launch's arguments to the first (see `lib.rs`) and the
//! second process exits. Either way the URL goes through the core's parser
//! and is matched against a pending sign-in, or dropped. On macOS the URL
//! arrives as an Apple event through `tauri-plugin-deep-link` instead.
//!
//! On Linux the scheme handler is a `.desktop` file whose `Exec` ends in
//! `%u` (the plugin's own file quotes `Exec` in a way `xdg-open` on some
//! distributions cannot use). Installed packages ship that file; a build run
//! from elsewhere writes one for the user.

use crate::passport::Passport;
use std::sync::Arc;
use tauri::{App, Runtime};

/// Registers the scheme handler where needed and delivers a callback found
/// in this launch's own arguments.
pub fn install<R: Runtime>(app: &App<R>, passport: &Arc<Passport>, args: &[String]) {
    #[cfg(target_os = "linux")]
    if let Err(e) = linux::register() {
        tracing::warn!(error = %e, "could not register the app as the sign-in link handler");
    }
    #[cfg(windows)]
    {
        use tauri_plugin_deep_link::DeepLinkExt as _;
        if let Err(e) = app.deep_link().register_all() {
            tracing::warn!(error = %e, "could not register the app as the sign-in link handler");
        }
    }
    #[cfg(target_os = "macos")]
    {
        use tauri_plugin_deep_link::DeepLinkExt as _;
        let passport = Arc::clone(passport);
        app.deep_link().on_open_url(move |event| {
            for url in event.urls() {
                passport.deliver_callback(url.as_str());
            }
        });
    }
    let _ = app;
    passport.deliver_from_args(args);
}

#[cfg(target_os = "linux")]
pub mod linux {
    //! The user's `.desktop` scheme handler on Linux.

    use crate::settings::SCHEME;
    use std::path::{Path, PathBuf};

    /// The handler's file name.
    pub const DESKTOP_FILE: &str = "mcp-passport-handler.desktop";

    /// The `.desktop` entry that opens `exe` with the link as `%u`.
    pub fn entry(exe: &Path) -> String {
        let exe = exe.to_string_lossy();
        let exec = if exe.contains([' ', '"', '\\', '$', '`']) {
            let escaped = exe
                .replace('\\', "\\\\\\\\")
                .replace('"', "\\\\\"")
                .replace('$', "\\\\$")
                .replace('`', "\\\\`");
            format!("\"{escaped}\"")
        } else {
            exe.into_owned()
        };
        format!(
            "[Desktop Entry]\nType=Application\nName=MCP Passport (sign-in links)\nExec={exec} %u\nTerminal=false\nNoDisplay=true\nMimeType=x-scheme-handler/{SCHEME};\n"
        )
    }

    /// Writes the handler for this executable and makes it the default,
    /// unless the app was installed from a package (which ships its own).
    pub fn register() -> std::io::Result<()> {
        let exe = std::env::current_exe()?;
        if exe.starts_with("/usr") {
            return Ok(());
        }
        let dir: PathBuf = dirs::data_dir()
            .ok_or_else(|| std::io::Error::other("no data directory"))?
            .join("applications");
        std::fs::create_dir_all(&dir)?;
        let path = dir.join(DESKTOP_FILE);
        let wanted = entry(&exe);
        if std::fs::read_to_string(&path).ok().as_deref() != Some(wanted.as_str()) {
            std::fs::write(&path, wanted)?;
        }
        let status = std::process::Command::new("xdg-mime")
            .args([
                "default",
                DESKTOP_FILE,
                &format!("x-scheme-handler/{SCHEME}"),
            ])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()?;
        if status.success() {
            Ok(())
        } else {
            Err(std::io::Error::other(format!("xdg-mime failed ({status})")))
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn exec_ends_in_percent_u_and_quotes_odd_paths() {
            let plain = entry(Path::new("/opt/passport/mcp-passport-app"));
            assert!(
                plain.contains("\nExec=/opt/passport/mcp-passport-app %u\n"),
                "{plain}"
            );
            assert!(plain.contains("MimeType=x-scheme-handler/io.github.mcppassport;"));
            let spaced = entry(Path::new("/opt/a b/app"));
            assert!(spaced.contains("\nExec=\"/opt/a b/app\" %u\n"), "{spaced}");
        }
    }
}
