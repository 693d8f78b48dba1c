import { randomUUID } from 'node:crypto';
import { cpSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { ensureDataset } from './dataset.js';
import {
  formatTable, parseArgs, resultLine, USAGE, UsageError,
  type BenchArgs, type LoadStats, type ResultLine, type TableRow,
} from './harness.js';
import type { LoadRequest, LoadSpec } from './load.js';
import { freePort, startAnnouncing, startChild, stopAllChildren, stopChild, waitReady } from './processes.js';
import { formatProfile, summariseProfile, type CpuProfile } from './profile-summary.js';
import { buildWorkload, samplePatients, type Workload } from './workloads.js';

/**
 * `npm run bench`: vertebra as users run it (node dist/server/main.js on the embedded store, SMART
 * authorization with a Backend Services token, audit on), next to two references on the same
 * machine and under the same load generator: the ceiling (bench/ceiling.ts, bare node:http) and
 * the peer (bench/peer.ts, Medplum's FHIR router in memory). Every process is separate; the load
 * generator (bench/load.ts, autocannon) runs once per workload and target. Prints a table, the
 * targets, and one JSON line per workload (bench/harness.ts resultLine).
 */

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DIST = join(ROOT, 'dist');
const CACHE = process.env.BENCH_CACHE_DIR || join(ROOT, '.bench-cache');
const SEED = 1;
const CLIENT_ID = 'vertebra-bench';
const SCOPE = 'system/*.cruds';

const log = (message: string) => process.stderr.write(`[bench] ${message}\n`);

interface Target {
  name: 'vertebra' | 'ceiling' | 'peer';
  origin: string;
  headers: Record<string, string>;
  child: ChildProcess;
}

/** A Backend Services client (ES384 key pair; the public half in a SMART_CLIENTS file) and a way to sign its assertions. */
async function backendClient(dir: string) {
  const { publicKey, privateKey } = await generateKeyPair('ES384', { extractable: true });
  const kid = 'bench-1';
  const file = join(dir, 'clients.json');
  writeFileSync(file, JSON.stringify([{
    client_id: CLIENT_ID, client_name: 'npm run bench', scope: SCOPE, grant_types: ['client_credentials'],
    token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [{ ...await exportJWK(publicKey), kid, alg: 'ES384' }] },
  }]));
  const assertion = (audience: string) => new SignJWT({}).setProtectedHeader({ alg: 'ES384', kid, typ: 'JWT' })
    .setIssuer(CLIENT_ID).setSubject(CLIENT_ID).setAudience(audience).setExpirationTime('5m').setJti(randomUUID()).sign(privateKey);
  return { file, assertion };
}

async function startVertebra(args: BenchArgs, dataDir: string, runDir: string, profileDir: string) {
  const client = await backendClient(runDir);
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const nodeArgs = args.profile ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
  const logFile = join(runDir, 'server.log');
  const spawnedAt = Date.now();
  const child = startChild(process.execPath, [...nodeArgs, join(DIST, 'server/main.js')], {
    // As a deployment runs it: AUTH and AUDIT at their defaults (smart, on), info-level request
    // logs going to a file. Only the token lifetime is stretched so that one token lasts the run.
    env: {
      ...process.env, DATA_DIR: dataDir, PORT: String(port), BASE_URL: `${origin}/fhir`, SMART_CLIENTS: client.file,
      ACCESS_TOKEN_SECONDS: '86400', AUTH: '', AUDIT: '', LOG_LEVEL: '', ...args.serverEnv,
    },
    stdio: ['ignore', openSync(logFile, 'a'), openSync(logFile, 'a')],
  });
  await waitReady(`${origin}/health/ready`, child);
  const tokenUrl = `${origin}/auth/token`;
  const res = await fetch(tokenUrl, {
    method: 'POST',
    body: new URLSearchParams({
      grant_type: 'client_credentials', scope: SCOPE,
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: await client.assertion(tokenUrl),
    }),
  });
  const token = await res.json() as { access_token?: string; error_description?: string };
  if (!token.access_token) throw new Error(`no token from ${tokenUrl}: HTTP ${res.status} ${token.error_description ?? ''}`);
  return { name: 'vertebra' as const, origin, child, headers: { Authorization: `Bearer ${token.access_token}` }, logFile, spawnedAt };
}

/** Sends one request of the list and returns status and bytes (the probe, and the ceiling's body). */
async function probe(target: Target, request: LoadRequest): Promise<{ status: number; contentType: string; body: Buffer }> {
  const res = await fetch(`${target.origin}${request.path}`, {
    method: request.method, body: request.body, headers: { ...target.headers, ...request.headers },
  });
  return { status: res.status, contentType: res.headers.get('content-type') ?? '', body: Buffer.from(await res.arrayBuffer()) };
}

