//! Starting the broker on demand, as `gpg` starts its agent: `token`,
//! `headers` and the stdio bridge need the one refresher, so when none
//! runs they start `mcp-passport serve --idle-exit` in the background and
//! then ask it. They never refresh on their own: two refreshers on one
//! rotating grant burn it.
//!
//! Starters take turns on a lock file in the runtime directory, so one
//! starts the broker and the others find it running. The broker itself
//! takes the refresher lock, which decides who runs if two start anyway.
//! It runs in a process group of its own, with no terminal: stdin is
//! empty, stdout and stderr go to `broker.log` in the runtime directory
//! (mode 0600; the broker logs no secret). Started this way, it exits
//! after [`IDLE_EXIT`] without a request.
//!
//! `MCP_PASSPORT_NO_AUTOSTART=1` turns this off: `token` and `headers`
//! then use the engine in this process, under the refresher lock.

use crate::cli::Cli;
use crate::commands::Failure;
use crate::context::Paths;
use std::fs::{File, OpenOptions};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long an on-demand broker waits without a request before it exits.
pub const IDLE_EXIT: Duration = Duration::from_secs(600);

/// The variable that turns starting the broker off.
pub const NO_AUTOSTART: &str = "MCP_PASSPORT_NO_AUTOSTART";

/// The variable that changes [`IDLE_EXIT`] (seconds), for tests and tuning.
pub const IDLE_EXIT_VAR: &str = "MCP_PASSPORT_IDLE_EXIT";

/// How long a caller waits for a broker to answer before giving up.
const START_WAIT: Duration = Duration::from_secs(30);

/// The broker's log file in the runtime directory.
pub const LOG_FILE: &str = "broker.log";

/// A log larger than this is started afresh.
const LOG_CAP: u64 = 1024 * 1024;

/// Whether starting the broker on demand is turned off.
pub fn disabled() -> bool {
    std::env::var_os(NO_AUTOSTART).is_some_and(|v| !v.is_empty() && v != "0")
}

/// Whether a broker answers at the endpoint file's port.
pub fn answering(paths: &Paths) -> bool {
    crate::broker_client::read_endpoint(&paths.endpoint_file()).is_some_and(|e| {
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], e.port));
        std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_ok()
    })
}

/// Makes sure a broker runs for this user: starts one in the background
/// when none answers, and returns once one does.
pub async fn ensure_broker(cli: &Cli) -> Result<(), Failure> {
    let paths = crate::context::paths_for(cli)?;
    if answering(&paths) {
        return Ok(());
    }
    let cli_args = forwarded_args(cli);
    tokio::task::spawn_blocking(move || start_and_wait(&paths, &cli_args))
        .await
        .map_err(|e| Failure::other("broker_start", format!("starting the broker failed: {e}")))?
}

/// The global options the broker must run with (the rest comes through
/// the environment it inherits).
fn forwarded_args(cli: &Cli) -> Vec<std::ffi::OsString> {
    let mut args: Vec<std::ffi::OsString> = Vec::new();
    if let Some(home) = &cli.home {
        // The broker runs in the runtime directory: a relative home is made absolute.
        let home = std::path::absolute(home).unwrap_or_else(|_| home.clone());
        args.push("--home".into());
        args.push(home.into_os_string());
    }
    args.push("--keyring-service".into());
    args.push(cli.keyring_service.clone().into());
    if let Some(url) = &cli.client_metadata_url {
        args.push("--client-metadata-url".into());
        args.push(url.into());
    }
    args
}

fn private_options() -> OpenOptions {
    let mut options = OpenOptions::new();
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
}

fn make_runtime_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
    }
    #[cfg(not(unix))]
    std::fs::create_dir_all(dir)
}

fn start_and_wait(paths: &Paths, cli_args: &[std::ffi::OsString]) -> Result<(), Failure> {
    let io = |what: &str, e: std::io::Error| {
        Failure::other(
            "broker_start",
            format!(
                "cannot start the broker ({what}: {e}); start it yourself with `mcp-passport serve`"
            ),
        )
    };
    make_runtime_dir(&paths.runtime).map_err(|e| io("runtime directory", e))?;
    let deadline = Instant::now() + START_WAIT;
    // Starters take turns: the first starts the broker, the others find it.
    let turn = private_options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(paths.runtime.join("autostart.lock"))
        .map_err(|e| io("lock file", e))?;
    loop {
        match turn.try_lock() {
            Ok(()) => break,
            Err(std::fs::TryLockError::WouldBlock) => {
                if answering(paths) {
                    return Ok(());
                }
                if Instant::now() >= deadline {
                    return Err(gave_up(paths));
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io("lock file", e)),
        }
    }
    let mut child: Option<Child> = None;
    let mut exited_at = Instant::now();
    let mut pause = Duration::ZERO;
    while !answering(paths) {
        if Instant::now() >= deadline {
            return Err(gave_up(paths));
        }
        // A broker that could not take the refresher lock (another command
        // holds it for a moment, or an old broker is still stopping) exits
        // at once: try again, a little later each time.
        let running = match child.as_mut() {
            None => false,
            Some(c) => matches!(c.try_wait(), Ok(None)),
        };
        if running {
            exited_at = Instant::now();
        } else if exited_at.elapsed() >= pause {
            child = Some(spawn(paths, cli_args).map_err(|e| io("spawn", e))?);
            pause = (pause * 2).clamp(Duration::from_millis(250), Duration::from_secs(2));
        }
        std::thread::sleep(Duration::from_millis(15));
    }
    drop(turn);
    Ok(())
}

fn gave_up(paths: &Paths) -> Failure {
    Failure::other(
        "broker_start",
        format!(
            "the broker did not start within {} s; see {} or run `mcp-passport serve` to see why",
            START_WAIT.as_secs(),
            paths.runtime.join(LOG_FILE).display()
        ),
    )
}

/// Starts `mcp-passport serve --idle-exit` detached from this process.
fn spawn(paths: &Paths, cli_args: &[std::ffi::OsString]) -> std::io::Result<Child> {
    let log_path = paths.runtime.join(LOG_FILE);
    let fresh = std::fs::metadata(&log_path).map_or(true, |m| m.len() > LOG_CAP);
    let log: File = private_options()
        .create(true)
        .append(!fresh)
        .write(true)
        .truncate(fresh)
        .open(&log_path)?;
    let idle = std::env::var(IDLE_EXIT_VAR)
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(IDLE_EXIT.as_secs());
    let mut command = Command::new(std::env::current_exe()?);
    command
        .args(cli_args)
        .args(["serve", "--idle-exit", &idle.to_string()])
        .current_dir(&paths.runtime)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    detach(&mut command);
    command.spawn()
}

#[cfg(unix)]
fn detach(command: &mut Command) {
    // Its own process group: a Ctrl+C in the terminal that ran `token`
    // does not reach it, and it outlives the command that started it.
    std::os::unix::process::CommandExt::process_group(command, 0);
}

#[cfg(windows)]
fn detach(command: &mut Command) {
    const DETACHED_PROCESS: u32 = 0x0000_0008;
    const CREATE_NEW_PROCESS_GROUP: u32 = 0x0000_0200;
    std::os::windows::process::CommandExt::creation_flags(
        command,
        DETACHED_PROCESS | CREATE_NEW_PROCESS_GROUP,
    );
}

#[cfg(not(any(unix, windows)))]
fn detach(_command: &mut Command) {}
