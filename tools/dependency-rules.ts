import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, posix, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

/**
 * The dependency rules of ARCHITECTURE.md, checked over the TypeScript sources (never the compiled
 * output): every import of every project file (static `import`, `export ... from`, `import x =
 * require()`, dynamic `import('...')` and `import('...')` types with a string literal, and
 * `require('...')` calls; type-only imports count like any other) is read with the TypeScript parser
 * and checked against
 *  1. the layering table LAYERS (which top folder may import which),
 *  2. no import circle between files, anywhere,
 *  3. the package table PACKAGES (who may import a database driver or the HTTP-edge libraries).
 */

/**
 * Which top folders each top folder may import, besides its own files. Arrows point one way
 * (towards fhir/, which imports nothing); nothing imports server/ but the entry points (cli/,
 * bench/, test/). A folder missing here is itself a violation: add it, with its arrows.
 */
export const LAYERS: Readonly<Record<string, readonly string[]>> = {
  server: ['auth', 'resources', 'store', 'search', 'profiles', 'terminology', 'fhir'],
  auth: ['fhir'],
  resources: ['store', 'search', 'profiles', 'terminology', 'fhir'],
  store: ['search', 'fhir'],
  search: ['fhir'],
  profiles: ['fhir'],
  terminology: ['fhir'],
  fhir: [],
  // The entry points and harnesses; bench/ also borrows test/support's test server.
  cli: ['server', 'auth', 'resources', 'store', 'search', 'profiles', 'terminology', 'fhir'],
  bench: ['server', 'auth', 'resources', 'store', 'search', 'profiles', 'terminology', 'fhir', 'test'],
  // test/ may import anything.
  test: ['server', 'auth', 'resources', 'store', 'search', 'profiles', 'terminology', 'fhir', 'cli', 'bench', 'tools'],
  // tools/: developer checks such as this one; packages only.
  tools: [],
};

/**
 * Folders whose sub-folders are closed to some importers: server/ knows the Spine modules
 * (resources/<module>/) only through resources/module.ts and the one list in resources/spine.ts,
 * so it may import resources/ top-level files only.
 */
export const CLOSED_SUBFOLDERS: readonly { from: string; into: string; why: string }[] = [
  { from: 'server', into: 'resources', why: 'server/ knows the Spine modules only through resources/module.ts and resources/spine.ts' },
];

/**
 * Packages only some top folders may import. test/ and bench/ are exempt: they are harnesses
 * outside the product (store suites open SQLite or MongoDB directly, unit tests build express
 * requests), and the layering table already keeps product code from depending on them. cli/ is
 * not: it opens the store through server/ like `npm start` does.
 */
export const PACKAGES: readonly PackageRule[] = [
  { what: 'a database driver', packages: ['better-sqlite3', 'mongodb'], allowedIn: ['store', 'test', 'bench'] },
  { what: 'an HTTP-edge library', packages: ['express', 'express-session', 'passport', 'passport-*'], allowedIn: ['server', 'auth', 'test', 'bench'] },
];

export interface PackageRule {
  what: string;
  /** Package names; a trailing `*` matches any ending (`passport-*`). */
  packages: readonly string[];
  allowedIn: readonly string[];
}

export interface ImportRef {
  /** The importing file, relative to the root, with `/` separators. */
  file: string;
  line: number;
  specifier: string;
  typeOnly: boolean;
  /** The project file a relative specifier names, relative to the root; `''` if it names none; undefined for a package. */
  target?: string;
}

export type Violation =
  | { kind: 'layering'; file: string; line: number; specifier: string; target: string; message: string }
  | { kind: 'circle'; files: string[]; imports: ImportRef[]; message: string }
  | { kind: 'package'; file: string; line: number; specifier: string; message: string }
  | { kind: 'unresolved'; file: string; line: number; specifier: string; message: string }
  | { kind: 'folder'; file: string; message: string };

export interface CheckOptions {
  /** The source file ending to read (default `.ts`; the test fixtures use `.ts.txt`). */
  extension?: string;
  layers?: Readonly<Record<string, readonly string[]>>;
  packages?: readonly PackageRule[];
}

