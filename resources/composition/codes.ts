/**
 * The Summary Care Record's codes and identifier systems (nhs-spine.md §5), defined once.
 */
export const SNOMED = 'http://snomed.info/sct';
/** Composition.type and DocumentReference.type of an SCR. */
export const GP_SUMMARY = { system: SNOMED, code: '196981000000101', display: 'General Practice Summary' } as const;
/** Composition.category of an SCR. */
export const CARE_PROFESSIONAL_DOCUMENTATION = { system: SNOMED, code: '163171000000105', display: 'Care Professional Documentation' } as const;
/** Composition.identifier.system of the SCR UUID. */
export const RFC4122_SYSTEM = 'https://tools.ietf.org/html/rfc4122';
/** DocumentReference.masterIdentifier.system of the pointer to an SCR. */
export const SCR_UUID_SYSTEM = 'https://fhir.nhs.uk/Id/nhsSCRUUID';
export const ACS_PERMISSION_SYSTEM = 'https://fhir.nhs.uk/CodeSystem/SCR-ACSPermission';
export const ALERT_TYPE_SYSTEM = 'https://fhir.nhs.uk/CodeSystem/SCR-AlertType';
export const ALERT_REASON_SYSTEM = 'https://fhir.nhs.uk/CodeSystem/SCR-AlertReason';
export const NOTIFICATION_MESSAGE_URL = 'https://fhir.nhs.uk/StructureDefinition/Extension-SCR-NotificationMessage';

/** The patient's SCR permission (ACS): `Yes` is legacy and treated as `Ask` (§5.1). */
export type AcsPermission = 'Yes' | 'No' | 'Ask';
export const ACS_PERMISSIONS: Record<AcsPermission, string> = {
  Yes: 'Yes (legacy: treated as Ask)',
  No: 'No: the patient has opted out of the Summary Care Record',
  Ask: 'Ask for permission to view',
};
export const isAcsPermission = (code: string): code is AcsPermission => Object.hasOwn(ACS_PERMISSIONS, code);

export const ALERT_TYPES: Record<string, string> = { 1: 'Create LR (Self Claimed)', 2: 'Access Alert' };
export const ALERT_REASONS: Record<string, string> = {
  1: 'Access made in the public interest',
  2: 'Access required by statute',
  3: 'Access required by Court Order',
  4: 'Self-Claim Emergency Access',
  5: 'Access made in an emergency',
  6: 'Other',
};
/** The permitted type → reasons (MSCA-SCR-103, -104, -105): 1/5, 2/4 and 2/6 are not. */
export const PERMITTED_ALERT_PAIRS: Record<string, readonly string[]> = { 1: ['1', '2', '3', '4', '6'], 2: ['1', '2', '3', '5'] };

/** The PSIS text SCR answers when its access control framework refuses a read (§5.1). */
export const ACF_REFUSAL = '[PSIS-30418] - ACF does not permit access to resource';
