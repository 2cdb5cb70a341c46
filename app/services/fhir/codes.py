"""The ANS SAS guide's fixed systems, codes and profiles (`input/fsh` of the guide)."""

IG_CANONICAL = "https://interop.esante.gouv.fr/ig/fhir/sas"
FHIR_VERSION = "4.0.1"

# Identifier systems (ASIP OIDs): national PS id (8 + RPPS), structure (1 + FINESS), SAS.
OID_PS = "urn:oid:1.2.250.1.71.4.2.1"
OID_STRUCTURE = "urn:oid:1.2.250.1.71.4.2.2"
OID_SAS = "urn:oid:1.2.250.1.213.3.6"

# Identifier types. The guide's profiles fix IDNPS/INTRN in the interopsante system and IDNST
# (CPTS Organization) in the fr-core one; both are accepted on input.
V2_0203 = "http://interopsante.org/fhir/CodeSystem/fr-v2-0203"
FR_CORE_V2_0203 = "https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0203"
IDENTIFIER_TYPE_SYSTEMS = (V2_0203, FR_CORE_V2_0203)

SLOT_LABELS = ("PUBLIC", "PRO", "SNP", "CPTS")
SLOT_SECURITY = "https://mos.esante.gouv.fr/NOS/TRE_R314-TypeCreneau/FHIR/TRE-R314-TypeCreneau"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
APPOINTMENT_REASON = "http://terminology.hl7.org/CodeSystem/v2-0276"
SPECIALTY = (
    "https://mos.esante.gouv.fr/NOS/TRE_R38-SpecialiteOrdinale/FHIR/TRE-R38-SpecialiteOrdinale"
)
CATEGORIE_ETABLISSEMENT = "https://mos.esante.gouv.fr/NOS/TRE_R66-CategorieEtablissement/FHIR/TRE-R66-CategorieEtablissement"
CPTS_CATEGORY = "604"
SERVICE_TYPE_R5 = "http://hl7.org/fhir/5.0/StructureDefinition/extension-Slot.serviceType"
APPOINTMENT_OPERATOR = "http://interopsante.org/fhir/StructureDefinition/FrAppointmentOperator"
SLOT_STATUS = "http://hl7.org/fhir/slotstatus"

_SAS = "http://sas.fr/fhir/StructureDefinition/"
PROFILE_BUNDLE = _SAS + "BundleAgregateur"
PROFILE_BUNDLE_CPTS = IG_CANONICAL + "/StructureDefinition/sas-cpts-bundle-aggregator"
PROFILE_SLOT = _SAS + "FrSlotAgregateur"
PROFILE_SLOT_CPTS = IG_CANONICAL + "/StructureDefinition/sas-cpts-slot-aggregator"
PROFILE_SCHEDULE = _SAS + "FrScheduleAgregateur"
PROFILE_PRACTITIONER = _SAS + "FrPractitionerAgregateur"
PROFILE_PRACTITIONER_ROLE = _SAS + "FrPractitionerRoleExerciceAgregateur"
PROFILE_LOCATION = _SAS + "FrLocationAgregateur"
PROFILE_HEALTHCARE_SERVICE = (
    IG_CANONICAL + "/StructureDefinition/sas-cpts-healthcareservice-aggregator"
)
PROFILE_ORGANIZATION = IG_CANONICAL + "/StructureDefinition/sas-cpts-organization-aggregator"
PROFILE_PRACTITIONER_REGUL = IG_CANONICAL + "/StructureDefinition/FrPractitionerRegul"
PROFILE_APPOINTMENT = _SAS + "FrAppointmentSAS"

FHIR_JSON = "application/fhir+json"
FHIR_JSON_LEGACY = "application/json+fhir"
FHIR_MEDIA_TYPES = (FHIR_JSON, FHIR_JSON_LEGACY)