function diagnostics(body: Buffer): string {
  try {
    const oo = JSON.parse(body.toString('utf8'));
    const issue = oo.issue?.[0];
    return String(issue?.diagnostics ?? issue?.details?.text ?? issue?.code ?? '').slice(0, 120);
  } catch {
    return body.toString('utf8').slice(0, 120);
  }
}

async function measure(args: BenchArgs, runDir: string, workload: Workload, target: Target): Promise<LoadStats> {
  const spec: LoadSpec = {
    origin: target.origin,
    connections: workload.connections,
    warmupSeconds: args.warmupSeconds,
    durationSeconds: args.durationSeconds,
    headers: target.headers,
    requests: workload.requests,
    timeoutSeconds: 60,
  };
  const file = join(runDir, `load-${workload.name}-${target.name}.json`);
  writeFileSync(file, JSON.stringify(spec));
  return JSON.parse(await loadGenerator().request(file)) as LoadStats;
}

/** The one load-generator process of the run (bench/load.ts), started on first use. */
let generator: { request(file: string): Promise<string> } | undefined;
function loadGenerator() {
  if (generator) return generator;
  const child = startChild(process.execPath, [join(DIST, 'bench/load.js')], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! });
  const waiting: ((line: string) => void)[] = [];
  lines.on('line', (line) => waiting.shift()?.(line));
  const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`the load generator exited with ${code}`))));
  exited.catch(() => undefined);
  generator = {
    request(file: string) {
      const answer = new Promise<string>((resolve) => waiting.push(resolve));
      child.stdin!.write(`${file}\n`);
      return Promise.race([answer, exited]);
    },
  };
  return generator;
}

interface Outcome {
  line?: ResultLine;
  rows: TableRow[];
}

async function runWorkload(args: BenchArgs, runDir: string, workload: Workload, targets: { vertebra: Target; ceiling?: Target; peer?: Target }): Promise<Outcome> {
  const { vertebra, ceiling, peer } = targets;
  if (vertebra.child.exitCode !== null || vertebra.child.signalCode !== null) {
    throw new Error(`the vertebra server has exited (${vertebra.child.exitCode ?? vertebra.child.signalCode}); see its log below`);
  }
  const rows: TableRow[] = [];
  const sample = workload.requests[workload.ceilingSample];
  const ours = await probe(vertebra, sample);
  if (ours.status >= 300) {
    const note = ours.status === 404 || ours.status === 400
      ? `not available in vertebra (HTTP ${ours.status}: ${diagnostics(ours.body)})`
      : `vertebra answered HTTP ${ours.status}: ${diagnostics(ours.body)}`;
    log(`${workload.name}: skipped, ${note}`);
    return { rows: [{ workload: workload.name, target: 'vertebra', note }] };
  }
  log(`${workload.name}: ${workload.description}, ${workload.connections} connection(s), ${args.warmupSeconds}+${args.durationSeconds} s per target`);
  const stats: Partial<Record<Target['name'], LoadStats>> = {};
  const note = (s: LoadStats) => (s.requests === 0
    ? `no answer within the ${args.durationSeconds} s window`
    : `${s.statuses['2xx'] ?? 0} ok${Object.entries(s.statuses).filter(([k]) => k !== '2xx').map(([k, v]) => `, ${v} ${k}`).join('')}`);

  stats.vertebra = await measure(args, runDir, workload, vertebra);
  rows.push({ workload: workload.name, target: 'vertebra', stats: stats.vertebra, note: note(stats.vertebra) });
  log(`  vertebra ${stats.vertebra.rps} req/s, p50 ${stats.vertebra.p50_ms} ms, p99 ${stats.vertebra.p99_ms} ms, ${stats.vertebra.errors} errors`);

  if (ceiling) {
    const put = await fetch(`${ceiling.origin}/__bench/response`, {
      method: 'PUT', body: new Uint8Array(ours.body), headers: { 'X-Bench-Status': String(ours.status), 'X-Bench-Content-Type': ours.contentType },
    });
    await put.arrayBuffer();
    stats.ceiling = await measure(args, runDir, workload, ceiling);
    rows.push({ workload: workload.name, target: 'ceiling', stats: stats.ceiling, note: `${ours.body.length} bytes per answer` });
    log(`  ceiling  ${stats.ceiling.rps} req/s, p50 ${stats.ceiling.p50_ms} ms, p99 ${stats.ceiling.p99_ms} ms`);
  }

  let peerNote: string | undefined;
  if (peer) {
    const theirs = await probe(peer, sample);
    if (theirs.status >= 300) {
      peerNote = `the peer cannot run it (HTTP ${theirs.status}: ${diagnostics(theirs.body)})`;
      rows.push({ workload: workload.name, target: 'peer', note: peerNote });
      log(`  peer     ${peerNote}`);
    } else {
      stats.peer = await measure(args, runDir, workload, peer);
      rows.push({ workload: workload.name, target: 'peer', stats: stats.peer, note: note(stats.peer) });
      log(`  peer     ${stats.peer.rps} req/s, p50 ${stats.peer.p50_ms} ms, p99 ${stats.peer.p99_ms} ms, ${stats.peer.errors} errors`);
    }
  }
  const extra: Record<string, unknown> = {
    connections: workload.connections,
    ceiling_rps: stats.ceiling?.rps ?? null,
    peer_rps: stats.peer?.rps ?? null,
  };
  if (workload.resourcesPerRequest) {
    extra.resources_per_s = Math.round(stats.vertebra.rps * workload.resourcesPerRequest);
    extra.peer_resources_per_s = stats.peer ? Math.round(stats.peer.rps * workload.resourcesPerRequest) : null;
  }
  if (stats.peer && stats.peer.requests === 0) peerNote = `the peer answered no request within the ${args.durationSeconds} s window`;
  if (peerNote) extra.peer_note = peerNote;
  return { line: resultLine(workload.name, stats.vertebra, stats.ceiling, stats.peer, extra), rows };
}

