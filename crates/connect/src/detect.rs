//! Which MCP clients are installed: a client counts as installed when its
//! config file or folder exists, or one of its programs is on `PATH`. The
//! places are data, one row per client name; a client without a row is
//! found by its config file alone.

use crate::ClientKind;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Where a client leaves a trace.
#[derive(Debug, Clone, Copy)]
pub enum Probe {
    /// A folder or file under the home directory.
    Home(&'static str),
    /// A folder or file under the user's config directory.
    Config(&'static str),
    /// A program on `PATH`.
    Exe(&'static str),
}

use Probe::{Config, Exe, Home};

/// The probes per client name (besides the client's config file itself).
const PROBES: &[(&str, &[Probe])] = &[
    (
        "claude-code",
        &[Home(".claude"), Home(".claude.json"), Exe("claude")],
    ),
    (
        "cursor",
        &[Home(".cursor"), Config("Cursor"), Exe("cursor")],
    ),
    ("vscode", &[Config("Code"), Exe("code")]),
    (
        "windsurf",
        &[
            Home(".codeium/windsurf"),
            Config("Windsurf"),
            Exe("windsurf"),
        ],
    ),
    (
        "zed",
        &[
            Config("zed"),
            Home(".config/zed"),
            Exe("zed"),
            Exe("zeditor"),
        ],
    ),
    ("claude-desktop", &[Config("Claude"), Exe("claude-desktop")]),
    ("gemini", &[Home(".gemini"), Exe("gemini")]),
    ("qwen", &[Home(".qwen"), Exe("qwen")]),
    (
        "lm-studio",
        &[Home(".lmstudio"), Exe("lms"), Exe("lm-studio")],
    ),
    ("codex", &[Home(".codex"), Exe("codex")]),
    (
        "goose",
        &[Config("goose"), Home(".config/goose"), Exe("goose")],
    ),
    ("continue", &[Home(".continue"), Exe("cn")]),
    (
        "opencode",
        &[
            Config("opencode"),
            Home(".config/opencode"),
            Exe("opencode"),
        ],
    ),
    ("cline", &[Home(".cline"), Exe("cline")]),
];

/// Where to look: the user's directories and `PATH`.
#[derive(Debug, Clone, Default)]
pub struct Places {
    /// The home directory.
    pub home: Option<PathBuf>,
    /// The user's config directory.
    pub config: Option<PathBuf>,
    /// The `PATH` folders.
    pub path: Vec<PathBuf>,
}

impl Places {
    /// This user's directories and `PATH`.
    pub fn of_user() -> Self {
        Self {
            home: dirs::home_dir(),
            config: dirs::config_dir(),
            path: std::env::var_os("PATH")
                .map(|p| std::env::split_paths(&p).collect())
                .unwrap_or_default(),
        }
    }

    fn has_exe(&self, name: &str) -> bool {
        let names: Vec<String> = if cfg!(windows) {
            vec![format!("{name}.exe"), format!("{name}.cmd")]
        } else {
            vec![name.to_string()]
        };
        self.path
            .iter()
            .any(|dir| names.iter().any(|n| is_program(&dir.join(n))))
    }

    fn found(&self, probe: Probe) -> Option<String> {
        let under = |base: &Option<PathBuf>, rel: &str| {
            base.as_ref()
                .map(|b| b.join(rel))
                .filter(|p| p.exists())
                .map(|p| p.display().to_string())
        };
        match probe {
            Home(rel) => under(&self.home, rel),
            Config(rel) => under(&self.config, rel),
            Exe(name) => self.has_exe(name).then(|| format!("`{name}` on PATH")),
        }
    }
}

#[cfg(unix)]
fn is_program(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_program(path: &Path) -> bool {
    path.is_file()
}

/// The probes of a client.
pub fn probes(kind: ClientKind) -> &'static [Probe] {
    PROBES
        .iter()
        .find(|(name, _)| *name == kind.name())
        .map_or(&[], |(_, p)| *p)
}

/// What shows a client is installed (a path, or a program on `PATH`);
/// `None` when nothing does. `config` is the client's config file.
pub fn installed(kind: ClientKind, config: Option<&Path>, places: &Places) -> Option<String> {
    if let Some(file) = config.filter(|c| c.exists()) {
        return Some(file.display().to_string());
    }
    probes(kind).iter().find_map(|p| places.found(*p))
}

/// One client as detection sees it.
#[derive(Debug, Clone, Serialize)]
pub struct Detected {
    /// The client.
    pub client: ClientKind,
    /// What shows it is installed.
    pub evidence: String,
}

/// The installed clients among `ClientKind::ALL`, with their usual config
/// file (the one `config` gives for a kind).
pub fn detect(places: &Places, config: impl Fn(ClientKind) -> Option<PathBuf>) -> Vec<Detected> {
    ClientKind::ALL
        .iter()
        .filter_map(|&kind| {
            let file = config(kind);
            installed(kind, file.as_deref(), places).map(|evidence| Detected {
                client: kind,
                evidence,
            })
        })
        .collect()
}

/// The installed clients on this machine.
pub fn detect_here() -> Vec<Detected> {
    detect(&Places::of_user(), |k| crate::config_path(k, None).ok())
}
