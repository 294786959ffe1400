//! SECURITY-CASES 25: SIGKILL at every step of a refresh and of a sign-in's
//! code exchange, then a restart. The grant works, or (when the AS allows no
//! grace and the rotated refresh token was lost) it says "sign-in needed";
//! never a crash loop, a corrupt state file, or a token on disk. Runs the
//! real binary (debug build: the fault switch is compiled in) against the
//! reference AS with refresh grace 0 and 30 s, and prints the table.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use reference_as::demo::{Demo, DemoConfig};
use std::path::{Path, PathBuf};
use std::process::Output;

fn target_bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let path = exe.parent().and_then(Path::parent).unwrap().join(name);
    assert!(
        path.exists(),
        "{} is not built; run the tests with `cargo test --workspace`",
        path.display()
    );
    path
}

struct Home {
    dir: tempfile::TempDir,
    service: String,
}

impl Home {
    fn new(tag: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let browser = dir.path().join("browser.sh");
        std::fs::write(
            &browser,
            format!(
                "#!/bin/sh\nexec '{}' approve --servers github-mcp \"$1\"\n",
                target_bin("reference-as").display()
            ),
        )
        .unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&browser, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        Self {
            dir,
            service: format!("io.github.mcppassport.crash-{}-{tag}", std::process::id()),
        }
    }

    async fn run(&self, args: &[&str], fault: Option<&str>) -> Output {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_mcp-passport"));
        command
            .args(args)
            .env("MCP_PASSPORT_HOME", self.dir.path())
            .env("MCP_PASSPORT_KEYRING_SERVICE", &self.service)
            .env("BROWSER", self.dir.path().join("browser.sh"))
            .env_remove("MCP_PASSPORT_FAULT");
        if let Some(point) = fault {
            command.env("MCP_PASSPORT_FAULT", point);
        }
        command.output().await.unwrap()
    }

    fn state(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("state.json")).unwrap_or_default()
    }
}

fn killed(out: &Output) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt as _;
        out.status.signal() == Some(9)
    }
    #[cfg(not(unix))]
    {
        !out.status.success()
    }
}

/// Crashes `token` (or `login`) at `point`, restarts, and says what became of the grant.
async fn crash_at(point: &str, grace: i64) -> &'static str {
    let demo = Demo::start(DemoConfig {
        refresh_grace: grace,
        servers: vec!["github-mcp".into()],
        ..DemoConfig::default()
    })
    .await
    .unwrap();
    let issuer = demo.info().issuer.clone();
    let home = Home::new(&format!("{}-{grace}", point.len()));
    let crash_in_login = point.starts_with("login");
    if !crash_in_login {
        let out = home.run(&["login", &issuer], None).await;
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let args: Vec<&str> = if crash_in_login {
        vec!["login", &issuer]
    } else {
        vec!["token", "github-mcp"]
    };
    let out = home.run(&args, Some(point)).await;
    assert!(
        killed(&out),
        "{point}: the process was not killed at the point (status {:?})",
        out.status
    );
    let state = home.state();
    if !state.is_empty() {
        let parsed: serde_json::Value = serde_json::from_str(&state)
            .unwrap_or_else(|e| panic!("{point}: state file corrupt after the crash: {e}"));
        assert!(parsed["grants"].is_array());
    }
    if crash_in_login {
        home.run(&["login", &issuer], None).await;
    }
    let first = home.run(&["token", "github-mcp"], None).await;
    let second = home.run(&["token", "github-mcp"], None).await;
    let outcome = match (first.status.code(), second.status.code()) {
        (Some(0), Some(0)) => "works",
        (Some(3), Some(3)) => "sign-in needed",
        other => panic!(
            "{point} (grace {grace}): after restart: {other:?}: {} / {}",
            String::from_utf8_lossy(&first.stderr),
            String::from_utf8_lossy(&second.stderr)
        ),
    };
    if outcome == "works" {
        let token = String::from_utf8(second.stdout).unwrap();
        assert!(
            !home.state().contains(token.trim()),
            "no access token on disk"
        );
    }
    for entry in std::fs::read_dir(home.dir.path()).unwrap() {
        let name = entry.unwrap().file_name();
        assert!(
            !name.to_string_lossy().ends_with(".tmp"),
            "{point}: a temporary state file was left in the way"
        );
    }
    home.run(&["logout"], None).await;
    demo.shutdown().await;
    outcome
}

#[tokio::test(flavor = "multi_thread")]
async fn sec_25_sigkill_at_every_refresh_and_sign_in_step_then_restart() {
    let points = [
        "refresh-before-request",
        "refresh-after-response",
        "refresh-after-keyring-write",
        "state-file-before-rename",
        "login-after-code-exchange",
    ];
    let mut table = Vec::new();
    for grace in [0, 30] {
        for point in points {
            let outcome = crash_at(point, grace).await;
            table.push(format!("{point:<28} grace {grace:>2}s -> {outcome}"));
        }
    }
    println!("{}", table.join("\n"));
    let lost: Vec<&String> = table
        .iter()
        .filter(|l| l.ends_with("sign-in needed"))
        .collect();
    assert!(
        lost.iter()
            .all(|l| l.starts_with("refresh-after-response") && l.contains("grace  0s")),
        "only a crash between the token response and the keyring write, with no grace, may lose the grant:\n{}",
        table.join("\n")
    );
}
