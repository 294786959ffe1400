//! The reference Multi-Server OAuth authorization server.
//!
//! It implements the pattern of MCP Passport's design (section 2): a global
//! authorization request shows a server picker and yields one grant whose
//! access tokens carry an array `aud` of server ids and a `servers:` scope;
//! refresh rotates, narrows (`scope`) and audience-restricts (`resource`).
//! It also speaks plain MCP OAuth (per-server and multi-resource requests),
//! so standard clients work against it unchanged. [`demo`] starts it with
//! sample MCP servers on loopback. With [`idp`] it also plays an
//! enterprise identity provider (OpenID Connect and ID-JAG token exchange),
//! and [`jwt_bearer`] accepts that IdP's ID-JAGs (Enterprise-Managed
//! Authorization).
//!
//! This crate shares no code with the MCP Passport client: it is the other
//! side of the wire, and a shared bug would hide itself.

pub mod account;
pub mod app;
pub mod approve;
pub mod authorize;
pub mod clients;
pub mod config;
pub mod consent;
pub mod counters;
pub mod crypto;
pub mod db;
pub mod demo;
pub mod device;
pub mod dpop;
pub mod error;
pub mod exchange;
pub mod html;
pub mod idp;
pub mod idp_keys;
pub mod issue;
pub mod jwt;
pub mod jwt_bearer;
pub mod metadata;
pub mod per_server;
pub mod quirky;
pub mod revoke;
pub mod scope;
pub mod secrets_log;
pub mod session;
pub mod state;
pub mod token;

pub use app::{StartError, app, open_state, serve};
pub use config::{
    AsConfig, CatalogEntry, PreregisteredClient, ResourceServerCredential, TrustedIdp,
};
