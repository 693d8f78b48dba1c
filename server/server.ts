import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import { warmSchemaValidator } from '../profiles/schema-validator.js';
import { InteractionEngine } from '../resources/engine.js';
import { IndexExtractor } from '../search/extract.js';
import { SearchParameterRegistry } from '../search/registry.js';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import type { Store } from '../store/port.js';
import { createApp } from './app.js';
import type { Config } from './config.js';

export interface RunningServer {
  /** The FHIR base URL, e.g. http://127.0.0.1:8080/fhir */
  url: string;
  port: number;
  engine: InteractionEngine;
  close(): Promise<void>;
}

/** Opens the store, builds the engine and app, and listens. Used by main.ts and the HTTP tests. */
export async function startServer(config: Config, logger: Logger = pino({ level: config.logLevel })): Promise<RunningServer> {
  warmSchemaValidator();
  const store: Store = new SqliteStore({ file: join(config.dataDir, 'vertebra.sqlite'), synchronous: config.sqliteSynchronous });
  const extractor = new IndexExtractor(new SearchParameterRegistry());
  const engine = new InteractionEngine({ store, extractor });
  const app = createApp({ config, engine, logger });
  const http: Server = await new Promise((resolve, reject) => {
    const s = app.listen(config.port, (err?: Error) => (err ? reject(err) : resolve(s)));
  });
  const { port } = http.address() as AddressInfo;
  return {
    url: config.baseUrl ?? `http://localhost:${port}/fhir`,
    port,
    engine,
    async close() {
      await new Promise<void>((resolve) => {
        http.close(() => resolve());
        http.closeIdleConnections();
      });
      await store.close();
    },
  };
}
