//! `reference-as`: the reference Multi-Server authorization server, its
//! sample MCP servers, and the demo stack that runs them together.

use clap::{Parser, Subcommand};
use reference_as::demo::{Demo, DemoConfig};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "reference-as",
    version,
    about = "Reference Multi-Server OAuth authorization server and sample MCP servers"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start the AS and the sample MCP servers on loopback.
    Demo {
        /// The AS's port; the servers take the next ports up. 0 picks free ports.
        #[arg(long, default_value_t = 9400)]
        port: u16,
        /// Write {"issuer", "account", "servers"} as JSON here once everything listens.
        #[arg(long)]
        ready_file: Option<PathBuf>,
        /// Comma-separated server ids.
        #[arg(
            long,
            value_delimiter = ',',
            default_value = "github-mcp,slack-mcp,notion-mcp"
        )]
        servers: Vec<String>,
        /// Keep the AS's state (clients, grants, keys) here across restarts.
        #[arg(long)]
        state_dir: Option<PathBuf>,
        /// Access token lifetime in seconds.
        #[arg(long, default_value_t = 3600)]
        access_ttl: i64,
        /// Seconds the immediately previous refresh token stays valid after rotation.
        #[arg(long, default_value_t = 0)]
        refresh_grace: i64,
        /// NAME:PASSWORD of a user who can sign in (repeatable; default demo:demo).
        #[arg(long = "user", value_parser = parse_user)]
        users: Vec<(String, String)>,
        /// Make the sample servers check every token at the AS's introspection endpoint.
        #[arg(long)]
        introspect: bool,
        /// DPoP-bound tokens (RFC 9449): the AS and the servers check proofs and require nonces.
        #[arg(long)]
        dpop: bool,
        /// Also start an enterprise identity provider (OpenID Connect, ID-JAG token exchange) that the AS trusts.
        #[arg(long)]
        idp: bool,
        /// With --idp: USER=ID,ID limits the servers USER may reach through the IdP (repeatable).
        #[arg(long = "idp-allow", value_parser = parse_allowed, requires = "idp")]
        idp_allowed: Vec<(String, Vec<String>)>,
        /// With --idp: the client at the AS is public (no secret) instead of client_secret_basic.
        #[arg(long, requires = "idp")]
        idp_public_client: bool,
        /// Offer RFC 8693 token exchange (each server's own token from the grant's access token).
        #[arg(long)]
        token_exchange: bool,
    },
    /// Run one sample MCP server that trusts an authorization server (this one or another, e.g. oidc-provider).
    Server {
        /// Catalog id (github-mcp, slack-mcp, notion-mcp, or any other for a generic server).
        #[arg(long)]
        id: String,
        /// Port on 127.0.0.1 (0 picks a free one).
        #[arg(long, default_value_t = 0)]
        port: u16,
        /// The issuer whose tokens it accepts (exactly as that AS publishes it).
        #[arg(long)]
        trust_issuer: String,
        /// Ask the AS's introspection endpoint about every token, with these credentials (CLIENT_ID:SECRET).
        #[arg(long, value_parser = parse_user)]
        introspect: Option<(String, String)>,
    },
    /// Act as the person at the browser: sign in, tick servers, approve, and deliver the redirect.
    Approve {
        /// The authorization URL.
        url: String,
        /// NAME:PASSWORD to sign in with.
        #[arg(long, value_parser = parse_user, default_value = "demo:demo")]
        user: (String, String),
        /// Server ids to tick (default: the pre-checked ones, or all).
        #[arg(long, value_delimiter = ',')]
        servers: Vec<String>,
        /// Program to hand a private-use-scheme redirect to (as the OS hands deep links to apps).
        #[arg(long)]
        exec: Option<String>,
    },
}

fn parse_user(s: &str) -> Result<(String, String), String> {
    match s.split_once(':') {
        Some((name, password)) if !name.is_empty() && !password.is_empty() => {
            Ok((name.into(), password.into()))
        }
        _ => Err("expected NAME:PASSWORD".into()),
    }
}

