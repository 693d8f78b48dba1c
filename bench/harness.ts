import { createHash } from 'node:crypto';

/**
 * The pure parts of `npm run bench` (no processes, no sockets, no clock), so that they can be
 * unit-tested: argument parsing, the dataset fingerprint, latency statistics, the ratios and the
 * result line, and the table. bench/run.ts does the I/O around them.
 */

/** Bump when bench/clinical.ts changes what the cached dataset holds beyond the seed population. */
export const BENCH_DATA_VERSION = 1;

export const WORKLOADS = [
  'read-by-nhs-number',
  'pds-search',
  'identifier-search',
  'chained-search',
  'transaction-ingest',
  'history',
  'everything',
  'mixed',
] as const;
export type WorkloadName = (typeof WORKLOADS)[number];

export interface BenchArgs {
  patients: number;
  quick: boolean;
  profile: boolean;
  workloads: WorkloadName[];
  /** Measured seconds per workload and target, after a warm-up of warmupSeconds. */
  durationSeconds: number;
  warmupSeconds: number;
  /** Concurrent connections of the throughput workloads (pds-search always runs at one client). */
  connections: number;
  /** Whether to run the two references (the bare-node ceiling and the Medplum peer). */
  ceiling: boolean;
  peer: boolean;
  /** Patients loaded into the peer (its in-memory store is filled from the same generator). */
  peerPatients: number;
  /** --env KEY=VALUE: extra environment for the vertebra server, for experiments (e.g. AUDIT=off); printed with the results. */
  serverEnv: Record<string, string>;
}

export class UsageError extends Error {}

export const USAGE = `usage: npm run bench -- [--quick] [--patients N] [--workloads a,b] [--profile]
       [--duration S] [--warmup S] [--connections C] [--peer-patients N] [--no-peer] [--no-ceiling]
       [--env KEY=VALUE ...  (vertebra's environment, for experiments: e.g. --env AUDIT=off)]
workloads: ${WORKLOADS.join(', ')}`;

const QUICK_PATIENTS = 1_000;
const DEFAULT_PATIENTS = 100_000;

