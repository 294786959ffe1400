// The dashboard. It renders what the app's `overview` command returns (no
// token ever reaches this page), asks the app to act through its commands,
// and reloads when the app says something changed. Text only goes into the
// page through textContent, never as HTML.

const { invoke } = window.__TAURI__.core;
const { listen } = window.__TAURI__.event;

const $ = (id) => document.getElementById(id);
let overview = null;
let skew = 0; // app clock minus page clock, in ms
let dismissed = null;

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === "class") node.className = v;
    else if (k === "data") Object.assign(node.dataset, v);
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c);
  return node;
}

// "4 min 05 s", "59 s", "expired".
export function remaining(ms) {
  if (ms <= 0) return "expired";
  const s = Math.floor(ms / 1000);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  if (h > 0) return `${h} h ${String(m).padStart(2, "0")} min`;
  if (m > 0) return `${m} min ${String(r).padStart(2, "0")} s`;
  return `${r} s`;
}

function ago(iso) {
  const s = Math.max(0, Math.floor((Date.now() + skew - Date.parse(iso)) / 1000));
  if (s < 60) return "just now";
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} days ago`;
}

const STATUS = {
  active: "Active", refreshing: "Refreshing…", expired: "Expired (refreshes on next use)",
  "sign-in-needed": "Sign-in needed", unreachable: "Unreachable", revoked: "Revoked",
};
const TOKEN = { own: "Own token (only this server accepts it)", shared: "Shared token", unknown: "Not requested yet" };

function showBanner(kind, text, busy = false) {
  const banner = $("banner");
  banner.className = kind;
  $("banner-text").textContent = text;
  $("cancel-sign-in").hidden = !busy;
  $("dismiss").hidden = busy;
  banner.hidden = false;
}

function renderBanner(activity) {
  if (activity.signing_in) {
    showBanner("busy", `Waiting for you to finish signing in to ${activity.signing_in} in your browser…`, true);
    return;
  }
  const key = JSON.stringify([activity.error, activity.message]);
  if (key === dismissed) { $("banner").hidden = true; return; }
  if (activity.error) showBanner("error", activity.error.message);
  else if (activity.message) showBanner("info", activity.message);
  else $("banner").hidden = true;
}

async function act(button, command, args) {
  button.disabled = true;
  try {
    await invoke(command, args); // the outcome arrives in the overview's activity
  } catch (e) {
    if (!(e && e.code)) showBanner("error", String(e));
  } finally {
    button.disabled = false;
    await refresh(false);
  }
}

function confirmThen(title, text, yes, then, detail = "") {
  const dialog = $("confirm");
  $("confirm-title").textContent = title;
  $("confirm-text").textContent = text;
  $("confirm-detail").textContent = detail;
  $("confirm-detail").hidden = !detail;
  $("confirm-yes").textContent = yes;
  dialog.returnValue = "";
  dialog.onclose = () => { if (dialog.returnValue === "yes") then(); };
  dialog.showModal();
  $("confirm-no").focus();
}

function serverRow(account, s) {
  const revoke = el("button", {
    type: "button", class: "revoke", data: { server: s.id },
    "aria-label": `Revoke ${s.name}`,
    onclick: (ev) => confirmThen(
      `Revoke ${s.name}?`,
      `MCP Passport removes ${s.name} from your sign-in at ${account.issuer} and revokes its tokens, so no MCP client on this computer can use it. This cannot be undone: its current tokens stop working. To use it again, add it back with Add servers.`,
      "Revoke", () => act(ev.target, "revoke_server", { server: s.id })),
  }, s.status === "revoked" ? "Revoke again" : "Revoke");
  if (s.status === "revoked") revoke.title = "Blocked on this computer only; ask the authorization server again to remove it";
  const countdown = el("span", { class: "countdown" });
  if (s.expires_at) countdown.dataset.expires = s.expires_at;
  else countdown.textContent = "—";
  return el("tr", { class: "server", data: { id: s.id, status: s.status } },
    el("th", { scope: "row" }, s.name),
    el("td", { class: "url" }, s.url || s.id),
    el("td", {}, el("span", { class: `status status-${s.status}` }, STATUS[s.status] || s.status)),
    el("td", {}, countdown),
    el("td", {}, TOKEN[s.token] || s.token),
    el("td", {}, revoke));
}

function accountCard(a) {
  const buttons = el("div", { class: "row" });
  if (a.status === "sign-in-needed") {
    // Sign in again to the same servers: the picker with them ticked, or their addresses.
    const again = a.can_add_servers
      ? (ev) => act(ev.target, "add_servers", { issuer: a.issuer })
      : (ev) => act(ev.target, "sign_in", { target: a.servers.map((s) => s.url || s.id).join(" ") });
    buttons.append(el("button", { type: "button", class: "sign-in-again primary", onclick: again }, "Sign in again"));
  } else if (a.can_add_servers) {
    buttons.append(el("button", { type: "button", class: "add-servers primary",
      onclick: (ev) => act(ev.target, "add_servers", { issuer: a.issuer }) }, "Add servers"));
  }
  buttons.append(
    el("button", { type: "button", class: "refresh",
      onclick: (ev) => act(ev.target, "refresh_now", { issuer: a.issuer }) }, "Refresh now"),
    el("button", { type: "button", class: "sign-out",
      onclick: (ev) => confirmThen(`Sign out of ${a.issuer}?`,
        `MCP Passport revokes this sign-in and its tokens. MCP clients lose access to its ${a.servers.length} server(s) until you sign in again.`,
        "Sign out", () => act(ev.target, "sign_out", { issuer: a.issuer })) }, "Sign out"));
  const table = el("table", {},
    el("thead", {}, el("tr", {}, ...["Server", "Address", "Status", "Token expires in", "Token", ""].map(
      (h) => el("th", { scope: "col" }, h)))),
    el("tbody", {}, ...a.servers.map((s) => serverRow(a, s))));
  return el("article", { class: "account", data: { issuer: a.issuer, status: a.status } },
    el("header", {}, el("div", {},
      el("h2", {}, a.issuer),
      el("p", { class: "meta" }, `Signed in ${ago(a.created_at)} · ${a.mode}`)), buttons),
    el("p", { class: `state status-${a.status}` }, a.status_text),
    a.servers.length ? table : el("p", {}, "No servers in this sign-in. Use Add servers to pick some."));
}

function entries(list) {
  return list.length ? list.map(([name, value]) => `  "${name}": ${value}`).join("\n") : "  (none)";
}

async function connectClient(button, setup) {
  let change;
  try {
    change = await invoke("connect_preview", { client: setup.client });
  } catch (e) {
    await refresh(false);
    return;
  }
  const detail = `File: ${change.config}\n\nMCP Passport entries now:\n${entries(change.before)}\n\nAfter connecting:\n${entries(change.after)}`;
  confirmThen(`Connect ${change.display}?`,
    `MCP Passport will write ${change.servers.length} server(s) (${change.servers.join(", ")}) into ${change.display}'s settings, with a key for ${change.display} alone. Other entries stay as they are, and the file is backed up first.`,
    "Connect", () => act(button, "connect_client", { client: setup.client }), detail);
}

