//! The in-memory data the sample tools read and write.
//!
//! Each running server owns one store shared by all its MCP sessions, so a
//! write in one session is visible in the next; nothing survives a restart.
//! Sizes are capped so that a client cannot grow the process without bound.

use serde::Serialize;

/// The most items of one kind a store keeps.
const MAX_ITEMS: usize = 1000;
/// The longest text field kept, in characters.
const MAX_TEXT: usize = 10_000;

/// An issue of the sample repository.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Issue {
    pub number: u64,
    pub title: String,
    pub body: String,
    pub state: String,
    pub author: String,
}

/// A message in a channel.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Message {
    pub channel: String,
    pub author: String,
    pub text: String,
}

/// A channel of the sample workspace.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Channel {
    pub name: String,
    pub topic: String,
    pub messages: Vec<Message>,
}

/// A page of the sample wiki.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Page {
    pub id: String,
    pub title: String,
    pub content: String,
    pub author: String,
}

/// Why a write was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum WriteError {
    /// The named channel does not exist.
    #[error("no channel named {0:?}")]
    NoSuchChannel(String),
    /// The store already holds as many items as it may.
    #[error("the sample store is full")]
    Full,
}

/// All the sample data (each server uses only its own part).
#[derive(Debug)]
pub(crate) struct Store {
    issues: Vec<Issue>,
    channels: Vec<Channel>,
    pages: Vec<Page>,
}

fn clip(text: &str) -> String {
    text.chars().take(MAX_TEXT).collect()
}

impl Store {
    /// A store with a few plausible items of each kind.
    pub fn seeded() -> Self {
        let issue = |number: u64, title: &str, state: &str| Issue {
            number,
            title: title.into(),
            body: format!("Seed issue #{number}."),
            state: state.into(),
            author: "octocat".into(),
        };
        let channel = |name: &str, topic: &str, text: &str| Channel {
            name: name.into(),
            topic: topic.into(),
            messages: vec![Message {
                channel: name.into(),
                author: "slackbot".into(),
                text: text.into(),
            }],
        };
        let page = |id: &str, title: &str, content: &str| Page {
            id: id.into(),
            title: title.into(),
            content: content.into(),
            author: "notion".into(),
        };
        Self {
            issues: vec![
                issue(1, "Token refresh fails after laptop sleep", "open"),
                issue(2, "Document the servers: scope syntax", "open"),
                issue(3, "Crash on empty JWKS", "closed"),
            ],
            channels: vec![
                channel(
                    "general",
                    "Company-wide announcements",
                    "Welcome to the sample workspace.",
                ),
                channel(
                    "engineering",
                    "Builds, bugs and releases",
                    "Release 0.1 is out.",
                ),
            ],
            pages: vec![
                page(
                    "p-1",
                    "Onboarding",
                    "How to get access to every MCP server with one sign-in.",
                ),
                page(
                    "p-2",
                    "Release checklist",
                    "Bump versions, tag, publish, announce in #general.",
                ),
            ],
        }
    }

    /// Issues, optionally only those in `state` (`open` or `closed`).
    pub fn issues(&self, state: Option<&str>) -> Vec<Issue> {
        self.issues
            .iter()
            .filter(|i| state.is_none_or(|s| i.state.eq_ignore_ascii_case(s)))
            .cloned()
            .collect()
    }

    /// Opens an issue.
    pub fn create_issue(
        &mut self,
        title: &str,
        body: &str,
        author: &str,
    ) -> Result<Issue, WriteError> {
        if self.issues.len() >= MAX_ITEMS {
            return Err(WriteError::Full);
        }
        let number = self.issues.iter().map(|i| i.number).max().unwrap_or(0) + 1;
        let issue = Issue {
            number,
            title: clip(title),
            body: clip(body),
            state: "open".into(),
            author: clip(author),
        };
        self.issues.push(issue.clone());
        Ok(issue)
    }

    /// All channels.
    pub fn channels(&self) -> Vec<Channel> {
        self.channels.clone()
    }

    /// Posts a message to an existing channel (a leading `#` is ignored).
    pub fn post_message(
        &mut self,
        channel: &str,
        text: &str,
        author: &str,
    ) -> Result<Message, WriteError> {
        let name = channel.trim_start_matches('#');
        let channel = self
            .channels
            .iter_mut()
            .find(|c| c.name == name)
            .ok_or_else(|| WriteError::NoSuchChannel(name.into()))?;
        if channel.messages.len() >= MAX_ITEMS {
            return Err(WriteError::Full);
        }
        let message = Message {
            channel: channel.name.clone(),
            author: clip(author),
            text: clip(text),
        };
        channel.messages.push(message.clone());
        Ok(message)
    }

    /// Pages whose title or content contains `query` (case-insensitive).
    pub fn search_pages(&self, query: &str) -> Vec<Page> {
        let query = query.to_lowercase();
        self.pages
            .iter()
            .filter(|p| {
                p.title.to_lowercase().contains(&query) || p.content.to_lowercase().contains(&query)
            })
            .cloned()
            .collect()
    }

    /// Creates a page.
    pub fn create_page(
        &mut self,
        title: &str,
        content: &str,
        author: &str,
    ) -> Result<Page, WriteError> {
        if self.pages.len() >= MAX_ITEMS {
            return Err(WriteError::Full);
        }
        let page = Page {
            id: format!("p-{}", self.pages.len() + 1),
            title: clip(title),
            content: clip(content),
            author: clip(author),
        };
        self.pages.push(page.clone());
        Ok(page)
    }
}
