#!/usr/bin/env node
// The official TypeScript MCP SDK as a client of the reference authorization server.
//
// Usage: node client.mjs <mcp-server-url> [username] [password]
//
// The SDK does everything an MCP client must do (RFC 9728 discovery from the 401,
// RFC 8414 metadata, dynamic client registration, PKCE S256, `resource`), so a pass
// here means the AS and the sample servers speak the protocol as the SDK reads it.
// Only the browser is replaced: `redirectToAuthorization` drives the AS's sign-in and
// consent forms over HTTP with a cookie jar, and reads `code` from the final redirect.
//
// Prints one JSON line on success: {"tools":[...],"whoami":{...}}. Diagnostics go to
// stderr. Exit code 0 on success, 1 on any failure. No token is ever printed.

import { randomBytes } from 'node:crypto';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';

const HTTP_TIMEOUT_MS = 15_000;
const OVERALL_TIMEOUT_MS = 90_000;
const MAX_AUTHORIZATION_STEPS = 10;

function log(message) {
  process.stderr.write(`sdk-client: ${message}\n`);
}

function fail(message) {
  log(`FAILED: ${message}`);
  process.exit(1);
}

// ---------------------------------------------------------------------------
// HTML forms

const ENTITIES = { amp: '&', quot: '"', apos: "'", lt: '<', gt: '>', nbsp: '\u00a0' };

function decodeEntities(text) {
  return text.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (whole, name) => {
    if (name[0] === '#') {
      const code = name[1] === 'x' || name[1] === 'X' ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
      return Number.isFinite(code) ? String.fromCodePoint(code) : whole;
    }
    return ENTITIES[name.toLowerCase()] ?? whole;
  });
}

