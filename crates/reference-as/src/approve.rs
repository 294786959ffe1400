//! `reference-as approve URL`: a stand-in for a person at the browser. It
//! opens an authorization URL of this AS, signs in through the sign-in form,
//! ticks servers in the picker, approves, and then does what a browser does
//! with the final redirect: requests it (loopback redirect URIs) or hands it
//! to a program (private-use schemes, as the OS hands a deep link to an app).
//!
//! Tests give it to MCP Passport as `$BROWSER`, so the product's real
//! sign-in path runs end to end with no person and no mock. At the IdP
//! role (no consent page) it signs in and follows the redirect that comes
//! straight back.

use reqwest::header::LOCATION;
use url::Url;

/// What `approve` should do.
#[derive(Debug, Clone)]
pub struct Approval {
    /// The authorization URL.
    pub url: String,
    /// Who signs in.
    pub user: (String, String),
    /// Servers to tick; empty keeps the picker's pre-checked ones (or all when none is).
    pub servers: Vec<String>,
    /// Hand a non-http redirect to this program instead of requesting it.
    pub exec: Option<String>,
}

/// A cookie-keeping client that follows no redirects; this AS on a
/// loopback address is reached directly, never through HTTP(S)_PROXY.
fn browser(target: &Url) -> reqwest::ClientBuilder {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true);
    let loopback = match target.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    if loopback { client.no_proxy() } else { client }
}

fn hidden(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(
        html[start..end]
            .replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&"),
    )
}

fn picker(html: &str) -> Vec<(String, bool)> {
    html.split("<input type=\"checkbox\" name=\"server\" value=\"")
        .skip(1)
        .filter_map(|rest| {
            rest.split_once('"')
                .map(|(id, after)| (id.to_string(), after.starts_with(" checked")))
        })
        .collect()
}

/// Fills the AS's sign-in form on `html` as `a.user` and submits it.
async fn sign_in(
    client: &reqwest::Client,
    origin: &str,
    a: &Approval,
    html: &str,
) -> Result<(), String> {
    let form = [
        ("username", a.user.0.clone()),
        ("password", a.user.1.clone()),
        (
            "csrf",
            hidden(html, "csrf").ok_or("sign-in form without csrf")?,
        ),
        (
            "return_to",
            hidden(html, "return_to").ok_or("sign-in form without return_to")?,
        ),
    ];
    let login = client
        .post(format!("{origin}/login"))
        .form(&form)
        .send()
        .await
        .map_err(|e| format!("sign-in: {}", e.without_url()))?;
    if login.status().is_redirection() {
        Ok(())
    } else {
        Err(format!(
            "sign-in as {} refused ({})",
            a.user.0,
            login.status()
        ))
    }
}

/// Runs the approval; returns the final redirect URL it delivered.
pub async fn approve(a: &Approval) -> Result<String, String> {
    let (client, location) = final_redirect(a).await?;
    deliver(&client, a, &location).await
}

/// The same person with the browser on another machine than the
/// application: the final redirect to the application's loopback cannot
/// load there, so it is not requested; returns the address the browser
/// shows, for the person to paste.
pub async fn approve_elsewhere(a: &Approval) -> Result<String, String> {
    Ok(final_redirect(a).await?.1)
}

/// Signs in and approves; the browser and the final redirect's address.
async fn final_redirect(a: &Approval) -> Result<(reqwest::Client, String), String> {
    let url = Url::parse(&a.url).map_err(|e| format!("not a URL: {e}"))?;
    let origin = url.origin().ascii_serialization();
    let client = browser(&url).build().map_err(|e| e.to_string())?;
    let fail = |what: &'static str| move |e: reqwest::Error| format!("{what}: {}", e.without_url());
    let first = client
        .get(url.clone())
        .send()
        .await
        .map_err(fail("authorize"))?;
    if let Some(location) = first.headers().get(LOCATION) {
        let location = location.to_str().map_err(|e| e.to_string())?.to_string();
        return Ok((client, location));
    }
    let html = first.text().await.map_err(fail("authorize page"))?;
    let consent = if html.contains("action=\"/login\"") {
        sign_in(&client, &origin, a, &html).await?;
        let after = client
            .get(url.clone())
            .send()
            .await
            .map_err(fail("consent"))?;
        // An identity provider (the IdP role) redirects right after sign-in.
        if let Some(location) = after.headers().get(LOCATION) {
            let location = location.to_str().map_err(|e| e.to_string())?.to_string();
            return Ok((client, location));
        }
        after.text().await.map_err(fail("consent page"))?
    } else {
        html
    };
    let mut form = vec![
        (
            "csrf".to_string(),
            hidden(&consent, "csrf").ok_or("consent page without csrf")?,
        ),
        (
            "request".to_string(),
            hidden(&consent, "request").ok_or("consent page without request")?,
        ),
        ("decision".to_string(), "approve".to_string()),
    ];
    let boxes = picker(&consent);
    let chosen: Vec<String> = if !a.servers.is_empty() {
        a.servers.clone()
    } else if boxes.iter().any(|(_, checked)| *checked) {
        boxes
            .iter()
            .filter(|(_, c)| *c)
            .map(|(id, _)| id.clone())
            .collect()
    } else {
        boxes.iter().map(|(id, _)| id.clone()).collect()
    };
    form.extend(chosen.into_iter().map(|id| ("server".to_string(), id)));
    let decision = client
        .post(format!("{origin}/authorize/decision"))
        .form(&form)
        .send()
        .await
        .map_err(fail("approval"))?;
    let location = decision
        .headers()
        .get(LOCATION)
        .ok_or_else(|| format!("approval answered {} without a redirect", decision.status()))?
        .to_str()
        .map_err(|e| e.to_string())?
        .to_string();
    Ok((client, location))
}

