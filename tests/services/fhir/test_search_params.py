"""FHIR date values and the Slot search's parameters, read as FHIR and the guide say."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.services.fhir.dates import InvalidDate, date_range
from app.services.fhir.outcome import FhirError
from app.services.fhir.search_params import PRACTITIONER_PARAM, needs_zone, read_slot_query

PARIS = ZoneInfo("Europe/Paris")
ONE = "urn:oid:1.2.250.1.71.4.2.1|810002909371"


@pytest.mark.parametrize(
    ("value", "start", "end"),
    [
        ("2024-06-12T16:20:00.000+02:00", "2024-06-12T14:20:00", "2024-06-12T14:20:00.001"),
        ("2024-06-12T16:20:00+02:00", "2024-06-12T14:20:00", "2024-06-12T14:20:01"),
        ("2024-06-12T16:20:00 02:00", "2024-06-12T14:20:00", "2024-06-12T14:20:01"),
        ("2024-06-12T16:20Z", "2024-06-12T16:20:00", "2024-06-12T16:21:00"),
        ("2024-06-12T16:20:00", "2024-06-12T14:20:00", "2024-06-12T14:20:01"),  # Paris, CEST
        ("2024-01-12T16:20:00", "2024-01-12T15:20:00", "2024-01-12T15:20:01"),  # Paris, CET
        ("2024-06-12", "2024-06-11T22:00:00", "2024-06-12T22:00:00"),
        ("2024-03-31", "2024-03-30T23:00:00", "2024-03-31T22:00:00"),  # a 23-hour day
        ("2024-12", "2024-11-30T23:00:00", "2024-12-31T23:00:00"),
        ("2024", "2023-12-31T23:00:00", "2024-12-31T23:00:00"),
    ],
)
def test_a_date_value_stands_for_its_whole_precision(value: str, start: str, end: str) -> None:
    lo, hi = date_range(value, PARIS)
    assert lo.astimezone(UTC).replace(tzinfo=None) == datetime.fromisoformat(start)
    assert hi.astimezone(UTC).replace(tzinfo=None) == datetime.fromisoformat(end)


@pytest.mark.parametrize(
    "value",
    ["", "2024-6-12", "2024-06-12T", "2024-06-31", "2024-06-12T24:00:00", "2024-06-12T10:00+15:00",
     "2024-06-12+02:00", "12/06/2024", "2024-06-12T10:00:00.1234567890"],
)  # fmt: skip
def test_what_is_not_a_fhir_date_is_refused(value: str) -> None:
    with pytest.raises(InvalidDate):
        date_range(value, PARIS)


def query(**extra: list[str]) -> list[tuple[str, str]]:
    params = {
        "start": ["ge2024-06-12T16:20:00+02:00", "le2024-06-15T16:20:00+02:00"],
        PRACTITIONER_PARAM: [ONE],
        "status": ["free"],
        **extra,
    }
    return [(k, v) for k, values in params.items() for v in values]


def test_the_kits_search_is_read_whole() -> None:
    params = query(
        _include=["Slot:schedule", "Slot:service-type-reference"],
        **{"_include:iterate": ["Schedule:actor", "HealthcareService:organization"]},
    )
    read = read_slot_query(params, PARIS, strict=True)
    assert read.rpps == ("10002909371",)
    assert read.end - read.start == timedelta(days=3, seconds=1)
    assert (read.include_schedule, read.include_actors) == (True, True)
    assert (read.include_service, read.include_organization) == (True, True)


def test_an_iterate_include_needs_its_base_include() -> None:
    read = read_slot_query(query(**{"_include:iterate": ["Schedule:actor"]}), PARIS, strict=True)
    assert (read.include_schedule, read.include_actors) == (False, False)


def test_ids_without_a_system_match_and_other_ids_match_nothing() -> None:
    ids = "|810002909371,810001288385 , 0123456789, 8123"
    read = read_slot_query(query(**{PRACTITIONER_PARAM: [ids]}), PARIS, strict=True)
    assert read.rpps == ("10002909371", "10001288385")
    assert len(read.identifiers) == 4


def test_a_repeated_id_counts_once_towards_the_limit() -> None:
    read = read_slot_query(query(**{PRACTITIONER_PARAM: [ONE] * 30}), PARIS, strict=True)
    assert read.identifiers == (ONE,)


def test_strict_handling_refuses_what_lenient_handling_ignores() -> None:
    params = [*query(), ("_sort", "start")]
    assert read_slot_query(params, PARIS, strict=False).rpps == ("10002909371",)
    with pytest.raises(FhirError) as refused:
        read_slot_query(params, PARIS, strict=True)
    assert refused.value.status == 400


def test_a_zone_is_needed_only_for_values_without_an_offset() -> None:
    assert not needs_zone(query())
    assert needs_zone([("start", "ge2024-06-12T16:20:00"), ("start", "le2024-06-13Z")])
    assert needs_zone([("start", "ge2024-06-12")])


@pytest.mark.parametrize("fmt", ["json", "application/fhir+json", "application/fhir json"])
def test_json_formats_are_taken(fmt: str) -> None:
    assert read_slot_query(query(_format=[fmt]), PARIS, strict=True).rpps


def test_another_format_is_406() -> None:
    with pytest.raises(FhirError) as refused:
        read_slot_query(query(_format=["application/fhir+xml"]), PARIS, strict=True)
    assert refused.value.status == 406
