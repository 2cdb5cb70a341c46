"""What SMART Scheduling Links expects of a publisher's output, checked against the shape of the
spec's own examples (smart-on-fhir/smart-scheduling-links, `examples/`: one line of each file,
quoted below) and, for every line, with the FHIR R4 models of `fhir.resources` (R4B)."""

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson

from tests.services.fhir.guide import validate

# The spec's examples: its manifest and the first line of its Location, Schedule and Slot files
# (examples/ of smart-on-fhir/smart-scheduling-links at COMMIT, copied unchanged).
COMMIT = "fb490f1c709d846807a49aee577620621cbb9cbf"
_EXAMPLES = Path(__file__).parent / "examples"
EXAMPLE_MANIFEST = orjson.loads((_EXAMPLES / "$bulk-publish").read_bytes())
EXAMPLE_LOCATION = orjson.loads((_EXAMPLES / "location.ndjson").read_bytes())
EXAMPLE_SCHEDULE = orjson.loads((_EXAMPLES / "schedule.ndjson").read_bytes())
EXAMPLE_SLOT = orjson.loads((_EXAMPLES / "slot.ndjson").read_bytes())
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
    # The example's Slot items carry `extension.state`; ours all do (one file set per département).
    example_output = next(o for o in EXAMPLE_MANIFEST["output"] if "extension" in o)
    for item in body["output"]:
        assert set(item) == set(example_output)
        assert item["type"] in ("Location", "Schedule", "Slot")
        assert item["url"].startswith("http")
        assert set(item["extension"]) == {"state"}
        assert all(isinstance(s, str) and s for s in item["extension"]["state"])


def check_line(kind: str, line: bytes) -> dict[str, Any]:
    """One NDJSON line: minified JSON of one resource of `kind`, shaped like the spec's example,
    valid FHIR R4."""
    assert b"\n" not in line
    assert line == orjson.dumps(orjson.loads(line))
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
            assert contact["system"] in ("phone", "url")
            assert contact["value"]
    elif kind == "Schedule":
        assert len(resource["actor"]) == 1
        assert resource["actor"][0]["reference"].startswith("Location/")
        assert resource["serviceType"]
    else:
        assert resource["schedule"]["reference"].startswith("Schedule/")
        assert resource["status"] in ("free", "busy")
        assert TIMESTAMP.match(resource["start"])
        assert TIMESTAMP.match(resource["end"])
    validate(resource)
    return resource


def check_file(kind: str, body: bytes) -> list[dict[str, Any]]:
    assert body == b"" or body.endswith(b"\n")
    return [check_line(kind, line) for line in body.splitlines()]
