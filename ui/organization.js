// "Sign in with your organization": the identity provider's address, the
// MCP servers, and (if the administrator gave them) the client id and
// secret at those servers, sent to the app's `sign_in_organization`. The
// secret is never shown back: the field is cleared once it is sent. The
// outcome arrives as the sign-in rows and the banner, like any sign-in.

const $ = (id) => document.getElementById(id);

// Disables the button while another sign-in waits, with the reason as its title.
export function renderOrganization(reason, setButton) {
  setButton($("organization-sign-in"), reason);
}

export function wireOrganization(invoke, showBanner, refresh) {
  $("organization-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const form = {
      idp: $("idp").value,
      servers: $("org-servers").value,
      client_id: $("org-client-id").value || null,
      client_secret: $("org-client-secret").value || null,
    };
    $("org-client-secret").value = "";
    try {
      await invoke("sign_in_organization", { form });
    } catch (e) {
      if (!(e && e.code)) showBanner("error", String(e));
    }
    await refresh();
  });
}
