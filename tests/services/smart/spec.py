"""What SMART Scheduling Links expects of a publisher's output, checked against the shape of the
spec's own examples (smart-on-fhir/smart-scheduling-links, `examples/`: one line of each file,
quoted below) and, for every line, with the FHIR R4 models of `fhir.resources` (R4B)."""

import re
from typing import Any
from urllib.parse import urlsplit

import orjson

from tests.services.fhir.guide import validate

# The spec's examples, one line each (examples/$bulk-publish, locations.ndjson, schedules.ndjson,
# slots-2021-W09.ndjson).
EXAMPLE_MANIFEST = {
    "transactionTime": "2021-04-22T14:28:21.582Z",
    "request": "https://raw.githubusercontent.com/smart-on-fhir/smart-scheduling-links/master/examples/$bulk-publish",
    "output": [
        {
            "type": "Slot",
            "url": "https://raw.githubusercontent.com/smart-on-fhir/smart-scheduling-links/master/examples/slots-2021-W09.ndjson",
            "extension": {"state": ["MA"]},
        }
    ],
    "error": [],
}
EXAMPLE_LOCATION = orjson.loads(
    b'{"resourceType":"Location","id":"0","name":"SMART Vaccine Clinic Boston","telecom":[{"system":"phone","value":"000-000-0000"},{"system":"url","value":"https://pharmacy.example.com/location/00"}],"address":{"line":["123 Summer St"],"city":"Boston","state":"MA","postalCode":"02114","district":"Suffolk"},"identifier":[{"system":"https://cdc.gov/vaccines/programs/vtrcks","value":"fake-vtrcks-pin-00"}]}'
)
EXAMPLE_SCHEDULE = orjson.loads(
    b'{"resourceType":"Schedule","id":"10","serviceType":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/service-type","code":"57","display":"Immunization"},{"system":"http://fhir-registry.smarthealthit.org/CodeSystem/service-type","code":"covid19-immunization","display":"COVID-19 Immunization Appointment"}]}],"actor":[{"reference":"Location/0"}],"extension":[{"url":"http://fhir-registry.smarthealthit.org/StructureDefinition/vaccine-dose","valueInteger":1}]}'
)
EXAMPLE_SLOT = orjson.loads(
    b'{"resourceType":"Slot","id":"20","schedule":{"reference":"Schedule/10"},"status":"free","start":"2021-03-01T14:00:00.000Z","end":"2021-03-01T23:00:00.000Z","extension":[{"url":"http://fhir-registry.smarthealthit.org/StructureDefinition/booking-deep-link","valueUrl":"https://ehr-portal.example.org/bookings?slot=1000000"},{"url":"http://fhir-registry.smarthealthit.org/StructureDefinition/booking-phone","valueString":"000-000-0000"},{"url":"http://fhir-registry.smarthealthit.org/StructureDefinition/slot-capacity","valueInteger":100}]}'
)
EXAMPLES = {"Location": EXAMPLE_LOCATION, "Schedule": EXAMPLE_SCHEDULE, "Slot": EXAMPLE_SLOT}
# Fields the spec's tables name beyond its example lines (optional ones of its tables).
SPEC_OPTIONAL = {
    "Location": {"description", "position"},
    "Schedule": {"specialty"},
    "Slot": set(),
}
ADDRESS_OPTIONAL = {"district", "country"}
# The spec's timestamps: to the second at least, with an offset (`Z` allowed).
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
SPEC_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")


def extension_urls(resource: dict[str, Any]) -> set[str]:
    return {e["url"] for e in resource.get("extension", [])}


def check_manifest(body: dict[str, Any]) -> None:
    assert set(body) == set(EXAMPLE_MANIFEST)
    assert TIMESTAMP.match(body["transactionTime"]), body["transactionTime"]
    assert urlsplit(body["request"]).path.endswith("$bulk-publish")
    assert body["error"] == []
    example_output = EXAMPLE_MANIFEST["output"][0]
    assert isinstance(example_output, dict)
    for item in body["output"]:
        assert set(item) == set(example_output)
        assert item["type"] in ("Location", "Schedule", "Slot")
        assert item["url"].startswith("http")
        assert set(item["extension"]) == {"state"}
        assert all(isinstance(s, str) and s for s in item["extension"]["state"])


def check_line(kind: str, line: bytes) -> dict[str, Any]:
    """One NDJSON line: minified JSON of one resource of `kind`, shaped like the spec's example,
    valid FHIR R4."""
    assert b"\n" not in line and line == orjson.dumps(orjson.loads(line))  # minified
    resource: dict[str, Any] = orjson.loads(line)
    example = EXAMPLES[kind]
    assert resource["resourceType"] == kind
    assert SPEC_ID.match(resource["id"]), resource["id"]
    allowed = set(example) | SPEC_OPTIONAL[kind]
    assert set(resource) <= allowed, set(resource) - allowed
    assert extension_urls(resource) <= extension_urls(example), extension_urls(resource)
    if kind == "Location":
        assert {"name", "address", "identifier"} <= set(resource)
        assert set(resource["address"]) >= {"line", "city", "state", "postalCode"}
        assert set(resource["address"]) <= set(example["address"]) | ADDRESS_OPTIONAL
        for contact in resource.get("telecom", []):
            assert contact["system"] in ("phone", "url") and contact["value"]
    elif kind == "Schedule":
        assert len(resource["actor"]) == 1
        assert resource["actor"][0]["reference"].startswith("Location/")
        assert resource["serviceType"]
    else:
        assert resource["schedule"]["reference"].startswith("Schedule/")
        assert resource["status"] in ("free", "busy")
        assert TIMESTAMP.match(resource["start"]) and TIMESTAMP.match(resource["end"])
    validate(resource)
    return resource


def check_file(kind: str, body: bytes) -> list[dict[str, Any]]:
    assert body == b"" or body.endswith(b"\n")
    return [check_line(kind, line) for line in body.splitlines()]