/** The issue's targets, each measured against this run's numbers (goals, not assertions). */
function targetReport(lines: ResultLine[], args: BenchArgs): string[] {
  const by = new Map(lines.map((l) => [l.workload, l]));
  const out: string[] = [];
  const verdict = (ok: boolean | undefined) => (ok === undefined ? 'n/a ' : ok ? 'MET ' : 'MISS');
  const read = by.get('read-by-nhs-number');
  if (read) {
    out.push(`${verdict(read.ratio_to_ceiling === null ? undefined : read.ratio_to_ceiling >= 0.5)} read by NHS number (auth + audit) >= 50 % of the ceiling: ${read.ratio_to_ceiling === null ? 'no ceiling' : `${(read.ratio_to_ceiling * 100).toFixed(0)} %`}`);
    out.push(`${verdict(read.ratio_to_peer === null ? undefined : read.ratio_to_peer >= 3)} read by NHS number >= 3x the peer: ${read.ratio_to_peer === null ? 'no peer' : `${read.ratio_to_peer}x`}`);
  }
  const pds = by.get('pds-search');
  if (pds) {
    const at = args.patients >= 1_000_000 ? '' : ` (target is for 1,000,000 patients; this run has ${args.patients.toLocaleString('en-GB')})`;
    out.push(`${verdict(pds.p95_ms < 20)} PDS search p95 < 20 ms at one client: ${pds.p95_ms} ms${at}`);
  }
  const ingest = by.get('transaction-ingest');
  if (ingest) out.push(`${verdict((ingest.resources_per_s as number) >= 10_000)} transaction ingest >= 10,000 resources/s: ${ingest.resources_per_s} resources/s`);
  const mixed = by.get('mixed');
  if (mixed) out.push(`${verdict(mixed.rps >= 3_500 && mixed.p99_ms < 50)} mixed profile >= 3,500 req/s with p99 < 50 ms: ${mixed.rps} req/s, p99 ${mixed.p99_ms} ms (${mixed.connections} connections)`);
  return out;
}

function newestProfile(dir: string, since: number): string | undefined {
  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).map((f) => join(dir, f)).filter((f) => statSync(f).mtimeMs >= since);
  return files.sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
}

