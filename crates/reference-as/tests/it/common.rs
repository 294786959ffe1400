//! The harness: a demo stack in-process, and a cookie-keeping "browser"
//! that signs in and answers the consent page through the real HTML forms.

use base64::Engine as _;
use reference_as::demo::{Demo, DemoConfig};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::Digest as _;

pub const REDIRECT: &str = "http://127.0.0.1/callback";

pub struct Stack {
    pub demo: Demo,
    pub http: reqwest::Client,
}

/// A registered public client and its PKCE pair for one flow.
pub struct Client {
    pub id: String,
    pub redirect_uri: String,
}

pub struct Pkce {
    pub verifier: String,
    pub challenge: String,
}

impl Pkce {
    pub fn new() -> Self {
        let verifier = format!("{}-verifier-{}", uuid_like(), uuid_like());
        let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(sha2::Sha256::digest(verifier.as_bytes()));
        Self {
            verifier,
            challenge,
        }
    }
}

pub fn uuid_like() -> String {
    use rand::Rng as _;
    let mut rng = rand::thread_rng();
    (0..24)
        .map(|_| char::from(b"abcdefghijklmnopqrstuvwxyz0123456789"[rng.gen_range(0..36)]))
        .collect()
}

pub fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .expect("client")
}

/// The value of the first `<input ... name="NAME" value="...">` in `html`.
pub fn input_value(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(
        html[start..end]
            .replace("&amp;", "&")
            .replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&lt;", "<")
            .replace("&gt;", ">"),
    )
}

/// The ids of checked server checkboxes.
pub fn checked_servers(html: &str) -> Vec<String> {
    html.split("<input type=\"checkbox\" name=\"server\" value=\"")
        .skip(1)
        .filter_map(|rest| {
            let (id, after) = rest.split_once('"')?;
            after.starts_with(" checked").then(|| id.to_string())
        })
        .collect()
}

pub fn query_param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url)
        .ok()?
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

impl Stack {
    pub async fn start(config: DemoConfig) -> Self {
        let demo = Demo::start(config).await.expect("demo starts");
        Self {
            demo,
            http: no_redirects(),
        }
    }

    pub async fn default() -> Self {
        Self::start(DemoConfig::default()).await
    }

    pub fn issuer(&self) -> String {
        self.demo.info().issuer.clone()
    }

