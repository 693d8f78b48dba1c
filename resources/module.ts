import type { AuditEvent, Resource } from 'fhir/r4.js';
import type { FhirInteraction, FhirLevel, FhirRequest } from '../fhir/request.js';
import type { Requester } from '../fhir/requester.js';
import type { SearchParameterRegistry } from '../search/registry.js';
import type { InteractionEngine } from './engine.js';
import type { HookRegistry } from './hooks.js';

/**
 * The one interface through which a Spine module (PDS, ODS, SDS, EPS, SCR, the audit trail, and
 * those to come) plugs into the server: its engine hooks and operations (`register`), the requests
 * it answers itself (`routes`), the narrowing it puts on what a requester may see (`restrictions`),
 * and what it adds to the audit trail. server/ knows the modules only through this interface; the
 * list of modules is assembled in resources/spine.ts.
 *
 * Nothing here speaks HTTP: a module route gets a ModuleCall (the parsed request, who asks, its
 * headers and body) and answers a status and a resource; server/ does the bytes.
 */
export interface SpineModule {
  /** A short name for logs and messages ('pds', 'scr', …). */
  name: string;
  /** Registers the module's engine hooks, operations and search parameters. */
  register?(hooks: HookRegistry, options: ModuleOptions): void;
  /** Requests the module answers itself, tried before the generic interactions. */
  routes?: ModuleRoute[];
  /** What the module narrows in the access of some requesters (e.g. a privacy officer's view of AuditEvent). */
  restrictions?: AccessRestriction[];
  /** The audit trail's records (exactly one module provides them). */
  audit?: AuditRecords;
  /** Resource types whose reads are not themselves audited (reading the audit trail must not grow it). */
  unaudited?: string[];
  /** Predicates the authorization server needs, which only a module can answer. */
  identity?: Partial<IdentityServices>;
}

/** What a module's registration is given: the search parameters in force and the Spine options (PDS=off, the NHS number range). */
export interface ModuleOptions {
  registry: SearchParameterRegistry;
  /** PDS=off leaves Patient generic (readable ids for the generic FHIR test suites). */
  pds: boolean;
  /** The NHS numbers the PDS allocates from (inclusive, ten digits each). */
  nhsNumberRange: { from: string; to: string };
}

/** The permission a route or a call needs, asked of the access decision. */
export interface AccessNeed {
  interaction: 'read' | 'search-type' | 'create' | 'update' | 'operation';
  resourceTypes: string[];
  /** An update that may create its target (needs c as well as u). */
  creates?: boolean;
}

/** A request a module answers instead of the generic interaction (R4 paths the Spine API gives its own meaning). */
export interface ModuleRoute {
  interaction: FhirInteraction;
  /** The resource type it serves (the searched type for searches); absent: system level. */
  type?: string;
  /** Operations: the name (without `$`), the levels and the methods it answers. */
  operation?: string;
  level?: FhirLevel;
  methods?: readonly string[];
  /** What the access decision must allow; absent, the interaction's own need on the path's type. */
  access?: AccessNeed;
  /** Takes the request only when this holds (else the generic interaction serves it). */
  when?(call: ModuleCall): boolean;
  /** What it does, for the CapabilityStatement (operations). */
  documentation?: string;
  handle(call: ModuleCall): Promise<ModuleAnswer>;
}

/** A request as a module route sees it. */
export interface ModuleCall {
  request: FhirRequest;
  /** The query's parameters, in order. */
  params: [string, string][];
  who: Requester;
  /** True when a token was verified (AUTH=smart); false with AUTH=off. */
  authenticated: boolean;
  requestId: string;
  /** The FHIR base the client used. */
  baseUrl: string;
  engine: InteractionEngine;
  header(name: string): string | undefined;
  /** The request body as JSON (400/415 when it is not FHIR JSON). */
  body(): unknown;
  /** Prefer: return= */
  returnMinimal: boolean;
  /**
   * Asks the access decision for what the call touches beyond its path (an SCR upload creates a
   * Composition). Throws 403 when one is not allowed; answers whether any is restricted to a
   * patient's compartment or by v2 query constraints. AUTH=off: allowed, unrestricted.
   */
  authorize(...needs: AccessNeed[]): { restricted: boolean };
  /** The history Bundle of one instance, paged and shaped as the request asks (the generic history). */
  instanceHistory(resourceType: string, id: string): Promise<Resource>;
}

