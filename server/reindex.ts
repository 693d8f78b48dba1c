import type { Parameters } from 'fhir/r4.js';
import type { InteractionEngine } from '../resources/engine.js';
import { sendFhir } from './representation.js';
import type { Exchange } from './route-table.js';

/**
 * `$reindex` (system or type level): recomputes the search index of stored resources with the
 * parameters now in force, e.g. after a custom SearchParameter was created. Runs in batches that
 * each take the writer briefly, so other requests proceed meanwhile; answers when done with the
 * count, the time taken and the progress points reached.
 */
export function reindexHandler(engine: InteractionEngine) {
  return async ({ req, res, request }: Exchange): Promise<void> => {
    const resourceType = request.type;
    const started = Date.now();
    const progress: string[] = [];
    const count = await engine.reindex(resourceType, (done, total) => {
      // Keep the response small: record roughly every tenth of the way, and the end.
      if (done === total || progress.length === 0 || done / total >= (progress.length + 1) / 10) progress.push(`${done}/${total}`);
    });
    const body: Parameters = {
      resourceType: 'Parameters',
      parameter: [
        { name: 'count', valueInteger: count },
        { name: 'elapsedMs', valueInteger: Date.now() - started },
        ...(resourceType ? [{ name: 'resourceType', valueCode: resourceType }] : []),
        ...progress.map((p) => ({ name: 'progress', valueString: p })),
      ],
    };
    sendFhir(req, res, 200, body);
  };
}