function setupItem(setup) {
  const item = el("li", { data: { client: setup.client } },
    el("span", {}, el("strong", {}, setup.display), " ",
      el("span", { class: `state${setup.connected ? " on" : ""}` }, setup.connected ? "connected" : "not connected")));
  if (setup.connected) {
    item.append(el("button", { type: "button", class: "disconnect",
      onclick: (ev) => confirmThen(`Disconnect ${setup.display}?`,
        `MCP Passport removes its entries from ${setup.display}'s settings and revokes ${setup.display}'s key, so it can no longer get tokens. Your other clients keep working.`,
        "Disconnect", () => act(ev.target, "disconnect_client", { client: setup.client })) }, "Disconnect"));
  } else {
    const connect = el("button", { type: "button", class: "connect",
      onclick: (ev) => connectClient(ev.target, setup) }, "Connect…");
    if (!overview.accounts.length) {
      connect.disabled = true;
      connect.title = "Sign in first: a client is connected to the servers you granted";
    }
    item.append(connect);
  }
  return item;
}

let wasSigningIn = false;

function render(o) {
  if (wasSigningIn && !o.activity.signing_in && !o.activity.error) $("target").value = "";
  wasSigningIn = Boolean(o.activity.signing_in);
  overview = o;
  skew = Date.parse(o.now) - Date.now();
  const signedIn = o.accounts.length > 0;
  $("welcome").hidden = signedIn;
  $("target-label").textContent = signedIn ? "Sign in to another server" : "Authorization server or MCP server address";
  $("sign-in").disabled = Boolean(o.activity.signing_in);
  $("demo-hint").hidden = !o.demo_issuer || signedIn;
  $("use-demo").textContent = o.demo_issuer ? `Use the demo server (${o.demo_issuer})` : "";
  const broker = $("broker");
  broker.textContent = o.broker.message || "Starting…";
  broker.className = `pill ${o.broker.running ? "running" : "stopped"}`;
  $("accounts").replaceChildren(...o.accounts.map(accountCard));
  $("clients").querySelector("tbody").replaceChildren(...o.clients.map((c) => el("tr", {},
    el("td", {}, c.client), el("td", {}, c.server), el("td", {}, ago(c.last_used)),
    el("td", {}, String(c.uses)), el("td", {}, c.outcome))));
  $("clients").hidden = o.clients.length === 0;
  $("clients-empty").hidden = o.clients.length > 0;
  $("setups").replaceChildren(...o.setups.map(setupItem));
  $("autostart").checked = o.autostart;
  renderBanner(o.activity);
  tick();
}

function tick() {
  const now = Date.now() + skew;
  for (const node of document.querySelectorAll(".countdown[data-expires]")) {
    node.textContent = remaining(Date.parse(node.dataset.expires) - now);
  }
}

async function refresh(focusInput) {
  try {
    render(await invoke("overview"));
    if (focusInput && !overview.accounts.length) $("target").focus();
  } catch (e) {
    showBanner("error", `The dashboard could not load (${e}). Restart MCP Passport.`);
  }
}

$("sign-in-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  try {
    await invoke("sign_in", { target: $("target").value });
  } catch (e) {
    if (!(e && e.code)) showBanner("error", String(e));
  }
  await refresh(false);
});
$("use-demo").addEventListener("click", () => { $("target").value = overview.demo_issuer; $("sign-in").focus(); });
$("cancel-sign-in").addEventListener("click", () => invoke("cancel_sign_in").then(() => refresh(false)));
$("dismiss").addEventListener("click", () => {
  dismissed = JSON.stringify([overview.activity.error, overview.activity.message]);
  $("banner").hidden = true;
});
$("autostart").addEventListener("change", async (ev) => {
  try { ev.target.checked = await invoke("set_autostart", { enabled: ev.target.checked }); }
  catch (e) { ev.target.checked = !ev.target.checked; showBanner("error", e.message || String(e)); }
});

listen("passport://changed", () => refresh(false));
listen("passport://sign-in", () => $("target").focus());
setInterval(tick, 1000);
refresh(true);
