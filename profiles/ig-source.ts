import { readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { Bundle, Resource } from 'fhir/r4.js';
import { parseFhirXml } from '../fhir/xml.js';

/**
 * Implementation-guide content from the IG_PATHS the configuration names: folders of FHIR JSON
 * and XML files (searched recursively) and FHIR packages (.tgz, the npm-style tarball with
 * package/*.json). Only conformance resources are kept: a folder may hold examples beside the
 * definitions (shared/ukcore does), and those are test data, not rules.
 */
export const CONFORMANCE_TYPES = new Set([
  'StructureDefinition', 'ValueSet', 'CodeSystem', 'SearchParameter', 'ConceptMap', 'NamingSystem',
  'CapabilityStatement', 'OperationDefinition', 'ImplementationGuide',
]);

export interface IgContent {
  resources: Resource[];
  /** Files read (parsed or skipped by root element). */
  files: number;
  /** Files that could not be read as FHIR, with why: reported, never fatal for the others. */
  problems: string[];
}

export function loadIgPaths(paths: string[]): IgContent {
  const content: IgContent = { resources: [], files: 0, problems: [] };
  for (const path of paths) {
    const stat = statSync(path); // a configured path that does not exist stops start-up: say so loudly
    if (stat.isDirectory()) loadFolder(path, content);
    else if (/\.(tgz|tar\.gz)$/.test(path)) loadPackage(readFileSync(path), path, content);
    else loadFile(path, readFileSync(path, 'utf8'), content);
  }
  return content;
}

function loadFolder(dir: string, content: IgContent): void {
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) loadFolder(path, content);
    else if (/\.(tgz|tar\.gz)$/.test(entry.name)) loadPackage(readFileSync(path), path, content);
    else if (/\.(json|xml)$/i.test(entry.name)) loadFile(path, readFileSync(path, 'utf8'), content);
  }
}

function loadFile(name: string, text: string, content: IgContent): void {
  content.files++;
  if (/^(package|\.index)\.json$/.test(name.split('/').pop()!)) return; // package manifests, not resources
  try {
    if (extname(name).toLowerCase() === '.xml') {
      // Examples need not be parsed at all: the root element names the type.
      const root = /<(?:[A-Za-z_][\w.-]*:)?([A-Za-z]+)[\s>/]/.exec(text.replace(/<\?[\s\S]*?\?>|<!--[\s\S]*?-->/g, ''))?.[1];
      if (!root || !CONFORMANCE_TYPES.has(root)) return;
      keep(parseFhirXml(text), content);
    } else {
      keep(JSON.parse(text) as Resource, content);
    }
  } catch (e) {
    content.problems.push(`${name}: ${(e as Error).message}`);
  }
}

function keep(resource: Resource, content: IgContent): void {
  if (resource.resourceType === 'Bundle') {
    for (const entry of (resource as Bundle).entry ?? []) if (entry.resource) keep(entry.resource, content);
  } else if (CONFORMANCE_TYPES.has(resource.resourceType)) {
    content.resources.push(resource);
  }
}

/** A FHIR package: the resources are package/*.json (examples live under package/example/ and are skipped). */
function loadPackage(gz: Buffer, name: string, content: IgContent): void {
  let files: Map<string, Buffer>;
  try {
    files = readTar(gunzipSync(gz));
  } catch (e) {
    content.problems.push(`${name}: not a readable .tgz (${(e as Error).message})`);
    return;
  }
  for (const [path, data] of files) {
    if (/^package\/[^/]+\.json$/.test(path)) loadFile(`${name}!${path}`, data.toString('utf8'), content);
  }
}

/**
 * The regular files of a tar archive (POSIX ustar, with the pax `path` and GNU long-name records
 * npm's tar writes for long names). No tar library is a dependency, and a reader is this small.
 */
export function readTar(tar: Buffer): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  const text = (start: number, length: number) => tar.toString('utf8', start, start + length).replace(/\0.*$/s, '');
  let offset = 0;
  let longName: string | undefined;
  while (offset + 512 <= tar.length) {
    if (tar.subarray(offset, offset + 512).every((b) => b === 0)) break; // end of archive
    const size = parseInt(text(offset + 124, 12).trim() || '0', 8);
    if (!Number.isFinite(size)) throw new Error(`bad size field at offset ${offset}`);
    const type = String.fromCharCode(tar[offset + 156] || 48);
    const prefix = text(offset + 345, 155);
    const name = longName ?? (prefix ? `${prefix}/${text(offset, 100)}` : text(offset, 100));
    const data = tar.subarray(offset + 512, offset + 512 + size);
    longName = undefined;
    if (type === 'x') { // pax extended header: "len key=value\n" records
      longName = /(?:^|\n)\d+ path=([^\n]*)\n/.exec(data.toString('utf8'))?.[1];
    } else if (type === 'L') { // GNU long name
      longName = data.toString('utf8').replace(/\0.*$/s, '');
    } else if (type === '0' || type === '7') {
      files.set(name.replace(/^\.\//, ''), data);
    }
    offset += 512 + Math.ceil(size / 512) * 512;
  }
  return files;
}
