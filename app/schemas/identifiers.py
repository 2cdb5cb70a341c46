"""French health identifiers and the other validated scalars of the API, as pydantic types."""

import re
from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import AfterValidator, BeforeValidator, Field

# ASCII digits only: `\d` alone would also take full-width and other Unicode digits.
_RPPS = re.compile(r"\d{11}", re.ASCII)
_FINESS = re.compile(r"(\d{2}|2[AB])\d{7}", re.ASCII)
_INSEE = re.compile(r"(\d{2}|2[AB])\d{3}", re.ASCII)
_POSTCODE = re.compile(r"\d{5}", re.ASCII)
# 20 (Corse) was split into 2A and 2B in 1976 and is no longer a département.
_DEPARTEMENT = re.compile(r"(0[1-9]|1\d|2[1-9AB]|[3-8]\d|9[0-5]|97[1-6])", re.ASCII)
_PHONE_SEPARATORS = re.compile(r"[\s.\-()]")


def luhn_valid(digits: str) -> bool:
    """The Luhn check used by the FINESS key (its ninth digit)."""
    total = 0
    for i, char in enumerate(reversed(digits)):
        d = int(char)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _rpps(value: str) -> str:
    if not _RPPS.fullmatch(value):
        raise ValueError("an RPPS number is exactly 11 digits")
    return value


def _finess(value: str) -> str:
    value = value.upper()
    if not _FINESS.fullmatch(value):
        raise ValueError("a FINESS number is 9 characters: 9 digits, or 2A/2B and 7 digits")
    # Corsican numbers (2A/2B) carry no computable Luhn key.
    if value.isdigit() and not luhn_valid(value):
        raise ValueError("FINESS check key (9th digit, Luhn) does not match")
    return value


def _insee(value: str) -> str:
    value = value.upper()
    if not _INSEE.fullmatch(value):
        raise ValueError("an INSEE commune code is 5 characters: 5 digits, or 2A/2B and 3 digits")
    return value


def _postcode(value: str) -> str:
    if not _POSTCODE.fullmatch(value):
        raise ValueError("a postcode is exactly 5 digits")
    return value


def _departement(value: str) -> str:
    value = value.upper()
    if not _DEPARTEMENT.fullmatch(value):
        raise ValueError("a département code is 01–95 (2A and 2B for Corsica) or 971–976")
    return value


def normalize_phone(value: str) -> str:
    """A French phone number in E.164: `06 12 34 56 78` → `+33612345678`."""
    raw = _PHONE_SEPARATORS.sub("", value)
    if raw.startswith("00"):
        raw = "+" + raw[2:]
    if re.fullmatch(r"0[1-9]\d{8}", raw, re.ASCII):
        return "+33" + raw[1:]
    if re.fullmatch(r"\+33[1-9]\d{8}", raw, re.ASCII):
        return raw
    if re.fullmatch(r"\+33 ?0[1-9]\d{8}", raw, re.ASCII):
        return "+33" + raw[4:]
    if re.fullmatch(r"\+(?!33)[1-9]\d{7,14}", raw, re.ASCII):
        return raw  # another country (or an overseas network written +262…): E.164 as given
    raise ValueError("a phone number is French (0X XX XX XX XX or +33 X XX XX XX XX) or E.164")


def _timezone(value: str) -> str:
    if value not in _KNOWN_ZONES:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone name") from None
    return value


_KNOWN_ZONES = available_timezones()


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(
            "a timestamp must carry an offset (RFC 3339), e.g. 2026-11-23T14:30:00+01:00"
        )
    return value


def _strip(value: object) -> object:
    return value.strip() if isinstance(value, str) else value


Rpps = Annotated[str, BeforeValidator(_strip), AfterValidator(_rpps)]
Finess = Annotated[str, BeforeValidator(_strip), AfterValidator(_finess)]
InseeCode = Annotated[str, BeforeValidator(_strip), AfterValidator(_insee)]
Postcode = Annotated[str, BeforeValidator(_strip), AfterValidator(_postcode)]
Departement = Annotated[str, BeforeValidator(_strip), AfterValidator(_departement)]
Phone = Annotated[str, AfterValidator(normalize_phone)]
TimeZoneName = Annotated[str, AfterValidator(_timezone)]
AwareDatetime = Annotated[datetime, AfterValidator(_aware)]
Latitude = Annotated[float, Field(ge=-90, le=90)]
Longitude = Annotated[float, Field(ge=-180, le=180)]
Name = Annotated[str, BeforeValidator(_strip), Field(min_length=1, max_length=200)]
