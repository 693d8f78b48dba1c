import { randomBytes } from 'node:crypto';

/**
 * A version 7 UUID (RFC 9562): 48 bits of Unix milliseconds, then 74 random bits. The ids the
 * server chooses for creates are these rather than random (v4) UUIDs because every store index
 * keyed by id (the SQLite `*_entries` indexes, the resources table) then grows at its end: a group
 * commit dirties a few pages instead of one page per index row scattered through the B-trees, which
 * is most of the cost of writing an AuditEvent on every read. Still unguessable (74 random bits);
 * the time it shows is the resource's meta.lastUpdated anyway.
 */
export function timeOrderedUuid(now: number = Date.now()): string {
  const b = randomBytes(16);
  b.writeUIntBE(now, 0, 6);
  b[6] = (b[6] & 0x0f) | 0x70; // version 7
  b[8] = (b[8] & 0x3f) | 0x80; // RFC 9562 variant
  const hex = b.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
