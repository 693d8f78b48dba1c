/** The runtime state of one script execution (the Context asserts read) and the HTTP exchanges it records. */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { asText, evaluatePath } from './fhirpath.js';
import type { RunOptions, ScriptShape, Variable } from './types.js';

/** One HTTP request and its response. */
export interface Exchange {
  request: { method: string; url: string; headers: Record<string, string>; body?: string };
  status: number;
  headers: Headers;
  text: string;
  /** Parsed JSON body, or undefined. */
  body: any;
}

/** Where a resource lives on the server under test. */
export interface ServerRef {
  type?: string;
  id?: string;
  version?: string;
}

interface FixtureState {
  /** The static body (inline or file), before variable substitution. */
  resource?: any;
  /** Set when the fixture id names a response (responseId). */
  exchange?: Exchange;
  /** Where the fixture was created on the server (create/autocreate/update with sourceId). */
  server?: ServerRef;
  autodelete?: boolean;
  /** An inline fixture: its id is the `#id` anchor inside the script, not a server id. */
  inline?: boolean;
}

export class StepFailure extends Error {}

const MEDIA: Record<string, string> = {
  json: 'application/fhir+json',
  xml: 'application/fhir+xml',
  ttl: 'text/turtle',
};

export function mediaType(code: string | undefined): string | undefined {
  if (code === undefined) return undefined;
  if (code === 'none') return undefined;
  return MEDIA[code] ?? code;
}


/** The runtime state of one script execution; exposed to asserts. */
export class Context {
  readonly fixtures = new Map<string, FixtureState>();
  last: Exchange | undefined;
  readonly fetch: typeof fetch;
  readonly base: string;
  private validateSupported: boolean | undefined;

  constructor(readonly script: ScriptShape, readonly options: RunOptions) {
    this.fetch = options.fetch ?? fetch;
    this.base = options.base.replace(/\/+$/, '');
  }

  // ---- fixtures -------------------------------------------------------------------------------

  loadFixtures(): void {
    for (const f of this.script.fixture ?? []) {
      if (!f.id) throw new StepFailure('fixture without id');
      const ref = f.resource?.reference;
      let resource: any;
      if (ref !== undefined) resource = this.loadReference(ref);
      this.fixtures.set(f.id, { resource, autodelete: f.autodelete === true, inline: ref?.startsWith('#') === true });
    }
  }

  private loadReference(ref: string): any {
    if (ref.startsWith('#')) {
      const id = ref.slice(1);
      const found = (this.script.contained ?? []).find((r) => r.id === id);
      if (!found) throw new StepFailure(`fixture reference ${ref}: no contained resource with id '${id}'`);
      return structuredClone(found);
    }
    if (/^https?:/.test(ref)) throw new StepFailure(`fixture reference ${ref}: remote fixtures are not supported`);
    const dir = this.options.fixtureDir;
    if (!dir) throw new StepFailure(`fixture reference ${ref}: no fixtureDir given`);
    const rel = ref.replace(/^\/+/, '');
    const candidates = [resolve(dir, rel), join(resolve(dir), 'fixtures', rel)];
    const file = candidates.find((c) => existsSync(c));
    if (!file) throw new StepFailure(`fixture reference ${ref}: file not found in ${dir}`);
    const text = readFileSync(file, 'utf8');
    try {
      return JSON.parse(text);
    } catch (e) {
      throw new StepFailure(`fixture ${ref}: not JSON (${(e as Error).message})`);
    }
  }

  fixture(id: string): FixtureState {
    const f = this.fixtures.get(id);
    if (!f) throw new StepFailure(`unknown fixture or response id '${id}'`);
    return f;
  }

  /** The body a fixture id stands for: the response body for responses, else the substituted resource. */
  fixtureBody(id: string): any {
    const f = this.fixture(id);
    if (f.exchange) return f.exchange.body;
    return f.resource === undefined ? undefined : this.substituteJson(f.resource);
  }

  /** The server location of what a fixture/response id names (targetId). */
  target(id: string): ServerRef {
    const f = this.fixture(id);
    if (f.server) return f.server;
    if (f.exchange) return locate(f.exchange);
    if (f.resource) return { type: f.resource.resourceType, id: f.resource.id, version: f.resource.meta?.versionId };
    return {};
  }

  // ---- variables ------------------------------------------------------------------------------

