use super::*;
use chrono::Duration;
use passport_core::model::GrantedServer;

fn grant(status: GrantStatus, expires_in: i64, now: DateTime<Utc>) -> Grant {
    let server = |id: &str| GrantedServer {
        id: id.into(),
        name: format!("{id} name"),
        resource: Some(format!("http://127.0.0.1:9401/{id}")),
        resource_indicator: None,
        token_kind: TokenKind::Own,
        expires_at: Some(now + Duration::seconds(expires_in)),
        step_up: None,
    };
    Grant {
        id: "g1".into(),
        issuer: "http://127.0.0.1:9400".into(),
        account: None,
        mode: Mode::MultiServer,
        client_id: "c".into(),
        scope: vec!["mcp".into()],
        servers: vec![server("github-mcp"), server("slack-mcp")],
        blocked: vec!["slack-mcp".into()],
        created_at: now,
        refreshed_at: None,
        status,
        dpop_bound: false,
    }
}

#[test]
fn servers_show_status_expiry_and_token_kind() {
    let now = Utc::now();
    let views = accounts(&[grant(GrantStatus::Active, 60, now)], now, &idle());
    let servers = &views[0].servers;
    assert_eq!(servers[0].status, "active");
    assert_eq!(servers[0].token, "own");
    assert_eq!(servers[0].expires_at, Some(now + Duration::seconds(60)));
    assert_eq!(
        servers[1].status, "revoked",
        "a blocked server shows as revoked"
    );
    assert!(views[0].can_add_servers);
    let later = accounts(&[grant(GrantStatus::Active, -1, now)], now, &idle());
    assert_eq!(later[0].servers[0].status, "expired");
    let refreshing: HashSet<String> = ["g1".to_string()].into();
    let busy = Busy {
        refreshing: &refreshing,
        revoking: &[],
    };
    assert_eq!(
        accounts(&[grant(GrantStatus::Active, 60, now)], now, &busy)[0].servers[0].status,
        "refreshing"
    );
}

#[test]
fn a_server_being_revoked_is_revoking_not_revoked_until_the_revocation_ends() {
    let now = Utc::now();
    let none = HashSet::new();
    let revoking = ["slack-mcp".to_string(), "github-mcp".to_string()];
    let busy = Busy {
        refreshing: &none,
        revoking: &revoking,
    };
    let views = accounts(&[grant(GrantStatus::Active, 60, now)], now, &busy);
    let servers = &views[0].servers;
    assert_eq!(
        servers[1].status, "revoking",
        "blocked here already, but the AS has not finished"
    );
    assert_eq!(servers[0].status, "revoking");
    assert!(
        servers.iter().all(|s| s.expires_at.is_none()),
        "no countdown for a token no longer handed out"
    );
}

fn idle() -> Busy<'static> {
    static NONE: std::sync::OnceLock<HashSet<String>> = std::sync::OnceLock::new();
    Busy {
        refreshing: NONE.get_or_init(HashSet::new),
        revoking: &[],
    }
}

#[test]
fn tray_look_and_lines_follow_the_worst_account() {
    let now = Utc::now();
    assert_eq!(tray_look(&[]), TrayLook::Ok);
    assert_eq!(tray_lines(&[]), vec!["Not signed in yet".to_string()]);
    let ok = accounts(&[grant(GrantStatus::Active, 60, now)], now, &idle());
    assert_eq!(tray_look(&ok), TrayLook::Ok);
    assert_eq!(
        tray_lines(&ok),
        vec!["127.0.0.1:9400: 1 server, all good".to_string()]
    );
    let signin = GrantStatus::SignInNeeded {
        reason: "revoked".into(),
    };
    let attention = accounts(&[grant(signin, 60, now)], now, &idle());
    assert_eq!(tray_look(&attention), TrayLook::Attention);
    assert_eq!(attention[0].servers[0].status, "sign-in-needed");
    assert_eq!(
        attention[0].servers[0].expires_at, None,
        "no countdown for a token no longer served"
    );
    let down = GrantStatus::Unreachable {
        reason: "refused".into(),
        retry_at: now,
        attempts: 3,
    };
    let mut both = accounts(&[grant(down, 60, now)], now, &idle());
    both.extend(attention);
    assert_eq!(tray_look(&both), TrayLook::Error);
    assert!(tray_lines(&both)[0].ends_with("cannot reach the server"));
}

#[test]
fn a_server_that_asked_for_more_access_needs_attention_until_approved() {
    let now = Utc::now();
    let mut g = grant(GrantStatus::Active, 60, now);
    g.blocked.clear();
    let asked = passport_core::step_up::on_refusal(None, &g.scope, "mcp mcp:write", now);
    g.servers[0].step_up = asked.clone();
    let views = accounts(std::slice::from_ref(&g), now, &idle());
    assert_eq!(views[0].servers[0].status, "needs-more-access");
    assert_eq!(
        views[0].servers[0].needs_scope.as_deref(),
        Some("mcp:write")
    );
    assert_eq!(views[0].servers[1].status, "active");
    assert_eq!(tray_look(&views), TrayLook::Attention);
    assert!(
        tray_lines(&views)[0].ends_with("needs attention (more access)"),
        "{:?}",
        tray_lines(&views)
    );
    // Refused by the AS: shown, but nothing left for the user to approve here.
    let refused = asked
        .as_ref()
        .map(|a| passport_core::step_up::after_sign_in(a, &["mcp".to_string()]));
    g.servers[0].step_up = refused;
    let views = accounts(std::slice::from_ref(&g), now, &idle());
    assert_eq!(views[0].servers[0].status, "scope-refused");
    assert_eq!(tray_look(&views), TrayLook::Ok);
    // Approved: back to active.
    g.servers[0].step_up = asked.as_ref().map(|a| {
        passport_core::step_up::after_sign_in(a, &["mcp".to_string(), "mcp:write".to_string()])
    });
    let views = accounts(std::slice::from_ref(&g), now, &idle());
    assert_eq!(views[0].servers[0].status, "active");
    assert_eq!(views[0].servers[0].needs_scope, None);
    assert_eq!(tray_look(&views), TrayLook::Ok);
}

#[test]
fn a_second_account_names_its_label_and_addresses_its_servers_with_it() {
    let now = Utc::now();
    let first = grant(GrantStatus::Active, 60, now);
    let mut second = grant(GrantStatus::Active, 60, now + Duration::seconds(1));
    second.id = "g2".into();
    second.account = Some("work".into());
    second.blocked.clear();
    let views = accounts(&[first, second], now, &idle());
    assert_eq!(views[0].account, "default");
    assert_eq!(views[1].account, "work");
    let ids: Vec<&str> = views[1].servers.iter().map(|s| s.id.as_str()).collect();
    // slack-mcp is blocked in the first account, so the work account's copy is the one handed out.
    assert_eq!(ids, ["github-mcp@work", "slack-mcp"]);
    assert_eq!(views[0].servers[0].id, "github-mcp");
    assert_eq!(
        tray_lines(&views),
        vec![
            "127.0.0.1:9400 (default): 1 server, all good".to_string(),
            "127.0.0.1:9400 (work): 2 servers, all good".to_string(),
        ]
    );
}

#[test]
fn servers_of_a_dpop_bound_grant_show_as_bound_to_this_computer() {
    let now = Utc::now();
    let mut bound = grant(GrantStatus::Active, 60, now);
    bound.dpop_bound = true;
    let views = accounts(&[bound], now, &idle());
    assert!(views[0].servers[0].bound);
    let plain = accounts(&[grant(GrantStatus::Active, 60, now)], now, &idle());
    assert!(!plain[0].servers[0].bound);
}
