import { expect } from 'chai';
import { FhirError } from '../../fhir/errors.js';
import { SPINE_ERROR_SYSTEM } from '../../fhir/spine-errors.js';

/** Runs `fn` and returns the FhirError it throws (failing the test if it throws none or another). */
export function thrownFhirError(fn: () => unknown): FhirError {
  try {
    fn();
  } catch (e) {
    expect(e).to.be.instanceOf(FhirError);
    return e as FhirError;
  }
  expect.fail('expected a FhirError');
}

/** The Spine error code of an OperationOutcome's first issue (undefined when it has no Spine coding). */
export function spineCodeOf(outcome: any): string | undefined {
  const coding = outcome?.issue?.[0]?.details?.coding?.[0];
  return coding?.system === SPINE_ERROR_SYSTEM ? coding.code : undefined;
}