/** Parses the command line; throws UsageError with a reason for anything unknown or malformed. */
export function parseArgs(argv: readonly string[]): BenchArgs {
  const quick = argv.includes('--quick');
  const args: BenchArgs = {
    patients: quick ? QUICK_PATIENTS : DEFAULT_PATIENTS,
    quick,
    profile: false,
    workloads: [...WORKLOADS],
    // --quick is a smoke run for CI (under two minutes with the build): short, noisy numbers.
    durationSeconds: quick ? 1.5 : 10,
    warmupSeconds: quick ? 0.5 : 3,
    connections: 10,
    ceiling: true,
    peer: true,
    peerPatients: NaN, // resolved below: the same as patients unless given
    serverEnv: {},
  };
  const whole = (flag: string, raw: string | undefined, min: number): number => {
    const n = Number(raw?.replace(/[_,]/g, ''));
    if (raw === undefined || raw.startsWith('--') || !Number.isSafeInteger(n) || n < min) {
      throw new UsageError(`${flag} needs a whole number of at least ${min}, not '${raw ?? ''}'`);
    }
    return n;
  };
  const seconds = (flag: string, raw: string | undefined, min: number): number => {
    const n = Number(raw);
    if (raw === undefined || raw.trim() === '' || !Number.isFinite(n) || n < min) throw new UsageError(`${flag} needs a number of seconds of at least ${min}, not '${raw ?? ''}'`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    switch (flag) {
      case '--quick': break;
      case '--profile': args.profile = true; break;
      case '--no-peer': args.peer = false; break;
      case '--no-ceiling': args.ceiling = false; break;
      case '--patients': args.patients = whole(flag, argv[++i], 1); break;
      case '--peer-patients': args.peerPatients = whole(flag, argv[++i], 1); break;
      case '--duration': args.durationSeconds = seconds(flag, argv[++i], 0.5); break;
      case '--warmup': args.warmupSeconds = seconds(flag, argv[++i], 0); break;
      case '--connections': args.connections = whole(flag, argv[++i], 1); break;
      case '--workloads': args.workloads = selectWorkloads(argv[++i]); break;
      case '--env': {
        const m = /^([A-Z][A-Z0-9_]*)=(.*)$/s.exec(argv[++i] ?? '');
        if (!m) throw new UsageError(`--env needs KEY=VALUE, not '${argv[i] ?? ''}'`);
        args.serverEnv[m[1]] = m[2];
        break;
      }
      case '--help': case '-h': throw new UsageError('');
      default: throw new UsageError(`unknown argument '${flag}'`);
    }
  }
  if (Number.isNaN(args.peerPatients)) args.peerPatients = args.patients;
  args.peerPatients = Math.min(args.peerPatients, args.patients);
  return args;
}

/** `a,b` → the named workloads in their canonical order; an unknown name is a usage error. */
export function selectWorkloads(list: string | undefined): WorkloadName[] {
  if (!list || list.startsWith('--')) throw new UsageError(`--workloads needs a comma-separated list: ${WORKLOADS.join(', ')}`);
  const names = list.split(',').map((s) => s.trim()).filter(Boolean);
  for (const name of names) {
    if (!(WORKLOADS as readonly string[]).includes(name)) throw new UsageError(`unknown workload '${name}' (known: ${WORKLOADS.join(', ')})`);
  }
  return WORKLOADS.filter((w) => names.includes(w));
}

export interface FingerprintInput {
  patients: number;
  /** The text of the modules that generate the data (seed population, PRNG, clinical resources). */
  generatorSources: readonly string[];
  /** The SQLite schema version the data was written with. */
  schemaVersion: number;
  dataVersion?: number;
}

/**
 * The cache key of a seeded dataset: the same patient count, generator code and schema give the
 * same folder, and any change to one of them a new one (so a stale database is never reused).
 */
export function fingerprint(input: FingerprintInput): string {
  const hash = createHash('sha256');
  hash.update(JSON.stringify({ patients: input.patients, schema: input.schemaVersion, data: input.dataVersion ?? BENCH_DATA_VERSION }));
  for (const source of input.generatorSources) hash.update('\0').update(source);
  return `p${input.patients}-${hash.digest('hex').slice(0, 12)}`;
}

/** The value below which p % of the sorted samples fall (nearest rank); 0 for no samples. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

/** What one load run measured, as the load generator reports it. */
export interface LoadStats {
  requests: number;
  seconds: number;
  rps: number;
  p50_ms: number;
  p95_ms: number;
  p99_ms: number;
  /** Connection errors, timeouts and non-2xx answers together. */
  errors: number;
  /** How many answers of each status class, e.g. { "2xx": 900, "4xx": 3 }. */
  statuses: Record<string, number>;
}

/** Statistics of one run from its per-response latencies (ms) and counts. */
export function summarise(latenciesMs: readonly number[], seconds: number, errors: number, statuses: Record<string, number> = {}): LoadStats {
  const sorted = Float64Array.from(latenciesMs).sort();
  const round = (x: number) => Math.round(x * 100) / 100;
  return {
    requests: latenciesMs.length,
    seconds: round(seconds),
    rps: seconds > 0 ? Math.round((latenciesMs.length / seconds) * 10) / 10 : 0,
    p50_ms: round(percentile(sorted, 50)),
    p95_ms: round(percentile(sorted, 95)),
    p99_ms: round(percentile(sorted, 99)),
    errors,
    statuses,
  };
}

/** ours / reference throughput, to three decimals; null when the reference did not run or served nothing. */
export function ratio(ours: LoadStats | undefined, reference: LoadStats | undefined): number | null {
  if (!ours || !reference || !(reference.rps > 0)) return null;
  return Math.round((ours.rps / reference.rps) * 1000) / 1000;
}

export interface ResultLine {
  workload: string;
  rps: number;
  p50_ms: number;
  p95_ms: number;
  p99_ms: number;
  errors: number;
  ratio_to_ceiling: number | null;
  ratio_to_peer: number | null;
  [extra: string]: unknown;
}

/** The one JSON line per workload on stdout: the fixed fields first, in this order, then extras. */
export function resultLine(workload: string, ours: LoadStats, ceiling?: LoadStats, peer?: LoadStats, extra: Record<string, unknown> = {}): ResultLine {
  return {
    workload,
    rps: ours.rps,
    p50_ms: ours.p50_ms,
    p95_ms: ours.p95_ms,
    p99_ms: ours.p99_ms,
    errors: ours.errors,
    ratio_to_ceiling: ratio(ours, ceiling),
    ratio_to_peer: ratio(ours, peer),
    ...extra,
  };
}

export interface TableRow {
  workload: string;
  target: 'vertebra' | 'ceiling' | 'peer';
  stats?: LoadStats;
  /** Why there is no measurement (e.g. the peer cannot run this workload). */
  note?: string;
}

/** A fixed-width text table of every measurement, one row per workload and target. */
export function formatTable(rows: readonly TableRow[]): string {
  const head = ['workload', 'target', 'req/s', 'p50 ms', 'p95 ms', 'p99 ms', 'errors', 'note'];
  const body = rows.map((r) => [
    r.workload, r.target,
    r.stats ? r.stats.rps.toFixed(1) : '-',
    r.stats ? r.stats.p50_ms.toFixed(2) : '-',
    r.stats ? r.stats.p95_ms.toFixed(2) : '-',
    r.stats ? r.stats.p99_ms.toFixed(2) : '-',
    r.stats ? String(r.stats.errors) : '-',
    r.note ?? '',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const numeric = new Set([2, 3, 4, 5, 6]);
  const line = (cells: string[]) => cells.map((c, i) => (numeric.has(i) ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}

/** A deterministic shuffle (Fisher-Yates with the given generator), for request mixes. */
export function shuffle<T>(items: T[], rand: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}

/** Exactly `total` kinds in the given proportions (largest remainders), e.g. 70/20/10 of 1000. */
export function mix<K extends string>(weights: Record<K, number>, total: number): K[] {
  const kinds = Object.keys(weights) as K[];
  const sum = kinds.reduce((s, k) => s + weights[k], 0);
  const exact = kinds.map((k) => (weights[k] / sum) * total);
  const counts = exact.map(Math.floor);
  let left = total - counts.reduce((s, c) => s + c, 0);
  const byRemainder = kinds.map((_, i) => i).sort((a, b) => (exact[b] - counts[b]) - (exact[a] - counts[a]));
  for (const i of byRemainder) if (left-- > 0) counts[i]++;
  return kinds.flatMap((k, i) => Array<K>(counts[i]).fill(k));
}