/** Attributes of one tag's inside (`name="x" value='y' checked`), names lower-cased, values decoded. */
function parseAttributes(source) {
  const attributes = {};
  const pattern = /([^\s"'<>/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?/g;
  for (const match of source.matchAll(pattern)) {
    const value = match[2] ?? match[3] ?? match[4] ?? '';
    attributes[match[1].toLowerCase()] = decodeEntities(value);
  }
  return attributes;
}

/** Every `<form>` of a page: its resolved action, and its inputs and buttons. */
function parseForms(html, pageUrl) {
  const forms = [];
  for (const match of html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form\s*>/gi)) {
    const attributes = parseAttributes(match[1]);
    const fields = [];
    for (const field of match[2].matchAll(/<(input|button)\b([^>]*)>/gi)) {
      const tag = field[1].toLowerCase();
      const fieldAttributes = parseAttributes(field[2]);
      const type = (fieldAttributes.type ?? (tag === 'button' ? 'submit' : 'text')).toLowerCase();
      fields.push({ tag, type, name: fieldAttributes.name, value: fieldAttributes.value ?? '', checked: 'checked' in fieldAttributes });
    }
    forms.push({
      action: new URL(attributes.action || pageUrl, pageUrl),
      method: (attributes.method ?? 'get').toLowerCase(),
      fields,
    });
  }
  return forms;
}

function hiddenFields(form) {
  return form.fields.filter((f) => f.type === 'hidden' && f.name).map((f) => [f.name, f.value]);
}

/** A short, tag-free excerpt of a page for error messages. */
function excerpt(html) {
  const text = html.replace(/<(script|style)\b[\s\S]*?<\/\1\s*>/gi, ' ').replace(/<[^>]*>/g, ' ');
  return decodeEntities(text).replace(/\s+/g, ' ').trim().slice(0, 300);
}

// ---------------------------------------------------------------------------
// The browser stand-in: HTTP with a cookie jar and no automatic redirects

class Browser {
  constructor(origin) {
    this.origin = origin;
    this.cookies = new Map();
  }

  async request(method, url, form) {
    const headers = { accept: 'text/html' };
    if (url.origin === this.origin && this.cookies.size > 0) {
      headers.cookie = [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
    }
    let body;
    if (form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(form).toString();
    }
    let response;
    try {
      response = await fetch(url, { method, headers, body, redirect: 'manual', signal: AbortSignal.timeout(HTTP_TIMEOUT_MS) });
    } catch (error) {
      throw new Error(`${method} ${url.origin}${url.pathname} failed: ${error.cause?.message ?? error.message}`);
    }
    if (url.origin === this.origin) this.store(response.headers);
    return response;
  }

  store(headers) {
    const lines = typeof headers.getSetCookie === 'function' ? headers.getSetCookie() : [headers.get('set-cookie')].filter(Boolean);
    for (const line of lines) {
      const [pair, ...attributes] = line.split(';');
      const at = pair.indexOf('=');
      if (at <= 0) continue;
      const name = pair.slice(0, at).trim();
      const value = pair.slice(at + 1).trim();
      const expired = attributes.some((a) => /^\s*max-age\s*=\s*(0|-\d+)\s*$/i.test(a));
      if (expired || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }
}

/**
 * Signs in and approves on the AS's pages, starting at the authorization URL, until the
 * AS redirects to `redirectUrl`. Returns the callback's query parameters.
 */
async function authorizeThroughForms(authorizationUrl, redirectUrl, username, password) {
  const browser = new Browser(authorizationUrl.origin);
  const callback = new URL(redirectUrl);
  let request = { method: 'GET', url: authorizationUrl };
  let signIns = 0;
  let decisions = 0;
  for (let step = 0; step < MAX_AUTHORIZATION_STEPS; step += 1) {
    const { method, url, form } = request;
    const where = `${method} ${url.pathname}`;
    const response = await browser.request(method, url, form);

    if (response.status >= 300 && response.status < 400) {
      const location = response.headers.get('location');
      if (!location) throw new Error(`${where} answered ${response.status} without a Location header`);
      const next = new URL(location, url);
      if (next.origin === callback.origin && next.pathname === callback.pathname) return next.searchParams;
      if (next.origin !== browser.origin) {
        throw new Error(`${where} redirected to ${next.origin}${next.pathname}, neither the AS nor the redirect_uri`);
      }
      request = { method: 'GET', url: next };
      continue;
    }

    const html = await response.text();
    const forms = parseForms(html, url);
    const signIn = forms.find((f) => f.fields.some((field) => field.name === 'password'));
    const consent = forms.find((f) => f.action.pathname.endsWith('/authorize/decision'));
    if (signIn && signIns > 0) throw new Error(`sign-in as "${username}" was refused: ${excerpt(html)}`);
    if (consent && decisions > 0) throw new Error(`the consent page came back after approving: ${excerpt(html)}`);
    if (response.status !== 200) throw new Error(`${where} answered ${response.status}: ${excerpt(html)}`);

    if (signIn) {
      signIns += 1;
      log(`signing in as "${username}" at ${signIn.action.pathname}`);
      const fields = [...hiddenFields(signIn), ['username', username], ['password', password]];
      request = { method: 'POST', url: signIn.action, form: fields };
      continue;
    }

    if (consent) {
      decisions += 1;
      const servers = consent.fields.filter((f) => f.type === 'checkbox' && f.name);
      let chosen = servers.filter((f) => f.checked);
      if (servers.length > 0 && chosen.length === 0) {
        log('no server was pre-selected on the consent page; selecting all of them');
        chosen = servers;
      }
      log(`approving at ${consent.action.pathname}${servers.length ? ` (servers: ${chosen.map((f) => f.value).join(', ')})` : ''}`);
      const approve = consent.fields.find((f) => f.name === 'decision' && f.value === 'approve');
      const fields = [...hiddenFields(consent), ...chosen.map((f) => [f.name, f.value]), [approve?.name ?? 'decision', 'approve']];
      request = { method: 'POST', url: consent.action, form: fields };
      continue;
    }

    throw new Error(`${where} showed neither a sign-in form nor a consent form: ${excerpt(html)}`);
  }
  throw new Error(`no redirect to the client after ${MAX_AUTHORIZATION_STEPS} steps`);
}

// ---------------------------------------------------------------------------
// The OAuthClientProvider: everything in memory

class MemoryOAuthProvider {
  constructor(username, password) {
    this.username = username;
    this.password = password;
    const port = 49152 + (randomBytes(2).readUInt16BE(0) % 16000);
    this._redirectUrl = `http://127.0.0.1:${port}/callback`;
    this._state = randomBytes(16).toString('base64url');
    this._clientInformation = undefined;
    this._tokens = undefined;
    this._codeVerifier = undefined;
    this._discoveryState = undefined;
    /** Set by redirectToAuthorization when the AS redirected back with a code. */
    this.authorizationCode = undefined;
  }

  get redirectUrl() {
    return this._redirectUrl;
  }

  get clientMetadata() {
    return {
      client_name: 'MCP Passport SDK client test',
      redirect_uris: [this._redirectUrl],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  }

  state() {
    return this._state;
  }

  clientInformation() {
    return this._clientInformation;
  }

  saveClientInformation(information) {
    this._clientInformation = information;
    log(`registered client ${information.client_id}`);
  }

  tokens() {
    return this._tokens;
  }

  saveTokens(tokens) {
    this._tokens = tokens;
    log(`received tokens (scope: ${tokens.scope ?? 'none given'}, refresh token: ${tokens.refresh_token ? 'yes' : 'no'})`);
  }

  saveCodeVerifier(verifier) {
    this._codeVerifier = verifier;
  }

  codeVerifier() {
    if (!this._codeVerifier) throw new Error('no PKCE code verifier was saved');
    return this._codeVerifier;
  }

  saveDiscoveryState(state) {
    this._discoveryState = state;
  }

  discoveryState() {
    return this._discoveryState;
  }

  invalidateCredentials(scope) {
    if (scope === 'all' || scope === 'client') this._clientInformation = undefined;
    if (scope === 'all' || scope === 'tokens') this._tokens = undefined;
    if (scope === 'all' || scope === 'verifier') this._codeVerifier = undefined;
    if (scope === 'all' || scope === 'discovery') this._discoveryState = undefined;
  }

  async redirectToAuthorization(authorizationUrl) {
    const requested = authorizationUrl.searchParams;
    log(`authorizing at ${authorizationUrl.origin}${authorizationUrl.pathname} (resource: ${requested.get('resource') ?? 'none'}, scope: ${requested.get('scope') ?? 'none'}, PKCE: ${requested.get('code_challenge_method') ?? 'none'})`);
    const answer = await authorizeThroughForms(authorizationUrl, this._redirectUrl, this.username, this.password);
    if (answer.has('error')) {
      throw new Error(`the AS answered error=${answer.get('error')}${answer.has('error_description') ? `: ${answer.get('error_description')}` : ''}`);
    }
    if (answer.get('state') !== this._state) throw new Error('the callback state does not match the request state');
    const issuer = this._discoveryState?.authorizationServerMetadata?.issuer;
    if (answer.has('iss') && issuer && answer.get('iss') !== issuer) {
      throw new Error(`the callback iss "${answer.get('iss')}" is not the AS issuer "${issuer}"`);
    }
    const code = answer.get('code');
    if (!code) throw new Error('the callback has no code');
    this.authorizationCode = code;
  }
}

// ---------------------------------------------------------------------------

function whoamiPayload(result) {
  if (result.isError) {
    const text = result.content?.find((c) => c.type === 'text')?.text ?? '';
    throw new Error(`whoami returned an error: ${text.slice(0, 300)}`);
  }
  const text = result.content?.find((c) => c.type === 'text')?.text;
  if (text !== undefined) {
    try {
      return JSON.parse(text);
    } catch {
      throw new Error(`whoami's text is not JSON: ${text.slice(0, 300)}`);
    }
  }
  if (result.structuredContent) return result.structuredContent;
  throw new Error('whoami returned neither text nor structured content');
}

async function main() {
  const [serverArg, username = 'demo', password = 'demo'] = process.argv.slice(2);
  if (!serverArg) fail('usage: node client.mjs <mcp-server-url> [username] [password]');
  let serverUrl;
  try {
    serverUrl = new URL(serverArg);
  } catch {
    fail(`not a URL: ${serverArg}`);
  }

  const provider = new MemoryOAuthProvider(username, password);
  const clientInfo = { name: 'mcp-passport-sdk-client-test', version: '0.0.0' };

  // First connection: the server answers 401, the SDK discovers, registers and
  // calls redirectToAuthorization, then reports UnauthorizedError.
  const firstTransport = new StreamableHTTPClientTransport(serverUrl, { authProvider: provider });
  const firstClient = new Client(clientInfo);
  try {
    await firstClient.connect(firstTransport);
    throw new Error('the server accepted a connection without a token; it must answer 401');
  } catch (error) {
    if (!(error instanceof UnauthorizedError)) throw error;
  } finally {
    await firstClient.close().catch(() => {});
  }
  if (!provider.authorizationCode) throw new Error('the authorization flow ended without a code');

  await firstTransport.finishAuth(provider.authorizationCode);
  if (!provider.tokens()?.access_token) throw new Error('the token exchange gave no access token');

  // Second connection: with the access token.
  const transport = new StreamableHTTPClientTransport(serverUrl, { authProvider: provider });
  const client = new Client(clientInfo);
  try {
    await client.connect(transport);
    const { tools } = await client.listTools();
    const names = tools.map((tool) => tool.name);
    log(`tools: ${names.join(', ')}`);
    if (!names.includes('whoami')) throw new Error('the server has no whoami tool');
    const whoami = whoamiPayload(await client.callTool({ name: 'whoami', arguments: {} }));
    const line = `${JSON.stringify({ tools: names, whoami })}\n`;
    await new Promise((resolve) => process.stdout.write(line, resolve));
  } finally {
    await client.close().catch(() => {});
  }
}

setTimeout(() => fail(`no result after ${OVERALL_TIMEOUT_MS / 1000} s`), OVERALL_TIMEOUT_MS).unref();
main().then(
  () => process.exit(0),
  (error) => {
    const cause = error?.cause?.message ?? error?.cause?.code;
    fail(`${error instanceof Error ? error.message : String(error)}${cause ? ` (${cause})` : ''}`);
  },
);
