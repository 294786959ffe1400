//! The signed-in user's account page: their grants, "remove this server"
//! (takes effect at the grant's next refresh) and "revoke all".

use crate::crypto::now;
use crate::db;
use crate::html::{self, esc};
use crate::session;
use crate::state::AsState;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// `GET /account`.
pub async fn show(State(state): State<Arc<AsState>>, headers: HeaderMap) -> Response {
    let current = session::current(&state, &headers);
    let mut response = match &current.session.user {
        None => html::sign_in(&current.session.csrf, "/account", None),
        Some(user) => match state.store.tx(|c| db::live_grants_of(c, user)) {
            Ok(grants) => render(&state, user, &current.session.csrf, &grants),
            Err(e) => {
                tracing::error!(error = %e, "account page");
                html::error_page(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Your grants could not be read. Try again.",
                )
            }
        },
    };
    if let Some(cookie) = current.set_cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

fn render(state: &AsState, user: &str, csrf: &str, grants: &[db::GrantRow]) -> Response {
    let name_of = |id: &str| {
        state
            .config
            .catalog
            .iter()
            .find(|e| e.id == id)
            .map_or(id.to_string(), |e| e.name.clone())
    };
    let client_name = |id: &str| {
        state
            .store
            .tx(|c| db::get_client(c, id))
            .ok()
            .flatten()
            .map_or_else(|| id.to_string(), |c| c.name)
    };
    let mut rows = String::new();
    for g in grants {
        let servers: String = g
            .servers
            .iter()
            .map(|s| {
                format!(
                    "<li>{} <form class=\"inline\" method=\"post\" action=\"/account/grants/{gid}/remove\">\
                     <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><input type=\"hidden\" name=\"server\" value=\"{sid}\">\
                     <button type=\"submit\" aria-label=\"Remove {name}\">Remove this server</button></form></li>",
                    esc(&name_of(s)),
                    gid = esc(&g.id),
                    csrf = esc(csrf),
                    sid = esc(s),
                    name = esc(&name_of(s)),
                )
            })
            .collect();
        rows.push_str(&format!(
            "<section><h2>{}</h2><ul>{servers}</ul><form method=\"post\" action=\"/account/grants/{}/revoke\">\
             <input type=\"hidden\" name=\"csrf\" value=\"{}\"><button type=\"submit\">Revoke all</button></form></section>",
            esc(&client_name(&g.client_id)),
            esc(&g.id),
            esc(csrf)
        ));
    }
    if rows.is_empty() {
        rows = "<p>No application has access to your servers.</p>".into();
    }
    html::page(
        StatusCode::OK,
        "Your account",
        &format!("<h1>Signed in as {}</h1>{rows}", esc(user)),
    )
}

/// Form fields of the account actions.
#[derive(Debug, serde::Deserialize)]
pub struct Action {
    csrf: String,
    server: Option<String>,
}

/// `POST /account/grants/{id}/{action}` with action `remove` or `revoke`.
pub async fn act(
    State(state): State<Arc<AsState>>,
    headers: HeaderMap,
    Path((grant_id, action)): Path<(String, String)>,
    Form(form): Form<Action>,
) -> Response {
    let Some((_, user)) = session::user_with_csrf(&state, &headers, &form.csrf) else {
        return html::error_page(
            StatusCode::FORBIDDEN,
            "This page expired. Open your account page again.",
        );
    };
    let result = state.store.tx(|c| -> Result<bool, db::StoreError> {
        let Some(grant) = db::get_grant(c, &grant_id)?.filter(|g| g.user == user && !g.revoked)
        else {
            return Ok(false);
        };
        match (action.as_str(), &form.server) {
            ("revoke", _) => db::revoke_grant(c, &grant.id, now())?,
            ("remove", Some(server)) => {
                let kept: Vec<String> = grant
                    .servers
                    .iter()
                    .filter(|s| *s != server)
                    .cloned()
                    .collect();
                if kept.is_empty() {
                    db::revoke_grant(c, &grant.id, now())?;
                } else {
                    db::set_grant_servers(c, &grant.id, &kept)?;
                }
            }
            _ => return Ok(false),
        }
        Ok(true)
    });
    match result {
        Ok(true) => (StatusCode::SEE_OTHER, [(header::LOCATION, "/account")]).into_response(),
        Ok(false) => html::error_page(
            StatusCode::NOT_FOUND,
            "That grant does not exist or is not yours.",
        ),
        Err(e) => {
            tracing::error!(error = %e, "account action");
            html::error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The change could not be saved. Try again.",
            )
        }
    }
}
