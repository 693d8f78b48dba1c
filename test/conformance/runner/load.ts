import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { ScriptShape } from './types.js';

export interface LoadedScript {
  file: string;
  script: ScriptShape;
}

/** Every `*.json` TestScript directly in `dir` (sorted by file name); other JSON files are ignored. */
export function loadScripts(dir: string): LoadedScript[] {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) return [];
  const out: LoadedScript[] = [];
  for (const name of readdirSync(dir).filter((n) => n.endsWith('.json')).sort()) {
    const file = join(dir, name);
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8'));
    } catch (e) {
      throw new Error(`${file}: not valid JSON (${(e as Error).message})`);
    }
    if ((parsed as { resourceType?: string }).resourceType === 'TestScript') out.push({ file, script: parsed as ScriptShape });
  }
  return out;
}
