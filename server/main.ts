import { pino } from 'pino';
import { loadConfig } from './config.js';
import { startServer } from './server.js';

/** `npm start`: serve FHIR on the embedded store until SIGINT/SIGTERM, then shut down cleanly. */
async function main(): Promise<void> {
  const config = loadConfig(process.env);
  const logger = pino({ level: config.logLevel });
  const server = await startServer(config, logger);
  // The MongoDB URI is never logged: it may carry credentials.
  const store = config.mongodbUri ? { store: 'mongodb' } : { store: 'sqlite', dataDir: config.dataDir };
  logger.info({ port: server.port, url: server.url, ...store }, `vertebra listening: FHIR base ${server.url}`);
  if (!config.audit) {
    logger.warn('AUDIT=off: access to patient data is NOT audited. Use this for benchmarks and local trials only');
  }
  if (!server.auth) {
    logger.warn('AUTH=off: no authorization server runs, and FHIR requests are not checked. Use this for local trials and conformance runs only');
  } else {
    const endpoints = server.auth.endpoints(config.baseUrl ?? `http://localhost:${server.port}/fhir`)!;
    if (config.oidc) {
      // Issuer and client id only: never the secret or the key.
      logger.info({ issuer: config.oidc.issuer, client_id: config.oidc.clientId, redirect_uri: `${endpoints.issuer}/oidc/callback`, password_sign_in: config.localLogin },
        `staff sign in with ${config.oidc.displayName}; register ${endpoints.issuer}/oidc/callback as the redirect URI at the IdP`);
    }
    const clients = server.auth.clients;
    if (clients.size === 0) {
      logger.info({ token_endpoint: endpoints.token },
        `No SMART clients are registered. To get a first token: put a backend-services client (its public key in jwks) in a JSON file, `
        + `restart with SMART_CLIENTS=<that file>, and POST a signed client assertion to ${endpoints.token}; `
        + `README "Your first token (copy-paste)" has the steps`);
    } else {
      // Ids and names only: never a secret.
      logger.info({ clients: clients.all().map((c) => c.clientId), file: clients.source, token_endpoint: endpoints.token },
        `${clients.size} SMART client(s) registered; tokens at ${endpoints.token}, discovery at ${endpoints.fhir}/.well-known/smart-configuration`);
    }
  }
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    await server.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((err) => {
  // Start-up failures (bad configuration, unreadable database) end the process with a clear reason.
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