/** Folders never read: installed packages anywhere; at the root, the compiled output and the default DATA_DIR. Dot folders neither. */
const SKIPPED_ANYWHERE = new Set(['node_modules']);
const SKIPPED_AT_ROOT = new Set(['dist', 'data']);

/** The project root: the nearest folder above `from` (a file URL or path) holding a package.json. */
export function findProjectRoot(from: string | URL = import.meta.url): string {
  let dir = dirname(typeof from === 'string' && !from.startsWith('file:') ? from : fileURLToPath(from));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error(`no package.json above ${String(from)}`);
    dir = up;
  }
  return dir;
}

/**
 * The source files of the project at `root` (relative, `/`-separated, sorted): the files its
 * tsconfig.json compiles when there is one (so a scratch folder the compiler does not read is not
 * checked either), or else every file ending in `extension` under `root` (the fixture trees).
 */
export function listSources(root: string, extension = '.ts'): string[] {
  const tsconfig = join(root, 'tsconfig.json');
  if (existsSync(tsconfig)) {
    const read = ts.readConfigFile(tsconfig, ts.sys.readFile);
    if (read.error) throw new Error(`${tsconfig}: ${ts.flattenDiagnosticMessageText(read.error.messageText, '\n')}`);
    const parsed = ts.parseJsonConfigFileContent(read.config, ts.sys, root, undefined, tsconfig);
    return parsed.fileNames.filter((f) => f.endsWith(extension)).map((f) => relative(root, f).split(sep).join('/')).sort();
  }
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.name.startsWith('.')) continue;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (!SKIPPED_ANYWHERE.has(entry.name) && !(dir === root && SKIPPED_AT_ROOT.has(entry.name))) walk(path);
      } else if (entry.isFile() && entry.name.endsWith(extension)) {
        out.push(relative(root, path).split(sep).join('/'));
      }
    }
  };
  walk(root);
  return out.sort();
}

