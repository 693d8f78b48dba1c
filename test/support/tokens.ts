import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import type { TestServer } from './server.js';

/** An access token signed with the test server's own key, as its token endpoint would issue it. */
export async function signToken(server: TestServer, scope: string, extra: Record<string, unknown> = {}): Promise<string> {
  const key = server.auth!.keys.signingKey();
  const endpoints = server.auth!.endpoints(server.url)!;
  const now = Math.floor(Date.now() / 1000);
  const clientId = typeof extra.client_id === 'string' ? extra.client_id : 'test-app';
  return new SignJWT({ client_id: clientId, scope, ...extra })
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'at+jwt' })
    .setIssuer(endpoints.issuer).setAudience(server.url).setSubject(clientId)
    .setIssuedAt(now).setExpirationTime(now + 300).setJti(randomUUID())
    .sign(key.privateKey);
}
