import { expect } from 'chai';
import { startTestServer, type TestServer } from '../support/server.js';

/**
 * Timing of $expand on a 10,000-concept value set (a synthetic CodeSystem posted through the API),
 * with and without a filter, count 100 and 10,000; cold (first expansion after a write) and warm
 * (cached). Prints the numbers; asserts only correctness and generous ceilings.
 */
const SIZE = 10_000;
const WORDS = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel', 'india', 'juliet'];
const CS_URL = 'http://example.org/fhir/CodeSystem/synthetic-10k';
const VS_URL = 'http://example.org/fhir/ValueSet/synthetic-10k';

function syntheticCodeSystem() {
  // Ten groupers, each with 999 children: a hierarchy for is-a, words for the filter.
  const concept = Array.from({ length: 10 }, (_, g) => ({
    code: `G${g}`, display: `Group ${WORDS[g]}`,
    concept: Array.from({ length: SIZE / 10 - 1 }, (_, i) => {
      const n = g * 1000 + i;
      return { code: `C${String(n).padStart(5, '0')}`, display: `Synthetic ${WORDS[n % 10]} ${WORDS[Math.floor(n / 10) % 10]} concept ${n}` };
    }),
  }));
  return { resourceType: 'CodeSystem', url: CS_URL, status: 'active', content: 'complete', name: 'Synthetic10k', concept };
}

describe('HTTP: $expand timing on a 10,000-concept value set', function () {
  this.timeout(120_000);
  let server: TestServer;
  const timings: [string, number, number][] = [];
  before(async () => {
    server = await startTestServer();
    expect((await server.fhir('/CodeSystem', { method: 'POST', body: syntheticCodeSystem() })).status).to.equal(201);
    expect((await server.fhir('/ValueSet', { method: 'POST', body: { resourceType: 'ValueSet', url: VS_URL, status: 'active', compose: { include: [{ system: CS_URL }] } } })).status).to.equal(201);
  });
  after(async () => {
    await server.stop();
    console.log('\n    $expand, 10,000-concept value set (ms, median of 5 unless cold)');
    for (const [what, ms, returned] of timings) console.log(`    ${what.padEnd(48)} ${ms.toFixed(1).padStart(8)} ms  (${returned} returned)`);
  });

  const time = async (label: string, query: string, runs = 5) => {
    const samples: number[] = [];
    let last: any;
    for (let i = 0; i < runs; i++) {
      const t = performance.now();
      const res = await server.fhir(`/ValueSet/$expand?url=${VS_URL}${query}`);
      samples.push(performance.now() - t);
      expect(res.status).to.equal(200);
      last = res.json;
    }
    samples.sort((a, b) => a - b);
    timings.push([label, samples[Math.floor(samples.length / 2)], last.expansion.contains?.length ?? 0]);
    return last;
  };

  it('expands cold and warm, with and without filter', async () => {
    const cold = await time('cold (first after write), count=100', '&count=100', 1);
    expect(cold.expansion.total).to.equal(SIZE);
    await time('warm, count=100', '&count=100');
    const all = await time('warm, count=10000', '&count=10000');
    expect(all.expansion.contains).to.have.length(SIZE);
    const expected = syntheticCodeSystem().concept.flatMap((g) => [g, ...g.concept]).filter((c) => /\bfoxtrot\b/.test(c.display)).length;
    const filtered = await time(`warm, filter=foxtrot (${expected} match), count=100`, '&filter=foxtrot&count=100');
    expect(filtered.expansion.total).to.equal(expected);
    await time('warm, filter=foxtrot, count=10000', '&filter=foxtrot&count=10000');
    await time('warm, filter="synthetic gol conc", count=100', '&filter=synthetic%20gol%20conc&count=100');
    // A write of any terminology resource drops the cache: the next expansion is cold again.
    await server.fhir('/ValueSet', { method: 'POST', body: { resourceType: 'ValueSet', url: 'http://example.org/other', status: 'active' } });
    await time('cold again after another ValueSet was written', '&count=100', 1);
    const t = performance.now();
    const vc = await server.fhir(`/ValueSet/$validate-code?url=${VS_URL}&system=${CS_URL}&code=C09998`);
    timings.push(['$validate-code (no expansion), for comparison', performance.now() - t, 0]);
    expect(vc.json.parameter[0].valueBoolean).to.equal(true);
  });
});
