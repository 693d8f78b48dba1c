import { startTestServer } from '../support/server.js';
import { searchConformanceSuite } from '../search/runner.js';

/** The search conformance suite (test/search) against a real server on the embedded SQLite store. */
searchConformanceSuite('SQLite', async () => {
  const server = await startTestServer();
  return { base: server.url, stop: () => server.stop() };
});