fn parse_allowed(s: &str) -> Result<(String, Vec<String>), String> {
    match s.split_once('=') {
        Some((user, ids)) if !user.is_empty() => Ok((
            user.into(),
            ids.split(',')
                .filter(|id| !id.is_empty())
                .map(String::from)
                .collect(),
        )),
        _ => Err("expected USER=SERVER_ID,SERVER_ID".into()),
    }
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_target(false)
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), String> {
    match cli.command {
        Command::Demo {
            port,
            ready_file,
            servers,
            state_dir,
            access_ttl,
            refresh_grace,
            users,
            introspect,
            dpop,
            idp,
            idp_allowed,
            idp_public_client,
            token_exchange,
        } => {
            let config = DemoConfig {
                dpop,
                idp,
                idp_allowed,
                idp_public_client,
                token_exchange,
                port,
                servers,
                state_dir,
                access_ttl,
                refresh_grace,
                introspect,
                ..DemoConfig::default()
            };
            demo(config, users, ready_file).await
        }
        Command::Server {
            id,
            port,
            trust_issuer,
            introspect,
        } => server(id, port, trust_issuer, introspect).await,
        Command::Approve {
            url,
            user,
            servers,
            exec,
        } => {
            let approval = reference_as::approve::Approval {
                url,
                user,
                servers,
                exec,
            };
            reference_as::approve::approve(&approval).await.map(|_| ())
        }
    }
}

async fn demo(
    mut config: DemoConfig,
    users: Vec<(String, String)>,
    ready_file: Option<PathBuf>,
) -> Result<(), String> {
    let (access_ttl, refresh_grace) = (config.access_ttl, config.refresh_grace);
    if access_ttl <= 0 || refresh_grace < 0 {
        return Err("--access-ttl must be positive and --refresh-grace not negative".into());
    }
    if !users.is_empty() {
        config.users = users;
    }
    let demo = Demo::start(config).await.map_err(|e| e.to_string())?;
    let info = demo.info().clone();
    println!(
        "Reference AS  {}  (sign in as demo / demo unless --user was given)",
        info.issuer
    );
    println!("Account page  {}", info.account);
    for s in &info.servers {
        println!("MCP server    {:<12} {}", s.id, s.resource);
    }
    if let Some(e) = &info.enterprise {
        println!(
            "Company IdP   {}  (OpenID Connect; the same users sign in there)",
            e.idp_issuer
        );
        println!(
            "  IdP client   {}  (public, PKCE; any loopback redirect or io.github.mcppassport:/oauth/callback)",
            e.idp_client_id
        );
        match &e.as_client_secret {
            Some(secret) => println!(
                "  AS client    {}  secret {secret}  (client_secret_basic, for the JWT bearer grant)",
                e.as_client_id
            ),
            None => println!(
                "  AS client    {}  (public, for the JWT bearer grant)",
                e.as_client_id
            ),
        }
    }
    if let Some(path) = ready_file {
        let json = serde_json::to_vec_pretty(&info).map_err(|e| e.to_string())?;
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, json)
            .and_then(|()| std::fs::rename(&tmp, &path))
            .map_err(|e| format!("cannot write the ready file {}: {e}", path.display()))?;
    }
    println!("Press Ctrl+C to stop.");
    stopped().await?;
    demo.shutdown().await;
    Ok(())
}

async fn server(
    id: String,
    port: u16,
    trust_issuer: String,
    introspect: Option<(String, String)>,
) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|e| format!("cannot listen on 127.0.0.1:{port}: {e}"))?;
    let introspection =
        introspect.map(|(client_id, client_secret)| sample_servers::Introspection {
            client_id,
            client_secret,
        });
    let trust = sample_servers::Trust {
        issuer: trust_issuer,
        introspection,
    };
    let server = sample_servers::SampleServer::serve(
        sample_servers::ServerSpec::for_id(&id),
        listener,
        trust,
    )
    .await
    .map_err(|e| e.to_string())?;
    println!("MCP server    {:<12} {}", server.id(), server.resource());
    println!("Press Ctrl+C to stop.");
    stopped().await?;
    server.shutdown().await;
    Ok(())
}

/// Resolves on Ctrl+C or (on Unix) SIGTERM.
async fn stopped() -> Result<(), String> {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .map_err(|e| e.to_string())?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r.map_err(|e| e.to_string()),
            _ = term.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await.map_err(|e| e.to_string())
    }
}
