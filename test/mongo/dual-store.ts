import { isDeepStrictEqual } from 'node:util';
import type { IndexEntry } from '../../search/index-entries.js';
import type { SearchPlan } from '../../search/plan.js';
import type { HistoryQuery, Store, StoreReader, StoreTx, WriteOp } from '../../store/port.js';

/**
 * TEST ONLY. A Store that runs every call on two stores in lockstep (the reference, SQLite, and
 * the one under test, Mongo) and records every difference: same versions, same search pages (ids,
 * order, included resources, totals, and even the cursor strings, which both adapters encode the
 * same way), same history pages, same errors (by HTTP status). It answers with the reference's
 * results, so whatever drives it (the HTTP suites) keeps working while the differences pile up in
 * `mismatches` for the test to assert empty.
 *
 * Transactions nest: the reference's transaction body opens the other's, and each tx call goes to
 * both; so both see exactly the same WriteOps (same ids, versions, timestamps, index entries).
 */

type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown };

async function attempt<T>(f: () => Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await f() };
  } catch (error) {
    return { ok: false, error };
  }
}

const statusOf = (e: unknown) => (e as { status?: unknown })?.status ?? `non-FHIR error: ${String((e as Error)?.message ?? e)}`;

export class DualStore implements Store {
  readonly mismatches: string[] = [];
  calls = 0;

  constructor(readonly reference: Store, readonly other: Store) {}

  private async both<T>(what: string, ref: () => Promise<T>, other: () => Promise<T>): Promise<T> {
    this.calls++;
    const a = await attempt(ref);
    const b = await attempt(other);
    if (a.ok && b.ok) {
      if (!isDeepStrictEqual(a.value, b.value)) {
        this.mismatches.push(`${what}\n  sqlite: ${JSON.stringify(a.value).slice(0, 2000)}\n  mongo:  ${JSON.stringify(b.value).slice(0, 2000)}`);
      }
    } else if (a.ok !== b.ok) {
      this.mismatches.push(`${what}\n  sqlite: ${a.ok ? 'ok' : `threw ${statusOf(a.error)} ${(a.error as Error).message}`}\n  mongo:  ${b.ok ? 'ok' : `threw ${statusOf(b.error)} ${(b.error as Error).message}`}`);
    } else if (!a.ok && !b.ok && statusOf(a.error) !== statusOf(b.error)) {
      this.mismatches.push(`${what}\n  sqlite threw ${statusOf(a.error)}, mongo threw ${statusOf(b.error)} (${(b.error as Error).message})`);
    }
    if (!a.ok) throw a.error;
    return a.value;
  }

  private reader(ref: StoreReader, other: StoreReader, where: string): StoreReader {
    return {
      read: (t, i) => this.both(`${where}read ${t}/${i}`, () => ref.read(t, i), () => other.read(t, i)),
      vread: (t, i, v) => this.both(`${where}vread ${t}/${i}/${v}`, () => ref.vread(t, i, v), () => other.vread(t, i, v)),
      history: (q: HistoryQuery) => this.both(`${where}history ${JSON.stringify(q)}`, () => ref.history(q), () => other.history(q)),
      search: (plan: SearchPlan) => this.both(`${where}search ${JSON.stringify(plan)}`, () => ref.search(plan), () => other.search(plan)),
    };
  }

  read(t: string, i: string) { return this.reader(this.reference, this.other, '').read(t, i); }
  vread(t: string, i: string, v: number) { return this.reader(this.reference, this.other, '').vread(t, i, v); }
  history(q: HistoryQuery) { return this.reader(this.reference, this.other, '').history(q); }
  search(plan: SearchPlan) { return this.reader(this.reference, this.other, '').search(plan); }

  transaction<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> {
    return this.reference.transaction((rtx) => this.other.transaction((otx) => {
      const tx: StoreTx = {
        ...this.reader(rtx, otx, 'in transaction: '),
        write: (op: WriteOp) => this.both(`write ${op.resourceType}/${op.id} v${op.versionId}`, () => rtx.write(op), () => otx.write(op)),
      };
      return fn(tx);
    }));
  }

  reindex(resourceType: string | undefined, extract: (json: string) => IndexEntry[], onProgress?: (done: number, total: number) => void) {
    return this.both(`reindex ${resourceType}`, () => this.reference.reindex(resourceType, extract, onProgress), () => this.other.reindex(resourceType, extract));
  }

  /** Streams the reference's resources (export is not compared call by call). */
  stream(resourceType: string, since?: number) { return this.reference.stream(resourceType, since); }

  async ping(): Promise<void> {
    await this.reference.ping();
    await this.other.ping();
  }

  async close(): Promise<void> {
    await this.reference.close();
    await this.other.close();
  }
}
