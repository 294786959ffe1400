#!/usr/bin/env node
// The certified OpenID provider `oidc-provider` as a third-party authorization server
// for the multi-resource grant (RFC 8707): one authorization request with several
// `resource` parameters, then one JWT access token per resource through refresh with
// `resource=`. Nobody is there to log in: every interaction is approved at once as
// account `demo`, granting the requested scopes for every requested resource.
//
// Usage: node server.mjs --port 0 --resource URL [--resource URL ...]
//                        [--ready-file PATH] [--access-ttl SECS] [--no-dpop]
//                        [--client-credentials --clients FILE]
//
// Once listening on 127.0.0.1 it prints one JSON line to stdout (and writes it, with a
// trailing newline, to --ready-file atomically):
//   {"issuer":"http://127.0.0.1:PORT","resources":["URL",...]}
//
// What it enforces (see oidc-provider's lib/ for the rules quoted here):
// - PKCE S256 for every client; only the `code` response type.
// - Only the --resource URLs (exact strings) are accepted as resource indicators
//   (others: invalid_target). Each resource's access token is a JWT (typ at+jwt,
//   RS256, key at /jwks) with `aud` = the resource URL and `scope` = the granted
//   scopes the resource knows (`mcp:tools`).
// - Resource indicators as oidc-provider ships them (its default `defaultResource`
//   and `useGrantedResource`): a token request must name one granted resource with
//   `resource=URL` (not granted: invalid_target); one naming none after several were
//   granted is refused ("only a single resource indicator value must be
//   requested/resolved during Access Token Request").
// - Refresh tokens for every client allowed the refresh_token grant (dynamic
//   registration defaults to authorization_code + refresh_token), with or without
//   `offline_access`, and not ending with the browser session, as Keycloak does by
//   default (oidc-provider's default asks for `offline_access`); every refresh rotates; presenting a rotated refresh token again
//   revokes the whole grant (every token of it) and answers invalid_grant.
// - Open dynamic registration at /reg. A client whose redirect URIs are all loopback
//   http URIs or private-use scheme URIs is registered as application_type `native`,
//   so that a loopback redirect URI matches with any port (RFC 8252).
// - Revocation (/token/revocation) and introspection (/token/introspection); JWT
//   access tokens are not stored, so only refresh tokens (and opaque tokens) can be
//   revoked or introspected. Revoking a refresh token revokes the grant.
// - With --client-credentials (off by default, so the other tests see the stock
//   features): the client credentials grant (oidc-provider's `clientCredentials`
//   feature, as a deployment for headless agents turns it on), with the same
//   resource indicators as above (the token request names one --resource and gets
//   a JWT for it, lasting --access-ttl), for the pre-registered clients in
//   --clients FILE (a JSON array of client metadata, e.g. a client_secret_basic
//   client and a private_key_jwt client with its public `jwks`).
// - Logs one line per request to stderr, without query strings; exits 0 on SIGTERM.

import { randomBytes, generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:http';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

import Provider, { errors } from 'oidc-provider';

const usage = 'usage: node server.mjs --port PORT --resource URL [--resource URL ...] [--ready-file PATH] [--access-ttl SECS] [--no-dpop] [--client-credentials --clients FILE]';

function fail(message) {
  process.stderr.write(`oidc-provider: ${message}\n${usage}\n`);
  process.exit(2);
}

let args;
try {
  ({ values: args } = parseArgs({
    options: {
      port: { type: 'string' },
      resource: { type: 'string', multiple: true },
      'ready-file': { type: 'string' },
      'access-ttl': { type: 'string' },
      // oidc-provider offers DPoP by default; --no-dpop turns it off, as at
      // Entra ID, Google and GitHub, which offer no DPoP.
      'no-dpop': { type: 'boolean' },
      // The client credentials grant, for the pre-registered clients in --clients.
      'client-credentials': { type: 'boolean' },
      clients: { type: 'string' },
    },
    strict: true,
    allowPositionals: false,
  }));
} catch (err) {
  fail(err.message);
}

if (args.port === undefined || !/^\d+$/.test(args.port) || Number(args.port) > 65535) {
  fail('--port must be a port number (0 picks a free one)');
}
const resources = args.resource ?? [];
if (resources.length === 0) fail('at least one --resource URL is needed');
for (const resource of resources) {
  const parsed = URL.parse(resource);
  if (!parsed || parsed.hash || resource.includes('#')) fail(`--resource must be an absolute URL without fragment: ${resource}`);
}
const accessTtl = args['access-ttl'] === undefined ? 3600 : Number(args['access-ttl']);
if (!Number.isSafeInteger(accessTtl) || accessTtl <= 0) fail('--access-ttl must be a positive number of seconds');
let clients = [];
if (args.clients !== undefined) {
  try {
    clients = JSON.parse(readFileSync(args.clients, 'utf8'));
  } catch (err) {
    fail(`--clients must name a JSON file with an array of client metadata: ${err.message}`);
  }
  if (!Array.isArray(clients)) fail('--clients must hold a JSON array of client metadata');
}
if (args['client-credentials'] && clients.length === 0) fail('--client-credentials needs --clients FILE');

const RESOURCE_SCOPE = 'mcp:tools';
const ACCOUNT = 'demo';
const DAY = 24 * 60 * 60;
const LOOPBACKS = new Set(['127.0.0.1', '[::1]', 'localhost']);

// Loopback http redirect URIs and private-use scheme URIs are native-app redirect URIs.
function nativeRedirectUri(uri) {
  const parsed = URL.parse(uri);
  if (!parsed) return false;
  if (parsed.protocol === 'http:') return LOOPBACKS.has(parsed.hostname);
  return parsed.protocol !== 'https:';
}

let handler = (_req, res) => {
  res.statusCode = 503;
  res.end();
};

const server = createServer((req, res) => {
  const started = Date.now();
  const path = (req.url ?? '').split('?')[0];
  res.on('finish', () => {
    process.stderr.write(`${req.method} ${path} ${res.statusCode} ${Date.now() - started}ms\n`);
  });
  handler(req, res);
});

server.listen(Number(args.port), '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  const provider = makeProvider(issuer);
  const callback = provider.callback();

  handler = (req, res) => {
    if (req.method === 'GET' && /^\/interaction\/[^/?]+$/.test(req.url.split('?')[0])) {
      approve(provider, req, res).catch((err) => {
        process.stderr.write(`interaction failed: ${err.stack ?? err}\n`);
        if (!res.headersSent) {
          res.statusCode = 400;
          res.setHeader('Content-Type', 'text/plain; charset=utf-8');
          res.end(`interaction failed: ${err.message}\n`);
        } else {
          res.end();
        }
      });
      return;
    }
    callback(req, res);
  };

  const line = `${JSON.stringify({ issuer, resources })}\n`;
  if (args['ready-file']) {
    const tmp = `${args['ready-file']}.tmp-${process.pid}`;
    writeFileSync(tmp, line);
    renameSync(tmp, args['ready-file']);
  }
  process.stdout.write(line);
});

