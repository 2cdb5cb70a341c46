"""French health identifiers and the other validated scalars, checked by the pydantic types."""

from datetime import datetime
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from app.schemas.identifiers import (
    AwareDatetime,
    Departement,
    Finess,
    InseeCode,
    Phone,
    Postcode,
    Rpps,
    TimeZoneName,
    luhn_valid,
)


def valid(kind: Any, value: object) -> Any:
    return TypeAdapter(kind).validate_python(value)


def refused(kind: Any, value: object) -> str:
    with pytest.raises(ValidationError) as caught:
        TypeAdapter(kind).validate_python(value)
    return str(caught.value)


@pytest.mark.parametrize("rpps", ["10003456789", " 10003456789 "])
def test_rpps_of_eleven_digits_is_accepted(rpps: str) -> None:
    assert valid(Rpps, rpps) == "10003456789"


@pytest.mark.parametrize("rpps", ["1000345678", "100034567890", "1000345678A", "1000 3456789", ""])
def test_rpps_not_eleven_digits_is_refused(rpps: str) -> None:
    assert "11 digits" in refused(Rpps, rpps)


def test_luhn_matches_the_reference_examples() -> None:
    assert luhn_valid("79927398713")
    assert not luhn_valid("79927398710")


# 440000289: CHU de Nantes (FINESS EJ), a real number whose 9th digit is its Luhn key.
@pytest.mark.parametrize("finess", ["440000289", "440009124", " 440000289"])
def test_finess_with_its_luhn_key_is_accepted(finess: str) -> None:
    assert valid(Finess, finess) == finess.strip()


@pytest.mark.parametrize("finess", ["440000288", "440000280", "440009125"])
def test_finess_with_a_wrong_key_is_refused(finess: str) -> None:
    assert "check key" in refused(Finess, finess)


@pytest.mark.parametrize("finess", ["2A0000059", "2b0000059"])
def test_corsican_finess_is_accepted(finess: str) -> None:
    assert valid(Finess, finess) == finess.upper()


@pytest.mark.parametrize("finess", ["44000028", "4400002899", "2C0000059", "44000028X", ""])
def test_finess_not_nine_characters_is_refused(finess: str) -> None:
    assert "9 characters" in refused(Finess, finess)


@pytest.mark.parametrize(
    ("code", "expected"), [("44109", "44109"), ("2A004", "2A004"), ("2b033", "2B033")]
)
def test_insee_code_of_five_characters_is_accepted(code: str, expected: str) -> None:
    assert valid(InseeCode, code) == expected


@pytest.mark.parametrize("code", ["4410", "441090", "2C004", "2AB04", "ABCDE", "44 09"])
def test_insee_code_malformed_is_refused(code: str) -> None:
    assert "INSEE" in refused(InseeCode, code)


@pytest.mark.parametrize("postcode", ["44000", "20000", "97400"])
def test_postcode_of_five_digits_is_accepted(postcode: str) -> None:
    assert valid(Postcode, postcode) == postcode


@pytest.mark.parametrize("postcode", ["4400", "440000", "2A000", "44 000", "F-44000"])
def test_postcode_not_five_digits_is_refused(postcode: str) -> None:
    assert "5 digits" in refused(Postcode, postcode)


@pytest.mark.parametrize("code", ["01", "44", "95", "2A", "2b", "971", "976"])
def test_departement_codes_are_accepted(code: str) -> None:
    assert valid(Departement, code) == code.upper()


@pytest.mark.parametrize("code", ["00", "20", "96", "977", "2C", "4", "440"])
def test_unknown_departement_codes_are_refused(code: str) -> None:
    assert "département" in refused(Departement, code)


@pytest.mark.parametrize(
    "phone",
    [
        "06 12 34 56 78",
        "0612345678",
        "06.12.34.56.78",
        "06-12-34-56-78",
        "+33 6 12 34 56 78",
        "+33612345678",
        "0033612345678",
        "0033 6 12 34 56 78",
        "+33 (0)6 12 34 56 78",
    ],
)
def test_french_phone_is_normalised_to_plus_33(phone: str) -> None:
    assert valid(Phone, phone) == "+33612345678"


def test_foreign_phone_in_e164_is_kept() -> None:
    assert valid(Phone, "+32 470 12 34 56") == "+32470123456"


@pytest.mark.parametrize(
    "phone",
    [
        "612345678",
        "06123456789",
        "061234567",
        "+3361234567",
        "+336123456789",
        "+33 0 0 12 34 56 78",
        "06 12 34 56 7a",
        "0012",
        "",
        "+",
    ],
)
def test_malformed_phone_is_refused(phone: str) -> None:
    assert "phone" in refused(Phone, phone)


@pytest.mark.parametrize("zone", ["Europe/Paris", "Indian/Reunion", "America/Cayenne", "UTC"])
def test_iana_time_zone_is_accepted(zone: str) -> None:
    assert valid(TimeZoneName, zone) == zone


@pytest.mark.parametrize("zone", ["Europe/Nantes", "CET+1", "", "../../etc/passwd", "paris"])
def test_unknown_time_zone_is_refused(zone: str) -> None:
    assert "IANA" in refused(TimeZoneName, zone)


@pytest.mark.parametrize(
    "stamp", ["2026-11-23T14:30:00+01:00", "2026-11-23T13:30:00Z", "2026-11-23T13:30:00+00:00"]
)
def test_timestamp_with_offset_is_accepted(stamp: str) -> None:
    parsed: datetime = valid(AwareDatetime, stamp)
    assert parsed.utcoffset() is not None


@pytest.mark.parametrize("stamp", ["2026-11-23T14:30:00", "2026-11-23 14:30", "2026-11-23"])
def test_timestamp_without_offset_is_refused(stamp: str) -> None:
    assert "offset" in refused(AwareDatetime, stamp)


# Full-width digits (U+FF10–FF19) are digits to Unicode but not in an RPPS, a FINESS or a phone.
_FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


@pytest.mark.parametrize(
    ("kind", "ascii_value"),
    [
        (Rpps, "10003456789"),
        (Finess, "440009124"),
        (InseeCode, "44109"),
        (Postcode, "44000"),
        (Departement, "44"),
        (Phone, "0612345678"),
    ],
)
def test_identifiers_in_full_width_digits_are_refused(kind: Any, ascii_value: str) -> None:
    assert valid(kind, ascii_value)
    refused(kind, ascii_value.translate(_FULL_WIDTH))
