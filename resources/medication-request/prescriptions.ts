import type { MedicationRequest, Task } from 'fhir/r4.js';
import { spineError } from '../../fhir/spine-errors.js';
import type { ResourceVersion } from '../../store/port.js';
import type { OperationSession } from '../hooks.js';
import { PRESCRIPTION_ORDER_NUMBER } from './eps.js';

/**
 * The stored prescription: its tracking Task (prescription status, owner) and its line items
 * (MedicationRequests), read inside the write transaction so that a check and the write that
 * follows it see the same state (the store runs write transactions one at a time).
 */
export interface Prescription {
  task: Task;
  taskVersion: number;
  items: { request: MedicationRequest; version: number }[];
}

export async function findPrescription(session: OperationSession, shortId: string): Promise<Prescription | undefined> {
  const [found] = await session.matches('Task', [['group-identifier', `${PRESCRIPTION_ORDER_NUMBER}|${shortId}`]], 1);
  return found ? loadPrescription(session, found) : undefined;
}

export async function loadPrescription(session: OperationSession, taskVersion: ResourceVersion): Promise<Prescription> {
  const task = JSON.parse(taskVersion.json!) as Task;
  const ids = (task.basedOn ?? []).map((r) => r.reference?.replace(/^MedicationRequest\//, '')).filter((id): id is string => !!id);
  const found = await session.matches('MedicationRequest', [['_id', ids.join(',')]], ids.length + 1);
  const byId = new Map(found.map((v) => [v.id, v]));
  const items = ids.flatMap((id) => {
    const v = byId.get(id);
    return v ? [{ request: JSON.parse(v.json!) as MedicationRequest, version: v.versionId }] : [];
  });
  return { task, taskVersion: taskVersion.versionId, items };
}

export async function requirePrescription(session: OperationSession, shortId: string): Promise<Prescription> {
  const p = await findPrescription(session, shortId);
  if (!p) throw spineError(404, 'PRESCRIPTION_NOT_FOUND', `Prescription ${shortId} was not found`);
  return p;
}

/** Writes the Task and the items that changed, each against the version that was read. */
export async function savePrescription(session: OperationSession, before: Prescription, task: Task, items: MedicationRequest[]): Promise<void> {
  if (JSON.stringify(task) !== JSON.stringify(before.task)) await session.update('Task', task.id!, task, { ifMatch: before.taskVersion });
  for (const request of items) {
    const old = before.items.find((i) => i.request.id === request.id)!;
    if (JSON.stringify(old.request) === JSON.stringify(request)) continue;
    await session.update('MedicationRequest', request.id!, request, { ifMatch: old.version });
  }
}
