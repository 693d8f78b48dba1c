/**
 * The typed index entries search/ extracts from a resource at write time (ARCHITECTURE "Index
 * model"). Both stores persist exactly these, keyed by (resource type, id, param), and render the
 * search plan's predicates against them.
 */
export type IndexEntry = IndexEntryValue & {
  /**
   * Composite parameters only: entries of one composite value (one Observation.component, say)
   * share a group number, unique within the resource, and carry param `${composite}.${i}` for
   * their i-th component. Ordinary entries have no group.
   */
  group?: number;
};

export type IndexEntryValue =
  | { kind: 'string'; param: string; value: string; exact: string }        // value: case- and accent-folded (NFD, strip diacritics, lower-case); exact: original text
  | { kind: 'token'; param: string; system: string | null; code: string | null; text: string | null } // text: folded display/CodeableConcept.text/Identifier.type text, for :text; Identifiers with type codings also yield param `${param}:of-type` entries (system/code: the type coding's, text: Identifier.value exact, not folded) for :of-type=system|code|value
  | { kind: 'date'; param: string; low: number; high: number }             // epoch ms, inclusive bounds of the value's precision (e.g. '2020' -> 2020-01-01T00:00:00.000Z .. 2020-12-31T23:59:59.999Z); dateTimes without a zone are taken as UTC; Period start/end (open ends -> -8.64e15 / 8.64e15); Timing.event
  | { kind: 'number'; param: string; value: number }
  | { kind: 'quantity'; param: string; value: number; system: string | null; code: string | null; unit: string | null }
  | { kind: 'reference'; param: string; targetType: string | null; targetId: string | null; targetVersion: string | null; url: string | null } // relative 'Patient/123' and '.../Patient/123/_history/2' parsed into type/id/version; absolute URLs: keep url and also parse trailing Type/id when the Type is an R4 resource type; canonical values: url (with |version stripped into targetVersion); Reference.identifier only -> skip here (a token entry with param `${param}:identifier` instead)
  | { kind: 'uri'; param: string; value: string };
