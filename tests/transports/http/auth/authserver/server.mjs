// The authorization server of mcp-host's authentication tests: node-oidc-provider (a certified
// OpenID provider), on 127.0.0.1:PORT, signing with the private JWK in KEY_FILE.
//
//   node server.mjs PORT KEY_FILE
//
// What it offers: the authorization code flow with PKCE and dynamic client registration (the
// official SDK's OAuth client uses both; its login and consent pages are the provider's
// development ones), client credentials, RFC 8707 resource indicators (every resource gets
// JWT access tokens whose audience is the resource, except for the client "machine-opaque",
// which gets opaque ones), RFC 7662 introspection and RFC 7009 revocation.
import { readFileSync } from 'node:fs';
import Provider from 'oidc-provider';

const [port, keyFile] = process.argv.slice(2);
const issuer = `http://127.0.0.1:${port}`;
const key = JSON.parse(readFileSync(keyFile, 'utf8'));
const SCOPES = ['tools:read', 'tools:write', 'admin'];

const provider = new Provider(issuer, {
  clients: [
    { client_id: 'mcp-host', client_secret: 'introspection-secret-0123456789', grant_types: [], response_types: [], redirect_uris: [] },
    { client_id: 'machine', client_secret: 'machine-secret-0123456789', grant_types: ['client_credentials'], response_types: [], redirect_uris: [] },
    { client_id: 'machine-opaque', client_secret: 'machine-secret-0123456789', grant_types: ['client_credentials'], response_types: [], redirect_uris: [] },
  ],
  jwks: { keys: [key] },
  scopes: ['openid', 'offline_access', ...SCOPES],
  pkce: { required: () => true },
  findAccount: async (ctx, id) => ({ accountId: id, claims: async () => ({ sub: id }) }),
  features: {
    devInteractions: { enabled: true },
    registration: { enabled: true },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
    resourceIndicators: {
      enabled: true,
      useGrantedResource: () => true,
      getResourceServerInfo: (ctx, resource, client) => ({
        scope: SCOPES.join(' '),
        audience: resource,
        accessTokenTTL: 300,
        accessTokenFormat: client.clientId === 'machine-opaque' ? 'opaque' : 'jwt',
        jwt: { sign: { alg: 'RS256' } },
      }),
    },
  },
});
provider.proxy = false;
provider.on('server_error', (ctx, err) => { process.stderr.write(`server_error: ${err.stack}\n`); });
const server = provider.listen(Number(port), '127.0.0.1', () => {
  process.stdout.write(`listening ${issuer}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
