/**
 * Shared by the stores: the keyset walks behind Store.stream and Store.reindex. A walk fetches a
 * bounded batch of rows after the last row of the batch before, and ends after a short batch, so
 * nothing is held open between batches and memory stays flat. Each store renders the fetch (and,
 * for reindex, the transaction a batch runs in).
 */

/** Resources per reindex transaction (writers wait at most one batch). */
export const REINDEX_BATCH = 500;
/** Resources per stream batch. */
export const STREAM_BATCH = 1000;

/**
 * The batches of a keyset walk: `fetch(after, limit)` returns at most `limit` rows following
 * `after` (the last row of the previous batch; undefined for the first), in the walk's order.
 */
export async function* keysetBatches<R>(limit: number, fetch: (after: R | undefined, limit: number) => R[] | Promise<R[]>): AsyncGenerator<R[], void, undefined> {
  let after: R | undefined;
  for (;;) {
    const rows = await fetch(after, limit);
    if (rows.length > 0) yield rows;
    if (rows.length < limit) return;
    after = rows[rows.length - 1];
  }
}

/**
 * Store.reindex's walk in batches of REINDEX_BATCH: `batch(after, limit)` reindexes (in its own
 * transaction) the next resources after `after` in (type, id) order and returns them. Reports
 * progress after each batch against `total` (raised to what was done, should resources have been
 * created meanwhile); returns how many resources were reindexed.
 */
export async function reindexInBatches<R extends { type: string; id: string }>(
  total: number,
  onProgress: ((done: number, total: number) => void) | undefined,
  batch: (after: R | undefined, limit: number) => Promise<R[]>,
): Promise<number> {
  let done = 0;
  for await (const rows of keysetBatches(REINDEX_BATCH, batch)) {
    done += rows.length;
    onProgress?.(done, Math.max(total, done));
  }
  return done;
}
