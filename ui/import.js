// The first-run screen: with no sign-in yet, the remote MCP servers the
// person's MCP clients already use (the app's `import_scan`: addresses,
// entry names and files, never a header or token), and one button that
// signs in to all of them (once per authorization server) and then points
// each client's entry for them at MCP Passport (`import_start`; the outcome
// arrives in the banner). The list names every file that will change.

import { el, setAttr, setProp, setText, syncList } from "./dom.js";

let found = null; // the last scan; scanned again after each sign-in ends
let scanning = false;

function serverItem() {
  const url = el("strong");
  const uses = el("span", { class: "note" });
  const v = { node: el("li", {}, url, " ", uses) };
  v.update = (s) => {
    setText(url, s.url);
    setText(uses, `(${s.uses.map((u) => `${u.display} “${u.entry}” in ${u.config}`).join("; ")})`);
  };
  return v;
}

// Shows or hides the screen for this overview. `act(button, command)` runs
// a command; `pendingReason()` says why no sign-in can start now.
export async function renderImport(section, invoke, overview, act, pendingReason) {
  const show = overview.accounts.length === 0;
  if (!show) {
    found = null; // a later sign-out shows a fresh scan
    setProp(section, "hidden", true);
    return;
  }
  if (found === null && !scanning) {
    scanning = true;
    try { found = await invoke("import_scan"); } catch { found = { servers: [] }; } finally { scanning = false; }
  }
  if (!found || found.servers.length === 0) { setProp(section, "hidden", true); return; }
  const n = found.servers.length;
  setText(section.querySelector("#import-title"), `We found ${n} server${n === 1 ? "" : "s"} in your MCP clients`);
  syncList(section.querySelector("#import-servers"), found.servers, (s) => s.url, serverItem);
  const go = section.querySelector("#import-go");
  const reason = pendingReason();
  setProp(go, "disabled", Boolean(reason) || go.dataset.busy === "1");
  setAttr(go, "title", reason || null);
  if (!go.dataset.wired) {
    go.dataset.wired = "1";
    go.addEventListener("click", () => act(go, "import_start", {}));
  }
  setProp(section, "hidden", false);
}