    pub fn resource(&self, id: &str) -> String {
        self.demo
            .info()
            .servers
            .iter()
            .find(|s| s.id == id)
            .expect("server in catalog")
            .resource
            .clone()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.issuer())
    }

    pub async fn register(&self) -> Client {
        let body = json!({"client_name": "Test client", "redirect_uris": [REDIRECT],
            "grant_types": ["authorization_code", "refresh_token"], "token_endpoint_auth_method": "none"});
        let response = self
            .http
            .post(self.url("/register"))
            .json(&body)
            .send()
            .await
            .expect("register");
        assert_eq!(response.status(), StatusCode::CREATED);
        let v: Value = response.json().await.expect("json");
        Client {
            id: v["client_id"].as_str().expect("client_id").to_string(),
            redirect_uri: "http://127.0.0.1:48123/callback".into(),
        }
    }

    /// The authorization URL for `client` with extra `params`.
    pub fn authorize_url(
        &self,
        client: &Client,
        pkce: &Pkce,
        state: &str,
        params: &[(&str, &str)],
    ) -> String {
        let mut url = url::Url::parse(&self.url("/authorize")).expect("url");
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &client.id)
            .append_pair("redirect_uri", &client.redirect_uri)
            .append_pair("state", state)
            .append_pair("code_challenge", &pkce.challenge)
            .append_pair("code_challenge_method", "S256");
        for (k, v) in params {
            url.query_pairs_mut().append_pair(k, v);
        }
        url.to_string()
    }

    /// Signs in as demo/demo through the forms and returns the consent page's HTML.
    pub async fn sign_in_to_consent(
        &self,
        browser: &reqwest::Client,
        authorize_url: &str,
    ) -> (StatusCode, String) {
        let page = browser.get(authorize_url).send().await.expect("authorize");
        let page_status = page.status();
        let html = page.text().await.expect("html");
        let Some(csrf) = input_value(&html, "csrf").filter(|_| html.contains("action=\"/login\""))
        else {
            return (page_status, html);
        };
        let return_to = input_value(&html, "return_to").expect("return_to");
        let login = browser
            .post(self.url("/login"))
            .form(&[
                ("username", "demo"),
                ("password", "demo"),
                ("csrf", csrf.as_str()),
                ("return_to", return_to.as_str()),
            ])
            .send()
            .await
            .expect("login");
        assert_eq!(
            login.status(),
            StatusCode::SEE_OTHER,
            "sign-in should succeed"
        );
        let page = browser.get(authorize_url).send().await.expect("consent");
        (page.status(), page.text().await.expect("html"))
    }

    /// Runs the authorization request through sign-in and consent, choosing
    /// `servers` in the picker; returns the final redirect Location.
    pub async fn approve(&self, authorize_url: &str, servers: &[&str]) -> String {
        let browser = browser();
        let (status, html) = self.sign_in_to_consent(&browser, authorize_url).await;
        assert_eq!(status, StatusCode::OK, "consent page: {html}");
        let mut form: Vec<(String, String)> = vec![
            ("csrf".into(), input_value(&html, "csrf").expect("csrf")),
            (
                "request".into(),
                input_value(&html, "request").expect("request"),
            ),
            ("decision".into(), "approve".into()),
        ];
        form.extend(
            servers
                .iter()
                .map(|s| ("server".to_string(), s.to_string())),
        );
        let response = browser
            .post(self.url("/authorize/decision"))
            .form(&form)
            .send()
            .await
            .expect("decision");
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        response.headers()["location"]
            .to_str()
            .expect("location")
            .to_string()
    }

    pub async fn token(&self, form: &[(&str, &str)]) -> (StatusCode, Value) {
        let response = self
            .http
            .post(self.url("/token"))
            .form(form)
            .send()
            .await
            .expect("token");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn exchange(&self, client: &Client, pkce: &Pkce, code: &str) -> (StatusCode, Value) {
        self.token(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("client_id", &client.id),
            ("redirect_uri", &client.redirect_uri),
            ("code_verifier", &pkce.verifier),
        ])
        .await
    }

    pub async fn refresh(
        &self,
        client: &Client,
        refresh_token: &str,
        extra: &[(&str, &str)],
    ) -> (StatusCode, Value) {
        let mut form = vec![
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", client.id.as_str()),
        ];
        form.extend_from_slice(extra);
        self.token(&form).await
    }

    /// The global flow for `servers`: returns the client and the token response.
    pub async fn global_login(&self, servers: &[&str]) -> (Client, Value) {
        let client = self.register().await;
        let pkce = Pkce::new();
        let root = self.issuer();
        let url = self.authorize_url(
            &client,
            &pkce,
            "st-1",
            &[
                ("scope", "mcp:global mcp:tools mcp:resources mcp:prompts"),
                ("resource", &root),
            ],
        );
        let location = self.approve(&url, servers).await;
        let code = query_param(&location, "code").expect("code in redirect");
        let (status, body) = self.exchange(&client, &pkce, &code).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        (client, body)
    }

    /// POSTs an MCP `initialize` to a sample server with `token`; returns the status.
    pub async fn mcp_status(&self, resource: &str, token: Option<&str>) -> reqwest::Response {
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "it", "version": "0"}}});
        let mut request = self
            .http
            .post(resource)
            .header("accept", "application/json, text/event-stream")
            .json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.expect("mcp request")
    }
}

/// The claims of a JWT (not verified: the sample servers verify).
pub fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("jwt");
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .expect("b64"),
    )
    .expect("json")
}

pub fn at(body: &Value) -> &str {
    body["access_token"].as_str().expect("access_token")
}

pub fn rt(body: &Value) -> &str {
    body["refresh_token"].as_str().expect("refresh_token")
}