  variable(name: string): string | undefined {
    const v = (this.script.variable ?? []).find((x) => x.name === name);
    if (!v) return undefined;
    let value: string | undefined;
    try {
      value = this.evaluateVariable(v);
    } catch {
      value = undefined;
    }
    if (value === undefined || value === '') return v.defaultValue ?? value;
    return value;
  }

  private evaluateVariable(v: Variable): string | undefined {
    if (v.headerField) {
      const ex = v.sourceId ? this.fixtures.get(v.sourceId)?.exchange : this.last;
      return ex?.headers.get(v.headerField) ?? undefined;
    }
    const expr = v.expression ?? v.path;
    if (expr) {
      let body: any;
      if (v.sourceId) {
        if (!this.fixtures.has(v.sourceId)) return undefined;
        body = this.fixtureBody(v.sourceId);
      } else body = this.last?.body;
      const result = evaluatePath(body, expr);
      return result.length === 0 ? undefined : asText(result[0]);
    }
    return undefined;
  }

  /** Replaces `${name}` with variable values; unknown or unresolved names are left as they are. */
  substitute(text: string, escape: (s: string) => string = (s) => s): string {
    return text.replace(/\$\{([A-Za-z0-9_\-.]+)\}/g, (whole, name: string) => {
      const value = this.variable(name);
      return value === undefined ? whole : escape(value);
    });
  }

  substituteJson(value: unknown): any {
    const text = JSON.stringify(value);
    if (!text.includes('${')) return structuredClone(value);
    return JSON.parse(this.substitute(text, (s) => JSON.stringify(s).slice(1, -1)));
  }

  // ---- HTTP -----------------------------------------------------------------------------------

  async send(method: string, url: string, headers: Record<string, string>, body?: string): Promise<Exchange> {
    const all: Record<string, string> = { ...headers };
    if (this.options.token && !hasHeader(all, 'authorization')) all['Authorization'] = `Bearer ${this.options.token}`;
    let res: Response;
    try {
      res = await this.fetch(url, { method, headers: all, body });
    } catch (e) {
      throw new StepFailure(`${method} ${url}: ${(e as Error).message}`);
    }
    const text = await res.text();
    let parsed: any;
    if (text.length > 0) {
      try { parsed = JSON.parse(text); } catch { parsed = undefined; }
    }
    return { request: { method, url, headers: all, body }, status: res.status, headers: res.headers, text, body: parsed };
  }

  /** Whether the server advertises `$validate` in its CapabilityStatement (asked once). */
  async supportsValidate(): Promise<boolean> {
    if (this.validateSupported === undefined) {
      try {
        const ex = await this.send('GET', `${this.base}/metadata`, { Accept: 'application/fhir+json' });
        const cs = ex.body;
        const ops: Array<{ name?: string; definition?: string }> = [
          ...(cs?.rest ?? []).flatMap((r: any) => r.operation ?? []),
          ...(cs?.rest ?? []).flatMap((r: any) => (r.resource ?? []).flatMap((x: any) => x.operation ?? [])),
        ];
        this.validateSupported = ops.some((o) => o.name === 'validate' || /\/OperationDefinition\/Resource-validate$/.test(o.definition ?? ''));
      } catch {
        this.validateSupported = false;
      }
    }
    return this.validateSupported;
  }
}

function hasHeader(headers: Record<string, string>, name: string): boolean {
  return Object.keys(headers).some((h) => h.toLowerCase() === name);
}

/** Type, id and version of the resource a response is about: from the body, else Location/ETag. */

export function locate(ex: Exchange): ServerRef {
  const ref: ServerRef = {};
  const body = ex.body;
  if (body && typeof body === 'object' && typeof body.resourceType === 'string' && body.resourceType !== 'OperationOutcome' && body.resourceType !== 'Bundle') {
    ref.type = body.resourceType;
    ref.id = body.id;
    ref.version = body.meta?.versionId;
  }
  const loc = ex.headers.get('location') ?? ex.headers.get('content-location');
  if (loc) {
    const m = /([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/([A-Za-z0-9\-.]{1,64}))?\/?(?:\?.*)?$/.exec(loc);
    if (m) {
      ref.type ??= m[1];
      ref.id ??= m[2];
      ref.version ??= m[3];
    }
  }
  if (ref.version === undefined) {
    const etag = ex.headers.get('etag');
    const m = etag ? /^(?:W\/)?"?([^"]+)"?$/.exec(etag) : null;
    if (m) ref.version = m[1];
  }
  return ref;
}
