import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import autocannon from 'autocannon';
import { summarise } from './harness.js';

/**
 * The load generator, a process of its own (so that it never shares an event loop with the server
 * it measures): `node dist/bench/load.js` reads the path of a spec file per line on stdin and
 * answers each with one JSON line of LoadStats on stdout. For each spec it drives autocannon with the spec's
 * requests in turn, across all connections, first for the warm-up (discarded) then for the
 * measured period. Latencies are recorded per response,
 * because autocannon's own summary has no p95.
 */

export interface LoadRequest {
  method: string;
  path: string;
  body?: string;
  headers?: Record<string, string>;
}

export interface LoadSpec {
  /** Origin of the target, e.g. http://127.0.0.1:8080 */
  origin: string;
  connections: number;
  warmupSeconds: number;
  durationSeconds: number;
  /** Sent with every request (e.g. the bearer token). */
  headers: Record<string, string>;
  requests: LoadRequest[];
  /** Seconds before an unanswered request counts as a timeout (an error). */
  timeoutSeconds?: number;
}

interface Measured {
  latencies: number[];
  seconds: number;
  errors: number;
  statuses: Record<string, number>;
}

function run(spec: LoadSpec, seconds: number, record: boolean): Promise<Measured> {
  let next = 0;
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const instance = autocannon({
      url: spec.origin,
      connections: spec.connections,
      duration: seconds,
      // autocannon stops at the first sample tick after the duration: 100 ms ticks, not 1 s, so
      // that a 1.5 s run lasts 1.5 s.
      sampleInt: 100,
      timeout: spec.timeoutSeconds ?? 30,
      headers: spec.headers,
      // One dynamic request that walks the list: the connections share one cursor, so they do not
      // all send the same sequence.
      requests: [{
        setupRequest: (req: Record<string, unknown>) => {
          const r = spec.requests[next++ % spec.requests.length];
          return { ...req, method: r.method, path: r.path, body: r.body, headers: { ...spec.headers, ...r.headers } };
        },
      }],
    }, (err: Error | null, result: { errors: number; timeouts: number; non2xx: number }) => {
      if (err) return reject(err);
      resolve({
        latencies,
        seconds: (performance.now() - started) / 1000,
        errors: result.errors + result.timeouts + result.non2xx,
        statuses,
      });
    });
    if (record) {
      instance.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
        latencies.push(ms);
        const kind = `${Math.floor(status / 100)}xx`;
        statuses[kind] = (statuses[kind] ?? 0) + 1;
      });
    }
  });
}

/** A spec per line on stdin, a LoadStats line per spec on stdout: one process serves the whole run. */
async function main(): Promise<void> {
  const lines = createInterface({ input: process.stdin });
  for await (const line of lines) {
    if (!line.trim()) continue;
    const spec = JSON.parse(readFileSync(line.trim(), 'utf8')) as LoadSpec;
    if (spec.warmupSeconds > 0) await run(spec, spec.warmupSeconds, false);
    const measured = await run(spec, spec.durationSeconds, true);
    process.stdout.write(`${JSON.stringify(summarise(measured.latencies, measured.seconds, measured.errors, measured.statuses))}\n`);
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? err.stack : err);
  process.exit(1);
});
