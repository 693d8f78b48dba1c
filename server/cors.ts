import type { RequestHandler } from 'express';

/**
 * CORS for the endpoints a browser-based SMART app calls from its own origin: the FHIR API (with
 * the SMART discovery document under it) and the token-side OAuth endpoints. Without it a browser
 * refuses the app every response (found by the real-browser test, test/http/smart-browser.test.ts).
 *
 * Any origin is allowed (`*`) and credentials never are: these endpoints authenticate by an
 * explicit Bearer token, HTTP Basic or a client assertion that the script itself sends, never by
 * an ambient cookie, so allowing an origin grants it nothing it does not already hold. For the
 * same reason the preflight allows whichever request headers the browser asks for. The cookie-based
 * sign-in pages (/auth/authorize, /auth/login, ...) are navigations and get no CORS headers at all.
 */

/** Response headers a FHIR or OAuth client needs to read (the CORS-safelisted ones need no listing). */
const EXPOSED = ['Location', 'Content-Location', 'ETag', 'Last-Modified', 'WWW-Authenticate', 'X-Request-ID', 'X-Correlation-ID', 'Retry-After'];

/** A preflight's Access-Control-Request-Headers: header names separated by commas (RFC 9110 tokens). */
const HEADER_LIST = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+(\s*,\s*[!#$%&'*+\-.^_`|~0-9A-Za-z]+)*$/;

/** Browsers keep a preflight at most this long (Chromium caps it at 2 hours). */
const PREFLIGHT_MAX_AGE_SECONDS = 600;

export function cors(methods: readonly string[]): RequestHandler {
  const allowMethods = methods.join(', ');
  return (req, res, next) => {
    if (req.get('origin') === undefined) {
      next();
      return;
    }
    res.setHeader('Access-Control-Allow-Origin', '*');
    const requestedMethod = req.get('access-control-request-method');
    if (req.method !== 'OPTIONS' || requestedMethod === undefined) {
      res.setHeader('Access-Control-Expose-Headers', EXPOSED.join(', '));
      next();
      return;
    }
    // A preflight: answered here, before authentication and audit (it carries no token and reads nothing).
    res.setHeader('Access-Control-Allow-Methods', allowMethods);
    const requestedHeaders = (req.get('access-control-request-headers') ?? '').trim();
    if (requestedHeaders && requestedHeaders.length <= 1000 && HEADER_LIST.test(requestedHeaders)) {
      res.setHeader('Access-Control-Allow-Headers', requestedHeaders);
    }
    res.setHeader('Access-Control-Max-Age', String(PREFLIGHT_MAX_AGE_SECONDS));
    res.setHeader('Vary', 'Access-Control-Request-Headers');
    res.status(204).end();
  };
}

/** The FHIR REST interactions' methods. */
export const FHIR_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
