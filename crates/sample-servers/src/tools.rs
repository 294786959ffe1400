//! The MCP side of a sample server: its tools, picked by server id.
//!
//! Every server has `whoami`, which shows what the validated token said, so a
//! client can see which audience it was given. The well-known ids add two
//! plausible tools on in-memory data, one reading and one writing; unknown
//! ids get `echo`. Writing tools are marked `read_only_hint = false`, and the
//! HTTP gate derives from those marks which calls need `mcp:write`.

use crate::auth::Claims;
use crate::data::Store;
use crate::middleware::WRITE_SCOPE;
use crate::spec::ServerSpec;
use http::request::Parts;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::tool::Extension;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, ContentBlock, Implementation, ServerCapabilities, ServerConfig};
use rmcp::{ErrorData, ServerHandler, tool, tool_handler, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard};

/// One sample server's MCP handler (cloned for each session).
#[derive(Clone)]
pub(crate) struct SampleMcp {
    spec: Arc<ServerSpec>,
    store: Arc<Mutex<Store>>,
    tool_router: ToolRouter<Self>,
}

/// Arguments of `list_issues`.
#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct ListIssues {
    /// Only issues in this state: `open` or `closed` (all when absent).
    #[serde(default)]
    pub state: Option<String>,
}

/// Arguments of `create_issue`.
#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct CreateIssue {
    /// The issue title.
    pub title: String,
    /// The issue body (Markdown).
    #[serde(default)]
    pub body: String,
}

/// Arguments of `post_message`.
#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct PostMessage {
    /// The channel name, e.g. `general`.
    pub channel: String,
    /// The message text.
    pub text: String,
}

/// Arguments of `search_pages`.
#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct SearchPages {
    /// Text to look for in titles and contents.
    pub query: String,
}

/// Arguments of `create_page`.
#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct CreatePage {
    /// The page title.
    pub title: String,
    /// The page content.
    #[serde(default)]
    pub content: String,
}

/// Arguments of `echo`.
#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct Echo {
    /// The text to send back.
    pub text: String,
}

impl SampleMcp {
    /// The handler for `spec`, with the tools its id calls for.
    pub fn new(spec: ServerSpec, store: Arc<Mutex<Store>>) -> Self {
        let mut tool_router = Self::common_tools();
        tool_router += match spec.id.as_str() {
            "github-mcp" => Self::github_tools(),
            "slack-mcp" => Self::slack_tools(),
            "notion-mcp" => Self::notion_tools(),
            _ => Self::generic_tools(),
        };
        Self {
            spec: Arc::new(spec),
            store,
            tool_router,
        }
    }

    /// The names of the tools that need `mcp:write`: every tool not marked
    /// read-only, so an unmarked tool fails safe.
    pub fn write_tools(&self) -> HashSet<String> {
        self.tool_router
            .list_all()
            .into_iter()
            .filter(|t| t.annotations.as_ref().and_then(|a| a.read_only_hint) != Some(true))
            .map(|t| t.name.to_string())
            .collect()
    }

    fn store(&self) -> MutexGuard<'_, Store> {
        // A panic while holding the lock cannot leave the plain data invalid.
        self.store
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The claims the HTTP gate attached to this request.
fn claims(parts: &Parts) -> Result<&Claims, ErrorData> {
    parts
        .extensions
        .get::<Claims>()
        .ok_or_else(|| ErrorData::internal_error("request was not authenticated", None))
}

/// The claims, provided they allow writing.
fn writer(parts: &Parts) -> Result<&Claims, ErrorData> {
    let claims = claims(parts)?;
    if claims.has_scope(WRITE_SCOPE) {
        Ok(claims)
    } else {
        Err(ErrorData::invalid_request(
            "this tool needs the mcp:write scope",
            None,
        ))
    }
}

fn author(claims: &Claims) -> &str {
    claims.sub.as_deref().unwrap_or("anonymous")
}

/// A tool result holding `value` as pretty JSON text.
fn json_text(value: &impl Serialize) -> Result<CallToolResult, ErrorData> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| ErrorData::internal_error(e.to_string(), None))?;
    Ok(CallToolResult::success(vec![ContentBlock::text(text)]))
}

