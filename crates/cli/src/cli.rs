//! The command line, as clap types. Parsing only; the commands live in `commands`.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// Sign in once; every MCP client on this machine gets fresh tokens.
#[derive(Debug, Parser)]
#[command(name = "mcp-passport", version)]
pub struct Cli {
    /// Where MCP Passport keeps its state (default: the user's config directory).
    #[arg(long, env = "MCP_PASSPORT_HOME", global = true)]
    pub home: Option<PathBuf>,
    /// Keyring service name the secrets are stored under.
    #[arg(
        long,
        env = "MCP_PASSPORT_KEYRING_SERVICE",
        default_value = "io.github.mcppassport",
        global = true
    )]
    pub keyring_service: String,
    /// This application's Client ID Metadata Document URL, used as the client id where the AS supports them.
    #[arg(long, env = "MCP_PASSPORT_CLIENT_METADATA_URL", global = true)]
    pub client_metadata_url: Option<String>,
    /// Print machine-readable JSON.
    #[arg(long, global = true)]
    pub json: bool,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// How the sign-in reaches the authorization server.
#[derive(Debug, Clone, Args)]
pub struct SignInOptions {
    /// Use this pre-registered client id instead of registering.
    #[arg(long)]
    pub client_id: Option<String>,
    /// The pre-registered client's secret.
    #[arg(
        long,
        requires = "client_id",
        env = "MCP_PASSPORT_CLIENT_SECRET",
        hide_env_values = true
    )]
    pub client_secret: Option<String>,
    /// Print the sign-in URL instead of opening the browser.
    #[arg(long)]
    pub no_browser: bool,
    /// Follow the authorization server's redirects without a browser (for ASes that approve without a person).
    #[arg(long)]
    pub headless_authorize: bool,
    /// Sign in with a code typed on any device (RFC 8628), for shells without a browser; the default there when the server offers it.
    #[arg(long, conflicts_with_all = ["paste", "headless_authorize", "no_browser"])]
    pub device: bool,
    /// Print the sign-in URL, then read back the address the browser lands on; the default without a browser otherwise.
    #[arg(long, conflicts_with_all = ["headless_authorize", "no_browser"])]
    pub paste: bool,
    /// Seconds to wait for the browser to come back.
    #[arg(long, default_value_t = 300)]
    pub timeout: u64,
    /// An extra authorization parameter for this issuer, `key=value` (repeatable; remembered).
    #[arg(long = "authorize-param", value_name = "KEY=VALUE")]
    pub authorize_params: Vec<String>,
    /// Send no `resource` parameter to this issuer (for ASes that refuse it; remembered).
    #[arg(long)]
    pub no_resource: bool,
    /// Allow this issuer's endpoints on another host (`host` or `host:port`, https only; repeatable; remembered).
    #[arg(long = "allow-endpoint-host", value_name = "HOST")]
    pub allow_endpoint_hosts: Vec<String>,
    /// Sign in as this account (a label such as `work`); a second account's
    /// servers are then named `<id>@<label>`. Default: the account's email or user id.
    #[arg(long, value_parser = parse_account)]
    pub account: Option<String>,
    /// No person: get a machine grant with the client credentials grant
    /// (the secret from MCP_PASSPORT_CLIENT_SECRET, or --private-key-file).
    #[arg(long, requires = "client_id", conflicts_with_all = ["device", "paste", "assertion_file"])]
    pub client_credentials: bool,
    /// With --client-credentials: authenticate with a JWT signed by this PEM private key (private_key_jwt), read at every request.
    #[arg(long, value_name = "PEM", requires = "client_credentials")]
    pub private_key_file: Option<PathBuf>,
    /// No person: get a machine grant with the workload identity JWT in this file (JWT bearer grant), read at every request.
    #[arg(long, value_name = "PATH", conflicts_with_all = ["device", "paste"])]
    pub assertion_file: Option<PathBuf>,
    /// Sign in with your organization: its identity provider's issuer URL
    /// (OpenID Connect); each server's token then comes from it with no
    /// browser per server (Enterprise-Managed Authorization).
    #[arg(long, value_name = "ISSUER", conflicts_with_all = ["device", "paste", "client_credentials", "assertion_file"])]
    pub idp: Option<String>,
    /// With --idp: this application's client id at the identity provider.
    #[arg(
        long,
        value_name = "ID",
        requires = "idp",
        env = "MCP_PASSPORT_IDP_CLIENT_ID",
        default_value = passport_core::id_jag::DEFAULT_IDP_CLIENT_ID
    )]
    pub idp_client_id: String,
    /// With --idp: use the ID token in this file (from your organization's
    /// sign-in tool, reread at each renewal) instead of signing in in the browser.
    #[arg(long, value_name = "PATH", requires = "idp")]
    pub id_token_file: Option<PathBuf>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Sign in to an authorization server (issuer URL) or to MCP servers (their URLs).
    Login {
        /// Issuer URL, or one or more MCP server URLs.
        #[arg(required = true)]
        targets: Vec<String>,
        /// Server ids to pre-select in a Multi-Server picker (comma-separated).
        #[arg(long, value_delimiter = ',')]
        servers: Vec<String>,
        /// Sign-in options.
        #[command(flatten)]
        sign_in: SignInOptions,
    },
    /// Show grants, servers, expiries and token kinds.
    Status,
    /// Print the current access token for a server (id or URL).
    Token {
        /// Server id or URL.
        server: String,
    },
    /// Print `{"Authorization":"Bearer ..."}` for a server, as Claude Code's headersHelper expects.
    Headers {
        /// Server id or URL.
        server: String,
    },
    /// Sign in again at a Multi-Server AS to add servers (current ones stay checked).
    AddServers {
        /// The issuer URL.
        issuer: String,
        /// Server ids to add (comma-separated).
        #[arg(long, value_delimiter = ',')]
        servers: Vec<String>,
        /// Sign-in options.
        #[command(flatten)]
        sign_in: SignInOptions,
    },
    /// Revoke one server's access, keeping the others.
    Revoke {
        /// Server id or URL.
        server: String,
    },
    /// Sign out of one issuer, or of all.
    Logout {
        /// The issuer (all when omitted).
        issuer: Option<String>,
        /// Only this account (its label, as `status` shows it).
        #[arg(long, value_parser = parse_account)]
        account: Option<String>,
    },
    /// Run the broker in the foreground: the local token endpoint and proxy for MCP clients.
    Serve {
        /// Port on 127.0.0.1 (0 picks a free one).
        #[arg(long, default_value_t = passport_broker::paths::DEFAULT_PORT)]
        port: u16,
        /// Address to bind; only loopback addresses are accepted.
        #[arg(long, default_value = "127.0.0.1")]
        bind: std::net::IpAddr,
        /// Exit after this many seconds without a request (how `token` and
        /// `headers` start it in the background); with it, a taken port
        /// falls back to a free one. Without it the broker stays.
        #[arg(long, value_name = "SECS")]
        idle_exit: Option<u64>,
    },
    /// Bridge a stdio-only MCP client (Claude Desktop) to a granted server over Streamable HTTP.
    Stdio {
        /// Server id or URL.
        server: String,
    },
    /// List connected clients' keys and what they used recently.
    Clients,
    /// Connect to an MCP server as a client: sign in if needed, initialize, list tools, optionally call one.
    Check {
        /// The MCP server URL.
        url: String,
        /// A tool to call.
        #[arg(long)]
        call: Option<String>,
        /// The tool's arguments, as a JSON object.
        #[arg(long, requires = "call")]
        args: Option<String>,
        /// A resource to read (its URI).
        #[arg(long)]
        read: Option<String>,
        /// A prompt to get (its name).
        #[arg(long)]
        prompt: Option<String>,
        /// Sign in for this check only: keep nothing (no keyring item, no state file).
        #[arg(long)]
        ephemeral: bool,
        /// Sign-in options.
        #[command(flatten)]
        sign_in: SignInOptions,
    },
    /// Write `passport-<id>` entries for the granted servers into an MCP client's config, with a key for that client.
    Connect {
        /// The client to configure.
        #[arg(required_unless_present = "all")]
        client: Option<crate::connect::ClientKind>,
        /// Every installed client found on this machine, after one preview of every file.
        #[arg(long, conflicts_with_all = ["client", "config"])]
        all: bool,
        /// With --all: connect without asking (the preview is still printed).
        #[arg(long, requires = "all")]
        yes: bool,
        /// Only these server ids (comma-separated); the client's key is limited to them.
        #[arg(long, value_delimiter = ',')]
        servers: Vec<String>,
        /// Show the change without writing anything or minting a key.
        #[arg(long)]
        dry_run: bool,
        /// The client's config file (default: its usual location).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Claude Code only: point each entry at the server itself, with `mcp-passport headers <id>` as its headersHelper (no local proxy, no key).
        #[arg(long)]
        helper: bool,
        /// Print the JSON to paste into the client's settings (JetBrains AI Assistant, or any client), with a new key for it shown once; writes no file.
        #[arg(long, conflicts_with_all = ["dry_run", "config", "helper"])]
        print: bool,
    },
    /// Remove the `passport-*` entries from an MCP client's config and revoke its key.
    Disconnect {
        /// The client.
        client: crate::connect::ClientKind,
        /// Show the change without writing anything or revoking.
        #[arg(long)]
        dry_run: bool,
        /// Put the file back as it was before `import` (only if our entries are the only change since).
        #[arg(long)]
        restore: bool,
        /// The client's config file (default: its usual location).
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Find the remote MCP servers your clients already use, sign in once per
    /// authorization server, and point those entries at the broker.
    Import {
        /// Show what was found and what would change; sign in to nothing, write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Apply without asking.
        #[arg(long, conflicts_with = "dry_run")]
        yes: bool,
        /// A client's config file instead of its usual place, `CLIENT=PATH` (repeatable).
        #[arg(long = "config", value_name = "CLIENT=PATH", value_parser = crate::import::parse_config)]
        configs: Vec<(crate::connect::ClientKind, PathBuf)>,
        /// Sign-in options.
        #[command(flatten)]
        sign_in: SignInOptions,
    },
}

/// An account label as `--account` takes it.
fn parse_account(s: &str) -> Result<String, String> {
    passport_core::account::check_label(s).map_err(|e| e.to_string())
}
