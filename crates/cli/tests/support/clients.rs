//! MCP clients installed from npm (tests/real-clients, pinned), run
//! headless as a person would, with a home directory of their own: a
//! signed-in demo stack with a broker, the client's executable, its
//! fixture, and its output with colours removed. Every client runs with its
//! update checks, usage statistics and downloads switched off (environment
//! here, settings in its fixture): it has no account and talks only to
//! loopback addresses.

use super::home::Home;
use super::stack::Stack;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The workspace's root folder.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// A client's settings as a person has them (tests/real-clients/fixtures).
pub fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(root().join("tests/real-clients/fixtures").join(name)).unwrap()
}

/// A person's home directory for the clients, with a project folder to
/// run them in.
pub struct User {
    /// The home directory.
    pub home: tempfile::TempDir,
    /// The project folder the clients run in.
    pub work: PathBuf,
}

impl User {
    /// A fresh home with an empty project folder.
    pub fn new() -> Self {
        let home = tempfile::tempdir().unwrap();
        let work = home.path().join("project");
        std::fs::create_dir_all(&work).unwrap();
        Self { home, work }
    }

    /// A path under the home directory.
    pub fn path(&self, relative: &str) -> PathBuf {
        self.home.path().join(relative)
    }

    /// Writes `bytes` at `relative` under the home (folders created).
    pub fn write(&self, relative: &str, bytes: &[u8]) -> PathBuf {
        let path = self.path(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, bytes).unwrap();
        path
    }

    /// The client `bin` from tests/real-clients with `args`, in the project
    /// folder, with this home, Node.js 22 first on PATH, no proxy, and
    /// every update check, usage report and download switched off.
    pub fn command(&self, bin: &str, args: &[&str]) -> tokio::process::Command {
        let root = root();
        let exe = root.join("tests/real-clients/node_modules/.bin").join(bin);
        let node = root.join("target/tools/node22/bin");
        assert!(
            exe.exists() && node.join("node").exists(),
            "{} or Node.js 22 is not installed: run scripts/setup.sh",
            exe.display()
        );
        let path = format!(
            "{}:{}",
            node.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let home = self.home.path();
        let mut command = tokio::process::Command::new(exe);
        command
            .args(args)
            .current_dir(&self.work)
            .env("HOME", home)
            .env("PATH", path)
            .env("XDG_CONFIG_HOME", home.join(".config"))
            .env("XDG_DATA_HOME", home.join(".local/share"))
            .env("XDG_STATE_HOME", home.join(".local/state"))
            .env("XDG_CACHE_HOME", home.join(".cache"))
            .env("NO_PROXY", "127.0.0.1,localhost")
            // Claude Code: no update check, error reports or statistics.
            .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
            // opencode: no update, model list, plugin or language-server download.
            .env("OPENCODE_DISABLE_AUTOUPDATE", "1")
            .env("OPENCODE_DISABLE_MODELS_FETCH", "1")
            .env("OPENCODE_DISABLE_DEFAULT_PLUGINS", "1")
            .env("OPENCODE_DISABLE_LSP_DOWNLOAD", "1")
            // MCP Inspector: never opens a browser for a sign-in.
            .env("MCP_AUTO_OPEN_ENABLED", "false")
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true);
        for name in [
            "HTTP_PROXY",
            "HTTPS_PROXY",
            "ALL_PROXY",
            "http_proxy",
            "https_proxy",
            "all_proxy",
            "CODEX_HOME",
            "CLAUDE_CONFIG_DIR",
            "OPENCODE_CONFIG",
        ] {
            command.env_remove(name);
        }
        command
    }

    /// Runs `bin args` to its end (at most 120 s): whether it succeeded,
    /// and what it printed (stdout then stderr) without colours.
    pub async fn run(&self, bin: &str, args: &[&str]) -> (bool, String) {
        let (ok, stdout, stderr) = self.output(bin, args).await;
        (ok, format!("{stdout}{stderr}"))
    }

    /// Runs `bin args` to its end (at most 120 s): whether it succeeded,
    /// its stdout and its stderr, without colours.
    pub async fn output(&self, bin: &str, args: &[&str]) -> (bool, String, String) {
        let out = tokio::time::timeout(Duration::from_secs(120), self.command(bin, args).output())
            .await
            .unwrap_or_else(|_| panic!("`{bin} {}` hung", args.join(" ")))
            .unwrap();
        (
            out.status.success(),
            strip_ansi(&String::from_utf8_lossy(&out.stdout)),
            strip_ansi(&String::from_utf8_lossy(&out.stderr)),
        )
    }
}

/// The line of a client's `mcp list` output that names `passport-<id>`,
/// or a failure showing all of it.
pub fn entry_line<'a>(client: &str, listed: &'a str, id: &str) -> &'a str {
    let entry = format!("passport-{id}:");
    listed
        .lines()
        .find(|l| l.contains(&entry))
        .unwrap_or_else(|| panic!("{client}: no {entry} line:\n{listed}"))
}

/// `text` without ANSI escape sequences (colours, cursor moves).
pub fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            out.push(c);
            continue;
        }
        if chars.peek() == Some(&'[') {
            chars.next();
            // Parameters and intermediates up to the final byte (@ to ~).
            for c in chars.by_ref() {
                if ('@'..='~').contains(&c) {
                    break;
                }
            }
        } else {
            chars.next();
        }
    }
    out
}

/// A person signed in on the demo stack with a broker running.
pub struct SignedIn {
    /// The reference AS and its sample servers.
    pub stack: Stack,
    /// The person's mcp-passport home.
    pub passport: Home,
    broker: tokio::process::Child,
}

impl SignedIn {
    /// Signs in to `ids` on a fresh stack and starts the broker.
    pub async fn start(tag: &str, ids: &[&str]) -> Self {
        let stack = Stack::start(ids, 3600, 0).await;
        let passport = Home::new(tag, &ids.join(","));
        passport.login(&stack.issuer()).await;
        let mut broker = passport.spawn_broker(None);
        passport.endpoint(&mut broker).await;
        Self {
            stack,
            passport,
            broker,
        }
    }

    /// Runs `mcp-passport args`, fails the test if it fails; its stdout.
    pub async fn ok(&self, args: &[&str]) -> String {
        let out = self.passport.run(args, None).await;
        assert!(
            out.status.success(),
            "mcp-passport {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// `connect <client> --config <config>`.
    pub async fn connect(&self, client: &str, config: &Path) {
        self.ok(&["connect", client, "--config", config.to_str().unwrap()])
            .await;
    }

    /// `disconnect <client> --config <config>`.
    pub async fn disconnect(&self, client: &str, config: &Path) {
        self.ok(&["disconnect", client, "--config", config.to_str().unwrap()])
            .await;
    }

    /// Stops the broker and the stack.
    pub async fn stop(mut self) {
        let _ = self.broker.kill().await;
        self.stack.shutdown().await;
    }
}
