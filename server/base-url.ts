import type { Request } from 'express';
import type { Config } from './config.js';

/** The public base URL of the FHIR endpoint for this request. */
export function baseUrl(req: Request, config: Config): string {
  return config.baseUrl ?? `${req.protocol}://${req.get('host')}${req.baseUrl}`;
}
