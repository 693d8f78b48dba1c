import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import type { Db } from 'mongodb';
import { pino } from 'pino';
import { warmSchemaValidator } from '../../profiles/schema-validator.js';
import { InteractionEngine } from '../../resources/engine.js';
import { HookRegistry } from '../../resources/hooks.js';
import { searchParameterHooks } from '../../resources/search-parameter.js';
import { allOfTypePlan } from '../../search/canonical.js';
import { IndexExtractor } from '../../search/extract.js';
import { SearchParameterRegistry } from '../../search/registry.js';
import { createApp } from '../../server/app.js';
import { defaultConfig } from '../../server/config.js';
import type { Store } from '../../store/port.js';
import { MongoStore } from '../../store/mongo/mongo-store.js';
import { fhirFetch, type FhirInit, type FhirResponse } from '../support/server.js';
import { FakeClient, FakeDb } from './fake-db.js';

/**
 * The app of server/server.ts startServer, wired to a MongoStore (over the mingo-backed fake Db,
 * or a real server when a store is passed), on a random port. The wiring is copied from
 * startServer on purpose: that function picks the store from the configuration and must not change
 * for the other suites.
 */
export interface MongoTestServer {
  url: string;
  store: Store;
  engine: InteractionEngine;
  fake?: FakeDb;
  fhir(path: string, init?: FhirInit): Promise<FhirResponse>;
  stop(): Promise<void>;
}

/** A MongoStore over a fresh fake Db (indexes created as at start-up). */
export async function fakeMongoStore(options: { maxResolved?: number } = {}): Promise<{ store: MongoStore; fake: FakeDb }> {
  const fake = new FakeDb();
  const store = new MongoStore({ db: fake as unknown as Db, client: new FakeClient(fake) as never, maxResolved: options.maxResolved });
  await store.ensureIndexes();
  return { store, fake };
}

/** A server on `given` (any Store: a real MongoStore, a DualStore), or on a MongoStore over a fresh fake Db. */
export async function startMongoTestServer(given?: Store): Promise<MongoTestServer> {
  warmSchemaValidator();
  const logger = pino({ level: 'silent' });
  const config = defaultConfig({ port: 0, logLevel: 'silent' });
  let fake: FakeDb | undefined;
  let store: Store;
  if (given) store = given;
  else ({ store, fake } = await fakeMongoStore());
  const registry = new SearchParameterRegistry();
  const extractor = new IndexExtractor(registry, { onError: () => undefined });
  const hooks = new HookRegistry();
  hooks.register('SearchParameter', searchParameterHooks(registry));
  const engine = new InteractionEngine({ store, registry, extractor, hooks });
  await loadStoredSearchParameters(store, hooks);
  const app = createApp({ config, engine, logger });
  const http: Server = await new Promise((resolve, reject) => {
    const s = app.listen(0, (err?: Error) => (err ? reject(err) : resolve(s)));
  });
  const { port } = http.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}/fhir`;
  return {
    url, store, engine, fake,
    fhir: (path, init) => fhirFetch(url, path, init),
    async stop() {
      await new Promise<void>((resolve) => {
        http.close(() => resolve());
        http.closeIdleConnections();
      });
      await store.close();
    },
  };
}

async function loadStoredSearchParameters(store: Store, hooks: HookRegistry): Promise<void> {
  const afterCommit = hooks.for('SearchParameter').afterCommit!;
  let cursor: string | undefined;
  do {
    const page = await store.search(allOfTypePlan('SearchParameter', 500, cursor));
    for (const v of page.matches) afterCommit({ id: v.id, resource: JSON.parse(v.json!) });
    cursor = page.nextCursor;
  } while (cursor !== undefined);
}
