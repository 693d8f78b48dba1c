import express, { type NextFunction, type Request, type Response } from 'express';
import { errors, FhirError, operationOutcome } from '../fhir/errors.js';
import { beginContext, contextOf } from './context.js';
import { sendFhir } from './representation.js';
import { cors, FHIR_METHODS } from './cors.js';
import { fhirPipeline, type PipelineDeps } from './pipeline.js';

/** What the app is built over: the FHIR pipeline's dependencies, less the start time it stamps itself. */
export type AppDeps = Omit<PipelineDeps, 'startedAt'>;

/** body-parser signals its own failures with these types; each has a FHIR answer. */
function bodyParserError(err: { type?: string; status?: number }): FhirError | undefined {
  switch (err.type) {
    case 'entity.too.large': return errors.payloadTooLarge('The request body is larger than this server accepts');
    case 'encoding.unsupported':
    case 'charset.unsupported': return errors.unsupportedMediaType('The request body encoding is not supported');
    case 'request.aborted':
    case 'request.size.invalid':
    case 'entity.verify.failed': return errors.badRequest('The request body could not be read');
    default:
      // The router's own failure to decode a path parameter (`%E0%A4%A`): a client error.
      if (err instanceof URIError && err.status === 400) return errors.badRequest('The request path has a malformed percent-escape');
      return undefined;
  }
}

export function createApp({ config, engine, spine, logger, auth, audit }: AppDeps): express.Express {
  const app = express();
  app.set('case sensitive routing', true); // FHIR paths are case-sensitive (fhir/request.ts parses them so)
  app.disable('x-powered-by');
  app.set('trust proxy', config.trustProxy); // whose address req.ip is (the sign-in throttle keys on it)
  app.set('etag', false); // ETags are FHIR versions, set by the routes; never a hash of the body.
  const startedAt = new Date().toISOString();

  app.use((req, res, next) => {
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      // The interaction, not the URL: URLs carry patient identifiers (NHS numbers), which must
      // not reach info-level logs. The full URL is logged at debug level only.
      const ctx = contextOf(res);
      const request = ctx.request;
      logger.info({
        reqId: ctx.requestId, method: req.method,
        route: request ? `${req.baseUrl} ${request.interaction}${request.type ? ` ${request.type}` : ''}${request.operation ? ` $${request.operation}` : ''}` : req.baseUrl,
        status: res.statusCode, ms: Number(process.hrtime.bigint() - started) / 1e6,
      }, 'request');
      logger.debug({ reqId: ctx.requestId, url: req.originalUrl }, 'request url');
    });
    next();
  });
  app.use(beginContext); // request ids, the media type, the request context
  app.use(express.raw({ type: () => true, limit: config.maxBodyBytes }));
  // Probes, outside the FHIR base. Live: the process answers. Ready: the store can serve.
  const storeKind = config.mongodbUri ? 'mongodb' : 'sqlite';
  app.get('/health/live', (_req, res) => {
    res.status(200).json({ status: 'live' });
  });
  app.get('/health/ready', async (req, res) => {
    try {
      await engine.ping();
    } catch (err) {
      // The cause goes to the log only: probes can be unauthenticated, and driver messages may
      // name hosts and files.
      logger.warn({ reqId: contextOf(res).requestId, err }, 'readiness check failed: the store cannot serve');
      res.setHeader('Cache-Control', 'no-store');
      sendFhir(req, res, 503, operationOutcome([
        { severity: 'error', code: 'transient', diagnostics: `The ${storeKind} store is not available` },
      ]));
      return;
    }
    res.setHeader('Cache-Control', 'no-store');
    res.status(200).json({ status: 'ready', store: storeKind });
  });
  // Browser apps on other origins: the FHIR API (and discovery under it) and the token-side OAuth
  // endpoints answer CORS; the cookie-based sign-in pages do not (server/cors.ts).
  app.use('/fhir', cors(FHIR_METHODS));
  if (auth) {
    app.use(['/auth/token', '/auth/introspect', '/auth/revoke', '/auth/launch'], cors(['POST']));
    app.use('/auth/jwks.json', cors(['GET', 'HEAD']));
    // OAuth endpoints answer RFC 6749 JSON errors from their own router, never OperationOutcomes.
    app.use('/auth', auth.router);
    app.get('/fhir/.well-known/smart-configuration', auth.discovery);
  }
  // Every FHIR request: parse, context, audit, one access decision, the route table (server/pipeline.ts).
  app.use('/fhir', fhirPipeline({ config, engine, spine, logger, auth, audit, startedAt }));
  app.use((req) => {
    throw errors.notFound(`No FHIR endpoint at ${req.path}`);
  });

  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    let fhirError = err instanceof FhirError ? err : bodyParserError(err as { type?: string });
    if (!fhirError) {
      logger.error({ reqId: contextOf(res).requestId, err }, 'unexpected error');
      fhirError = errors.internal();
    } else if (fhirError.status >= 500) {
      logger.error({ reqId: contextOf(res).requestId, err }, 'server error');
    }
    if (res.headersSent) return;
    for (const [k, v] of Object.entries(fhirError.headers)) res.setHeader(k, v);
    // A 406 means the client cannot take what we make; it still gets our JSON explanation.
    sendFhir(req, res, fhirError.status, fhirError.toOperationOutcome());
  });
  return app;
}
