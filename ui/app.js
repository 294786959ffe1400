// The dashboard. It shows what the app's `overview` command returns (no
// token ever reaches this page), asks the app to act through its commands,
// and reloads when the app says something changed. Each overview updates the
// page in place (ui/dom.js): an account, server, client or button keeps its
// element while it exists, and only what changed is written. Between
// overviews only the countdowns move (ui/countdown.js), and nothing runs
// while the window is hidden.

import { el, setAttr, setData, setProp, setText, syncList } from "./dom.js";
import { showCountdowns } from "./countdown.js";
import { renderPrompts } from "./prompts.js";
import { renderImport } from "./import.js";
import { renderOrganization, wireOrganization } from "./organization.js";

const { invoke } = window.__TAURI__.core;
const { listen } = window.__TAURI__.event;

const $ = (id) => document.getElementById(id);
let overview = null;
let skew = 0; // app clock minus page clock, in ms
let dismissed = null;
let wasSigningIn = false;
let stale = false; // an overview arrived while the window was hidden
let agers = []; // the "… ago" texts to bring up to date on each tick
let autostartBusy = false; // the switch was flipped and the app has not answered yet
let autostartFlips = 0; // how many times the switch was flipped: an overview asked for before the last flip is stale

const appNow = () => Date.now() + skew;

