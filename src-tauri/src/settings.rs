//! How this run of the app is set up: where its files are, which keyring
//! entries it uses, where the authorization server sends the browser back,
//! and the broker's port. The variables and defaults are the `mcp-passport`
//! command's, so the app and the command share one state and one keyring.
//!
//! `--demo` keeps its grants apart (its own directory and keyring service),
//! so trying the demo never touches a real account. Only a build with the
//! `demo` feature has a demo; a release build ships no authorization server,
//! and says so when asked for one.

use passport_broker::paths::{PROFILE, Paths};
use std::path::PathBuf;

/// The private-use URI scheme the app registers (reverse DNS, RFC 8252 7.1).
pub const SCHEME: &str = "io.github.mcppassport";
/// The redirect URI the app asks the AS for by default.
pub const DEFAULT_REDIRECT: &str = "io.github.mcppassport:/oauth/callback";
/// The broker's port when nothing else is set (the command's default too).
pub use passport_broker::paths::DEFAULT_PORT;
/// The broker's port in demo mode, so the demo does not take the real one.
pub const DEMO_PORT: u16 = 8765;
/// The reference AS's port in demo mode (fixed, so grants survive restarts).
pub const DEMO_AS_PORT: u16 = 9400;

/// What `--demo` says in a build without the demo.
pub const NO_DEMO: &str = "this build of MCP Passport has no demo: release builds ship no \
authorization server. For the demo, run scripts/demo.sh from the source tree, or build the app \
with the demo feature: cargo run -p mcp-passport-app --features demo -- --demo";

/// Where the browser is sent back after sign-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redirect {
    /// The app's private-use scheme (a deep link); loopback if the AS refuses it.
    Scheme(String),
    /// Always a loopback listener on 127.0.0.1.
    Loopback,
}

/// The settings of one run.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The state directory (state file, client keys, audit log) and the
    /// runtime directory (refresher lock, broker endpoint file).
    pub paths: Paths,
    /// The keyring service name.
    pub keyring_service: String,
    /// Where the AS sends the browser back.
    pub redirect: Redirect,
    /// The broker's port (0 picks a free one).
    pub broker_port: u16,
    /// Start the reference demo stack and offer its issuer (`--demo`;
    /// accepted only by a build with the `demo` feature).
    pub demo: bool,
    /// Start in the tray without showing the dashboard (start at login).
    pub hidden: bool,
}

impl Settings {
    /// From the command line and the environment.
    pub fn from_env(args: &[String]) -> Result<Self, String> {
        let demo = args.iter().any(|a| a == "--demo");
        if demo && !cfg!(feature = "demo") {
            return Err(NO_DEMO.to_string());
        }
        let hidden = args.iter().any(|a| a == "--hidden");
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let suffix = if demo { "-demo" } else { "" };
        let paths = match env("MCP_PASSPORT_HOME") {
            Some(h) => Paths::under(PathBuf::from(h)),
            None => Paths::for_user(&format!("{PROFILE}{suffix}"))
                .ok_or("cannot find your config directory; set MCP_PASSPORT_HOME")?,
        };
        let keyring_service = env("MCP_PASSPORT_KEYRING_SERVICE")
            .unwrap_or_else(|| format!("{SCHEME}{}", if demo { ".demo" } else { "" }));
        let redirect = match env("MCP_PASSPORT_REDIRECT_URI").as_deref() {
            None => Redirect::Scheme(DEFAULT_REDIRECT.to_string()),
            Some("loopback") => Redirect::Loopback,
            Some(uri) if uri.starts_with(&format!("{SCHEME}:")) => {
                Redirect::Scheme(uri.to_string())
            }
            Some(other) => {
                return Err(format!(
                    "MCP_PASSPORT_REDIRECT_URI={other} is not usable: give `loopback` or a URI starting with {SCHEME}:"
                ));
            }
        };
        let broker_port = match env("MCP_PASSPORT_PORT") {
            Some(p) => p
                .parse()
                .map_err(|_| format!("MCP_PASSPORT_PORT={p} is not a port number (0-65535)"))?,
            None if demo => DEMO_PORT,
            None => DEFAULT_PORT,
        };
        Ok(Self {
            paths,
            keyring_service,
            redirect,
            broker_port,
            demo,
            hidden,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hidden_flag_is_read_from_the_arguments() {
        let args = vec!["app".to_string(), "--hidden".into()];
        let s = Settings::from_env(&args).unwrap_or_else(|e| panic!("{e}"));
        assert!(s.hidden && !s.demo);
        let plain = Settings::from_env(&["app".to_string()]).unwrap_or_else(|e| panic!("{e}"));
        assert!(!plain.demo && !plain.hidden);
    }

    #[cfg(feature = "demo")]
    #[test]
    fn a_build_with_the_demo_feature_runs_the_demo_when_asked() {
        let args = vec!["app".to_string(), "--demo".into(), "--hidden".into()];
        let s = Settings::from_env(&args).unwrap_or_else(|e| panic!("{e}"));
        assert!(s.demo && s.hidden);
    }

    #[cfg(not(feature = "demo"))]
    #[test]
    fn a_build_without_the_demo_feature_says_so_and_how_to_get_one() {
        let args = vec!["app".to_string(), "--demo".into()];
        let e = Settings::from_env(&args).err().unwrap_or_default();
        assert!(e.contains("has no demo"), "{e}");
        assert!(
            e.contains("scripts/demo.sh") && e.contains("--features demo"),
            "{e}"
        );
    }
}