server.on('error', (err) => {
  process.stderr.write(`oidc-provider: ${err.message}\n`);
  process.exit(1);
});

function shutdown() {
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);

// Finishes the login prompt as `demo`, then the consent prompt by granting every
// requested scope (OpenID scopes and, per resource, the scopes the resource knows).
async function approve(provider, req, res) {
  const details = await provider.interactionDetails(req, res);
  const { prompt, params, session } = details;
  let result;
  if (prompt.name === 'login') {
    result = { login: { accountId: ACCOUNT } };
  } else if (prompt.name === 'consent') {
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    const { missingOIDCScope, missingOIDCClaims, missingResourceScopes } = prompt.details;
    if (missingOIDCScope) grant.addOIDCScope(missingOIDCScope.join(' '));
    if (missingOIDCClaims) grant.addOIDCClaims(missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(missingResourceScopes ?? {})) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
    result = { consent: { grantId: await grant.save() } };
  } else {
    result = { error: 'access_denied', error_description: `unsupported prompt ${prompt.name}` };
  }
  await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: true });
}

function makeProvider(issuer) {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: randomBytes(8).toString('hex'), use: 'sig', alg: 'RS256' };

  const sameClient = async (ctx, client, token) => token.clientId === client.clientId;

  const provider = new Provider(issuer, {
    jwks: { keys: [signingKey] },
    ...(clients.length > 0 ? { clients } : {}),
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    findAccount: async (_ctx, sub) => (sub === ACCOUNT
      ? { accountId: ACCOUNT, claims: async () => ({ sub: ACCOUNT }) }
      : undefined),
    claims: { openid: ['sub'] },
    scopes: ['openid', 'offline_access', RESOURCE_SCOPE],
    responseTypes: ['code'],
    pkce: { required: () => true },
    clientDefaults: {
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'RS256',
    },
    extraClientMetadata: {
      // Any extra property makes oidc-provider call the validator with the metadata
      // before validating it, which is where a native app's redirect URIs are spotted.
      properties: ['mcp_passport_test'],
      validator(_ctx, _key, _value, metadata) {
        const uris = metadata.redirect_uris;
        if (
          metadata.application_type !== 'native'
          && Array.isArray(uris) && uris.length > 0
          && uris.every((uri) => typeof uri === 'string' && nativeRedirectUri(uri))
        ) {
          metadata.application_type = 'native';
        }
      },
    },
    features: {
      ...(args['no-dpop'] ? { dPoP: { enabled: false } } : {}),
      ...(args['client-credentials'] ? { clientCredentials: { enabled: true } } : {}),
      devInteractions: { enabled: false },
      registration: { enabled: true },
      revocation: { enabled: true, allowedPolicy: sameClient },
      introspection: { enabled: true, allowedPolicy: sameClient },
      resourceIndicators: {
        enabled: true,
        getResourceServerInfo: async (_ctx, indicator) => {
          if (!resources.includes(indicator)) {
            throw new errors.InvalidTarget(`unknown resource ${indicator}`);
          }
          return {
            scope: RESOURCE_SCOPE,
            audience: indicator,
            accessTokenTTL: accessTtl,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'RS256' } },
          };
        },
      },
    },
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    rotateRefreshToken: true,
    expiresWithSession: async () => false,
    ttl: {
      AccessToken: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? accessTtl,
      ...(args['client-credentials']
        ? { ClientCredentials: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? accessTtl }
        : {}),
      AuthorizationCode: 60,
      IdToken: 3600,
      RefreshToken: 14 * DAY,
      Interaction: 3600,
      Session: 14 * DAY,
      Grant: 14 * DAY,
    },
  });

  return provider;
}
