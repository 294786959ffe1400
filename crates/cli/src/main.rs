//! `mcp-passport`: sign in once, and hand fresh tokens to every local MCP client.

fn main() -> std::process::ExitCode {
    mcp_passport::run()
}
