import { expect } from 'chai';
import { FhirError } from '../../fhir/errors.js';
import { parseFhirRequest } from '../../fhir/request.js';

/** The one FHIR request parser: the HTTP edge and Bundle entries both read their paths through it. */
describe('fhir/request: the FHIR request parser', () => {
  const refused = (method: string, path: string): FhirError => {
    try {
      parseFhirRequest(method, path);
    } catch (err) {
      expect(err).to.be.instanceOf(FhirError);
      return err as FhirError;
    }
    throw new Error(`${method} ${path} was accepted`);
  };

  it('names every R4 interaction by method and path shape', () => {
    const cases: [string, string, Record<string, unknown>][] = [
      ['GET', '/metadata', { interaction: 'capabilities', level: 'system' }],
      ['GET', '/', { interaction: 'search-system', level: 'system' }],
      ['POST', '/', { interaction: 'batch-or-transaction', level: 'system' }],
      ['POST', '/_search', { interaction: 'search-system', searchInBody: true }],
      ['GET', '/_history', { interaction: 'history-system' }],
      ['GET', '/Patient', { interaction: 'search-type', level: 'type', type: 'Patient' }],
      ['POST', '/Patient/_search', { interaction: 'search-type', type: 'Patient', searchInBody: true }],
      ['POST', '/Patient', { interaction: 'create', type: 'Patient' }],
      ['PUT', '/Patient?identifier=a|b', { interaction: 'update', type: 'Patient', conditional: true, query: 'identifier=a|b' }],
      ['PATCH', '/Patient?x=1', { interaction: 'patch', conditional: true }],
      ['DELETE', '/Patient?x=1', { interaction: 'delete', conditional: true }],
      ['GET', '/Patient/_history', { interaction: 'history-type', type: 'Patient' }],
      ['GET', '/Patient/9000000009', { interaction: 'read', level: 'instance', type: 'Patient', id: '9000000009' }],
      ['HEAD', '/Patient/9000000009', { interaction: 'read', method: 'HEAD' }],
      ['PUT', '/Patient/p1', { interaction: 'update', level: 'instance', id: 'p1' }],
      ['PATCH', '/Patient/p1', { interaction: 'patch', id: 'p1' }],
      ['DELETE', '/Patient/p1', { interaction: 'delete', id: 'p1' }],
      ['GET', '/Patient/p1/_history', { interaction: 'history-instance', id: 'p1' }],
      ['GET', '/Patient/p1/_history/3', { interaction: 'vread', id: 'p1', version: '3' }],
      ['GET', '/Patient/p1/Observation', { interaction: 'search-compartment', type: 'Observation', compartment: { type: 'Patient', id: 'p1' } }],
      ['POST', '/$process-message', { interaction: 'operation', level: 'system', operation: 'process-message' }],
      ['POST', '/Task/$release', { interaction: 'operation', level: 'type', type: 'Task', operation: 'release' }],
      ['GET', '/Patient/p1/$everything', { interaction: 'operation', level: 'instance', type: 'Patient', id: 'p1', operation: 'everything' }],
      ['GET', 'Patient/p1', { interaction: 'read', id: 'p1' }], // a Bundle entry's url has no leading slash
      ['GET', '/Patient/a%2Fb', { interaction: 'read', id: 'a/b' }], // segments are decoded after the split
    ];
    for (const [method, path, expected] of cases) {
      expect(parseFhirRequest(method, path), `${method} ${path}`).to.deep.include(expected);
    }
  });

  it('refuses what names no endpoint: 404 for unknown types and shapes, 405 with Allow for a method the shape does not answer, 400 for a bad escape', () => {
    expect(refused('GET', '/Spaceship/1').status).to.equal(404);
    expect(refused('GET', '/Spaceship/1').issues[0].diagnostics).to.contain("Unknown resource type 'Spaceship'");
    expect(refused('GET', '/Patient/1/extra/segments/here').status).to.equal(404);
    expect(refused('GET', '/Patient/1/notatype').status).to.equal(404);
    const post = refused('POST', '/Patient/123');
    expect(post.status).to.equal(405);
    expect(post.headers.Allow).to.equal('GET, PUT, PATCH, DELETE');
    expect(refused('GET', '/Patient/_search').headers.Allow).to.equal('POST');
    expect(refused('DELETE', '/Patient/1/_history/2').status).to.equal(405);
    expect(refused('GET', '/Patient/%E0%A4%A').status).to.equal(400);
  });

  it('is case-sensitive: `_HISTORY` is an id, not history', () => {
    expect(parseFhirRequest('GET', '/Patient/_HISTORY')).to.include({ interaction: 'read', id: '_HISTORY' });
  });
});