/// A person at a device code's verification page (RFC 8628): opens
/// `a.url` (the `verification_uri_complete`), signs in, submits the code the
/// page shows, and approves on the consent page (ticking `a.servers`, or
/// every server of a picker).
pub async fn approve_device(a: &Approval) -> Result<(), String> {
    let url = Url::parse(&a.url).map_err(|e| format!("not a URL: {e}"))?;
    let origin = url.origin().ascii_serialization();
    let client = browser(&url).build().map_err(|e| e.to_string())?;
    let fail = |what: &'static str| move |e: reqwest::Error| format!("{what}: {}", e.without_url());
    let get = |target: Url| {
        let request = client.get(target);
        async move {
            request
                .send()
                .await
                .map_err(fail("device page"))?
                .text()
                .await
                .map_err(fail("device page"))
        }
    };
    let mut html = get(url.clone()).await?;
    if html.contains("action=\"/login\"") {
        sign_in(&client, &origin, a, &html).await?;
        html = get(url.clone()).await?;
    }
    let code = [
        (
            "csrf",
            hidden(&html, "csrf").ok_or("code page without csrf")?,
        ),
        (
            "user_code",
            hidden(&html, "user_code").ok_or("code page without a code")?,
        ),
    ];
    let consent = client
        .post(format!("{origin}/device"))
        .form(&code)
        .send()
        .await
        .map_err(fail("code"))?
        .text()
        .await
        .map_err(fail("consent page"))?;
    let mut form = vec![
        (
            "csrf".to_string(),
            hidden(&consent, "csrf").ok_or("the code was not accepted")?,
        ),
        (
            "request".to_string(),
            hidden(&consent, "request").ok_or("consent page without request")?,
        ),
        ("decision".to_string(), "approve".to_string()),
    ];
    let boxes = picker(&consent);
    let chosen: Vec<String> = if a.servers.is_empty() {
        boxes.into_iter().map(|(id, _)| id).collect()
    } else {
        a.servers.clone()
    };
    form.extend(chosen.into_iter().map(|id| ("server".to_string(), id)));
    let done = client
        .post(format!("{origin}/authorize/decision"))
        .form(&form)
        .send()
        .await
        .map_err(fail("approval"))?
        .text()
        .await
        .map_err(fail("approval page"))?;
    if done.contains("Device connected") {
        Ok(())
    } else {
        Err("the approval was not accepted".into())
    }
}

async fn deliver(client: &reqwest::Client, a: &Approval, location: &str) -> Result<String, String> {
    let target = Url::parse(location).map_err(|e| format!("redirect is not a URL: {e}"))?;
    if target.scheme() == "http" || target.scheme() == "https" {
        let response = client
            .get(target.clone())
            .send()
            .await
            .map_err(|e| format!("redirect target: {}", e.without_url()))?;
        if !response.status().is_success() {
            return Err(format!(
                "the redirect target answered {}",
                response.status()
            ));
        }
    } else {
        let program = a
            .exec
            .as_deref()
            .ok_or("the redirect uses a private-use scheme; pass --exec PROGRAM to hand it over")?;
        let status = tokio::process::Command::new(program)
            .arg(target.as_str())
            .status()
            .await
            .map_err(|e| format!("{program}: {e}"))?;
        if !status.success() {
            return Err(format!("{program} exited with {status}"));
        }
    }
    Ok(target.to_string())
}

/// The same person at the AS's account page: signs in and presses
/// "revoke all" on every grant of theirs. Returns how many grants it revoked.
pub async fn revoke_everything(issuer: &str, user: (&str, &str)) -> Result<usize, String> {
    let issuer_url = Url::parse(issuer).map_err(|e| format!("not a URL: {e}"))?;
    let client = browser(&issuer_url).build().map_err(|e| e.to_string())?;
    let fail = |what: &'static str| move |e: reqwest::Error| format!("{what}: {}", e.without_url());
    let account = format!("{}/account", issuer.trim_end_matches('/'));
    let page = |client: &reqwest::Client| {
        let request = client.get(&account);
        async move {
            request
                .send()
                .await
                .map_err(fail("account page"))?
                .text()
                .await
                .map_err(fail("account page"))
        }
    };
    let html = page(&client).await?;
    let csrf = hidden(&html, "csrf").ok_or("the account page has no sign-in form")?;
    client
        .post(format!("{}/login", issuer.trim_end_matches('/')))
        .form(&[
            ("username", user.0),
            ("password", user.1),
            ("csrf", csrf.as_str()),
            ("return_to", "/account"),
        ])
        .send()
        .await
        .map_err(fail("sign-in"))?;
    let html = page(&client).await?;
    let csrf = hidden(&html, "csrf").ok_or("the account page has no form after sign-in")?;
    let marker = "action=\"/account/grants/";
    let ids: Vec<String> = html
        .split(marker)
        .skip(1)
        .filter_map(|rest| {
            let (id, action) = rest.split_once('/')?;
            action.starts_with("revoke\"").then(|| id.to_string())
        })
        .collect();
    for id in &ids {
        let r = client
            .post(format!(
                "{}/account/grants/{id}/revoke",
                issuer.trim_end_matches('/')
            ))
            .form(&[("csrf", csrf.as_str())])
            .send()
            .await
            .map_err(fail("revoke"))?;
        if !r.status().is_redirection() && !r.status().is_success() {
            return Err(format!("revoking a grant answered {}", r.status()));
        }
    }
    Ok(ids.len())
}
