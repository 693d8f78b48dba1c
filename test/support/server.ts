import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { defaultConfig, type Config } from '../../server/config.js';
import { serveStore, startServer, type RunningServer, type ServeOptions } from '../../server/server.js';
import type { Db } from 'mongodb';
import { MongoStore } from '../../store/mongo/mongo-store.js';
import type { Store } from '../../store/port.js';
import { FakeClient, FakeDb } from '../mongo/fake-db.js';

export interface TestServer extends RunningServer {
  dataDir: string;
  /** fetch relative to the FHIR base; JSON bodies are serialised with the FHIR media type. */
  fhir(path: string, init?: FhirInit): Promise<FhirResponse>;
  stop(): Promise<void>;
}

export interface FhirInit {
  method?: string;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface FhirResponse {
  status: number;
  headers: Headers;
  text: string;
  /** Parsed JSON body, or undefined when the body is empty. */
  json: any;
}

/**
 * Which store the HTTP suites run on: the embedded SQLite (default), or, with
 * VERTEBRA_TEST_STORE=mongo-fake, the MongoDB adapter over the mingo-backed fake driver (the
 * differential run of `npm test`). A fake database lives as long as the process, keyed by data
 * dir, so a restart on the same data dir finds its data as it would on disk.
 */
export const TEST_STORE = process.env.VERTEBRA_TEST_STORE === 'mongo-fake' ? 'mongo-fake' : 'sqlite';
const fakeDatabases = new Map<string, FakeDb>();

async function openTestStore(dataDir: string): Promise<Store> {
  let db = fakeDatabases.get(dataDir);
  if (!db) fakeDatabases.set(dataDir, db = new FakeDb());
  const store = new MongoStore({ db: db as unknown as Db, client: new FakeClient(db) as never });
  await store.ensureIndexes();
  return store;
}

/**
 * A real server on a random port with a real SQLite file in a fresh temp dir (or see TEST_STORE).
 * The generic FHIR suites run with PDS=off, because their Patient fixtures have readable ids
 * ('pat-smith') where PDS demands NHS numbers, and with AUTH=off, because they test FHIR
 * semantics rather than tokens; the PDS and authorization suites pass `{ pds: true }` and
 * `{ auth: 'smart' }`, the defaults of a real deployment.
 */
export async function startTestServer(overrides: Partial<Config> = {}, options: ServeOptions = {}): Promise<TestServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'vertebra-test-'));
  const config = defaultConfig({ port: 0, dataDir, logLevel: 'silent', pds: false, auth: 'off', ...overrides });
  const logger = pino({ level: 'silent' });
  const server = TEST_STORE === 'mongo-fake'
    ? await serveStore(config, logger, await openTestStore(config.dataDir), options)
    : await startServer(config, logger, options);
  const url = `http://127.0.0.1:${server.port}/fhir`;
  return {
    ...server,
    url,
    dataDir,
    fhir: (path, init) => fhirFetch(url, path, init),
    async stop() {
      await server.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export async function fhirFetch(base: string, path: string, init: FhirInit = {}): Promise<FhirResponse> {
  const headers: Record<string, string> = { ...(init.headers ?? {}) };
  let body: string | undefined;
  if (init.body !== undefined) {
    body = typeof init.body === 'string' ? init.body : JSON.stringify(init.body);
    if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['Content-Type'] = 'application/fhir+json';
  }
  const res = await fetch(`${base}${path}`, { method: init.method ?? 'GET', headers, body });
  const text = await res.text();
  let json: any;
  if (text.length > 0) {
    try { json = JSON.parse(text); } catch { json = undefined; }
  }
  return { status: res.status, headers: res.headers, text, json };
}

/** A small valid Patient with synthetic data (999 test-range NHS number). */
export function samplePatient(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    resourceType: 'Patient',
    identifier: [{ system: 'https://fhir.nhs.uk/Id/nhs-number', value: '9000000009' }],
    name: [{ use: 'official', family: 'Smith', given: ['Jane'] }],
    gender: 'female',
    birthDate: '1980-01-02',
    text: { status: 'generated', div: '<div xmlns="http://www.w3.org/1999/xhtml">Jane Smith</div>' },
    ...overrides,
  };
}
