import { checkDependencies, findProjectRoot, formatViolations } from './dependency-rules.js';

/**
 * `npm run check:deps`: checks the project's TypeScript sources against the dependency rules of
 * ARCHITECTURE.md (tools/dependency-rules.ts) and prints each violation; exit code 1 if any.
 */

const root = findProjectRoot(import.meta.url);
const violations = checkDependencies(root);
if (violations.length === 0) {
  console.log('check:deps: no dependency rule violations');
} else {
  console.error(formatViolations(violations));
  console.error(`check:deps: ${violations.length} violation${violations.length === 1 ? '' : 's'}`);
  process.exitCode = 1;
}
