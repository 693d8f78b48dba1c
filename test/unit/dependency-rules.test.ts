import { expect } from 'chai';
import { join } from 'node:path';
import {
  LAYERS, checkDependencies, findProjectRoot, formatViolations, layerCircles, listSources, readImports, type Violation,
} from '../../tools/dependency-rules.js';

// The project root, from the compiled test (dist/test/unit) or the source alike: the fixtures and
// the checked tree are the .ts sources, never the compiled output.
const ROOT = findProjectRoot(import.meta.url);
const FIXTURES = join(ROOT, 'test', 'fixtures', 'dependency-rules');

/** The fixture's violations as `kind file specifier` lines (a circle as its files), sorted. */
function check(fixture: string): string[] {
  return checkDependencies(join(FIXTURES, fixture), { extension: '.ts.txt' }).map(label).sort();
}

function label(v: Violation): string {
  switch (v.kind) {
    case 'circle': return `circle ${v.files.join(' ')}`;
    case 'folder': return `folder ${v.file}`;
    default: return `${v.kind} ${v.file} ${v.specifier}`;
  }
}

describe('dependency rules (tools/dependency-rules.ts)', () => {
  describe('the tables', () => {
    it('layering is one-way: no circle between top folders (test/, which may import anything, aside)', () => {
      expect(layerCircles()).to.deep.equal([]);
      expect(layerCircles({ ...LAYERS, fhir: ['search'] })).to.deep.equal([['fhir', 'search']]);
    });

    it('every arrow names a folder of the table, and only the entry points import server/', () => {
      for (const [from, to] of Object.entries(LAYERS)) {
        for (const folder of to) expect(LAYERS, `${from} → ${folder}`).to.have.property(folder);
        expect(to.includes('server'), `${from} → server`).to.equal(['cli', 'bench', 'test'].includes(from));
      }
    });
  });

  describe('reading imports', () => {
    it('finds static, re-export, dynamic, import-type and require imports, marking type-only ones', () => {
      const found = readImports('x.ts', [
        "import a from './a.js';",
        "import type { B } from './b.js';",
        "import { type C } from './c.js';",
        "import { type D, d } from './d.js';",
        "import './e.js';",
        "export * from './f.js';",
        "export type { G } from './g.js';",
        'const h = await import(\'./h.js\');',
        "let i: import('./i.js').I;",
        "const j = require('j');",
        "// import k from './k.js';",
        "const l = \"import l from './l.js'\";",
        'const m = await import(`./m.js`);',
        'const n = await import(name);',
      ].join('\n'));
      expect(found.map((f) => `${f.line} ${f.specifier}${f.typeOnly ? ' type' : ''}`)).to.deep.equal([
        '1 ./a.js', '2 ./b.js type', '3 ./c.js type', '4 ./d.js', '5 ./e.js', '6 ./f.js', '7 ./g.js type',
        '8 ./h.js', '9 ./i.js type', '10 j', '13 ./m.js',
      ]);
    });

    it('reads the .ts sources of the project, not the compiled output, the packages or the fixtures', () => {
      const files = listSources(ROOT);
      expect(files).to.include('tools/dependency-rules.ts');
      expect(files).to.include('test/unit/dependency-rules.test.ts');
      expect(files.filter((f) => /^(dist|node_modules)\/|^test\/fixtures\/|\.js$/.test(f))).to.deep.equal([]);
    });
  });

  describe('over fixture trees', () => {
    it('passes a clean tree using every allowed arrow and every allowed package', () => {
      expect(check('clean')).to.deep.equal([]);
    });

    it('fails on each layering arrow pointing the wrong way, whatever the import form', () => {
      expect(check('layering')).to.deep.equal([
        'layering auth/access.ts.txt ../resources/practitioner/rbac.js',
        'layering fhir/errors.ts.txt ../search/plan.js',
        'layering profiles/validator.ts.txt ../terminology/expand.js',
        'layering resources/engine.ts.txt ../server/app.js',
        'layering search/plan.ts.txt ../store/port.js',
        'layering server/app.ts.txt ../resources/practitioner/rbac.js', // a Spine module's folder, by name
        'layering store/port.ts.txt ../resources/engine.js',
      ]);
    });

    it('fails on each import circle between files (type-only and dynamic imports count), not on a diamond', () => {
      expect(check('circle')).to.deep.equal([
        'circle resources/engine.ts.txt resources/hooks.ts.txt',
        'circle search/self.ts.txt',
        'circle store/a.ts.txt store/b.ts.txt store/c.ts.txt',
      ]);
    });

    it('fails on a database driver imported outside store/ (test/ and bench/ exempt)', () => {
      expect(check('driver')).to.deep.equal([
        'package cli/ids.ts.txt mongodb/lib/bson.js',
        'package resources/mongo.ts.txt mongodb',
        'package search/sql.ts.txt better-sqlite3',
        'package server/open.ts.txt mongodb',
      ]);
    });

    it('fails on express, express-session or passport imported outside server/ and auth/ (test/ and bench/ exempt)', () => {
      expect(check('express')).to.deep.equal([
        'package cli/serve.ts.txt express',
        'package fhir/reexport.ts.txt passport',
        'package profiles/http.ts.txt express',
        'package resources/routes.ts.txt express',
        'package store/login.ts.txt passport-local',
        'package terminology/session.ts.txt express-session',
      ]);
    });

    it('fails on a folder missing from the table and on a relative import naming no source file', () => {
      expect(check('odd')).to.deep.equal([
        'folder lib/helper.ts.txt',
        'unresolved resources/engine.ts.txt ./missing.js',
      ]);
    });

    it('reports a circle with its files, its imports and one cycle through them', () => {
      const circle = checkDependencies(join(FIXTURES, 'circle'), { extension: '.ts.txt' }).find((v) => v.kind === 'circle')!;
      expect(formatViolations([circle]).split('\n')).to.deep.equal([
        'circle     import circle among 2 files: resources/engine.ts.txt, resources/hooks.ts.txt'
          + ' (e.g. resources/engine.ts.txt → resources/hooks.ts.txt → resources/engine.ts.txt)',
        '             resources/engine.ts.txt:1 → resources/hooks.ts.txt',
        '             resources/hooks.ts.txt:1 → resources/engine.ts.txt (type-only)',
      ]);
    });
  });

  describe('over the project tree', () => {
    it('keeps the rules', () => {
      const violations = checkDependencies(ROOT);
      expect(formatViolations(violations).split('\n').filter(Boolean), 'dependency rule violations (npm run check:deps)').to.deep.equal([]);
    });
  });
});
