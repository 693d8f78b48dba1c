/**
 * The log auth/ writes to: server/ passes a pino child logger, tests a stub. Its own module, so
 * that every part of auth/ (the token side, the sign-in steps, the IdP client) can log without
 * importing the module that assembles them.
 */
export interface AuthLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}
