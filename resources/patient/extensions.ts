/** The UK Core / PDS Patient extension URLs the PDS rules, the search view and the seed refer to. */
const UKCORE = 'https://fhir.hl7.org.uk/StructureDefinition';

export const DEATH_NOTIFICATION_URL = `${UKCORE}/Extension-UKCore-DeathNotificationStatus`;
export const NOMINATED_PHARMACY_URL = `${UKCORE}/Extension-UKCore-NominatedPharmacy`;
export const PREFERRED_DISPENSER_URL = `${UKCORE}/Extension-UKCore-PreferredDispenserOrganization`;
export const MEDICAL_APPLIANCE_SUPPLIER_URL = `${UKCORE}/Extension-UKCore-MedicalApplianceSupplier`;
export const NHS_COMMUNICATION_URL = `${UKCORE}/Extension-UKCore-NHSCommunication`;
export const CONTACT_PREFERENCE_URL = `${UKCORE}/Extension-UKCore-ContactPreference`;
export const BIRTH_PLACE_URL = 'http://hl7.org/fhir/StructureDefinition/patient-birthPlace';
