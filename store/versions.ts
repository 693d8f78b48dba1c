import { errors, type FhirError } from '../fhir/errors.js';
import type { WriteOp } from './port.js';

/**
 * Shared by the stores' writes: optimistic concurrency on version numbers. A write must carry
 * exactly the current version + 1 (1 for a resource that never existed); anything else is a 409.
 */

/** The 409 for `op` when the resource's current version is `current` (undefined: none). */
export function versionConflict(op: WriteOp, current: number | undefined): FhirError {
  return errors.conflict(`Version conflict on ${op.resourceType}/${op.id}: expected to write version ${(current ?? 0) + 1}, not ${op.versionId}`);
}

/** Throws the 409 unless `op` writes the version after `current`. */
export function checkNextVersion(op: WriteOp, current: number | undefined): void {
  if (op.versionId !== (current ?? 0) + 1) throw versionConflict(op, current);
}