export interface ModuleAnswer {
  status: number;
  /** Absent: no body (Prefer: return=minimal). */
  resource?: Resource;
}

/**
 * A narrowing of some requesters' access to one type: extra search constraints ANDed into every
 * search and single-resource check of it. Where they cannot be applied (Bundle entries, included
 * resources), the access is refused or the resources left out.
 */
export interface AccessRestriction {
  resourceType: string;
  /** Who it applies to, and why (for messages: 'a privacy officer'). */
  appliesTo(who: Requester): boolean;
  describe: string;
  /** The constraints for this requester; throws a FhirError (403) when they cannot be worked out. */
  constraints(who: Requester, header: (name: string) => string | undefined, engine: InteractionEngine): Promise<[string, string][]>;
}

/** R4 restful-interaction codes used as AuditEvent.subtype. */
export type RestInteraction =
  | 'read' | 'vread' | 'update' | 'patch' | 'delete' | 'history' | 'history-instance' | 'history-type' | 'history-system'
  | 'create' | 'search' | 'search-type' | 'search-system' | 'capabilities' | 'transaction' | 'batch' | 'operation';

/** One audited access, as the server knows it. */
export interface AuditInput {
  interaction: RestInteraction;
  /** When the access happened (ISO instant). */
  recorded: string;
  /** The HTTP status answered: < 400 success, 4xx minor failure (denials included), 5xx serious failure. */
  status: number;
  /** A short, data-free explanation of a failure (e.g. the denial reason). */
  outcomeDesc?: string;
  /** The OAuth client (token `client_id`); absent for requests without a valid token. */
  clientId?: string;
  /** The user on whose behalf the client acts (token `fhirUser`, RBAC role codes). */
  user?: { fhirUser?: string; roles: string[] };
  /** AUTH=off or no valid token: the requestor is recorded as this display text instead. */
  anonymous?: string;
  /** The patient (Patient id) whose data this event is about. */
  patient?: string;
  /** The resource acted on, `Type/id` or `Type/id/_history/v`. */
  resource?: string;
  /** The query string of a search (without `?`), recorded base64 as BALP does. */
  query?: string;
  /** Token `purpose_of_use` codes (`code` in v3-ActReason, or `system|code`). */
  purposeOfUse?: string[];
  /** The request's X-Request-ID, to tie the event to the server's logs. */
  requestId?: string;
}

/** A sign-in or sign-out, as auth/ reports it. */
export interface LoginAuditInput {
  action: 'login' | 'logout';
  success: boolean;
  recorded: string;
  clientId?: string;
  user?: { username?: string; fhirUser?: string; roles?: string[]; sdsUserId?: string; roleProfileId?: string; orgCode?: string };
  /** A short, data-free reason for a failure. */
  outcomeDesc?: string;
  requestId?: string;
}

/** The audit trail's records: what an access and a sign-in become. */
export interface AuditRecords {
  access(input: AuditInput): AuditEvent;
  login(input: LoginAuditInput): AuditEvent;
}

export interface IdentityServices {
  /** A valid launch patient id as staff type it into the patient picker (an NHS number). */
  isPatientId(id: string): boolean;
  /** A national RBAC job role that may see clinical records. */
  isClinicalRole(code: string): boolean;
  /** The Practitioners (as fhirUser references, at most two) holding an SDS user id (an IdP sign-in). */
  practitionersBySdsUserId(engine: InteractionEngine, sdsUserId: string): Promise<string[]>;
}
