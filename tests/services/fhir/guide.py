"""What the SAS guide requires of our resources, checked two ways: structurally with the R4
models of `fhir.resources` (R4B: the same Slot, Schedule, Practitioner, PractitionerRole,
Location, HealthcareService, Organization, Bundle, Appointment, OperationOutcome and
CapabilityStatement as R4 4.0.1; the R4-only release of the package needs pydantic 1), and the
guide's own constraints by hand: fixed systems and codes, cardinalities, offsets, 5-digit
postcodes, `+33` phones."""

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from fhir.resources.R4B import get_fhir_model_class

from app.services.fhir import codes

OFFSET = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?[+-]\d{2}:\d{2}$")
FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")


def validate(resource: dict[str, Any]) -> None:
    """The resource is valid FHIR (structure, types, required elements, no unknown element)."""
    get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    _no_empty(resource, resource["resourceType"])


def _no_empty(value: Any, where: str) -> None:
    """FHIR JSON has no empty arrays, objects or strings (the models accept some)."""
    assert value not in ([], {}, ""), where
    if isinstance(value, dict):
        for key, item in value.items():
            _no_empty(item, f"{where}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _no_empty(item, f"{where}[{i}]")


def outcome(body: dict[str, Any]) -> dict[str, Any]:
    """The one issue of an OperationOutcome (validated)."""
    validate(body)
    assert body["resourceType"] == "OperationOutcome"
    assert len(body["issue"]) == 1
    issue: dict[str, Any] = body["issue"][0]
    assert issue["severity"] == "error"
    assert issue["diagnostics"]
    return issue


def _coding(concept: dict[str, Any]) -> tuple[str, str]:
    assert len(concept["coding"]) == 1
    return concept["coding"][0]["system"], concept["coding"][0]["code"]


def check_slot(slot: dict[str, Any]) -> None:
    assert slot["status"] == "free"
    assert OFFSET.match(slot["start"]), slot["start"]
    assert OFFSET.match(slot["end"]), slot["end"]
    assert datetime.fromisoformat(slot["start"]) < datetime.fromisoformat(slot["end"])
    security = slot["meta"]["security"]
    assert security
    assert all(s["system"] == codes.SLOT_SECURITY for s in security)
    assert {s["code"] for s in security} <= {"PUBLIC", "PRO", "SNP", "CPTS"}
    cpts = "CPTS" in {s["code"] for s in security}
    kinds = [
        st
        for st in slot["serviceType"]
        if st.get("coding", [{}])[0].get("system") == codes.ACT_CODE
    ]
    assert len(kinds) == 1
    assert _coding(kinds[0])[1] in ("AMB", "HH", "VR")
    assert "extension" not in kinds[0]
    references = [st for st in slot["serviceType"] if "extension" in st]
    if cpts:
        assert slot["meta"]["profile"] == [codes.PROFILE_SLOT_CPTS]
        assert len(references) == 1
        assert _coding(references[0]) == (codes.CATEGORIE_ETABLISSEMENT, "604")
        (extension,) = references[0]["extension"]
        assert extension["url"] == codes.SERVICE_TYPE_R5
        assert extension["valueReference"]["reference"].startswith("HealthcareService/")
    else:
        assert slot["meta"]["profile"] == [codes.PROFILE_SLOT]
        assert references == []
    assert _coding(slot["appointmentType"]) == (codes.APPOINTMENT_REASON, "ROUTINE")
    assert slot["schedule"]["reference"].startswith("Schedule/")


def _idnps(identifier: dict[str, Any]) -> str:
    assert _coding(identifier["type"]) == (codes.V2_0203, "IDNPS")
    assert identifier["system"] == codes.OID_PS
    value: str = identifier["value"]
    assert re.match(r"^8\d{11}$", value), value
    return value


def check_practitioner(practitioner: dict[str, Any]) -> None:
    assert practitioner["meta"]["profile"] == [codes.PROFILE_PRACTITIONER]
    assert len(practitioner["identifier"]) >= 1
    _idnps(practitioner["identifier"][0])
    assert practitioner["name"][0]["family"]
    assert practitioner["name"][0]["given"][0]


def check_role(role: dict[str, Any]) -> None:
    assert role["meta"]["profile"] == [codes.PROFILE_PRACTITIONER_ROLE]
    assert len(role["contained"]) >= 1
    assert role["practitioner"]["reference"].startswith("Practitioner/")
    assert len(role["location"]) == 1
    ref = role["location"][0]["reference"]
    assert ref.startswith("#")
    (location,) = [c for c in role["contained"] if c["id"] == ref[1:]]
    assert location["resourceType"] == "Location"
    address = location["address"]
    assert len(address["line"]) == 1
    assert address["line"][0]
    assert address["city"]
    assert re.match(r"^\d{5}$", address["postalCode"])


def check_organization(organization: dict[str, Any]) -> None:
    assert organization["meta"]["profile"] == [codes.PROFILE_ORGANIZATION]
    (identifier,) = organization["identifier"]
    assert _coding(identifier["type"]) == (codes.FR_CORE_V2_0203, "IDNST")
    assert identifier["system"] == codes.OID_STRUCTURE
    assert re.match(r"^1[0-9]{9}$", identifier["value"])  # the guide's FINESS-invariant
    for telecom in organization.get("telecom", []):
        if telecom["system"] == "phone":
            assert re.match(r"^\+33[1-9]\d{8}$", telecom["value"]), telecom


def check_bundle(bundle: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The Bundle is valid and every resource in it keeps the guide; its resources by type."""
    validate(bundle)
    assert bundle["type"] == "searchset"
    assert bundle["link"][0]["relation"] == "self"
    by_type: dict[str, list[dict[str, Any]]] = {}
    for entry in bundle.get("entry", []):
        resource = entry["resource"]
        kind = resource["resourceType"]
        assert FHIR_ID.match(resource["id"])
        assert entry["fullUrl"].endswith(f"/{kind}/{resource['id']}")
        assert entry["fullUrl"].startswith("http")
        assert entry["search"]["mode"] == ("match" if kind == "Slot" else "include")
        by_type.setdefault(kind, []).append(resource)
    assert bundle["total"] == len(by_type.get("Slot", []))
    ids = {(kind, r["id"]) for kind, rs in by_type.items() for r in rs}
    assert len(ids) == sum(len(rs) for rs in by_type.values()), "a resource appears twice"
    checks: dict[str, Callable[[dict[str, Any]], None]] = {
        "Slot": check_slot,
        "Practitioner": check_practitioner,
        "PractitionerRole": check_role,
        "Organization": check_organization,
    }
    for kind, resources in by_type.items():
        for resource in resources:
            if kind in checks:
                checks[kind](resource)
    for schedule in by_type.get("Schedule", []):
        assert schedule["meta"]["profile"] == [codes.PROFILE_SCHEDULE]
        kinds = sorted(a["reference"].split("/")[0] for a in schedule["actor"])
        assert kinds == ["Practitioner", "PractitionerRole"]
    for service in by_type.get("HealthcareService", []):
        assert service["meta"]["profile"] == [codes.PROFILE_HEALTHCARE_SERVICE]
        assert service["id"]
        assert service["providedBy"]["reference"].startswith("Organization/")
    _references_resolve(by_type)
    return by_type


def _references_resolve(by_type: dict[str, list[dict[str, Any]]]) -> None:
    """Each reference to an included kind points to a resource of the Bundle."""
    present = {f"{kind}/{r['id']}" for kind, rs in by_type.items() for r in rs}
    for slot in by_type.get("Slot", []):
        if "Schedule" in by_type:
            assert slot["schedule"]["reference"] in present
        for st in slot["serviceType"]:
            for ext in st.get("extension", []):
                if "HealthcareService" in by_type:
                    assert ext["valueReference"]["reference"] in present
    if "Practitioner" in by_type:
        for schedule in by_type.get("Schedule", []):
            for actor in schedule["actor"]:
                assert actor["reference"] in present
        for role in by_type.get("PractitionerRole", []):
            assert role["practitioner"]["reference"] in present
    if "Organization" in by_type:
        for service in by_type.get("HealthcareService", []):
            assert service["providedBy"]["reference"] in present


def check_appointment(appointment: dict[str, Any], identifier_system: str) -> None:
    """FrAppointmentSAS, and nothing about the patient."""
    validate(appointment)
    assert appointment["meta"]["profile"] == [codes.PROFILE_APPOINTMENT]
    (operator,) = appointment["extension"]
    assert operator["url"] == codes.APPOINTMENT_OPERATOR
    identifier = operator["valueReference"]["identifier"]
    code = "IDNPS" if identifier["system"] == codes.OID_PS else "INTRN"
    assert identifier["system"] in (codes.OID_PS, codes.OID_SAS)
    assert _coding(identifier["type"]) == (codes.V2_0203, code)
    assert identifier["value"]
    (own,) = appointment["identifier"]
    assert own["system"] == identifier_system
    assert own["value"]
    assert appointment["status"] in ("booked", "fulfilled", "noshow", "cancelled")
    assert OFFSET.match(appointment["start"])
    assert OFFSET.match(appointment["end"])
    (participant,) = appointment["participant"]
    assert participant["status"] == "accepted"
    _idnps(participant["actor"]["identifier"])
    assert set(appointment) <= {
        "resourceType",
        "meta",
        "extension",
        "identifier",
        "status",
        "start",
        "end",
        "created",
        "participant",
    }
