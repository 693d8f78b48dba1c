import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * Reads a V8 .cpuprofile (what `node --cpu-prof` writes) and ranks functions by self time, so
 * that `npm run bench -- --profile` can say where the server's CPU went without opening DevTools.
 * Also usable alone: `node dist/bench/profile-summary.js <file.cpuprofile> [top] [from seconds]`.
 */

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

export interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface SummaryOptions {
  top?: number;
  /**
   * Count only samples taken this many microseconds or more after the profile started: the
   * harness passes the time the load began, so that start-up (schema compilation, definitions)
   * does not drown the request path.
   */
  fromUs?: number;
}

export type Origin = 'vertebra' | 'dependency' | 'node' | 'v8';

export interface FunctionCost {
  name: string;
  /** file:line, relative to the repository when it is ours or a dependency */
  where: string;
  origin: Origin;
  selfMs: number;
  /** Share of the busy time (all samples except idle). */
  selfPercent: number;
}

export interface ProfileSummary {
  busyMs: number;
  idleMs: number;
  /** Busy time by origin, in percent. */
  byOrigin: Record<Origin, number>;
  top: FunctionCost[];
}

function originOf(url: string, name: string): Origin {
  if (!url) return name.startsWith('(') ? 'v8' : 'node';
  if (url.includes('/node_modules/')) return 'dependency';
  if (url.startsWith('node:') || !url.includes('/')) return 'node';
  return 'vertebra';
}

function shortWhere(url: string, line: number): string {
  if (!url) return '';
  const path = url.replace(/^file:\/\//, '');
  const nm = path.lastIndexOf('/node_modules/');
  const short = nm >= 0 ? path.slice(nm + '/node_modules/'.length) : path.includes('/dist/') ? path.slice(path.lastIndexOf('/dist/') + 1) : path;
  return `${short}:${line + 1}`;
}

/** Self time per function (samples attributed to the innermost frame), largest first. */
export function summariseProfile(profile: CpuProfile, { top = 20, fromUs = 0 }: SummaryOptions = {}): ProfileSummary {
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  let at = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    at += profile.timeDeltas[i] ?? 0;
    if (at < fromUs) continue;
    const id = profile.samples[i];
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const byFunction = new Map<string, { name: string; where: string; origin: Origin; us: number }>();
  let idleUs = 0;
  let busyUs = 0;
  for (const [id, us] of selfUs) {
    const { functionName, url, lineNumber } = nodes.get(id)!.callFrame;
    if (functionName === '(idle)') {
      idleUs += us;
      continue;
    }
    busyUs += us;
    const name = functionName || '(anonymous)';
    const where = shortWhere(url, lineNumber);
    const key = `${name}\0${where}`;
    const entry = byFunction.get(key) ?? { name, where, origin: originOf(url, name), us: 0 };
    entry.us += us;
    byFunction.set(key, entry);
  }
  const byOrigin: Record<Origin, number> = { vertebra: 0, dependency: 0, node: 0, v8: 0 };
  for (const f of byFunction.values()) byOrigin[f.origin] += f.us;
  const pct = (us: number) => (busyUs > 0 ? Math.round((us / busyUs) * 1000) / 10 : 0);
  for (const k of Object.keys(byOrigin) as Origin[]) byOrigin[k] = pct(byOrigin[k]);
  const ranked = [...byFunction.values()].sort((a, b) => b.us - a.us).slice(0, top);
  return {
    busyMs: Math.round(busyUs / 1000),
    idleMs: Math.round(idleUs / 1000),
    byOrigin,
    top: ranked.map((f) => ({ name: f.name, where: f.where, origin: f.origin, selfMs: Math.round(f.us / 100) / 10, selfPercent: pct(f.us) })),
  };
}

export function formatProfile(summary: ProfileSummary): string {
  const lines = [
    `busy ${summary.busyMs} ms, idle ${summary.idleMs} ms; busy time by origin: `
      + Object.entries(summary.byOrigin).map(([k, v]) => `${k} ${v}%`).join(', '),
    ' self %   self ms  origin      function (file:line)',
  ];
  for (const f of summary.top) {
    lines.push(`${f.selfPercent.toFixed(1).padStart(6)}  ${f.selfMs.toFixed(0).padStart(8)}  ${f.origin.padEnd(10)}  ${f.name}${f.where ? ` (${f.where})` : ''}`);
  }
  return lines.join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const file = process.argv[2];
  if (!file) {
    console.error('usage: node dist/bench/profile-summary.js <file.cpuprofile> [top] [from seconds after start]');
    process.exit(2);
  }
  const [top, fromSeconds] = [Number(process.argv[3] ?? 25), Number(process.argv[4] ?? 0)];
  console.log(formatProfile(summariseProfile(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile, { top, fromUs: fromSeconds * 1e6 })));
}
