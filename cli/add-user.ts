import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { AccountStore } from '../auth/accounts.js';
import { loadConfig } from '../server/config.js';

/**
 * `npm run auth:add-user -- --username u --fhir-user Practitioner/x --role R8000 [--role R8001]
 * [--patient 9000000009 ...] [--name "Dr Jones"] [--password p]`: adds (or replaces) a staff
 * account in `<DATA_DIR>/auth/accounts.json` for the embedded SMART login. Without --password it
 * is asked for on the terminal (not echoed). Restart the server to pick up changes.
 */

const USAGE = 'usage: npm run auth:add-user -- --username U --fhir-user Practitioner/ID --role R8000 [--role ...] [--patient ID ...] [--name NAME] [--password P]';

function parse(argv: string[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    if (!/^--(username|fhir-user|role|patient|name|password)$/.test(flag) || argv[i + 1] === undefined) throw new Error(`unexpected argument '${flag}'`);
    (out[flag.slice(2)] ??= []).push(argv[++i]);
  }
  return out;
}

function askPassword(prompt: string): Promise<string> {
  return new Promise((resolve) => {
    const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: true });
    const write = (rl as unknown as { _writeToOutput: (s: string) => void });
    rl.question(prompt, (answer) => { rl.close(); process.stdout.write('\n'); resolve(answer); });
    write._writeToOutput = (s: string) => { if (s.startsWith(prompt)) process.stdout.write(prompt); };
  });
}

async function main(): Promise<void> {
  let args: Record<string, string[]>;
  try {
    args = parse(process.argv.slice(2));
    if (!args.username?.[0] || !args['fhir-user']?.[0] || !args.role?.length) throw new Error('--username, --fhir-user and at least one --role are required');
  } catch (err) {
    console.error(`${(err as Error).message}\n${USAGE}`);
    process.exitCode = 2;
    return;
  }
  const config = loadConfig(process.env);
  const password = args.password?.[0] ?? await askPassword('Password: ');
  const store = new AccountStore(join(config.dataDir, 'auth', 'accounts.json'));
  const account = await store.put({
    username: args.username[0], password, fhirUser: args['fhir-user'][0], roles: args.role,
    patients: args.patient, displayName: args.name?.[0],
  });
  console.log(`account '${account.username}' saved in ${store.file} (fhirUser ${account.fhirUser}, roles ${account.roles.join(', ')}); restart the server to use it`);
}

main().catch((err) => {
  console.error(`auth:add-user: ${(err as Error).message}`);
  process.exitCode = 1;
});