function ago(iso) {
  const s = Math.max(0, Math.floor((appNow() - Date.parse(iso)) / 1000));
  if (s < 60) return "just now";
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} days ago`;
}

const STATUS = {
  active: "Active", refreshing: "Refreshing…", expired: "Expired (refreshes on next use)",
  "sign-in-needed": "Sign-in needed", unreachable: "Unreachable",
  revoking: "Revoking…", revoked: "Revoked",
  "needs-more-access": "Needs more access", "scope-refused": "More access not granted",
};
const TOKEN = { own: "Own token (only this server accepts it)", shared: "Shared token", unknown: "Not requested yet" };
const PENDING = "A sign-in is waiting for your browser: finish it there, or choose Cancel sign-in at the top, before starting another.";

// Why nothing that starts a sign-in can be offered now ("" when it can).
const pendingReason = () => (overview && overview.activity.signing_in ? PENDING : "");

// Enables a button, or disables it with the reason as its title; a button
// whose action is under way (data-busy) stays disabled.
function setButton(button, reason, title = "") {
  setProp(button, "disabled", Boolean(reason) || button.dataset.busy === "1");
  setAttr(button, "title", reason || title || null);
}

function showBanner(kind, text, cancellable = false) {
  const banner = $("banner");
  setProp(banner, "className", kind);
  setText($("banner-text"), text);
  setProp($("cancel-sign-in"), "hidden", !cancellable);
  setProp($("dismiss"), "hidden", kind === "busy");
  setProp(banner, "hidden", false);
}

function renderBanner(activity) {
  if (activity.signing_in || activity.working) {
    dismissed = null; // a new action: its outcome will be shown, whatever the last one said
    if (activity.signing_in) showBanner("busy", `Waiting for you to finish signing in to ${activity.signing_in} in your browser…`, true);
    else showBanner("busy", activity.working);
    return;
  }
  const key = JSON.stringify([activity.error, activity.message]);
  if (key === dismissed) setProp($("banner"), "hidden", true);
  else if (activity.error) showBanner("error", activity.error.message);
  else if (activity.message) showBanner("info", activity.message);
  else setProp($("banner"), "hidden", true);
}

async function act(button, command, args) {
  button.dataset.busy = "1";
  button.disabled = true;
  try {
    await invoke(command, args); // the outcome arrives in the overview's activity
  } catch (e) {
    if (!(e && e.code)) showBanner("error", String(e));
  } finally {
    delete button.dataset.busy;
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

// One server's row; `card` is its account's view (for the account as it is now).
function serverRow(card) {
  const v = {};
  const name = el("th", { scope: "row" });
  const url = el("td", { class: "url" });
  const status = el("span");
  const countdown = el("span", { class: "countdown" });
  const token = el("td");
  const revoke = el("button", {
    type: "button", class: "revoke",
    onclick: () => {
      const s = v.item;
      confirmThen(`Revoke ${s.name}?`,
        `MCP Passport removes ${s.name} from your sign-in at ${card.item.issuer} and revokes its tokens, so no MCP client on this computer can use it. This cannot be undone: its current tokens stop working. To use it again, add it back with Add servers.`,
        "Revoke", () => act(revoke, "revoke_server", { server: s.id }));
    },
  });
  // Step-up: the server asked for more access; Approve signs in for it.
  const approve = el("button", {
    type: "button", class: "approve",
    onclick: () => act(approve, "approve_step_up", { server: v.item.id }),
  });
  v.node = el("tr", { class: "server" }, name, url, el("td", {}, status), el("td", {}, countdown), token, el("td", {}, approve, revoke));
  v.update = (s) => {
    v.item = s;
    setData(v.node, "id", s.id);
    setData(v.node, "status", s.status);
    setText(name, s.name);
    setText(url, s.url || s.id);
    setProp(status, "className", `status status-${s.status}`);
    setText(status, s.needs_scope && STATUS[s.status] ? `${STATUS[s.status]} (${s.needs_scope})` : STATUS[s.status] || s.status);
    setProp(approve, "hidden", s.status !== "needs-more-access");
    setText(approve, "Approve");
    setAttr(approve, "aria-label", `Approve more access for ${s.name}`);
    setButton(approve, pendingReason(), `Sign in again to grant ${s.name} ${s.needs_scope || "more access"}`);
    setData(countdown, "expires", s.expires_at);
    if (!s.expires_at) setText(countdown, "—");
    setText(token, (TOKEN[s.token] || s.token) + (s.bound ? " · bound to this computer" : ""));
    setData(revoke, "server", s.id);
    setAttr(revoke, "aria-label", `Revoke ${s.name}`);
    setText(revoke, { revoked: "Revoke again", revoking: "Revoking…" }[s.status] || "Revoke");
    setButton(revoke,
      s.status === "revoking" ? "The authorization server is removing it and revoking its tokens" : "",
      s.status === "revoked" ? "Blocked on this computer only; ask the authorization server again to remove it" : "");
  };
  return v;
}

let cardCount = 0;

// One account's card.
function accountCard() {
  const v = {};
  const issuer = el("h2");
  const meta = el("p", { class: "meta" });
  // Add servers, or Sign in again (the picker with the same servers ticked, or their addresses).
  const again = el("button", {
    type: "button",
    onclick: () => {
      const a = v.item;
      if (a.status !== "sign-in-needed" || a.can_add_servers) act(again, "add_servers", { issuer: a.issuer });
      else act(again, "sign_in", { target: a.servers.map((s) => s.url || s.id).join(" ") });
    },
  });
  const refreshButton = el("button", { type: "button", class: "refresh",
    onclick: () => act(refreshButton, "refresh_now", { issuer: v.item.issuer }) }, "Refresh now");
  const signOut = el("button", { type: "button", class: "sign-out",
    onclick: () => confirmThen(`Sign out of ${v.item.account} at ${v.item.issuer}?`,
      `MCP Passport revokes this account's sign-in and its tokens; other accounts stay signed in. MCP clients lose access to its ${v.item.servers.length} server(s) until you sign in again.`,
      "Sign out", () => act(signOut, "sign_out", { issuer: v.item.issuer, account: v.item.account })) }, "Sign out");
  const note = el("p", { class: "note", id: `account-note-${++cardCount}` });
  const state = el("p");
  const rows = el("tbody");
  const table = el("table", {},
    el("thead", {}, el("tr", {}, ...["Server", "Address", "Status", "Token expires in", "Token", ""].map(
      (h) => el("th", { scope: "col" }, h)))),
    rows);
  const empty = el("p", {}, "No servers in this sign-in. Use Add servers to pick some.");
  v.node = el("article", { class: "account" },
    el("header", {}, el("div", {}, issuer, meta), el("div", { class: "row" }, again, refreshButton, signOut)),
    note, state, table, empty);
  v.ago = () => setText(meta, `Account ${v.item.account} · signed in ${ago(v.item.created_at)} · ${v.item.mode}`);
  v.update = (a) => {
    v.item = a;
    setData(v.node, "issuer", a.issuer);
    setData(v.node, "account", a.account);
    setData(v.node, "status", a.status);
    setText(issuer, a.issuer);
    v.ago();
    const needed = a.status === "sign-in-needed";
    const offered = needed || a.can_add_servers;
    setProp(again, "className", `${needed ? "sign-in-again" : "add-servers"} primary`);
    setText(again, needed ? "Sign in again" : "Add servers");
    setProp(again, "hidden", !offered);
    const reason = pendingReason();
    setButton(again, reason);
    setText(note, offered && reason ? `${needed ? "Sign in again" : "Add servers"}: ${reason}` : "");
    setProp(note, "hidden", !(offered && reason));
    setAttr(again, "aria-describedby", offered && reason ? note.id : null);
    setProp(state, "className", `state status-${a.status}`);
    setText(state, a.status_text);
    syncList(rows, a.servers, (s) => s.id, () => serverRow(v));
    setProp(table, "hidden", a.servers.length === 0);
    setProp(empty, "hidden", a.servers.length > 0);
  };
  return v;
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

