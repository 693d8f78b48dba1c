import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * A set of keys that each expire at a given time (seconds since the epoch), optionally kept in a
 * JSON-lines file so that it survives a restart: the revoked access tokens (by jti) and the
 * client-assertion replay cache (by client and jti) both need to outlive the process, because the
 * signing keys do and a token or assertion is otherwise valid again after a restart.
 *
 * One process owns the file (the same assumption as the embedded SQLite store). Entries are
 * appended as they are added; expired ones are dropped in memory as they are met and from the file
 * when it is compacted (at open, and when it holds many more lines than live entries).
 */
export class ExpiringSet {
  private readonly entries = new Map<string, number>();
  private linesInFile = 0;

  constructor(private readonly file?: string, private readonly now: () => number = () => Date.now() / 1000) {
    if (!file) return;
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    if (existsSync(file)) {
      for (const line of readFileSync(file, 'utf8').split('\n')) {
        if (line.trim() === '') continue;
        try {
          const { k, exp } = JSON.parse(line) as { k: unknown; exp: unknown };
          if (typeof k === 'string' && typeof exp === 'number') this.entries.set(k, Math.max(exp, this.entries.get(k) ?? 0));
        } catch { /* a torn last line after a crash: skip it */ }
      }
    }
    this.compact();
  }

  /** True while `key` is present and not expired. */
  has(key: string): boolean {
    const exp = this.entries.get(key);
    if (exp === undefined) return false;
    if (exp <= this.now()) {
      this.entries.delete(key);
      return false;
    }
    return true;
  }

  /** Adds `key` until `exp` unless it is already present; false when it was (the replay check). */
  addIfAbsent(key: string, exp: number): boolean {
    if (this.has(key)) return false;
    this.entries.set(key, exp);
    if (this.file) {
      appendFileSync(this.file, `${JSON.stringify({ k: key, exp })}\n`, { mode: 0o600 });
      this.linesInFile++;
      if (this.linesInFile > 1000 && this.linesInFile > 2 * this.entries.size) this.compact();
    }
    return true;
  }

  get size(): number {
    return this.entries.size;
  }

  private compact(): void {
    const now = this.now();
    for (const [k, exp] of this.entries) if (exp <= now) this.entries.delete(k);
    if (!this.file) return;
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, [...this.entries].map(([k, exp]) => `${JSON.stringify({ k, exp })}\n`).join(''), { mode: 0o600 });
    renameSync(tmp, this.file);
    this.linesInFile = this.entries.size;
  }
}
