import type { Extension, OperationOutcomeIssue, Resource } from 'fhir/r4.js';
import type { FhirError } from '../fhir/errors.js';
import { ANONYMOUS, type Requester } from '../fhir/requester.js';
import type { ResourceVersion } from '../store/port.js';
import type { PatchBody } from './patch/index.js';

/**
 * Who is reading, as far as the information-governance hooks need to know: the request's
 * requester (fhir/requester.ts), which server/ passes to every render, type search and $match.
 */
export type Reader = Pick<Requester, 'privileged'>;

export const ANONYMOUS_READER: Reader = ANONYMOUS;

/**
 * Who asked for a write. 'client': a FHIR API request (the routes, batch/transaction Bundles,
 * the command-line tools acting as a client). 'server': the server's own bookkeeping, written
 * through `engine.transaction(fn, { origin: 'server' })` by server code only (today: the audit
 * trail of server/audit.ts). 'operation': a custom operation's writes on a client's behalf
 * (`engine.transaction(fn, { origin: 'operation' })`, e.g. EPS's $process-message): audited and
 * access-checked like a client's, but the hooks can tell them from a plain write of the same
 * records. Hooks may refuse client writes of a type, or of records, the server keeps itself.
 */
export type WriteOrigin = 'client' | 'server' | 'operation';

/** The write interactions a guardWrite hook is asked about (conditional forms included). */
export type WriteInteraction = 'create' | 'update' | 'patch' | 'delete';

export interface Preconditions {
  /** Version the client expects to be current (from If-Match); undefined means unconditional. */
  ifMatch?: number;
}

/** Search criteria of a conditional interaction, as ordered query pairs (`identifier=a|b`). */
export type Criteria = [string, string][];

export interface WriteResult {
  version: ResourceVersion;
  resource: Resource;
  /** True when the write created the resource (201), false when it replaced one (200). */
  created: boolean;
  /** Conditional create that found its match: nothing was written (200 with the existing resource). */
  existing?: boolean;
}

/** The generic search, as a type's own search (e.g. PDS matching) uses it to find candidates. */
export interface CandidateSearch {
  /** Current resources matching generic FHIR search parameters, at most `limit`; `more` when others were left out. */
  candidates(resourceType: string, params: [string, string][], limit: number): Promise<{ matches: ResourceVersion[]; more: boolean }>;
}

/** What a type's own search or matching answers: scored entries (best first), or an outcome instead of a Bundle. */
export type ScoredSearchResult =
  | { kind: 'outcome'; issues: OperationOutcomeIssue[] }
  | { kind: 'scored'; entries: ScoredEntry[] };

export interface ScoredEntry {
  resource: Resource;
  /** 0..1, carried in Bundle.entry.search.score. */
  score: number;
  /** Extensions of Bundle.entry.search (e.g. match-grade for $match). */
  extension?: Extension[];
}

/** One permission an operation needs from the caller, given its body (asked of the access decision by server/). */
export interface OperationAccess {
  interaction: 'read' | 'search-type' | 'create' | 'update';
  resourceType: string;
}

/** What an operation answers: an HTTP status and a resource (an OperationOutcome, a Parameters …). */
export interface OperationResult {
  status: number;
  resource: Resource;
}

/**
 * The writes an operation makes in one engine transaction, with FHIR semantics, against the
 * transaction's own view (write-session.ts's WriteSession is one).
 */
export interface OperationSession {
  /** True when Type/id has a current (not deleted) version. */
  exists(resourceType: string, id: string): Promise<boolean>;
  /** Current resources matching conditional criteria, at most `limit` (default 2). */
  matches(resourceType: string, criteria: Criteria, limit?: number): Promise<ResourceVersion[]>;
  create(resourceType: string, body: unknown, options?: { id?: string; ifNoneExist?: Criteria }): Promise<WriteResult>;
  update(resourceType: string, id: string, body: unknown, pre?: Preconditions): Promise<WriteResult>;
}

/**
 * What an operation's `run` is handed: the engine's atomic, audited transactions (engine.ts's
 * InteractionEngine is one). `origin` as for every transaction (an operation's own writes: 'operation').
 */
export interface OperationEngine {
  transaction<T>(fn: (session: OperationSession) => Promise<T>, options?: { origin?: WriteOrigin }): Promise<T>;
}

/**
 * A custom operation (`POST /$name`, `POST /Type/$name`) that a Spine mapping adds (e.g. EPS's
 * `$process-message`, `Task/$release`). `access` tells, from the body, what the caller must be
 * allowed to do: the message type decides whether it creates prescriptions or dispenses them.
 * `run` does the work; its writes go through engine.transaction so that they are atomic and audited.
 */
export interface Operation {
  /** What it does, for the CapabilityStatement. */
  documentation?: string;
  access(body: unknown): OperationAccess[];
  /**
   * The ODS code of the organisation the body says the caller acts for (e.g. the releasing
   * pharmacy); with authorization on, the token's organisation must be that one.
   */
  actsFor?(body: unknown): string | undefined;
  run(body: unknown, engine: OperationEngine): Promise<OperationResult>;
}

/**
 * Extension points through which the Spine mappings (resources/patient, resources/organization, …)
 * add their rules to the generic engine (ARCHITECTURE rule 4): the engine never tests a type name.
 * Every hook may throw a FhirError to refuse the request.
 */
