//! Provider quirks in the dashboard: an authorization server that registers
//! no clients (like GitHub OAuth apps) gets a client id and secret typed in
//! its panel, and the secret never comes back to the page; one with its token
//! endpoint on another host (like Google) gets the host allowed from its
//! panel, under the account label typed beside the address.

use super::harness::Gui;
use crate::{ONE_AT_A_TIME, WAIT};
use reference_as::quirky::{Behaviour, start};

#[tokio::test(flavor = "multi_thread")]
async fn an_as_without_registration_gets_a_client_id_typed_in_the_dashboard() {
    let _one = ONE_AT_A_TIME.lock().await;
    let gui = Gui::start("client-id", &[]).await;
    let (as_, urls, _) = start(
        Behaviour {
            preregistered_only: Some(("gh-client", "gh-secret")),
            ..Behaviour::default()
        },
        1,
    )
    .await
    .unwrap();
    gui.session
        .wait_for(
            "the welcome",
            "return !document.getElementById('welcome').hidden && document.activeElement.id === 'target'",
            WAIT,
        )
        .await;
    gui.session
        .type_into("#target", &format!("{}\u{E007}", urls[0]))
        .await;
    let text = gui
        .session
        .wait_for(
            "the client id panel",
            "const p = document.querySelector('#prompts article.prompt[data-code=client_id_needed]');
             return p && !document.getElementById('prompts').hidden && p.textContent",
            WAIT,
        )
        .await;
    let text = text.as_str().unwrap_or_default().to_string();
    assert!(text.contains(&as_.issuer), "{text}");
    assert!(
        text.contains("io.github.mcppassport:/oauth/callback"),
        "names the redirect address to register: {text}"
    );
    gui.session
        .wait_for(
            "the focus on the client id",
            "return document.activeElement.name === 'client_id'",
            WAIT,
        )
        .await;
    gui.shot("1-client-id-asked").await;
    gui.session
        .type_into("#prompts input[name=client_id]", "gh-client")
        .await;
    gui.session
        .type_into("#prompts input[name=client_secret]", "gh-secret\u{E007}")
        .await;
    gui.wait_signed_in(1, "").await;
    gui.shot("2-signed-in").await;
    let page = gui
        .session
        .eval("return document.documentElement.outerHTML + [...document.querySelectorAll('input')].map(i => i.value).join(' ')")
        .await;
    assert!(
        !page.as_str().unwrap_or_default().contains("gh-secret"),
        "the secret is not on the page once sent"
    );
    // Its tokens live one second, so the broker may already have refreshed.
    assert_eq!(
        as_.seen.lock().unwrap().code_exchanges(),
        1,
        "one sign-in, with the client typed"
    );
    gui.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn endpoint_hosts_are_allowed_from_the_dashboard_under_the_chosen_account() {
    let _one = ONE_AT_A_TIME.lock().await;
    let gui = Gui::start("endpoint-hosts", &[]).await;
    let (as_, urls, other_host) = start(
        Behaviour {
            token_elsewhere: true,
            ..Behaviour::default()
        },
        1,
    )
    .await
    .unwrap();
    gui.session
        .wait_for(
            "the welcome",
            "return !document.getElementById('welcome').hidden && document.activeElement.id === 'target'",
            WAIT,
        )
        .await;
    gui.session.type_into("#account", "work").await;
    gui.session
        .type_into("#target", &format!("{}\u{E007}", urls[0]))
        .await;
    let text = gui
        .session
        .wait_for(
            "the endpoint hosts panel, its button focused",
            "const p = document.querySelector('#prompts article.prompt[data-code=endpoint_host_unconfirmed]');
             return p && document.activeElement.closest('.prompt') === p && document.activeElement.textContent === 'Allow for ' + p.dataset.issuer && p.textContent",
            WAIT,
        )
        .await;
    let text = text.as_str().unwrap_or_default().to_string();
    assert!(
        text.contains(&other_host) && text.contains(&as_.issuer),
        "{text}"
    );
    gui.shot("1-hosts-asked").await;
    // The focused button allows the hosts and signs in again.
    gui.session
        .eval("document.activeElement.click(); return true")
        .await;
    gui.wait_signed_in(1, "").await;
    let meta = gui
        .session
        .eval("return document.querySelector('article.account .meta').textContent")
        .await;
    assert!(
        meta.as_str().unwrap_or_default().contains("Account work"),
        "{meta}"
    );
    // One sign-in; its one-second token may already have been refreshed.
    assert_eq!(as_.seen.lock().unwrap().code_exchanges(), 1);
    gui.shot("2-signed-in").await;
    gui.stop().await;
}
