"""The parameters of `GET /fhir/Slot` (flows INT_R01 and INT_R04), read as the guide says.

Rules:
- `start` comes exactly twice, once with `ge` and once with `le` (the guide's 1..1 each); a
  value without an offset is read in the zone given (the territory's); `ge` after `le` is a
  400; a window longer than `MAX_WINDOW` is a 400 (the SAS asks for 72 h at most).
- `schedule.actor:Practitioner.identifier`: 1 to 25 distinct tokens, comma-separated and/or
  repeated, each `urn:oid:1.2.250.1.71.4.2.1|<id>`, `|<id>` or `<id>`; another system is a
  400. Only `8` + an RPPS can match (an ADELI id `0…` matches nothing here).
- `status` is required and must be `free`: only free slots are published.
- `_include`: `Slot:schedule`, `Slot:service-type-reference`; `_include:iterate` (or its
  older name `_include:recurse`): `Schedule:actor`, `HealthcareService:organization`.
- Unknown parameters and unsupported includes are ignored (FHIR's default `handling=lenient`,
  and left out of the Bundle's self link), or a 400 with `Prefer: handling=strict`.
- `_format`, when given, must be a JSON format (the only one served).
"""

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import quote
from zoneinfo import ZoneInfo

from app.services.fhir.codes import FHIR_MEDIA_TYPES, OID_PS, SLOT_STATUS
from app.services.fhir.dates import InvalidDate, date_range, has_offset
from app.services.fhir.outcome import FhirError, bad_request, printable

MAX_PRACTITIONERS = 25
MAX_WINDOW = timedelta(days=31)
PRACTITIONER_PARAM = "schedule.actor:Practitioner.identifier"
INCLUDES = ("Slot:schedule", "Slot:service-type-reference")
ITERATE_INCLUDES = ("Schedule:actor", "HealthcareService:organization")
_ITERATE_NAMES = ("_include:iterate", "_include:recurse")
_KNOWN = {"start", "status", PRACTITIONER_PARAM, "_include", *_ITERATE_NAMES, "_format"}
_JSON_FORMATS = {"json", "application/json", *FHIR_MEDIA_TYPES}
_NATIONAL_ID = re.compile(r"^8(\d{11})$")


@dataclass(frozen=True)
class SlotQuery:
    """A Slot search, read and checked."""

    start: datetime  # slots starting at or after
    end: datetime  # slots starting before (exclusive)
    rpps: tuple[str, ...]  # the RPPS of the national ids that can match
    identifiers: tuple[str, ...]  # every token asked, as sent (for the self link)
    include_schedule: bool
    include_actors: bool
    include_service: bool
    include_organization: bool
    self_params: list[tuple[str, str]] = field(default_factory=list)

    @property
    def cpts(self) -> bool:
        """Asked as flow INT_R04 (CPTS): the slots' HealthcareService is wanted."""
        return self.include_service

    def self_query(self) -> str:
        return "&".join(f"{k}={quote(v, safe=':|,')}" for k, v in self.self_params)


def needs_zone(params: list[tuple[str, str]]) -> bool:
    """Some `start` value has no offset, so the caller must supply the zone to read it in."""
    return any(k == "start" and not has_offset(v[2:]) for k, v in params)


def _ignored(name: str, strict: bool, why: str) -> None:
    if strict:
        raise bad_request(f"{why} (Prefer: handling=strict)", printable(name))


def _bounds(values: list[str], zone: ZoneInfo) -> tuple[datetime, datetime, list[str]]:
    ge = [v for v in values if v.startswith("ge")]
    le = [v for v in values if v.startswith("le")]
    others = [v for v in values if v[:2] not in ("ge", "le")]
    if others:
        raise bad_request(
            "start takes the prefixes ge and le only, e.g. start=ge2024-06-12T16:20:00+02:00",
            "start",
        )
    if len(ge) != 1 or len(le) != 1:
        raise bad_request(
            "start is required exactly twice: once with ge (lower bound), once with le (upper)",
            "start",
        )
    try:
        start, _ = date_range(ge[0][2:], zone)
        _, end = date_range(le[0][2:], zone)
    except InvalidDate as exc:
        raise bad_request(f"start: {exc}", "start") from exc
    if end <= start:
        raise bad_request("start: the ge bound is after the le bound", "start")
    if end - start > MAX_WINDOW:
        raise bad_request(f"start: the window is longer than {MAX_WINDOW.days} days", "start")
    return start, end, [ge[0], le[0]]


