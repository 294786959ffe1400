// What a failed sign-in needs from the person before it can go on, one
// panel per issuer (the app's `activity.prompts`): a pre-registered OAuth
// client for an authorization server that registers none, or the endpoint
// hosts to allow for an issuer that uses other hosts. The client secret
// goes from its field to the app (and from there to the system keyring)
// only; the field is emptied as soon as it is sent, and the app never
// sends it back.

import { el, setAttr, setProp, setText, syncList } from "./dom.js";

let panels = 0;

// One prompt's panel. `act(button, command, args)` runs a command;
// `pendingReason()` says why nothing that starts a sign-in can run now.
function promptPanel(act, pendingReason) {
  const v = {};
  const n = ++panels;
  const title = el("h2", { id: `prompt-title-${n}` });
  const text = el("p", { id: `prompt-text-${n}` });
  const id = el("input", { id: `client-id-${n}`, name: "client_id", type: "text", autocomplete: "off", spellcheck: "false", required: "" });
  const secret = el("input", { id: `client-secret-${n}`, name: "client_secret", type: "password", autocomplete: "off" });
  const fields = el("div", { class: "fields" },
    el("label", { for: id.id }, "Client id"), id,
    el("label", { for: secret.id }, "Client secret (optional)"), secret);
  const go = el("button", { type: "submit", class: "primary" });
  const cancel = el("button", { type: "button", class: "cancel-prompt" }, "Cancel");
  cancel.addEventListener("click", () => { secret.value = ""; act(cancel, "dismiss_prompt", { issuer: v.item.issuer }); });
  const form = el("form", { autocomplete: "off" }, text, fields, el("div", { class: "row end" }, cancel, go));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const p = v.item;
    if (p.code === "client_id_needed") {
      const args = { issuer: p.issuer, clientId: id.value, clientSecret: secret.value || null };
      secret.value = "";
      act(go, "sign_in_with_client", args);
    } else {
      act(go, "allow_endpoint_hosts", { issuer: p.issuer });
    }
  });
  v.node = el("article", { class: "prompt", role: "group", "aria-labelledby": title.id, "aria-describedby": text.id }, title, form);
  v.update = (p) => {
    v.item = p;
    v.node.dataset.issuer = p.issuer;
    v.node.dataset.code = p.code;
    const client = p.code === "client_id_needed";
    setProp(fields, "hidden", !client);
    setProp(id, "required", client);
    if (client) {
      setText(title, `${p.issuer} needs an OAuth app of your own`);
      setText(text, `${p.refused ? `${p.issuer} refused the client id or secret you gave: check them on the OAuth app's page. ` : ""}${p.issuer} does not let MCP Passport register itself. Register an OAuth app there with the redirect address ${p.redirect_uri}${p.redirect_uri.startsWith("http://127.0.0.1") ? " (any port)" : ""}, then enter its client id, and its client secret if it has one (kept in your system keyring only).`);
      setText(go, "Sign in with this client");
    } else {
      const hosts = p.hosts.join(", ");
      setText(title, `${p.issuer} uses other hosts`);
      setText(text, `${p.issuer} has its sign-in endpoints on ${hosts} as well as on its own host. Allow ${p.hosts.length === 1 ? "it" : "them"} for ${p.issuer} only if you trust it; MCP Passport remembers this for ${p.issuer} alone. Cancel changes nothing.`);
      setText(go, `Allow for ${p.issuer}`);
    }
    const reason = pendingReason();
    setProp(go, "disabled", Boolean(reason) || go.dataset.busy === "1");
    setAttr(go, "title", reason || null);
    // A new panel takes the focus once, so the keyboard answers it at once.
    if (!v.shown) {
      v.shown = true;
      setTimeout(() => (client ? id : go).focus(), 0);
    }
  };
  return v;
}

// Shows the prompts in `section`.
export function renderPrompts(section, prompts, act, pendingReason) {
  setProp(section, "hidden", prompts.length === 0);
  syncList(section, prompts, (p) => `${p.code} ${p.issuer}`, () => promptPanel(act, pendingReason));
}