// A client's state on its row: installed or not, connected with N servers, edited by hand since.
function clientStateText(setup) {
  const s = setup.state;
  if (s.state === "connected") return `connected: ${s.servers.length} server(s)`;
  if (s.state === "edited_by_hand") return "edited by hand since connected: left as it is (Connect… rewrites it)";
  if (s.state === "not_connected") return "installed, not connected";
  return "not installed";
}

// Every detected client in one step, after one confirmation listing every file.
async function connectAll(button) {
  let preview;
  try {
    preview = await invoke("connect_all_preview");
  } catch (e) {
    await refresh(false);
    return;
  }
  if (!preview.ready.length) {
    showBanner("error", preview.refused.length
      ? `No detected client can be connected: ${preview.refused.map(([n, why]) => `${n}: ${why}`).join("; ")}`
      : "No installed MCP client was found. Connect one from the list instead.");
    return;
  }
  const files = preview.ready.map((c) => `${c.display}: ${c.config}\n${entries(c.after)}`).join("\n\n");
  const refused = preview.refused.map(([n, why]) => `${n}: not connected: ${why}`).join("\n");
  confirmThen(`Connect ${preview.ready.length} client(s)?`,
    `MCP Passport will write its entries into each file below, with a key for each client alone. Other entries stay as they are, and each file is backed up first.`,
    "Connect all", () => act(button, "connect_all", {}), refused ? `${files}\n\n${refused}` : files);
}

// One MCP client that MCP Passport can set up: Connect…, or Disconnect.
function setupItem() {
  const v = {};
  const display = el("strong");
  const state = el("span");
  const button = el("button", {
    type: "button",
    onclick: () => {
      const setup = v.item;
      if (!setup.connected || setup.state.state === "edited_by_hand") { connectClient(button, setup); return; }
      confirmThen(`Disconnect ${setup.display}?`,
        `MCP Passport removes its entries from ${setup.display}'s settings and revokes ${setup.display}'s key, so it can no longer get tokens. Your other clients keep working.`,
        "Disconnect", () => act(button, "disconnect_client", { client: setup.client }));
    },
  });
  v.node = el("li", {}, el("span", {}, display, " ", state), button);
  v.update = (setup) => {
    v.item = setup;
    setData(v.node, "client", setup.client);
    setText(display, setup.display);
    setProp(state, "className", `state${setup.connected ? " on" : ""}${setup.state.state === "edited_by_hand" ? " edited" : ""}`);
    setText(state, clientStateText(setup));
    const edited = setup.state.state === "edited_by_hand";
    setProp(button, "className", setup.connected && !edited ? "disconnect" : "connect");
    setText(button, setup.connected && !edited ? "Disconnect" : "Connect…");
    setButton(button, !setup.connected && !overview.accounts.length
      ? "Sign in first: a client is connected to the servers you granted" : "");
  };
  return v;
}

// One line of recent use: which client used which server, when.
function useRow() {
  const v = {};
  const cells = [el("td"), el("td"), el("td"), el("td"), el("td")];
  v.node = el("tr", {}, ...cells);
  v.ago = () => setText(cells[2], ago(v.item.last_used));
  v.update = (c) => {
    v.item = c;
    setText(cells[0], c.client);
    setText(cells[1], c.server);
    v.ago();
    setText(cells[3], String(c.uses));
    setText(cells[4], c.outcome);
  };
  return v;
}