export interface ResourceHooks {
  /** What this type does beyond generic FHIR, for the CapabilityStatement. */
  documentation?: string;
  /** Checks a client-chosen or URL id beyond the generic FHIR id syntax (e.g. an NHS number). */
  validateId?(id: string): void;
  /**
   * Chooses the id for a create (e.g. allocates an NHS number); default is a random UUID.
   * `isTaken` tells whether an id was ever used (deleted ones included) or is already promised to
   * another create of the same transaction.
   */
  assignId?(resource: Resource, isTaken: (id: string) => Promise<boolean>): Promise<string> | string;
  /**
   * Refuses a write interaction on this type before anything is read or written, given who asks
   * (e.g. AuditEvent: read/search only through the API, written by the server itself).
   */
  guardWrite?(interaction: WriteInteraction, origin: WriteOrigin): void;
  /** The guardWrite hook refuses every client write: the CapabilityStatement offers read and search only. */
  readOnlyApi?: boolean;
  /**
   * Business rules for a resource about to be written, after structural validation. `origin` is
   * who writes it (absent for `$validate`, which asks as a client would).
   */
  validate?(resource: Resource, origin?: WriteOrigin): Promise<void> | void;
  /**
   * Refuses a change (update, patch, delete) of a stored resource given its current version and
   * who asks (e.g. EPS prescription records change only through the EPS operations).
   */
  guardChange?(current: Resource, origin: WriteOrigin): void;
  /**
   * Shapes a resource on its way out (e.g. redaction of restricted patients). `current` is the
   * record's current version when `resource` is an older one (vread, history): a record restricted
   * now must not show what an earlier version held.
   */
  afterRead?(resource: Resource, reader: Reader, current?: Resource): Resource;
  /**
   * Throws when no reader may see this record at all, given its current version (an invalidated
   * patient): applied to vread, history, compartments and included resources.
   */
  assertVisible?(current: Resource): void;
  /** The error a read of an unknown id answers (e.g. PDS's 404 RESOURCE_NOT_FOUND coding); default a plain 404. */
  notFound?(id: string): FhirError;
  /** Ids of deleted resources are never used again (an NHS number is never reissued). */
  retiredIds?: boolean;
  /**
   * Decides what a read of the current version answers: the version itself, another one (a
   * merged record answers with its survivor, loaded with `load`), or a FhirError (invalidated).
   */
  resolveRead?(version: ResourceVersion, load: (id: string) => Promise<ResourceVersion | undefined>): Promise<ResourceVersion>;
  /**
   * Search parameters ANDed into every search of this type, given the client's own (e.g. records
   * that must never be found, or that must not be found by location).
   */
  searchCriteria?(params: [string, string][]): [string, string][];
  /**
   * Takes over a type-level search whose parameters it recognises (the PDS demographic search);
   * undefined leaves the search to the generic engine.
   */
  search?(params: [string, string][], reader: Reader, engine: CandidateSearch): Promise<ScoredSearchResult | undefined>;
  /** The type's `$match` operation (R4 patient-operation-match): the body is a Parameters resource. */
  match?(parameters: unknown, reader: Reader, engine: CandidateSearch): Promise<ScoredSearchResult>;
  /** PATCH rules of this type (e.g. the PDS form), around the generic patch of write-session. */
  patch?: {
    /** Checks the request against the current resource and returns the body to apply. */
    prepare(body: PatchBody, current: Resource, pre: Preconditions): PatchBody;
    /** Checks and completes the patched resource (e.g. ids for new list items). */
    finish?(patched: Resource, current: Resource): Resource;
  };
  /**
   * Told after a write of this type has committed (resource undefined for a delete), e.g. to
   * register a SearchParameter so that the next write is indexed with it.
   */
  afterCommit?(change: { id: string; resource?: Resource }): void;
  /** Type-level custom operations by name without the `$` (`POST /Type/$name`). */
  operations?: Record<string, Operation>;
  /**
   * A `POST /Type` whose body is an operation request in resource form (EPS posts a Task to return
   * or withdraw a prescription): the name of the type operation that handles it, or undefined
   * for an ordinary create.
   */
  createOperation?(body: unknown): string | undefined;
}

export class HookRegistry {
  private readonly byType = new Map<string, ResourceHooks>();
  private readonly systemOperations = new Map<string, Operation>();

  /** A system-level operation (`POST /$name`), by name without the `$`. */
  registerOperation(name: string, operation: Operation): void {
    if (this.systemOperations.has(name)) throw new Error(`Operation $${name} is already registered`);
    this.systemOperations.set(name, operation);
  }

  /** The system-level operations, by name. */
  systemOperationList(): [string, Operation][] {
    return [...this.systemOperations];
  }

  /** The system-level operation `name`, or with `resourceType` that type's operation. */
  operation(name: string, resourceType?: string): Operation | undefined {
    if (resourceType === undefined) return this.systemOperations.get(name);
    return this.for(resourceType).operations?.[name];
  }

  register(resourceType: string, hooks: ResourceHooks): void {
    if (this.byType.has(resourceType)) throw new Error(`Hooks for ${resourceType} are already registered`);
    this.byType.set(resourceType, hooks);
  }

  for(resourceType: string): ResourceHooks {
    return this.byType.get(resourceType) ?? {};
  }
}
