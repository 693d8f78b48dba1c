import type { ElementDefinition, StructureDefinition } from 'fhir/r4.js';
import type { StructureDefinitionRegistry } from './structure-definitions.js';

/**
 * Where an extension may appear (StructureDefinition.context, R4 extensibility.html#context):
 * an element path ('Patient.contact'), a type ('Coding', 'Patient', 'Element' for anywhere), or
 * another extension (type 'extension', by url). The host is known by its path without indexes
 * ('Patient.identifier') and, where the R4 base definitions can tell, its type ('Identifier').
 *
 * Used for warnings only: 'fhirpath' contexts and hosts whose type cannot be worked out are
 * treated as allowed, so a limit of this check never reads as a fault of the resource.
 */
const ANYWHERE = new Set(['Element', 'Base', 'Resource', 'DomainResource', 'BackboneElement']);

export interface ExtensionHost {
  /** Definition-style path of the element carrying the extension, e.g. Patient.identifier. */
  path: string;
  /** url of the extension that carries it, for an extension on an extension. */
  extensionUrl?: string;
}

export class ExtensionContexts {
  private readonly byPath = new Map<string, Map<string, ElementDefinition>>();

  constructor(private readonly registry: StructureDefinitionRegistry) {}

  /** undefined when allowed (or undecidable), else the contexts that would allow it. */
  disallowed(sd: StructureDefinition, host: ExtensionHost): string | undefined {
    const contexts = sd.context ?? [];
    if (contexts.length === 0) return undefined;
    let where: { type?: string; elementPath?: string } | null = null; // null: not worked out yet
    for (const c of contexts) {
      if (c.type === 'fhirpath') return undefined;
      if (c.type === 'extension') {
        if (host.extensionUrl === c.expression) return undefined;
        continue;
      }
      const expression = c.expression;
      if (ANYWHERE.has(expression) || expression === host.path) return undefined;
      if (expression.endsWith('[x]') && host.path.startsWith(expression.slice(0, -3))) return undefined;
      where ??= this.locate(host.path);
      if (where.type === undefined || expression === where.type || expression === where.elementPath) return undefined;
      if (host.extensionUrl !== undefined && expression === 'Extension') return undefined;
    }
    return contexts.map((c) => c.expression).join(', ');
  }

  /**
   * The R4 type of the element at a definition-style path, and its path in the type that declares
   * it ('Patient.telecom.system' → code, 'ContactPoint.system'; 'Questionnaire.item.item.item' →
   * BackboneElement, 'Questionnaire.item.item'); type undefined when it cannot be told.
   */
  private locate(path: string): { type?: string; elementPath?: string } {
    const [resourceType, ...segments] = path.split('.');
    let typeName = resourceType;
    let inType = resourceType;
    let elementPath = resourceType;
    for (const segment of segments) {
      const elements = this.elements(typeName);
      if (!elements) return {};
      let el = elements.get(`${inType}.${segment}`);
      let suffix: string | undefined;
      if (!el) {
        for (const [p, e] of elements) {
          if (p.endsWith('[x]') && p.startsWith(`${inType}.`) && !p.slice(inType.length + 1).includes('.')) {
            const stem = p.slice(inType.length + 1, -3);
            if (segment.startsWith(stem) && /^[A-Z]/.test(segment.charAt(stem.length))) { el = e; suffix = segment.slice(stem.length); }
          }
        }
      }
      if (!el) return {};
      elementPath = el.path;
      const codes = (el.type ?? []).map((t) => t.code);
      const code = suffix ? codes.find((c) => c.toLowerCase() === suffix!.toLowerCase()) : codes.length === 1 ? codes[0] : undefined;
      if (el.contentReference || code === 'BackboneElement' || code === 'Element') {
        inType = el.contentReference ? el.contentReference.replace(/^#/, '') : `${inType}.${segment}`;
        typeName = inType.split('.')[0];
        continue;
      }
      if (!code) return {};
      typeName = code;
      inType = code;
    }
    return { type: inType === typeName ? typeName : 'BackboneElement', elementPath };
  }

  private elements(typeName: string): Map<string, ElementDefinition> | undefined {
    let map = this.byPath.get(typeName);
    if (!map) {
      const sd = this.registry.get(`http://hl7.org/fhir/StructureDefinition/${typeName}`);
      if (!sd?.snapshot) return undefined;
      map = new Map(sd.snapshot.element.map((e) => [e.path, e]));
      this.byPath.set(typeName, map);
    }
    return map;
  }
}