def _practitioners(values: list[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    tokens: list[str] = []
    for value in values:
        for token in value.split(","):
            token = token.strip()
            if token and token not in tokens:
                tokens.append(token)
    if not tokens:
        raise bad_request(
            f"{PRACTITIONER_PARAM} is required: {OID_PS}|8<RPPS>, 1 to {MAX_PRACTITIONERS} values",
            PRACTITIONER_PARAM,
        )
    if len(tokens) > MAX_PRACTITIONERS:
        raise bad_request(
            f"{PRACTITIONER_PARAM}: {len(tokens)} practitioners asked, at most {MAX_PRACTITIONERS}",
            PRACTITIONER_PARAM,
        )
    rpps: list[str] = []
    for token in tokens:
        system, bar, value = token.rpartition("|")
        if bar and system and system != OID_PS:
            raise bad_request(
                f"{PRACTITIONER_PARAM}: unknown identifier system {printable(system)!r}, "
                f"expected {OID_PS}",
                PRACTITIONER_PARAM,
            )
        match = _NATIONAL_ID.match(value.strip())
        if match:
            rpps.append(match[1])
    return tuple(dict.fromkeys(rpps)), tuple(tokens)


def _status(values: list[str]) -> None:
    if not values:
        raise bad_request("status is required, and must be free", "status")
    for value in values:
        for token in value.split(","):
            system, bar, code = token.strip().rpartition("|")
            if code != "free" or (bar and system and system != SLOT_STATUS):
                raise bad_request("status: only free slots are published (status=free)", "status")


def read_slot_query(params: list[tuple[str, str]], zone: ZoneInfo, strict: bool) -> SlotQuery:
    """The search asked by `params` (the query string, in order); FhirError 4xx otherwise."""
    grouped: dict[str, list[str]] = {}
    for name, value in params:
        if name not in _KNOWN:
            _ignored(name, strict, f"unknown search parameter {printable(name)!r}")
            continue
        grouped.setdefault(name, []).append(value)
    for fmt in grouped.get("_format", []):
        if fmt.strip().replace(" ", "+") not in _JSON_FORMATS:  # an unencoded + reads as a space
            raise FhirError(406, "not-supported", "only JSON is served (_format=json)", "_format")
    start, end, start_values = _bounds(grouped.get("start", []), zone)
    rpps, tokens = _practitioners(grouped.get(PRACTITIONER_PARAM, []))
    _status(grouped.get("status", []))
    includes: list[str] = []
    for value in grouped.get("_include", []):
        if value in INCLUDES:
            includes.append(value)
        else:
            _ignored("_include", strict, f"unsupported _include {printable(value)!r}")
    iterates: list[str] = []
    for name in _ITERATE_NAMES:
        for value in grouped.get(name, []):
            if value in ITERATE_INCLUDES:
                iterates.append(value)
            else:
                _ignored(name, strict, f"unsupported {name} {printable(value)!r}")
    include_schedule = "Slot:schedule" in includes
    include_service = "Slot:service-type-reference" in includes
    self_params = [("start", v) for v in start_values]
    self_params.append((PRACTITIONER_PARAM, ",".join(tokens)))
    self_params.append(("status", "free"))
    self_params += [("_include", v) for v in dict.fromkeys(includes)]
    self_params += [("_include:iterate", v) for v in dict.fromkeys(iterates)]
    return SlotQuery(
        start=start,
        end=end,
        rpps=rpps,
        identifiers=tokens,
        include_schedule=include_schedule,
        include_actors=include_schedule and "Schedule:actor" in iterates,
        include_service=include_service,
        include_organization=include_service and "HealthcareService:organization" in iterates,
        self_params=self_params,
    )
