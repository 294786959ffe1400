//! The few W3C WebDriver calls the GUI tests need, over plain HTTP to
//! `tauri-driver` (which drives the app's real webview through
//! WebKitWebDriver): start a session on the app binary, run a script in the
//! page, click, type, read windows, take a screenshot.

use base64::Engine as _;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// A WebDriver session on the app.
pub struct Session {
    http: reqwest::Client,
    base: String,
}

impl Session {
    /// Starts the app under `tauri-driver` on `port` with these arguments.
    pub async fn start(port: u16, application: &str, args: &[&str]) -> Session {
        // No WebDriver call takes a minute: one that does has hung (the app
        // or WebKitWebDriver died), and the test fails saying so.
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("an HTTP client");
        let driver = format!("http://127.0.0.1:{port}");
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "wry",
            "tauri:options": {"application": application, "args": args},
        }}});
        let started = http
            .post(format!("{driver}/session"))
            .json(&caps)
            .send()
            .await
            .unwrap_or_else(|e| panic!("tauri-driver did not start the app within a minute: {e}"))
            .json::<Value>()
            .await
            .expect("a JSON session");
        let id = started["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {started}"))
            .to_string();
        Session {
            http,
            base: format!("{driver}/session/{id}"),
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let answer: Value = request
            .send()
            .await
            .expect("WebDriver answers")
            .json()
            .await
            .expect("WebDriver JSON");
        if let Some(error) = answer["value"].get("error") {
            panic!("WebDriver {path}: {error} {}", answer["value"]["message"]);
        }
        answer["value"].clone()
    }

    /// Runs `script` (a function body) in the page and returns its value.
    pub async fn eval(&self, script: &str) -> Value {
        self.eval_with(script, json!([])).await
    }

    /// Runs `script` with `arguments` set to `args` (a JSON array).
    pub async fn eval_with(&self, script: &str, args: Value) -> Value {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": script, "args": args})),
        )
        .await
    }

    /// Waits until `script` returns something truthy; returns it.
    pub async fn wait_for(&self, what: &str, script: &str, timeout: Duration) -> Value {
        self.wait_for_with(what, script, json!([]), timeout).await
    }

    /// Waits until `script` (with `arguments` set to `args`) returns
    /// something truthy; returns it.
    pub async fn wait_for_with(
        &self,
        what: &str,
        script: &str,
        args: Value,
        timeout: Duration,
    ) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let v = self.eval_with(script, args.clone()).await;
            let truthy =
                !matches!(&v, Value::Null | Value::Bool(false)) && v != json!("") && v != json!(0);
            if truthy {
                return v;
            }
            if Instant::now() > deadline {
                let page = self.eval("return document.body.innerText").await;
                panic!(
                    "timed out waiting for {what}; the page shows:\n{}",
                    page.as_str().unwrap_or("")
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn element(&self, css: &str) -> String {
        let found = self
            .call(
                reqwest::Method::POST,
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        found
            .as_object()
            .and_then(|o| o.values().next())
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("no element {css}"))
            .to_string()
    }

    /// Clicks the element `css` selects, once the page shows it enabled.
    /// The element is found right before the click (the page keeps an
    /// element while what it shows exists, so it is still the one found).
    pub async fn click(&self, css: &str) {
        self.wait_for_with(
            &format!("{css} to be shown and enabled"),
            "const e = document.querySelector(arguments[0]); return e !== null && !e.disabled && e.getClientRects().length > 0",
            json!([css]),
            Duration::from_secs(30),
        )
        .await;
        let id = self.element(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/click"),
            Some(json!({})),
        )
        .await;
    }

    /// Types `text` into the element `css` selects.
    pub async fn type_into(&self, css: &str, text: &str) {
        let id = self.element(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/value"),
            Some(json!({"text": text})),
        )
        .await;
    }

    /// Resizes the window.
    pub async fn resize(&self, width: u32, height: u32) {
        self.call(
            reqwest::Method::POST,
            "/window/rect",
            Some(json!({"width": width, "height": height})),
        )
        .await;
    }

    /// The handles of the app's open windows.
    pub async fn windows(&self) -> Vec<String> {
        let v = self
            .call(reqwest::Method::GET, "/window/handles", None)
            .await;
        serde_json::from_value(v).unwrap_or_default()
    }

    /// Saves a PNG screenshot of the window.
    pub async fn screenshot(&self, path: &std::path::Path) {
        let v = self.call(reqwest::Method::GET, "/screenshot", None).await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap_or(""))
            .expect("a base64 PNG");
        assert!(png.starts_with(b"\x89PNG"), "the screenshot is a PNG");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("screenshot folder");
        }
        std::fs::write(path, png).expect("screenshot written");
    }

    /// Ends the session (closing the app).
    pub async fn end(self) {
        let _ = self.http.delete(&self.base).send().await;
    }
}
