import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';

/**
 * Child-process plumbing of the harness: every process it starts is registered here and ended by
 * its own pid when the harness exits, however it exits.
 */

const children = new Set<ChildProcess>();

export function startChild(command: string, args: string[], options: SpawnOptions = {}): ChildProcess {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'], ...options });
  children.add(child);
  child.on('exit', () => children.delete(child));
  return child;
}

/** SIGTERM, then waits for the exit (a profiled server writes its .cpuprofile as it exits). */
export async function stopChild(child: ChildProcess, timeoutMs = 15_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  await exited;
  clearTimeout(timer);
}

export function stopAllChildren(): void {
  for (const child of children) child.kill('SIGTERM');
}

/** Starts a child that announces itself with one JSON line on stdout, and returns that line. */
export function startAnnouncing<T>(command: string, args: string[], options: SpawnOptions = {}, timeoutMs = 300_000): Promise<{ child: ChildProcess; info: T }> {
  const child = startChild(command, args, options);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${args.join(' ')} did not start within ${timeoutMs / 1000} s`)), timeoutMs);
    const lines = createInterface({ input: child.stdout! });
    lines.once('line', (line) => {
      clearTimeout(timer);
      try {
        resolve({ child, info: JSON.parse(line) as T });
      } catch {
        reject(new Error(`${args.join(' ')} printed '${line.slice(0, 200)}' instead of its JSON announcement`));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${args.join(' ')} exited with ${code} before it was ready`));
    });
  });
}

/** Runs a child to completion and returns its stdout; rejects on a non-zero exit. */
export function runChild(command: string, args: string[], options: SpawnOptions = {}): Promise<string> {
  const child = startChild(command, args, options);
  const out: Buffer[] = [];
  child.stdout?.on('data', (c: Buffer) => out.push(c));
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => {
      if (code === 0) resolve(Buffer.concat(out).toString('utf8'));
      else reject(new Error(`${[command, ...args].join(' ')} exited with ${code}`));
    });
  });
}

/** A port that was free a moment ago (the server is told it through PORT). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

/** Polls url until it answers 200, or fails after timeoutMs or when the child exits. */
export async function waitReady(url: string, child: ChildProcess, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`the server exited with ${child.exitCode} during start-up`);
    try {
      const res = await fetch(url);
      await res.arrayBuffer();
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} was not ready within ${timeoutMs / 1000} s`);
}
