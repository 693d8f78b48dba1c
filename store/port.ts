import type { IndexEntry } from '../search/index-entries.js';
import type { SearchPlan } from '../search/plan.js';

/**
 * The persistence port. Adapters (store/sqlite, store/mongo) implement it; nothing above store/
 * knows which one is in use. FHIR semantics (what If-Match means, when a read is a 410) are decided
 * by the engine in resources/; a store keeps versions and renders queries.
 */

export type WriteMethod = 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** One version of one resource, as stored. */
export interface ResourceVersion {
  resourceType: string;
  id: string;
  versionId: number;
  /** ISO 8601 instant with milliseconds, UTC. */
  lastUpdated: string;
  /** True for the tombstone version written by a delete. */
  deleted: boolean;
  /** The interaction that produced this version (history's Bundle.entry.request.method). */
  method: WriteMethod;
  /** The resource JSON exactly as stored (includes meta.versionId/lastUpdated); absent for tombstones. */
  json?: string;
}

export interface WriteOp {
  resourceType: string;
  id: string;
  /** Must be exactly one more than the current version (1 for a new resource): optimistic concurrency. */
  versionId: number;
  lastUpdated: string;
  method: WriteMethod;
  /** Serialized resource; undefined writes a tombstone (delete). */
  json?: string;
  /** Search index entries for the new version; ignored for tombstones. */
  entries: IndexEntry[];
}

export interface HistoryQuery {
  resourceType?: string;
  id?: string;
  /** Only versions written at or after this instant (epoch ms). */
  since?: number;
  /** Only versions current at some point within [low, high] (epoch ms, inclusive). */
  at?: { low: number; high: number };
  count: number;
  /** Opaque cursor from a previous page's nextCursor. */
  cursor?: string;
}

export interface HistoryPage {
  /** Newest first. */
  versions: ResourceVersion[];
  /** Present when more versions follow. */
  nextCursor?: string;
  /** All versions matching the query (ignoring count and cursor). */
  total: number;
}

export interface SearchResult {
  /** The page of matches, in the plan's sort order (current versions, never tombstones). */
  matches: ResourceVersion[];
  /** Resources brought in by _include/_revinclude (current versions; none repeated, none a match). */
  included: ResourceVersion[];
  /** Number of matches across all pages: always for total 'accurate'; may be absent otherwise. */
  total?: number;
  /** Opaque cursors for the following and the preceding page, when there is one. */
  nextCursor?: string;
  previousCursor?: string;
}

export interface StoreReader {
  /** The current version (a tombstone if deleted), or undefined if the resource never existed. */
  read(resourceType: string, id: string): Promise<ResourceVersion | undefined>;
  vread(resourceType: string, id: string, versionId: number): Promise<ResourceVersion | undefined>;
  history(query: HistoryQuery): Promise<HistoryPage>;
  /**
   * Renders and runs a search plan. Throws a 400 FhirError for a cursor it did not issue or that
   * belongs to another query.
   */
  search(plan: SearchPlan): Promise<SearchResult>;
}

export interface StoreTx extends StoreReader {
  /** Writes one version with its index entries. Throws a 409 FhirError if versionId is not current+1. */
  write(op: WriteOp): Promise<void>;
}

export interface Store extends StoreReader {
  /**
   * Runs fn in one atomic, durable transaction: everything it writes commits together when fn
   * resolves (and is on disk before the returned promise resolves), or nothing does if it throws.
   * Reads inside fn see fn's own writes; reads outside never see uncommitted data.
   */
  transaction<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T>;
  /**
   * Recomputes the index entries of the current versions of `resourceType` (every type when
   * undefined) with `extract`, in batches (each its own transaction, so writers are not held up
   * for long), without creating versions. Reports progress after each batch; returns how many
   * resources were reindexed.
   */
  reindex(
    resourceType: string | undefined,
    extract: (json: string) => IndexEntry[],
    onProgress?: (done: number, total: number) => void,
  ): Promise<number>;
  /**
   * The current, non-deleted resources of `resourceType` (for export), those last updated at or
   * after `since` (epoch ms) when given, in id order. Fetched in batches with keyset paging, so
   * memory stays flat and no read is held open between batches: a resource written meanwhile
   * appears at most once (in the version current when its batch was read), or not at all if it
   * sorts before the batch already read.
   */
  stream(resourceType: string, since?: number): AsyncIterable<ResourceVersion>;
  /** Resolves when the store can serve requests; throws otherwise (readiness probe). */
  ping(): Promise<void>;
  close(): Promise<void>;
}