// One row per server of the sign-in: waiting for browser, signed in, failed: why.
const ROW = { waiting: "waiting for browser", "signed-in": "signed in", failed: "failed" };
function renderSignInRows(rows) {
  const list = $("sign-in-rows");
  setProp(list, "hidden", rows.length === 0);
  syncList(list, rows, (r) => r.server, () => {
    const name = el("span", { class: "name" });
    const state = el("span", { class: "state" });
    const v = { node: el("li", {}, name, " ", state) };
    v.update = (r) => {
      setData(v.node, "server", r.server);
      setData(v.node, "state", r.state);
      setText(name, r.name);
      setText(state, r.reason ? `${ROW[r.state] || r.state}: ${r.reason}` : ROW[r.state] || r.state);
    };
    return v;
  });
}

function render(o, autostartCurrent) {
  if (wasSigningIn && !o.activity.signing_in && !o.activity.error) $("target").value = $("account").value = "";
  wasSigningIn = Boolean(o.activity.signing_in);
  overview = o;
  renderSignInRows(o.activity.sign_in_rows || []);
  renderPrompts($("prompts"), o.activity.prompts || [], act, pendingReason);
  renderImport($("import"), invoke, o, act, pendingReason);
  skew = Date.parse(o.now) - Date.now();
  const signedIn = o.accounts.length > 0;
  setProp($("welcome"), "hidden", signedIn);
  setText($("target-label"), signedIn ? "Sign in to another server" : "Authorization server or MCP server address");
  const reason = pendingReason();
  setButton($("sign-in"), reason);
  renderOrganization(reason, setButton);
  setText($("sign-in-note"), reason);
  setProp($("sign-in-note"), "hidden", !reason);
  setProp($("demo-hint"), "hidden", !o.demo_issuer || signedIn);
  setText($("use-demo"), o.demo_issuer ? `Use the demo server (${o.demo_issuer})` : "");
  const broker = $("broker");
  setText(broker, o.broker.message || "Starting…");
  setProp(broker, "className", `pill ${o.broker.running ? "running" : "stopped"}`);
  const cards = syncList($("accounts"), o.accounts, (a) => `${a.issuer} ${a.created_at}`, accountCard);
  const uses = syncList($("clients").querySelector("tbody"), o.clients, (c) => `${c.client}\n${c.server}`, useRow);
  setProp($("clients"), "hidden", o.clients.length === 0);
  setProp($("clients-empty"), "hidden", o.clients.length > 0);
  syncList($("setups"), o.setups, (s) => s.client, setupItem);
  if (!autostartBusy && autostartCurrent) setProp($("autostart"), "checked", o.autostart);
  renderBanner(o.activity);
  agers = [...cards, ...uses].map((v) => v.ago);
  const countdowns = [...document.querySelectorAll(".countdown[data-expires]")]
    .map((node) => ({ node, expires: Date.parse(node.dataset.expires) }));
  showCountdowns(countdowns, appNow, () => agers.forEach((f) => f()));
}

async function refresh(focusInput) {
  if (document.hidden) { stale = true; return; }
  stale = false;
  try {
    const flips = autostartFlips;
    const o = await invoke("overview");
    render(o, flips === autostartFlips);
    if (focusInput && !overview.accounts.length) $("target").focus();
  } catch (e) {
    showBanner("error", `The dashboard could not load (${e}). Restart MCP Passport.`);
  }
}

$("sign-in-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  try {
    await invoke("sign_in", { target: $("target").value, account: $("account").value || null });
  } catch (e) {
    if (!(e && e.code)) showBanner("error", String(e));
  }
  await refresh(false);
});
wireOrganization(invoke, showBanner, () => refresh(false));
$("connect-all").addEventListener("click", (ev) => connectAll(ev.currentTarget));
$("use-demo").addEventListener("click", () => { $("target").value = overview.demo_issuer; $("sign-in").focus(); });
$("cancel-sign-in").addEventListener("click", () => invoke("cancel_sign_in").catch(() => {}).then(() => refresh(false)));
$("dismiss").addEventListener("click", () => {
  dismissed = JSON.stringify([overview.activity.error, overview.activity.message]);
  $("banner").hidden = true;
});
$("autostart").addEventListener("change", async (ev) => {
  autostartBusy = true;
  autostartFlips += 1;
  try { ev.target.checked = await invoke("set_autostart", { enabled: ev.target.checked }); }
  catch (e) { ev.target.checked = !ev.target.checked; showBanner("error", e.message || String(e)); }
  finally { autostartBusy = false; }
});
document.addEventListener("visibilitychange", () => { if (!document.hidden && stale) refresh(false); });

listen("passport://changed", () => refresh(false));
listen("passport://sign-in", () => $("target").focus());
refresh(true);