/** The module specifiers `text` imports, with their line and whether they are type-only. */
export function readImports(fileName: string, text: string): Omit<ImportRef, 'file' | 'target'>[] {
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const found: Omit<ImportRef, 'file' | 'target'>[] = [];
  const add = (literal: ts.Node, typeOnly: boolean): void => {
    if (!ts.isStringLiteralLike(literal)) return;
    const line = source.getLineAndCharacterOfPosition(literal.getStart(source)).line + 1;
    found.push({ specifier: literal.text, line, typeOnly });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node)) {
      const clause = node.importClause;
      const typeOnly = clause !== undefined && (clause.isTypeOnly || (!clause.name && clause.namedBindings !== undefined
        && ts.isNamedImports(clause.namedBindings) && clause.namedBindings.elements.length > 0
        && clause.namedBindings.elements.every((e) => e.isTypeOnly)));
      add(node.moduleSpecifier, typeOnly);
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier) {
      const typeOnly = node.isTypeOnly || (node.exportClause !== undefined && ts.isNamedExports(node.exportClause)
        && node.exportClause.elements.length > 0 && node.exportClause.elements.every((e) => e.isTypeOnly));
      add(node.moduleSpecifier, typeOnly);
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      add(node.moduleReference.expression, node.isTypeOnly);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      add(node.argument.literal, true);
    } else if (ts.isCallExpression(node) && node.arguments.length >= 1
      && (node.expression.kind === ts.SyntaxKind.ImportKeyword || (ts.isIdentifier(node.expression) && node.expression.text === 'require'))) {
      add(node.arguments[0], false);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** The project file (from `files`) that relative `specifier` in `file` names, if any. */
function resolveRelative(file: string, specifier: string, files: ReadonlySet<string>, extension: string): string | undefined {
  const target = posix.normalize(posix.join(posix.dirname(file), specifier));
  const stem = target.replace(/\.(?:[mc]?js|[mc]?ts|tsx|jsx)$/, '');
  const candidates = target === stem
    ? [`${stem}${extension}`, `${stem}/index${extension}`]
    : [`${stem}${extension}`, `${stem}.d${extension}`];
  return candidates.find((c) => files.has(c));
}

/** `express` for `express`, `@scope/name` for `@scope/name/sub`, `openid-client` for `openid-client/passport`. */
export function packageName(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

function matches(pattern: string, name: string): boolean {
  return pattern.endsWith('*') ? name.startsWith(pattern.slice(0, -1)) : name === pattern;
}

/** `resources` for `resources/patient/index.ts`; `''` for a file at the root. */
export function topFolder(file: string): string {
  const slash = file.indexOf('/');
  return slash < 0 ? '' : file.slice(0, slash);
}

/** Every import of every source file under `root`, relative imports resolved to their file. */
export function collectImports(root: string, extension = '.ts'): { files: string[]; imports: ImportRef[] } {
  const files = listSources(root, extension);
  const known = new Set(files);
  const imports: ImportRef[] = [];
  for (const file of files) {
    for (const ref of readImports(file, readFileSync(join(root, file), 'utf8'))) {
      const target = ref.specifier.startsWith('.') ? resolveRelative(file, ref.specifier, known, extension) ?? '' : undefined;
      imports.push({ file, ...ref, target });
    }
  }
  return { files, imports };
}

/** The import circles among `files`: each strongly connected component of two or more files (or a file importing itself). */
export function findCircles(files: readonly string[], edges: ReadonlyMap<string, ReadonlySet<string>>): string[][] {
  // Tarjan's algorithm, iterative so that a deep import chain cannot overflow the stack.
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const circles: string[][] = [];
  let next = 0;
  for (const start of files) {
    if (index.has(start)) continue;
    const work: { node: string; out: string[]; i: number }[] = [];
    const open = (node: string): void => {
      index.set(node, next);
      low.set(node, next++);
      stack.push(node);
      onStack.add(node);
      work.push({ node, out: [...(edges.get(node) ?? [])].sort(), i: 0 });
    };
    open(start);
    while (work.length > 0) {
      const frame = work[work.length - 1];
      if (frame.i < frame.out.length) {
        const to = frame.out[frame.i++];
        if (!index.has(to)) open(to);
        else if (onStack.has(to)) low.set(frame.node, Math.min(low.get(frame.node)!, index.get(to)!));
        continue;
      }
      work.pop();
      if (work.length > 0) {
        const parent = work[work.length - 1].node;
        low.set(parent, Math.min(low.get(parent)!, low.get(frame.node)!));
      }
      if (low.get(frame.node) === index.get(frame.node)) {
        const component: string[] = [];
        let member: string;
        do {
          member = stack.pop()!;
          onStack.delete(member);
          component.push(member);
        } while (member !== frame.node);
        if (component.length > 1 || edges.get(frame.node)?.has(frame.node)) circles.push(component.sort());
      }
    }
  }
  return circles.sort((a, b) => a[0].localeCompare(b[0]));
}

/** One shortest cycle through `from` inside `component`, as `a → b → a`. */
function exampleCycle(from: string, component: ReadonlySet<string>, edges: ReadonlyMap<string, ReadonlySet<string>>): string[] {
  const previous = new Map<string, string>();
  const queue = [from];
  for (let q = 0; q < queue.length; q++) {
    const node = queue[q];
    for (const to of [...(edges.get(node) ?? [])].sort()) {
      if (!component.has(to)) continue;
      if (to === from) {
        const path = [from];
        for (let at: string | undefined = node; at !== undefined && at !== from; at = previous.get(at)) path.splice(1, 0, at);
        return [...path, from];
      }
      if (!previous.has(to)) {
        previous.set(to, node);
        queue.push(to);
      }
    }
  }
  return [from];
}

/**
 * The top folders of `layers` that may import each other, directly or through others: the table
 * itself must be a one-way graph. test/ is left out by default: it may import anything, and bench/
 * borrows its test server (test/support) while test/unit checks the bench harness.
 */
export function layerCircles(layers: Readonly<Record<string, readonly string[]>> = LAYERS, leaveOut: readonly string[] = ['test']): string[][] {
  const folders = Object.keys(layers).filter((f) => !leaveOut.includes(f));
  const edges = new Map(folders.map((f) => [f, new Set(layers[f].filter((t) => !leaveOut.includes(t)))] as const));
  return findCircles(folders, edges);
}

/** Checks the sources under `root` against the dependency rules; the violations, in a stable order. */
export function checkDependencies(root: string, options: CheckOptions = {}): Violation[] {
  const extension = options.extension ?? '.ts';
  const layers = options.layers ?? LAYERS;
  const packageRules = options.packages ?? PACKAGES;
  const { files, imports } = collectImports(root, extension);
  const violations: Violation[] = [];

  for (const file of files) {
    const folder = topFolder(file);
    if (!Object.hasOwn(layers, folder)) {
      violations.push({ kind: 'folder', file, message: `${file}: ${folder ? `folder ${folder}/` : 'the project root'} is not in the layering table` });
    }
  }

  const edges = new Map<string, Set<string>>();
  const local: ImportRef[] = [];
  for (const ref of imports) {
    const from = topFolder(ref.file);
    const where = `${ref.file}:${ref.line}`;
    const type = ref.typeOnly ? ' (type-only)' : '';
    if (ref.target === undefined) {
      const name = packageName(ref.specifier);
      for (const rule of packageRules) {
        if (rule.packages.some((p) => matches(p, name)) && !rule.allowedIn.includes(from)) {
          violations.push({
            kind: 'package', file: ref.file, line: ref.line, specifier: ref.specifier,
            message: `${where} imports '${ref.specifier}'${type}, ${rule.what}: only ${rule.allowedIn.map((f) => `${f}/`).join(', ')} may`,
          });
        }
      }
      continue;
    }
    if (ref.target === '') {
      violations.push({ kind: 'unresolved', file: ref.file, line: ref.line, specifier: ref.specifier, message: `${where} imports '${ref.specifier}', which names no project source file` });
      continue;
    }
    local.push(ref);
    let out = edges.get(ref.file);
    if (!out) edges.set(ref.file, out = new Set());
    out.add(ref.target);
    const to = topFolder(ref.target);
    if (to === from || !Object.hasOwn(layers, from)) continue;
    if (!layers[from].includes(to)) {
      const allowed = layers[from].length ? layers[from].map((f) => `${f}/`).join(', ') : 'nothing outside itself';
      violations.push({
        kind: 'layering', file: ref.file, line: ref.line, specifier: ref.specifier, target: ref.target,
        message: `${where} imports ${ref.target}${type}: ${from ? `${from}/` : 'the root'} may import ${allowed}`,
      });
    }
    const closed = CLOSED_SUBFOLDERS.find((c) => c.from === from && c.into === to);
    if (closed && ref.target.split('/').length > 2) {
      violations.push({
        kind: 'layering', file: ref.file, line: ref.line, specifier: ref.specifier, target: ref.target,
        message: `${where} imports ${ref.target}${type}: ${closed.why}`,
      });
    }
  }

  for (const circle of findCircles(files, edges)) {
    const members = new Set(circle);
    const example = exampleCycle(circle[0], members, edges);
    violations.push({
      kind: 'circle', files: circle, imports: local.filter((r) => members.has(r.file) && members.has(r.target!)),
      message: `import circle among ${circle.length} file${circle.length === 1 ? '' : 's'}: ${circle.join(', ')} (e.g. ${example.join(' → ')})`,
    });
  }
  return violations;
}

/** One line per violation (a circle also lists its imports, indented), for people. */
export function formatViolations(violations: readonly Violation[]): string {
  return violations.map((v) => {
    const head = `${v.kind.padEnd(10)} ${v.message}`;
    if (v.kind !== 'circle') return head;
    return [head, ...v.imports.map((r) => `${' '.repeat(13)}${r.file}:${r.line} → ${r.target}${r.typeOnly ? ' (type-only)' : ''}`)].join('\n');
  }).join('\n');
}
