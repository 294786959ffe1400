//! Support shared by the fault tests (crash matrix, authorization-server
//! faults, keyring faults): the reference AS behind a switchable fault
//! proxy, a user home driving the real `mcp-passport` binary, and the
//! session's Secret Service, the MCP clients from npm, and the MCP
//! conformance suite. Each
//! test binary uses only part of it.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, missing_docs)]

pub mod clients;
pub mod fault_proxy;
pub mod home;
pub mod session_keyring;
pub mod stack;
pub mod suite;
