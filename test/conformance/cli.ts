import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';
import { formatReport, runTestScript, summaryLine } from './runner/runner.js';
import { loadScripts } from './runner/load.js';

/**
 * npm run conformance -- --base URL [--token T] [--dir test/conformance/scripts]
 * Runs every TestScript in the directory against the server; exits 1 when anything failed.
 */
function usage(message?: string): never {
  if (message) console.error(message);
  console.error('usage: npm run conformance -- --base URL [--token T] [--dir DIR]');
  process.exit(2);
}

function parseArgs(argv: string[]): { base: string; token?: string; dir: string } {
  let base: string | undefined;
  let token: string | undefined;
  let dir = fileURLToPath(new URL('../../../test/conformance/scripts', import.meta.url));
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined) usage(`${flag} needs a value`);
      return v;
    };
    if (flag === '--base') base = value();
    else if (flag === '--token') token = value();
    else if (flag === '--dir') dir = resolve(process.cwd(), value());
    else if (flag === '--help' || flag === '-h') usage();
    else usage(`unknown argument ${arg}`);
  }
  if (!base) usage('--base is required');
  return { base, token, dir };
}

async function main(): Promise<void> {
  const { base, token, dir } = parseArgs(process.argv.slice(2));
  const scripts = loadScripts(dir);
  if (scripts.length === 0) {
    console.error(`no TestScripts found in ${dir}`);
    process.exit(1);
  }
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  let broken = 0;
  for (const { file, script } of scripts) {
    const report = await runTestScript(script, { base, token, fixtureDir: dir });
    console.log(`${report.name} (${file})`);
    for (const line of formatReport(report)) console.log(line);
    passed += report.passed;
    failed += report.failed;
    skipped += report.skipped;
    if (report.setup.status === 'fail') broken++;
  }
  console.log('');
  console.log(`${scripts.length} scripts: ${summaryLine(passed, failed, skipped)}${broken ? ` (${broken} scripts failed setup)` : ''}`);
  process.exit(failed > 0 || broken > 0 ? 1 : 0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
