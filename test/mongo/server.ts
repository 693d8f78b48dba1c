import type { Db } from 'mongodb';
import { pino } from 'pino';
import { InteractionEngine } from '../../resources/engine.js';
import { defaultConfig } from '../../server/config.js';
import { serveStore } from '../../server/server.js';
import type { Store } from '../../store/port.js';
import { MongoStore } from '../../store/mongo/mongo-store.js';
import { fhirFetch, type FhirInit, type FhirResponse } from '../support/server.js';
import { FakeClient, FakeDb } from './fake-db.js';

/**
 * The server of server/server.ts (serveStore: the same engine, hooks and app as `npm start`) over
 * a MongoStore on the mingo-backed fake Db, or over a given store, on a random port.
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
  let fake: FakeDb | undefined;
  let store: Store;
  if (given) store = given;
  else ({ store, fake } = await fakeMongoStore());
  const server = await serveStore(defaultConfig({ port: 0, logLevel: 'silent', pds: false, auth: 'off' }), pino({ level: 'silent' }), store);
  const url = `http://127.0.0.1:${server.port}/fhir`;
  return {
    url, store, engine: server.engine, fake,
    fhir: (path, init) => fhirFetch(url, path, init),
    stop: () => server.close(),
  };
}
