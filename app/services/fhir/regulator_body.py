"""Reading a FrPractitionerRegul body (flow INT_R02): what a regulator account must carry.

Rules (the guide's profile and the certification kit's bad inputs):
- 400 when the body is not a JSON Practitioner resource;
- 422 when a required element is missing or empty: `identifier` (1..*), `active` (a boolean),
  `name` with `family` and a `given`, a `telecom` of system `email` with an address;
- 422 when an identifier's system and type disagree: the national id (`urn:oid:1.2.250.1.71.4.2.1`)
  is of type IDNPS, the SAS technical id (`urn:oid:1.2.250.1.213.3.6`) of type INTRN; another
  system, or two identifiers of one system, is a 422;
- `meta.source`, when sent, is the SAS's OID.
"""

import re
from dataclasses import dataclass
from typing import Any

from app.services.fhir import codes
from app.services.fhir.outcome import bad_request, printable, unprocessable

_TYPES = {codes.OID_PS: "IDNPS", codes.OID_SAS: "INTRN"}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_IDENTIFIER = re.compile(r"^[^\s]{1,64}$")
MAX_NAME = 200


@dataclass(frozen=True)
class RegulatorAccount:
    national_id: str | None
    technical_id: str | None
    active: bool
    family_name: str
    given_name: str
    email: str


def _text(value: Any, where: str, limit: int = MAX_NAME) -> str:
    if not isinstance(value, str) or not value.strip():
        raise unprocessable(f"{where} is required and may not be empty", where, code="required")
    if len(value) > limit or not value.isprintable():
        raise unprocessable(f"{where} is too long or holds control characters", where)
    return value.strip()


def _list(body: dict[str, Any], key: str) -> list[Any]:
    value = body.get(key)
    if value is None or value == []:
        raise unprocessable(f"Practitioner.{key} is required", f"Practitioner.{key}", "required")
    if not isinstance(value, list):
        raise bad_request(f"Practitioner.{key} must be an array", f"Practitioner.{key}")
    return value


def _identifier_type(value: Any) -> tuple[Any, Any]:
    """(code, system) of an identifier's `type.coding[0]`, (None, None) when absent."""
    codings = value.get("coding") if isinstance(value, dict) else None
    if isinstance(codings, list) and codings and isinstance(codings[0], dict):
        return codings[0].get("code"), codings[0].get("system")
    return None, None


def _identifiers(body: dict[str, Any]) -> dict[str, str]:
    found: dict[str, str] = {}
    for i, item in enumerate(_list(body, "identifier")):
        where = f"Practitioner.identifier[{i}]"
        if not isinstance(item, dict):
            raise bad_request(f"{where} must be an object", where)
        system = item.get("system")
        if not isinstance(system, str) or system not in _TYPES:
            raise unprocessable(
                f"{where}.system must be {codes.OID_PS} (national id) or {codes.OID_SAS} "
                "(SAS technical id)",
                f"{where}.system",
                code="value",
            )
        if system in found:
            raise unprocessable(f"{where}: two identifiers of system {system}", where)
        code, type_system = _identifier_type(item.get("type"))
        if code != _TYPES[system] or type_system not in codes.IDENTIFIER_TYPE_SYSTEMS:
            raise unprocessable(
                f"{where}.type must be {codes.V2_0203}#{_TYPES[system]} for system {system}",
                f"{where}.type",
                code="value",
            )
        value = _text(item.get("value"), f"{where}.value", 64)
        if not _IDENTIFIER.match(value):
            raise unprocessable(f"{where}.value holds white space", f"{where}.value", "value")
        found[system] = value
    return found


def _email(body: dict[str, Any]) -> str:
    emails = [
        t for t in _list(body, "telecom") if isinstance(t, dict) and t.get("system") == "email"
    ]
    if not emails:
        raise unprocessable(
            "Practitioner.telecom needs an entry of system email",
            "Practitioner.telecom",
            "required",
        )
    email = _text(emails[0].get("value"), "Practitioner.telecom.value", 254)
    if not _EMAIL.match(email):
        raise unprocessable(
            f"Practitioner.telecom.value {printable(email)!r} is not an e-mail address",
            "Practitioner.telecom.value",
            code="value",
        )
    return email


def read_regulator(body: Any) -> RegulatorAccount:
    """The account a Practitioner body describes; FhirError 400/422 as above."""
    if not isinstance(body, dict) or body.get("resourceType") != "Practitioner":
        raise bad_request("the body must be a FHIR Practitioner resource (resourceType)")
    meta = body.get("meta")
    if isinstance(meta, dict) and meta.get("source") not in (None, codes.OID_SAS):
        raise unprocessable(
            f"Practitioner.meta.source must be {codes.OID_SAS}", "Practitioner.meta.source", "value"
        )
    identifiers = _identifiers(body)
    active = body.get("active")
    if not isinstance(active, bool):
        raise unprocessable(
            "Practitioner.active is required (true or false)", "Practitioner.active", "required"
        )
    name = _list(body, "name")[0]
    if not isinstance(name, dict):
        raise bad_request("Practitioner.name[0] must be an object", "Practitioner.name[0]")
    given = name.get("given")
    if not isinstance(given, list) or not given:
        raise unprocessable(
            "Practitioner.name.given is required", "Practitioner.name.given", "required"
        )
    return RegulatorAccount(
        national_id=identifiers.get(codes.OID_PS),
        technical_id=identifiers.get(codes.OID_SAS),
        active=active,
        family_name=_text(name.get("family"), "Practitioner.name.family"),
        given_name=_text(given[0], "Practitioner.name.given"),
        email=_email(body),
    )


def read_identifier_param(values: list[str]) -> tuple[str, str]:
    """`identifier=<system>|<value>` of a conditional update: (system, value); else 400."""
    if len(values) != 1:
        raise bad_request("identifier=<system>|<value> is required once", "identifier")
    system, bar, value = values[0].partition("|")
    if not bar or system not in _TYPES or not value.strip():
        raise bad_request(
            f"identifier must be {codes.OID_PS}|<national id> or {codes.OID_SAS}|<SAS id>",
            "identifier",
        )
    return system, value.strip()
