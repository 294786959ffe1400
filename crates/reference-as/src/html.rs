//! The AS's HTML pages: sign-in, server picker / consent, account, errors.
//!
//! Plain forms that work without JavaScript, with labels on every control so
//! they read well to screen readers and work from the keyboard. Every value
//! that came from a request is escaped. The pages load nothing from elsewhere.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

/// Escapes text for HTML element content and quoted attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "
:root{color-scheme:light dark;font-family:system-ui,sans-serif;line-height:1.5}
body{max-width:34rem;margin:3rem auto;padding:0 1rem}
h1{font-size:1.4rem}label{display:block;margin:.6rem 0}
input[type=text],input[type=password]{width:100%;padding:.4rem;font-size:1rem;box-sizing:border-box}
fieldset{border:1px solid #8886;border-radius:.4rem;margin:1rem 0}
.server{display:flex;gap:.6rem;align-items:flex-start;margin:.5rem 0}
.server small{display:block;opacity:.75}
button{font-size:1rem;padding:.45rem 1rem;margin:.5rem .5rem 0 0;cursor:pointer}
button:focus-visible,input:focus-visible{outline:3px solid #4a90e2;outline-offset:2px}
.error{border-left:4px solid #c0392b;padding:.3rem .8rem;background:#c0392b22}
table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:.3rem;border-bottom:1px solid #8884}
form.inline{display:inline}
";

/// A complete page with security headers that forbid framing, referrers and caching.
pub fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{} · Reference AS</title><style>{STYLE}</style></head><body><main>{body}</main></body></html>",
        esc(title)
    );
    let mut response = (status, Html(html)).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// A page that says what went wrong and what to do next.
pub fn error_page(status: StatusCode, message: &str) -> Response {
    let body = format!(
        "<h1>This sign-in cannot continue</h1><p class=\"error\" role=\"alert\">{}</p>\
         <p>Go back to the application and start signing in again. If this keeps happening, \
         the application's configuration does not match this authorization server.</p>",
        esc(message)
    );
    page(status, "Error", &body)
}

/// The sign-in form. `return_to` is where a successful sign-in continues.
pub fn sign_in(csrf: &str, return_to: &str, error: Option<&str>) -> Response {
    let alert = error
        .map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", esc(e)))
        .unwrap_or_default();
    let body = format!(
        "<h1>Sign in</h1>{alert}<form method=\"post\" action=\"/login\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{}\">\
         <input type=\"hidden\" name=\"return_to\" value=\"{}\">\
         <label>User name <input type=\"text\" name=\"username\" autocomplete=\"username\" required autofocus></label>\
         <label>Password <input type=\"password\" name=\"password\" autocomplete=\"current-password\" required></label>\
         <button type=\"submit\">Sign in</button></form>",
        esc(csrf),
        esc(return_to)
    );
    let status = if error.is_some() {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::OK
    };
    page(status, "Sign in", &body)
}

/// One server row of the picker: `(id, name, description, checked)`.
pub type PickerRow<'a> = (&'a str, &'a str, &'a str, bool);

/// The consent page; with `picker` rows it is the Multi-Server picker.
pub struct Consent<'a> {
    /// Anti-CSRF token.
    pub csrf: &'a str,
    /// Pending request id.
    pub request: &'a str,
    /// Client display name.
    pub client_name: &'a str,
    /// Where the answer goes (host shown to the user).
    pub redirect_uri: &'a str,
    /// Scopes asked for.
    pub scopes: &'a [String],
    /// `Some` for the picker; `None` when the request named its servers.
    pub picker: Option<Vec<PickerRow<'a>>>,
    /// Names of servers fixed by the request (no picker).
    pub fixed: Vec<&'a str>,
    /// A problem with the last submission.
    pub error: Option<&'a str>,
}

/// Renders the consent page.
pub fn consent(c: &Consent<'_>) -> Response {
    let alert = c
        .error
        .map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", esc(e)))
        .unwrap_or_default();
    let servers = match &c.picker {
        Some(rows) => {
            let items: String = rows
                .iter()
                .map(|(id, name, desc, checked)| {
                    format!(
                        "<label class=\"server\"><input type=\"checkbox\" name=\"server\" value=\"{}\"{}>\
                         <span>{}<small>{}</small></span></label>",
                        esc(id),
                        if *checked { " checked" } else { "" },
                        esc(name),
                        esc(desc)
                    )
                })
                .collect();
            format!("<fieldset><legend>Choose the servers it may use</legend>{items}</fieldset>")
        }
        None => {
            let items: String = c
                .fixed
                .iter()
                .map(|n| format!("<li>{}</li>", esc(n)))
                .collect();
            format!("<p>It asks for access to:</p><ul>{items}</ul>")
        }
    };
    let scopes: String = c
        .scopes
        .iter()
        .map(|s| format!("<li><code>{}</code></li>", esc(s)))
        .collect();
    let body = format!(
        "<h1>Allow {name}?</h1>{alert}<p><strong>{name}</strong> wants to act for you on MCP servers. \
         It will receive tokens at <code>{target}</code>.</p>\
         <form method=\"post\" action=\"/authorize/decision\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><input type=\"hidden\" name=\"request\" value=\"{request}\">\
         {servers}<p>Permissions:</p><ul>{scopes}</ul>\
         <button type=\"submit\" name=\"decision\" value=\"approve\">Allow</button>\
         <button type=\"submit\" name=\"decision\" value=\"deny\">Deny</button></form>",
        name = esc(c.client_name),
        target = esc(&redirect_target(c.redirect_uri)),
        csrf = esc(c.csrf),
        request = esc(c.request),
    );
    page(
        if c.error.is_some() {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::OK
        },
        "Allow access",
        &body,
    )
}

/// What the user is told about where the tokens go: scheme and host only.
fn redirect_target(uri: &str) -> String {
    if uri.is_empty() {
        return "the device that showed you the code".into();
    }
    match url::Url::parse(uri) {
        Ok(u) => match u.host_str() {
            Some(h) => format!("{}://{}", u.scheme(), h),
            None => format!("{}:", u.scheme()),
        },
        Err(_) => uri.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            esc("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn redirect_target_shows_only_scheme_and_host() {
        assert_eq!(
            redirect_target("http://127.0.0.1:5555/cb?x=1"),
            "http://127.0.0.1"
        );
        assert_eq!(
            redirect_target("io.github.mcppassport:/oauth/callback"),
            "io.github.mcppassport:"
        );
    }
}
