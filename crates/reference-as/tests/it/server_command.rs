use tokio::io::AsyncBufReadExt as _;

#[tokio::test]
async fn server_command_runs_one_sample_server_trusting_the_given_issuer() {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_reference-as"))
        .args([
            "server",
            "--id",
            "notion-mcp",
            "--port",
            "0",
            "--trust-issuer",
            "http://127.0.0.1:9/tenant/",
        ])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next_line().await.unwrap().unwrap();
    let resource = first.split_whitespace().last().unwrap().to_string();
    assert!(
        resource.starts_with("http://127.0.0.1:") && resource.ends_with("/mcp"),
        "{first}"
    );
    let prm: serde_json::Value = reqwest::get(format!(
        "{}/.well-known/oauth-protected-resource/mcp",
        resource.trim_end_matches("/mcp")
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(prm["resource"], resource);
    assert_eq!(
        prm["authorization_servers"],
        serde_json::json!(["http://127.0.0.1:9/tenant/"]),
        "the issuer is kept exactly as given"
    );
    child.kill().await.unwrap();
}
