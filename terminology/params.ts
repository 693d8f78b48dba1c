import type { CodeableConcept, Coding, Parameters, ParametersParameter, Resource } from 'fhir/r4.js';
import { errors } from '../fhir/errors.js';

/**
 * The inputs of a terminology operation, from either form the spec allows: a Parameters body
 * (POST) or query parameters (GET), which server/ turns into the same Parameters with string
 * values. Readers accept any primitive value[x], so `code` may come as valueCode or valueString.
 */
export class OperationInput {
  constructor(private readonly parameters: ParametersParameter[], private readonly operation: string) {}

  static of(body: Parameters | undefined, operation: string): OperationInput {
    return new OperationInput(body?.parameter ?? [], operation);
  }

  private primitive(p: ParametersParameter): string | number | boolean | undefined {
    for (const [k, v] of Object.entries(p)) {
      if (k.startsWith('value') && (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean')) return v;
    }
    return undefined;
  }

  has(name: string): boolean {
    return this.parameters.some((p) => p.name === name);
  }

  string(name: string): string | undefined {
    const all = this.strings(name);
    if (all.length > 1) throw errors.badRequest(`$${this.operation}: parameter '${name}' may appear only once`);
    return all[0];
  }

  strings(name: string): string[] {
    const out: string[] = [];
    for (const p of this.parameters.filter((q) => q.name === name)) {
      const v = this.primitive(p);
      if (v === undefined) throw errors.badRequest(`$${this.operation}: parameter '${name}' needs a primitive value`);
      out.push(String(v));
    }
    return out;
  }

  boolean(name: string): boolean | undefined {
    const v = this.string(name);
    if (v === undefined) return undefined;
    if (v !== 'true' && v !== 'false') throw errors.badRequest(`$${this.operation}: parameter '${name}' must be true or false`);
    return v === 'true';
  }

  integer(name: string, min: number): number | undefined {
    const v = this.string(name);
    if (v === undefined) return undefined;
    if (!/^-?\d+$/.test(v) || Number(v) < min) throw errors.badRequest(`$${this.operation}: parameter '${name}' must be an integer >= ${min}`);
    return Number(v);
  }

  /** A Coding: valueCoding in a body, or `system|code` in a query string. */
  coding(name: string): Coding | undefined {
    const p = this.parameters.filter((q) => q.name === name);
    if (p.length > 1) throw errors.badRequest(`$${this.operation}: parameter '${name}' may appear only once`);
    if (!p.length) return undefined;
    if (p[0].valueCoding) return p[0].valueCoding;
    const text = this.primitive(p[0]);
    if (typeof text === 'string') {
      const bar = text.lastIndexOf('|');
      if (bar > 0 && bar < text.length - 1) return { system: text.slice(0, bar), code: text.slice(bar + 1) };
    }
    throw errors.badRequest(`$${this.operation}: parameter '${name}' must be a Coding (or 'system|code' in a query)`);
  }

  codeableConcept(name: string): CodeableConcept | undefined {
    const p = this.parameters.filter((q) => q.name === name);
    if (p.length > 1) throw errors.badRequest(`$${this.operation}: parameter '${name}' may appear only once`);
    if (!p.length) return undefined;
    if (p[0].valueCodeableConcept) return p[0].valueCodeableConcept;
    throw errors.badRequest(`$${this.operation}: parameter '${name}' must be a CodeableConcept (POST a Parameters body)`);
  }

  resource<T extends Resource>(name: string, type: T['resourceType']): T | undefined {
    const p = this.parameters.filter((q) => q.name === name);
    if (p.length > 1) throw errors.badRequest(`$${this.operation}: parameter '${name}' may appear only once`);
    if (!p.length) return undefined;
    if (p[0].resource?.resourceType !== type) throw errors.badRequest(`$${this.operation}: parameter '${name}' must be a ${type} resource (POST a Parameters body)`);
    return p[0].resource as T;
  }
}

/** A Parameters resource from name/value pairs, leaving out undefined values. */
export function parameters(...parts: (ParametersParameter | undefined | false)[]): Parameters {
  return { resourceType: 'Parameters', parameter: parts.filter((p): p is ParametersParameter => !!p) };
}
