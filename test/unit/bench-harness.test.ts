import { expect } from 'chai';
import {
  fingerprint, formatTable, mix, parseArgs, percentile, ratio, resultLine, selectWorkloads, summarise, UsageError, WORKLOADS,
  type LoadStats,
} from '../../bench/harness.js';
import { summariseProfile, type CpuProfile } from '../../bench/profile-summary.js';
import { buildWorkload, samplePatients } from '../../bench/workloads.js';
import { patientRecordBundle, seededObservation } from '../../bench/clinical.js';
import { isValidNhsNumber } from '../../resources/patient/nhs-number.js';

// The harness's pure parts only: no test here starts a benchmark or asserts a speed.

const stats = (rps: number, extra: Partial<LoadStats> = {}): LoadStats => ({
  requests: rps * 10, seconds: 10, rps, p50_ms: 1, p95_ms: 2, p99_ms: 3, errors: 0, statuses: { '2xx': rps * 10 }, ...extra,
});

describe('bench: arguments', () => {
  it('defaults to 100,000 patients and every workload; --quick is small and short', () => {
    const full = parseArgs([]);
    expect(full.patients).to.equal(100_000);
    expect(full.workloads).to.deep.equal([...WORKLOADS]);
    expect(full.peerPatients).to.equal(100_000);
    const quick = parseArgs(['--quick']);
    expect(quick.patients).to.be.below(full.patients);
    expect(quick.durationSeconds).to.be.below(full.durationSeconds);
  });

  it('takes --patients (with separators), --profile and a workload selection in canonical order', () => {
    const args = parseArgs(['--patients', '1_000_000', '--profile', '--workloads', 'mixed,read-by-nhs-number']);
    expect(args.patients).to.equal(1_000_000);
    expect(args.profile).to.equal(true);
    expect(args.workloads).to.deep.equal(['read-by-nhs-number', 'mixed']);
    expect(parseArgs(['--patients', '500', '--peer-patients', '9000']).peerPatients).to.equal(500); // never more than seeded
  });

  it('refuses unknown flags, unknown workloads and malformed numbers', () => {
    expect(() => parseArgs(['--fast'])).to.throw(UsageError, /unknown argument/);
    expect(() => selectWorkloads('read,nope')).to.throw(UsageError, /unknown workload 'read'/);
    expect(() => parseArgs(['--patients', 'many'])).to.throw(UsageError, /whole number/);
    expect(() => parseArgs(['--patients'])).to.throw(UsageError);
    expect(() => parseArgs(['--connections', '0'])).to.throw(UsageError);
  });
});

describe('bench: dataset fingerprint', () => {
  const base = { patients: 100_000, generatorSources: ['population v1', 'clinical v1'], schemaVersion: 2 };
  it('is stable for the same inputs and names the patient count', () => {
    expect(fingerprint(base)).to.equal(fingerprint({ ...base, generatorSources: [...base.generatorSources] }));
    expect(fingerprint(base)).to.match(/^p100000-[0-9a-f]{12}$/);
  });
  it('changes with the patient count, the generator code, the schema version and the data version', () => {
    const fp = fingerprint(base);
    expect(fingerprint({ ...base, patients: 1_000_000 })).to.not.equal(fp);
    expect(fingerprint({ ...base, generatorSources: ['population v2', 'clinical v1'] })).to.not.equal(fp);
    expect(fingerprint({ ...base, schemaVersion: 3 })).to.not.equal(fp);
    expect(fingerprint({ ...base, dataVersion: 99 })).to.not.equal(fp);
    // Concatenation cannot collide: the sources are separated.
    expect(fingerprint({ ...base, generatorSources: ['ab', 'c'] })).to.not.equal(fingerprint({ ...base, generatorSources: ['a', 'bc'] }));
  });
});

describe('bench: statistics, ratios and the result line', () => {
  it('percentile is nearest-rank and summarise reports rps and p50/p95/p99', () => {
    const sorted = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(sorted, 50)).to.equal(50);
    expect(percentile(sorted, 95)).to.equal(95);
    expect(percentile(sorted, 99)).to.equal(99);
    expect(percentile([], 99)).to.equal(0);
    const s = summarise([...sorted].reverse(), 2, 3, { '2xx': 97, '4xx': 3 });
    expect(s).to.include({ requests: 100, rps: 50, p50_ms: 50, p95_ms: 95, p99_ms: 99, errors: 3 });
  });

  it('ratio is ours over the reference, null without a usable reference', () => {
    expect(ratio(stats(500), stats(1000))).to.equal(0.5);
    expect(ratio(stats(3000), stats(1000))).to.equal(3);
    expect(ratio(stats(1), stats(3))).to.equal(0.333);
    expect(ratio(stats(500), undefined)).to.equal(null);
    expect(ratio(stats(500), stats(0))).to.equal(null);
  });

  it('the JSON line has exactly the agreed fields first, in order, then extras', () => {
    const line = resultLine('read-by-nhs-number', stats(600, { p50_ms: 1.5, p95_ms: 4, p99_ms: 9.25, errors: 2 }), stats(1200), undefined, { connections: 10 });
    expect(Object.keys(line).slice(0, 8)).to.deep.equal(['workload', 'rps', 'p50_ms', 'p95_ms', 'p99_ms', 'errors', 'ratio_to_ceiling', 'ratio_to_peer']);
    expect(line).to.deep.equal({
      workload: 'read-by-nhs-number', rps: 600, p50_ms: 1.5, p95_ms: 4, p99_ms: 9.25, errors: 2, ratio_to_ceiling: 0.5, ratio_to_peer: null, connections: 10,
    });
    const parsed = JSON.parse(JSON.stringify(line));
    for (const k of ['rps', 'p50_ms', 'p95_ms', 'p99_ms', 'errors', 'ratio_to_ceiling']) expect(parsed[k]).to.be.a('number');
  });

  it('the table has a row per measurement and says why one is missing', () => {
    const table = formatTable([
      { workload: 'history', target: 'vertebra', stats: stats(100) },
      { workload: 'history', target: 'peer', note: 'the peer cannot run it' },
    ]);
    const lines = table.split('\n');
    expect(lines).to.have.length(4);
    expect(lines[0]).to.match(/^workload\s+target\s+req\/s\s+p50 ms\s+p95 ms\s+p99 ms\s+errors\s+note$/);
    expect(lines[2]).to.match(/history\s+vertebra\s+100\.0\s+1\.00\s+2\.00\s+3\.00\s+0/);
    expect(lines[3]).to.match(/history\s+peer\s+-\s+-\s+-\s+-\s+-\s+the peer cannot run it/);
  });
});

