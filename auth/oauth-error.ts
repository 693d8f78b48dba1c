/**
 * An OAuth 2.0 error response (RFC 6749 §5.2, RFC 7009 §2.2.1, RFC 7662 §2.3): the only error shape
 * the /auth endpoints answer with (ARCHITECTURE.md: FHIR errors are OperationOutcomes, OAuth
 * endpoints speak RFC 6749). The description is for developers: it names what was wrong with the
 * request, never a secret, an assertion or a token.
 */
export type OAuthErrorCode =
  | 'invalid_request' | 'invalid_client' | 'invalid_grant' | 'unauthorized_client'
  | 'unsupported_grant_type' | 'invalid_scope' | 'unsupported_token_type'
  | 'unsupported_response_type' | 'server_error' | 'not_found';

export class OAuthHttpError extends Error {
  constructor(
    readonly status: number,
    readonly error: OAuthErrorCode,
    readonly description: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(`${error}: ${description}`);
  }

  body(): { error: string; error_description: string } {
    return { error: this.error, error_description: this.description };
  }
}

export const oauthErrors = {
  invalidRequest: (d: string) => new OAuthHttpError(400, 'invalid_request', d),
  /** 401, as RFC 6749 §5.2 requires when the client authenticated (or tried to) with HTTP Basic. */
  invalidClient: (d: string, basic = false) =>
    new OAuthHttpError(401, 'invalid_client', d, basic ? { 'WWW-Authenticate': 'Basic realm="vertebra", charset="UTF-8"' } : {}),
  invalidGrant: (d: string) => new OAuthHttpError(400, 'invalid_grant', d),
  unauthorizedClient: (d: string) => new OAuthHttpError(400, 'unauthorized_client', d),
  unsupportedGrantType: (d: string) => new OAuthHttpError(400, 'unsupported_grant_type', d),
  invalidScope: (d: string) => new OAuthHttpError(400, 'invalid_scope', d),
};
