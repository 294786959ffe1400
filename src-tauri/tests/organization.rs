//! "Sign in with your organization" on Tauri's mock runtime: the real
//! controller, engine and demo stack with its IdP, the webview's IPC
//! simulated, and a person at the browser who signs in at the IdP's own
//! form. One IdP sign-in lists one account with every server and its
//! expiry; bad input gets a `{code, message}` and changes nothing; no
//! secret reaches what the webview gets.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use passport_app::passport::Passport;
use passport_app::settings::{Redirect, Settings};
use passport_core::engine::Opener;
use passport_core::store::{MemoryStore, StoreKey, TokenStore as _};
use reference_as::demo::{Demo, DemoConfig};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{
    INVOKE_KEY, MockRuntime, get_ipc_response, mock_builder, mock_context, noop_assets,
};
use tauri::webview::InvokeRequest;

fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).unwrap() + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    html[start..end].replace("&amp;", "&")
}

/// The person at the browser: signs in as `demo` through the IdP's form
/// and follows the redirect back to the app's loopback listener.
struct Person;

impl Opener for Person {
    fn open(&self, url: &url::Url) -> Result<(), String> {
        let url = url.to_string();
        tokio::spawn(async move {
            let browser = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .cookie_store(true)
                .no_proxy()
                .build()
                .unwrap();
            let origin = url::Url::parse(&url)
                .unwrap()
                .origin()
                .ascii_serialization();
            let html = browser
                .get(&url)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            browser
                .post(format!("{origin}/login"))
                .form(&[
                    ("username", "demo"),
                    ("password", "demo"),
                    ("csrf", &hidden(&html, "csrf")),
                    ("return_to", &hidden(&html, "return_to")),
                ])
                .send()
                .await
                .unwrap();
            let back = browser.get(&url).send().await.unwrap();
            let location = back.headers()["location"].to_str().unwrap().to_string();
            browser.get(&location).send().await.unwrap();
        });
        Ok(())
    }
}

fn invoke(
    webview: &tauri::WebviewWindow<MockRuntime>,
    cmd: &str,
    body: Value,
) -> Result<Value, Value> {
    let request = InvokeRequest {
        cmd: cmd.into(),
        callback: CallbackFn(0),
        error: CallbackFn(1),
        url: "tauri://localhost".parse().unwrap(),
        body: InvokeBody::Json(body),
        headers: Default::default(),
        invoke_key: INVOKE_KEY.to_string(),
    };
    get_ipc_response(webview, request).map(|b| b.deserialize::<Value>().unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn one_organization_sign_in_lists_every_server_with_its_expiry() {
    let demo = Demo::start(DemoConfig {
        idp: true,
        ..DemoConfig::default()
    })
    .await
    .unwrap();
    let enterprise = demo.enterprise().unwrap().clone();
    let servers: Vec<String> = demo
        .info()
        .servers
        .iter()
        .map(|s| s.resource.clone())
        .collect();
    let home = tempfile::tempdir().unwrap();
    let settings = Settings {
        paths: passport_broker::paths::Paths::under(home.path().to_path_buf()),
        keyring_service: "unused".into(),
        redirect: Redirect::Loopback,
        broker_port: 0,
        demo: false,
        hidden: true,
    };
    let store = Arc::new(MemoryStore::new());
    let passport =
        Passport::open(settings, store.clone(), Arc::new(Person), Arc::new(|_| {})).unwrap();
    passport.start().await;
    let app = mock_builder()
        .invoke_handler(passport_app::commands::handler())
        .manage(Arc::clone(&passport))
        .build(mock_context(noop_assets()))
        .unwrap();
    let webview = tauri::WebviewWindowBuilder::new(&app, "main", Default::default())
        .build()
        .unwrap();
    let secret = enterprise.as_client_secret.clone().unwrap();

    // Bad input: a code and a next step, and nothing changes.
    for (form, code) in [
        (json!({"idp": " ", "servers": servers[0]}), "no_idp"),
        (
            json!({"idp": "http://idp.example", "servers": servers[0]}),
            "url_refused",
        ),
        (
            json!({"idp": enterprise.idp_issuer, "servers": ""}),
            "no_target",
        ),
    ] {
        let err = invoke(&webview, "sign_in_organization", json!({"form": form})).unwrap_err();
        assert_eq!(err["code"], code, "{err}");
        assert!(!err["message"].as_str().unwrap().is_empty());
    }
    assert!(!home.path().join("state.json").exists());

    invoke(
        &webview,
        "sign_in_organization",
        json!({"form": {
            "idp": enterprise.idp_issuer,
            "servers": servers.join("\n"),
            "client_id": enterprise.as_client_id,
            "client_secret": secret,
        }}),
    )
    .unwrap();
    let mut overview = Value::Null;
    for _ in 0..150 {
        overview = invoke(&webview, "overview", json!({})).unwrap();
        if overview["activity"]["signing_in"].is_null()
            && !overview["accounts"].as_array().unwrap().is_empty()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let account = &overview["accounts"][0];
    assert_eq!(
        account["issuer"],
        json!(enterprise.idp_issuer),
        "{overview}"
    );
    let listed = account["servers"].as_array().unwrap();
    assert_eq!(listed.len(), 3, "{overview}");
    assert!(
        listed
            .iter()
            .all(|s| s["expires_at"].is_string() && s["status"] == "active"),
        "{overview}"
    );
    assert!(overview["activity"]["error"].is_null(), "{overview}");
    let rows = overview["activity"]["sign_in_rows"].as_array().unwrap();
    assert!(rows.iter().all(|r| r["state"] == "signed-in"), "{overview}");
    assert_eq!(demo.as_requests().2, 0, "no AS browser visit");
    assert_eq!(demo.jwt_bearer_requests(), 3);

    // Secrets stay in the store, out of the webview and the state file.
    let grant = passport.engine().grants()[0].clone();
    let refresh = store
        .get(&StoreKey::IdpRefreshToken {
            grant_id: grant.id.clone(),
        })
        .unwrap()
        .expect("the IdP refresh token is in the store");
    let shown = invoke(&webview, "overview", json!({})).unwrap().to_string();
    let state = std::fs::read_to_string(home.path().join("state.json")).unwrap();
    for text in [&shown, &state] {
        assert!(!text.contains(&secret) && !text.contains(&refresh));
    }
    passport.shutdown().await;
    demo.shutdown().await;
}