async function main(argv: string[]): Promise<number> {
  let args: BenchArgs;
  try {
    args = parseArgs(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    if (e.message) console.error(`bench: ${e.message}`);
    console.error(USAGE);
    return 2;
  }
  const started = Date.now();
  const runDir = join(CACHE, `run-${process.pid}`);
  const profileDir = join(CACHE, 'profiles');
  mkdirSync(runDir, { recursive: true });
  mkdirSync(profileDir, { recursive: true });
  let vertebraChild: ChildProcess | undefined;
  try {
    const dataset = await ensureDataset({ root: ROOT, cacheRoot: CACHE, patients: args.patients, log });
    const dataDir = join(runDir, 'data');
    cpSync(dataset, dataDir, { recursive: true }); // the run writes (audit, ingest); the cached copy stays as seeded

    const experiment = Object.entries(args.serverEnv).map(([k, v]) => `${k}=${v}`).join(' ');
    log(`starting vertebra (auth smart, audit on${experiment ? `; overridden: ${experiment}` : ''})${args.ceiling ? ', the ceiling' : ''}${args.peer ? `, and the peer (Medplum, ${args.peerPatients.toLocaleString('en-GB')} patients in memory)` : ''}`);
    const peerStart = args.peer
      ? startAnnouncing<{ port: number; patients: number; loadSeconds: number }>(process.execPath, [
        '--experimental-websocket', '--max-old-space-size=4096', join(DIST, 'bench/peer.js'), String(args.peerPatients), String(args.patients), String(SEED),
      ], { stdio: ['ignore', 'pipe', 'ignore'] })
      : undefined;
    const ceilingStart = args.ceiling ? startAnnouncing<{ port: number }>(process.execPath, [join(DIST, 'bench/ceiling.js')]) : undefined;
    const vertebra = await startVertebra(args, dataDir, runDir, profileDir);
    vertebraChild = vertebra.child;
    const ceilingUp = await ceilingStart;
    const peerUp = await peerStart;
    const ceiling: Target | undefined = ceilingUp && { name: 'ceiling', origin: `http://127.0.0.1:${ceilingUp.info.port}`, headers: vertebra.headers, child: ceilingUp.child };
    const peer: Target | undefined = peerUp && { name: 'peer', origin: `http://127.0.0.1:${peerUp.info.port}`, headers: vertebra.headers, child: peerUp.child };
    if (peerUp) log(`peer loaded ${peerUp.info.patients.toLocaleString('en-GB')} patients and their Observations in ${peerUp.info.loadSeconds} s`);

    const sample = samplePatients({ patients: args.patients, seed: SEED }, args.peerPatients, args.quick ? 200 : 2_000);
    const lines: ResultLine[] = [];
    const rows: TableRow[] = [];
    const loadBegan = Date.now();
    for (const name of args.workloads) {
      const outcome = await runWorkload(args, runDir, buildWorkload(name, sample, args.connections), { vertebra, ceiling, peer });
      rows.push(...outcome.rows);
      if (outcome.line) lines.push(outcome.line);
    }

    const profileSince = Date.now();
    await stopChild(vertebra.child, 60_000);
    if (ceiling) await stopChild(ceiling.child);
    if (peer) await stopChild(peer.child);

    const peerScope = args.peer ? `; peer: Medplum @medplum/fhir-router MemoryRepository with ${args.peerPatients.toLocaleString('en-GB')} patients, no auth, no audit, no disk` : '';
    console.log(`\nvertebra bench: ${args.patients.toLocaleString('en-GB')} patients, ${args.connections} connections (pds-search: 1), `
      + `${args.warmupSeconds} s warm-up + ${args.durationSeconds} s per workload and target, node ${process.version}${peerScope}`
      + `${experiment ? `\nEXPERIMENT: vertebra ran with ${experiment} (not as deployed)` : ''}\n`);
    console.log(formatTable(rows));
    console.log('\ntargets (goals, not assertions):');
    for (const t of targetReport(lines, args)) console.log(`  ${t}`);
    if (args.profile) {
      const file = newestProfile(profileDir, profileSince - 120_000);
      if (file) {
        const fromUs = (loadBegan - vertebra.spawnedAt) * 1000; // start-up excluded
        console.log(`\nCPU profile of the server: ${file}\n(self time from the first workload on; start-up excluded; `
          + `\`node dist/bench/profile-summary.js <file> 40 ${(fromUs / 1e6).toFixed(1)}\` for more)`);
        console.log(formatProfile(summariseProfile(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile, { top: 25, fromUs })));
      } else {
        console.log('\nno CPU profile was written (the server did not exit cleanly?)');
      }
    }
    console.log('');
    for (const line of lines) console.log(JSON.stringify(experiment ? { ...line, server_env: args.serverEnv } : line));
    log(`done in ${((Date.now() - started) / 1000).toFixed(0)} s`);
    return 0;
  } finally {
    if (vertebraChild) await stopChild(vertebraChild);
    stopAllChildren();
    // The server's log outlives the run (the data does not): it is where a failure is explained.
    try {
      cpSync(join(runDir, 'server.log'), join(CACHE, 'server-last.log'));
      log(`server log: ${join(CACHE, 'server-last.log')}`);
    } catch {
      // no log: the server never started
    }
    rmSync(runDir, { recursive: true, force: true });
  }
}

main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (err) => {
  console.error(`bench: ${err instanceof Error ? err.stack ?? err.message : err}`);
  stopAllChildren();
  process.exitCode = 1;
});
process.on('SIGINT', () => {
  stopAllChildren();
  process.exit(130);
});
