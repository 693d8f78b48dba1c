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
  logger.warn('Authorization is not implemented yet: this endpoint is open to anyone who can reach it');
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