/// A tool result reporting a failure the caller can fix.
fn tool_error(message: impl std::fmt::Display) -> Result<CallToolResult, ErrorData> {
    Ok(CallToolResult::error(vec![ContentBlock::text(
        message.to_string(),
    )]))
}

#[tool_router(router = common_tools)]
impl SampleMcp {
    /// Shows what the access token says: subject, audience, client and scope.
    #[tool(annotations(read_only_hint = true))]
    async fn whoami(
        &self,
        Extension(parts): Extension<Parts>,
    ) -> Result<CallToolResult, ErrorData> {
        let claims = claims(&parts)?;
        json_text(&json!({
            "sub": claims.sub,
            "server": self.spec.id,
            "aud": claims.aud,
            "client_id": claims.client_id,
            "scope": claims.scope_text(),
        }))
    }
}

#[tool_router(router = github_tools)]
impl SampleMcp {
    /// Lists the repository's issues.
    #[tool(annotations(read_only_hint = true))]
    async fn list_issues(
        &self,
        Parameters(args): Parameters<ListIssues>,
    ) -> Result<CallToolResult, ErrorData> {
        json_text(&self.store().issues(args.state.as_deref()))
    }

    /// Opens a new issue (needs the mcp:write scope).
    #[tool(annotations(read_only_hint = false, destructive_hint = false))]
    async fn create_issue(
        &self,
        Parameters(args): Parameters<CreateIssue>,
        Extension(parts): Extension<Parts>,
    ) -> Result<CallToolResult, ErrorData> {
        let claims = writer(&parts)?;
        match self
            .store()
            .create_issue(&args.title, &args.body, author(claims))
        {
            Ok(issue) => json_text(&issue),
            Err(e) => tool_error(e),
        }
    }
}

#[tool_router(router = slack_tools)]
impl SampleMcp {
    /// Lists the workspace's channels with their messages.
    #[tool(annotations(read_only_hint = true))]
    async fn list_channels(&self) -> Result<CallToolResult, ErrorData> {
        json_text(&self.store().channels())
    }

    /// Posts a message to a channel (needs the mcp:write scope).
    #[tool(annotations(read_only_hint = false, destructive_hint = false))]
    async fn post_message(
        &self,
        Parameters(args): Parameters<PostMessage>,
        Extension(parts): Extension<Parts>,
    ) -> Result<CallToolResult, ErrorData> {
        let claims = writer(&parts)?;
        match self
            .store()
            .post_message(&args.channel, &args.text, author(claims))
        {
            Ok(message) => json_text(&message),
            Err(e) => tool_error(e),
        }
    }
}

#[tool_router(router = notion_tools)]
impl SampleMcp {
    /// Finds pages whose title or content contains the query.
    #[tool(annotations(read_only_hint = true))]
    async fn search_pages(
        &self,
        Parameters(args): Parameters<SearchPages>,
    ) -> Result<CallToolResult, ErrorData> {
        json_text(&self.store().search_pages(&args.query))
    }

    /// Creates a page (needs the mcp:write scope).
    #[tool(annotations(read_only_hint = false, destructive_hint = false))]
    async fn create_page(
        &self,
        Parameters(args): Parameters<CreatePage>,
        Extension(parts): Extension<Parts>,
    ) -> Result<CallToolResult, ErrorData> {
        let claims = writer(&parts)?;
        match self
            .store()
            .create_page(&args.title, &args.content, author(claims))
        {
            Ok(page) => json_text(&page),
            Err(e) => tool_error(e),
        }
    }
}

#[tool_router(router = generic_tools)]
impl SampleMcp {
    /// Sends the text back.
    #[tool(annotations(read_only_hint = true))]
    async fn echo(&self, Parameters(args): Parameters<Echo>) -> Result<CallToolResult, ErrorData> {
        Ok(CallToolResult::success(vec![ContentBlock::text(args.text)]))
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for SampleMcp {
    fn get_info(&self) -> ServerConfig {
        let mut implementation =
            Implementation::new(self.spec.id.clone(), env!("CARGO_PKG_VERSION"));
        implementation.title = Some(self.spec.name.clone());
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(implementation)
            .with_instructions(self.spec.description.clone())
    }
}
