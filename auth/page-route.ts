import type { Request, RequestHandler, Response } from 'express';
import { messagePage, type PageContext } from './pages.js';

/**
 * How the interactive sign-in routes answer: with an HTML page, never JSON, and an error the user
 * can act on (an expired request, a refused form, an IdP that is down) as a message page rather
 * than the token side's RFC 6749 error body. The pages themselves are in auth/pages.ts.
 */

/** An error shown to the user as a message page with this status and title. */
export class PageError extends Error {
  constructor(readonly status: number, readonly title: string, message: string) {
    super(message);
  }
}

/** The page context of a request: form actions and assets hang off the router's mount point. */
export const pageContext = (req: Request): PageContext => ({ base: `${req.baseUrl}` });

/**
 * Headers for every page: not cached (pages carry CSRF tokens and patient names), not framed
 * (clickjacking the Allow button), no script, and the stylesheet from our own /assets only.
 */
export function htmlHeaders(res: Response): void {
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Pragma', 'no-cache');
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('Content-Security-Policy', "default-src 'none'; style-src 'self'; img-src 'self' data:; font-src https://assets.nhs.uk; frame-ancestors 'none'; base-uri 'none'");
  res.setHeader('Referrer-Policy', 'no-referrer');
}

export function sendPage(res: Response, status: number, page: string): void {
  htmlHeaders(res);
  res.status(status).send(page);
}

/** A route handler whose PageErrors become message pages; any other error goes on to the router's error handler. */
export const pageRoute = (handler: (req: Request, res: Response) => Promise<void> | void): RequestHandler => async (req, res, next) => {
  try {
    await handler(req, res);
  } catch (err) {
    if (err instanceof PageError) {
      sendPage(res, err.status, messagePage(pageContext(req), err.title, err.message));
      return;
    }
    next(err);
  }
};

/** An HTML form body (the app parses every body as raw bytes); a repeated field is refused. */
export function readForm(req: Request): Map<string, string> {
  if (!/^application\/x-www-form-urlencoded\s*(;|$)/i.test(req.get('content-type') ?? '')) throw new PageError(400, 'Bad request', 'The form could not be read.');
  const out = new Map<string, string>();
  const raw = Buffer.isBuffer(req.body) ? req.body.toString('utf8') : '';
  for (const [k, v] of new URLSearchParams(raw)) {
    if (out.has(k)) throw new PageError(400, 'Bad request', 'The form could not be read.');
    out.set(k, v);
  }
  return out;
}