describe('bench: workloads', () => {
  const sample = samplePatients({ patients: 5_000, seed: 1 }, 5_000, 50);

  it('samples real seeded patients, deterministically', () => {
    expect(sample).to.have.length(50);
    expect(samplePatients({ patients: 5_000, seed: 1 }, 5_000, 50)).to.deep.equal(sample);
    for (const p of sample) {
      expect(isValidNhsNumber(p.nhs)).to.equal(true);
      expect(p.birthDate).to.match(/^\d{4}-\d{2}-\d{2}$/);
      expect(p.family).to.be.a('string').and.not.equal('');
    }
  });

  it('the mixed profile is 70 % reads, 20 % searches and 10 % writes', () => {
    expect(mix({ a: 70, b: 20, c: 10 }, 1000).filter((k) => k === 'a')).to.have.length(700);
    expect(mix({ a: 1, b: 1, c: 1 }, 10)).to.have.length(10);
    const w = buildWorkload('mixed', sample, 10);
    const reads = w.requests.filter((r) => r.method === 'GET' && /^\/fhir\/Patient\/\d{10}$/.test(r.path)).length;
    const searches = w.requests.filter((r) => r.path.startsWith('/fhir/Patient?family=')).length;
    const writes = w.requests.filter((r) => r.method === 'POST').length;
    expect([reads, searches, writes]).to.deep.equal([700, 200, 100]);
    expect(w.requests[w.ceilingSample].method).to.equal('GET');
    expect(w.requests[w.ceilingSample].path).to.match(/^\/fhir\/Patient\/\d{10}$/);
  });

  it('PDS search runs at one client; ingest bundles hold a patient and linked resources', () => {
    expect(buildWorkload('pds-search', sample, 10).connections).to.equal(1);
    const ingest = buildWorkload('transaction-ingest', sample, 10);
    const bundle = JSON.parse(ingest.requests[0].body!);
    expect(bundle.type).to.equal('transaction');
    expect(bundle.entry).to.have.length(ingest.resourcesPerRequest!);
    expect(bundle.entry[0].resource.resourceType).to.equal('Patient');
    expect(bundle.entry[0].resource.identifier.some((i: { system: string }) => i.system === 'https://fhir.nhs.uk/Id/nhs-number')).to.equal(false);
    expect(bundle.entry[2].resource.subject.reference).to.equal(bundle.entry[0].fullUrl);
    expect(JSON.stringify(patientRecordBundle(3))).to.equal(JSON.stringify(patientRecordBundle(3)));
    expect(seededObservation(5, '9990000018').subject?.reference).to.equal('Patient/9990000018');
  });
});

describe('bench: CPU profile summary', () => {
  it('ranks functions by self time, splits busy from idle and tells our code from dependencies', () => {
    const frame = (functionName: string, url: string) => ({ functionName, url, lineNumber: 9 });
    const profile: CpuProfile = {
      nodes: [
        { id: 1, callFrame: frame('(root)', '') },
        { id: 2, callFrame: frame('(idle)', '') },
        { id: 3, callFrame: frame('sendFhir', 'file:///repo/dist/server/representation.js') },
        { id: 4, callFrame: frame('stringify', 'file:///repo/node_modules/fast-json/index.js') },
        { id: 5, callFrame: frame('sendFhir', 'file:///repo/dist/server/representation.js') }, // same function, another call path
      ],
      samples: [2, 3, 4, 5, 3, 2],
      timeDeltas: [5000, 1000, 2000, 1000, 1000, 5000],
    };
    const s = summariseProfile(profile);
    expect(s.busyMs).to.equal(5);
    expect(s.idleMs).to.equal(10);
    expect(s.top[0]).to.include({ name: 'sendFhir', where: 'dist/server/representation.js:10', origin: 'vertebra', selfPercent: 60 });
    expect(s.top[1]).to.include({ name: 'stringify', where: 'fast-json/index.js:10', origin: 'dependency', selfPercent: 40 });
    expect(s.byOrigin).to.include({ vertebra: 60, dependency: 40 });
    // From 8.5 ms on (samples at 9, 10 and 15 ms): only those count.
    const late = summariseProfile(profile, { fromUs: 8500 });
    expect(late.busyMs).to.equal(2);
    expect(late.top).to.have.length(1);
    expect(late.top[0]).to.include({ name: 'sendFhir', selfPercent: 100 });
  });
});
