"""The CapabilityStatement of `/fhir/metadata`: what this server does, and nothing more.

Rules: it lists the Slot search with its parameters and includes (INT_R01, INT_R04), the
regulator account create and conditional update on Practitioner (INT_R02), the resources
returned only as includes (no read or search of their own: no interaction is listed for them),
JSON only, and the security in place (API key of role `sas_platform`, mutual TLS at the
TLS-terminating proxy). The Appointment of INT_R03 is sent by us, as a client: it is not here.
"""

from typing import Any

from app.services.fhir import codes
from app.services.fhir.search_params import MAX_PRACTITIONERS, MAX_WINDOW, PRACTITIONER_PARAM

_SEARCH_DOC = (
    "Free, offered slots (flows INT_R01 and INT_R04 of the SAS guide). Required: start=ge… and "
    f"start=le… (with or without an offset; without one, in the territory's zone; at most "
    f"{MAX_WINDOW.days} days), {PRACTITIONER_PARAM}={codes.OID_PS}|8<RPPS> (1 to "
    f"{MAX_PRACTITIONERS}, comma-separated or repeated), status=free. Unknown parameters are "
    "ignored unless `Prefer: handling=strict`."
)


def capability_statement(base_url: str, version: str, date: str) -> dict[str, Any]:
    def include_only(kind: str, profile: str, includes: list[str] | None = None) -> dict[str, Any]:
        resource: dict[str, Any] = {
            "type": kind,
            "profile": profile,
            "documentation": "Returned only as an included resource of a Slot search.",
        }
        if includes:
            resource["searchInclude"] = includes
        return resource

    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": date,
        "publisher": "SNP dispatch",
        "kind": "instance",
        "software": {"name": "SNP dispatch", "version": version},
        "implementation": {
            "description": "SNP agenda of a CPTS, SAS editor interface",
            "url": base_url,
        },
        "fhirVersion": codes.FHIR_VERSION,
        "format": [codes.FHIR_JSON, codes.FHIR_JSON_LEGACY, "json"],
        "implementationGuide": [codes.IG_CANONICAL],
        "rest": [
            {
                "mode": "server",
                "documentation": "ANS guide Service d'Accès aux Soins: slot search and regulator "
                "accounts.",
                "security": {
                    "cors": False,
                    "description": "An API key of role sas_platform in `Authorization: Bearer`; "
                    "mutual TLS is terminated by the proxy in front of this server.",
                },
                "resource": [
                    {
                        "type": "Slot",
                        "profile": codes.PROFILE_SLOT,
                        "supportedProfile": [codes.PROFILE_SLOT_CPTS],
                        "documentation": _SEARCH_DOC,
                        "interaction": [{"code": "search-type"}],
                        "searchInclude": ["Slot:schedule", "Slot:service-type-reference"],
                        "searchParam": [
                            {
                                "name": "start",
                                "definition": f"{codes.IG_CANONICAL}/SearchParameter/slot-sp-start",
                                "type": "date",
                                "documentation": "twice: ge (lower bound) and le (upper bound)",
                            },
                            {
                                "name": "schedule",
                                "definition": "http://hl7.org/fhir/SearchParameter/Slot-schedule",
                                "type": "reference",
                                "documentation": f"chained as {PRACTITIONER_PARAM} only",
                            },
                            {
                                "name": "status",
                                "definition": "http://hl7.org/fhir/SearchParameter/Slot-status",
                                "type": "token",
                                "documentation": "free (the only status published)",
                            },
                        ],
                    },
                    include_only("Schedule", codes.PROFILE_SCHEDULE, ["Schedule:actor"]),
                    include_only("PractitionerRole", codes.PROFILE_PRACTITIONER_ROLE),
                    include_only(
                        "HealthcareService",
                        codes.PROFILE_HEALTHCARE_SERVICE,
                        ["HealthcareService:organization"],
                    ),
                    include_only("Organization", codes.PROFILE_ORGANIZATION),
                    {
                        "type": "Practitioner",
                        "profile": codes.PROFILE_PRACTITIONER_REGUL,
                        "supportedProfile": [codes.PROFILE_PRACTITIONER],
                        "documentation": "Regulator accounts (flow INT_R02): create, and "
                        "conditional update by identifier (creates when none matches). A "
                        "practitioner of a slot is returned only as an included resource.",
                        "interaction": [{"code": "create"}, {"code": "update"}],
                        "versioning": "no-version",
                        "conditionalCreate": False,
                        "conditionalUpdate": True,
                        "conditionalDelete": "not-supported",
                    },
                ],
            }
        ],
    }
