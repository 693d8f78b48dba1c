import { expect } from 'chai';
import { parseFhirXml } from '../../fhir/xml.js';
import { thrownFhirError } from '../support/fhir-errors.js';

/** FHIR R4 XML → JSON (fhir/xml.ts), one rule of hl7.org/fhir/R4/xml.html and json.html per case. */

const NS = 'xmlns="http://hl7.org/fhir"';
const parse = (xml: string): any => parseFhirXml(xml);

/** The 400 FhirError the parser throws for `xml`, with its diagnostics and expression. */
function refused(xml: string): { diagnostics: string; expression?: string[] } {
  const error = thrownFhirError(() => parseFhirXml(xml));
  expect(error.status).to.equal(400);
  const issue = error.issues[0];
  return { diagnostics: issue.diagnostics ?? '', expression: issue.expression };
}

describe('unit: FHIR XML → JSON', () => {
  describe('resources and element order', () => {
    it('takes resourceType from the root element and id from the id element', () => {
      expect(parse(`<Patient ${NS}><id value="p1"/><gender value="female"/></Patient>`))
        .to.deep.equal({ resourceType: 'Patient', id: 'p1', gender: 'female' });
    });

    it('ignores element order, the XML declaration, comments and an xsi:schemaLocation', () => {
      const ordered = parse(`<Patient ${NS}><id value="p1"/><name><family value="Test"/><given value="A"/><given value="B"/></name><gender value="male"/></Patient>`);
      const shuffled = parse(`<?xml version="1.0" encoding="UTF-8"?>
        <!-- synthetic -->
        <Patient ${NS} xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="http://hl7.org/fhir patient.xsd">
          <gender value="male"/>
          <name><given value="A"/><!-- a comment --><family value="Test"/><given value="B"/></name>
          <id value="p1"/>
        </Patient>`);
      expect(shuffled).to.deep.equal(ordered);
      expect(ordered).to.deep.equal({ resourceType: 'Patient', id: 'p1', name: [{ family: 'Test', given: ['A', 'B'] }], gender: 'male' });
    });

    it('accepts the FHIR namespace under a prefix', () => {
      expect(parse('<f:Patient xmlns:f="http://hl7.org/fhir"><f:active value="true"/></f:Patient>'))
        .to.deep.equal({ resourceType: 'Patient', active: true });
    });
  });

  describe('cardinality from the R4 definitions', () => {
    it('a repeating element is an array even when it occurs once; a max-1 element is a single value', () => {
      const p = parse(`<Patient ${NS}><name><given value="A"/></name><birthDate value="2000-01-01"/><telecom><system value="phone"/><value value="01130000000"/></telecom></Patient>`);
      expect(p.name).to.deep.equal([{ given: ['A'] }]);
      expect(p.telecom).to.deep.equal([{ system: 'phone', value: '01130000000' }]);
      expect(p.birthDate).to.equal('2000-01-01');
    });

    it('follows datatypes and backbone elements to their own definitions', () => {
      const p = parse(`<Patient ${NS}><contact><name><family value="X"/></name><telecom><value value="1"/></telecom></contact></Patient>`);
      expect(p.contact).to.deep.equal([{ name: { family: 'X' }, telecom: [{ value: '1' }] }]);
    });

    it('follows a contentReference (Questionnaire.item.item is an item)', () => {
      const q = parse(`<Questionnaire ${NS}><status value="draft"/><item><linkId value="1"/><type value="group"/><item><linkId value="1.1"/><type value="string"/></item></item></Questionnaire>`);
      expect(q.item).to.deep.equal([{ linkId: '1', type: 'group', item: [{ linkId: '1.1', type: 'string' }] }]);
    });

    it('refuses a max-1 element that occurs twice, naming it', () => {
      const { diagnostics, expression } = refused(`<Patient ${NS}><gender value="male"/><gender value="female"/></Patient>`);
      expect(diagnostics).to.contain('gender');
      expect(expression).to.deep.equal(['Patient.gender']);
    });
  });

  describe('primitive values', () => {
    it('gives booleans, integers, positiveInt, unsignedInt and decimals their JSON types; other primitives stay strings', () => {
      const o = parse(`<Observation ${NS}><status value="final"/><code><text value="t"/></code>
        <valueQuantity><value value="72.25"/><unit value="kg"/></valueQuantity>
        <component><code><text value="c"/></code><valueInteger value="-3"/></component>
        <component><code><text value="d"/></code><valueBoolean value="false"/></component>
        <component><code><text value="e"/></code><valueString value="007"/></component>
        <referenceRange><low><value value="1e2"/></low></referenceRange>
      </Observation>`);
      expect(o.valueQuantity).to.deep.equal({ value: 72.25, unit: 'kg' });
      expect(o.component.map((c: any) => c.valueInteger ?? c.valueBoolean ?? c.valueString)).to.deep.equal([-3, false, '007']);
      expect(o.referenceRange[0].low.value).to.equal(100);
      const t = parse(`<Patient ${NS}><multipleBirthInteger value="2"/><photo><size value="0"/></photo><active value="true"/></Patient>`);
      expect(t).to.deep.equal({ resourceType: 'Patient', multipleBirthInteger: 2, photo: [{ size: 0 }], active: true });
      const r = parse(`<Patient ${NS}><contact><extension url="http://example.org/rank"><valuePositiveInt value="1"/></extension><gender value="other"/></contact></Patient>`);
      expect(r.contact[0].extension[0].valuePositiveInt).to.equal(1);
    });

    it('keeps a decimal as the number its text denotes (what JSON.parse gives for the same JSON)', () => {
      for (const text of ['0.1', '3.141592653589793', '-0.000001', '12345678901234.5', '1.0e-3']) {
        const q = parse(`<Observation ${NS}><status value="final"/><code><text value="t"/></code><valueQuantity><value value="${text}"/></valueQuantity></Observation>`);
        expect(q.valueQuantity.value, text).to.be.a('number').and.to.equal(JSON.parse(text));
      }
    });

    it('keeps code values that look like numbers as strings', () => {
      const c = parse(`<Patient ${NS}><maritalStatus><coding><code value="01"/></coding></maritalStatus></Patient>`);
      expect(c.maritalStatus.coding[0].code).to.equal('01');
    });

    it('decodes character references and entities in values', () => {
      const p = parse(`<Patient ${NS}><name><text value="A &amp; B&#xA;&lt;C&gt; &quot;q&quot;"/></name></Patient>`);
      expect(p.name[0].text).to.equal('A & B\n<C> "q"');
    });

    it('refuses values that are not of their type', () => {
      for (const [xml, what] of [
        [`<Patient ${NS}><active value="yes"/></Patient>`, 'boolean'],
        [`<Patient ${NS}><multipleBirthInteger value="1.0"/></Patient>`, 'integer'],
        [`<Patient ${NS}><multipleBirthInteger value="2147483648"/></Patient>`, 'integer'],
        [`<Patient ${NS}><photo><size value="-1"/></photo></Patient>`, 'unsignedInt'],
        [`<Observation ${NS}><valueQuantity><value value="1."/></valueQuantity></Observation>`, 'decimal'],
        [`<Observation ${NS}><valueQuantity><value value="1e999"/></valueQuantity></Observation>`, 'decimal'],
      ]) {
        expect(refused(xml).diagnostics, xml).to.contain(`Invalid ${what} value`);
      }
      expect(refused(`<Patient ${NS}><gender value=""/></Patient>`).diagnostics).to.contain('Empty value');
      expect(refused(`<Patient ${NS}><gender/></Patient>`).diagnostics).to.contain('neither a value nor extensions');
    });
  });

  describe('id and extensions on primitives: the _name sibling', () => {
    it('puts a single primitive\'s id and extensions in _name', () => {
      const p = parse(`<Patient ${NS}><birthDate id="bd" value="2021-02-11"><extension url="http://hl7.org/fhir/StructureDefinition/patient-birthTime"><valueDateTime value="2021-02-11T15:39:00+00:00"/></extension></birthDate></Patient>`);
      expect(p.birthDate).to.equal('2021-02-11');
      expect(p._birthDate).to.deep.equal({ id: 'bd', extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/patient-birthTime', valueDateTime: '2021-02-11T15:39:00+00:00' }] });
    });

    it('a primitive with only an extension has _name and no name', () => {
      const p = parse(`<Patient ${NS}><gender><extension url="http://example.org/why"><valueString value="unknown"/></extension></gender></Patient>`);
      expect(p).to.deep.equal({ resourceType: 'Patient', _gender: { extension: [{ url: 'http://example.org/why', valueString: 'unknown' }] } });
    });

    it('aligns a repeating primitive and its _name array with nulls', () => {
      const p = parse(`<Patient ${NS}><name><given value="A"/><given id="g2"/><given value="C"><extension url="http://example.org/x"><valueBoolean value="true"/></extension></given></name></Patient>`);
      expect(p.name[0].given).to.deep.equal(['A', null, 'C']);
      expect(p.name[0]._given).to.deep.equal([null, { id: 'g2' }, { extension: [{ url: 'http://example.org/x', valueBoolean: true }] }]);
    });

    it('omits _name when no occurrence has an id or extension', () => {
      const p = parse(`<Patient ${NS}><name><given value="A"/><given value="B"/></name></Patient>`);
      expect(p.name[0]).to.deep.equal({ given: ['A', 'B'] });
    });

    it('refuses anything but extensions inside a primitive', () => {
      expect(refused(`<Patient ${NS}><gender value="male"><coding/></gender></Patient>`).expression).to.deep.equal(['Patient.gender.coding']);
    });
  });

  describe('choice types', () => {
    it('reads the type from the element name and keeps that name in JSON', () => {
      const o = parse(`<Observation ${NS}><status value="final"/><code><text value="t"/></code><effectiveDateTime value="2024-01-01"/><valueCodeableConcept><text value="ok"/></valueCodeableConcept></Observation>`);
      expect(o.effectiveDateTime).to.equal('2024-01-01');
      expect(o.valueCodeableConcept).to.deep.equal({ text: 'ok' });
    });

    it('refuses two types of one choice, and a type the choice does not allow', () => {
      expect(refused(`<Observation ${NS}><valueString value="a"/><valueBoolean value="true"/></Observation>`).diagnostics).to.contain('value[x] takes one type only');
      expect(refused(`<Observation ${NS}><valueMarkdown value="a"/></Observation>`).expression).to.deep.equal(['Observation.valueMarkdown']);
      expect(refused(`<Patient ${NS}><deceasedString value="a"/></Patient>`).diagnostics).to.contain("Unknown element 'deceasedString'");
    });
  });

  describe('extensions and element ids', () => {
    it('reads url and id attributes of extension and modifierExtension, nested extensions included', () => {
      const p = parse(`<Patient ${NS}>
        <extension id="e1" url="http://example.org/complex">
          <extension url="part"><valueCoding><system value="http://example.org/cs"/><code value="A"/></valueCoding></extension>
          <extension url="when"><valuePeriod><start value="2020-01-01"/></valuePeriod></extension>
        </extension>
        <modifierExtension url="http://example.org/mod"><valueBoolean value="true"/></modifierExtension>
        <name id="n1"><family value="X"/></name>
      </Patient>`);
      expect(p.extension).to.deep.equal([{ id: 'e1', url: 'http://example.org/complex', extension: [
        { url: 'part', valueCoding: { system: 'http://example.org/cs', code: 'A' } },
        { url: 'when', valuePeriod: { start: '2020-01-01' } },
      ] }]);
      expect(p.modifierExtension).to.deep.equal([{ url: 'http://example.org/mod', valueBoolean: true }]);
      expect(p.name).to.deep.equal([{ id: 'n1', family: 'X' }]);
    });

    it('refuses url as an element, and attributes the definitions do not make attributes', () => {
      expect(refused(`<Patient ${NS}><extension><url value="http://x"/></extension></Patient>`).expression).to.deep.equal(['Patient.extension[0].url']);
      expect(refused(`<Patient ${NS}><name use="official"/></Patient>`).diagnostics).to.contain("Unknown attribute 'use'");
      expect(refused(`<Patient ${NS} id="p1"/>`).diagnostics).to.contain("Unknown attribute 'id'");
    });
  });

  describe('nested resources', () => {
    it('reads contained resources', () => {
      const p = parse(`<Patient ${NS}><contained><Organization><id value="o1"/><name value="Org"/></Organization></contained><contained><Practitioner><id value="pr1"/></Practitioner></contained><managingOrganization><reference value="#o1"/></managingOrganization></Patient>`);
      expect(p.contained).to.deep.equal([{ resourceType: 'Organization', id: 'o1', name: 'Org' }, { resourceType: 'Practitioner', id: 'pr1' }]);
      expect(p.managingOrganization).to.deep.equal({ reference: '#o1' });
    });

    it('reads Bundle.entry.resource and Bundle.entry.response.outcome', () => {
      const b = parse(`<Bundle ${NS}><type value="transaction-response"/>
        <entry><fullUrl value="urn:uuid:1"/><resource><Patient><active value="false"/></Patient></resource><response><status value="201"/><outcome><OperationOutcome><issue><severity value="information"/><code value="informational"/></issue></OperationOutcome></outcome></response></entry>
        <entry><resource><Bundle><type value="collection"/><entry><resource><Organization><name value="Inner"/></Organization></resource></entry></Bundle></resource></entry>
      </Bundle>`);
      expect(b.entry[0].resource).to.deep.equal({ resourceType: 'Patient', active: false });
      expect(b.entry[0].response.outcome).to.deep.equal({ resourceType: 'OperationOutcome', issue: [{ severity: 'information', code: 'informational' }] });
      expect(b.entry[1].resource.entry[0].resource).to.deep.equal({ resourceType: 'Organization', name: 'Inner' });
    });

    it('reads Parameters.parameter.resource next to value[x] and part', () => {
      const p = parse(`<Parameters ${NS}><parameter><name value="count"/><valueInteger value="3"/></parameter><parameter><name value="patient"/><resource><Patient><gender value="unknown"/></Patient></resource></parameter><parameter><name value="group"/><part><name value="flag"/><valueBoolean value="true"/></part></parameter></Parameters>`);
      expect(p.parameter).to.deep.equal([
        { name: 'count', valueInteger: 3 },
        { name: 'patient', resource: { resourceType: 'Patient', gender: 'unknown' } },
        { name: 'group', part: [{ name: 'flag', valueBoolean: true }] },
      ]);
    });

    it('refuses a wrapper with no or two resources, a resource of the wrong type, or an unknown resource type', () => {
      expect(refused(`<Patient ${NS}><contained/></Patient>`).diagnostics).to.contain('exactly one resource');
      expect(refused(`<Patient ${NS}><contained><Organization/><Organization/></contained></Patient>`).diagnostics).to.contain('exactly one resource');
      expect(refused(`<Bundle ${NS}><entry><response><status value="200"/><outcome><Patient/></outcome></response></entry></Bundle>`).diagnostics).to.contain('must contain a OperationOutcome');
      expect(refused(`<Patient ${NS}><contained><Widget/></contained></Patient>`).diagnostics).to.contain("Unknown resource type 'Widget'");
      expect(refused(`<Widget ${NS}/>`).diagnostics).to.contain("Unknown resource type 'Widget'");
    });
  });

  describe('the narrative div', () => {
    it('is the XHTML exactly as in the source: namespace declaration, markup, entities, comments, whitespace', () => {
      const div = '<div xmlns="http://www.w3.org/1999/xhtml" class=\'n\'>\n  <p>Jane &amp; <b>John</b> &#169;</p><br/><!-- kept --><table><tr><td>1</td></tr></table>\n</div>';
      const p = parse(`<Patient ${NS}><text><status value="generated"/>${div}</text><active value="true"/></Patient>`);
      expect(p.text).to.deep.equal({ status: 'generated', div });
      expect(p.active).to.equal(true);
    });

    it('keeps the exact text around characters outside the BMP and a self-closing div', () => {
      const div = '<div xmlns="http://www.w3.org/1999/xhtml"><p>\u{1F600} smile</p></div>';
      const p = parse(`<Patient ${NS}><name><text value="\u{1F600}\u{1F600}"/></name><text><status value="generated"/>${div}</text></Patient>`);
      expect(p.text.div).to.equal(div);
      expect(p.name[0].text).to.equal('\u{1F600}\u{1F600}');
      const empty = parse(`<Patient ${NS}><text><status value="empty"/><div xmlns="http://www.w3.org/1999/xhtml"/></text></Patient>`);
      expect(empty.text.div).to.equal('<div xmlns="http://www.w3.org/1999/xhtml"/>');
    });

    it('works for narratives of contained resources too', () => {
      const div = '<div xmlns="http://www.w3.org/1999/xhtml">inner</div>';
      const p = parse(`<Patient ${NS}><contained><Organization><text><status value="generated"/>${div}</text></Organization></contained></Patient>`);
      expect(p.contained[0].text.div).to.equal(div);
    });

    it('adds the namespace declaration when the div inherits it, and refuses a prefixed div', () => {
      const p = parse('<f:Patient xmlns:f="http://hl7.org/fhir" xmlns="http://www.w3.org/1999/xhtml"><f:text><f:status value="generated"/><div class="c">x<br/></div></f:text></f:Patient>');
      expect(p.text.div).to.equal('<div xmlns="http://www.w3.org/1999/xhtml" class="c">x<br/></div>');
      expect(refused(`<Patient ${NS}><text><status value="generated"/><h:div xmlns:h="http://www.w3.org/1999/xhtml">x</h:div></text></Patient>`).diagnostics).to.contain('default namespace');
    });

    it('refuses a div outside the XHTML namespace, and XHTML anywhere but a narrative', () => {
      expect(refused(`<Patient ${NS}><text><status value="generated"/><div>x</div></text></Patient>`).diagnostics).to.contain('must be XHTML');
      expect(refused(`<Patient ${NS}><text><status value="generated"/><p xmlns="http://www.w3.org/1999/xhtml">x</p></text></Patient>`).expression).to.deep.equal(['Patient.text.p']);
      expect(refused(`<Patient ${NS}><name><div xmlns="http://www.w3.org/1999/xhtml">x</div></name></Patient>`).diagnostics).to.contain('namespace');
    });
  });

  describe('refusals', () => {
    it('requires the http://hl7.org/fhir namespace on every FHIR element', () => {
      expect(refused('<Patient><active value="true"/></Patient>').diagnostics).to.contain('no namespace');
      expect(refused('<Patient xmlns="http://hl7.org/fhir/R5"/>').diagnostics).to.contain("namespace 'http://hl7.org/fhir/R5'");
      expect(refused(`<Patient ${NS}><active xmlns="http://example.org" value="true"/></Patient>`).expression).to.deep.equal(['Patient.active']);
    });

    it('names the path of an unknown element, with indexes of repeating parents', () => {
      const { diagnostics, expression } = refused(`<Patient ${NS}><name><family value="A"/></name><name><nickname value="B"/></name></Patient>`);
      expect(diagnostics).to.equal("Unknown element 'nickname' at Patient.name[1].nickname");
      expect(expression).to.deep.equal(['Patient.name[1].nickname']);
      expect(refused(`<Patient ${NS}><contained><Organization><colour value="red"/></Organization></contained></Patient>`).expression)
        .to.deep.equal(['Patient.contained[0].colour']);
    });

    it('refuses text content in FHIR elements and empty complex elements', () => {
      expect(refused(`<Patient ${NS}><gender value="male">male</gender></Patient>`).diagnostics).to.contain('Unexpected text');
      expect(refused(`<Patient ${NS}><name></name></Patient>`).diagnostics).to.contain('is empty');
    });

    it('refuses XML that is not well-formed, a DOCTYPE, and undeclared entities', () => {
      expect(refused(`<Patient ${NS}><active value="true"></Patient>`).diagnostics).to.contain('not well-formed');
      expect(refused(`<!DOCTYPE Patient [<!ENTITY x "y">]><Patient ${NS}/>`).diagnostics).to.contain('DOCTYPE');
      expect(refused(`<Patient ${NS}><name><text value="&nbsp;"/></name></Patient>`).diagnostics).to.contain('not well-formed');
      expect(refused('').diagnostics).to.match(/no root element|not well-formed/);
      expect(refused(`<Patient ${NS}/><Patient ${NS}/>`).diagnostics).to.contain('not well-formed');
    });
  });
});
