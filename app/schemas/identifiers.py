"""French health identifiers and the other validated scalars of the API, as pydantic types."""

import re
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import AfterValidator, BeforeValidator, Field
from pydantic_core import PydanticCustomError

from app.schemas.text import Published, StrippedText, storable_text

# ASCII digits only: `\d` alone would also take full-width and other Unicode digits.
_RPPS = re.compile(r"\d{11}", re.ASCII)
_FINESS = re.compile(r"(\d{2}|2[AB])\d{7}", re.ASCII)
_INSEE = re.compile(r"(\d{2}|2[AB])\d{3}", re.ASCII)
_POSTCODE = re.compile(r"\d{5}", re.ASCII)
# 20 (Corse) was split into 2A and 2B in 1976 and is no longer a département.
_DEPARTEMENT = re.compile(r"(0[1-9]|1\d|2[1-9AB]|[3-8]\d|9[0-5]|97[1-6])", re.ASCII)
_PHONE_SEPARATORS = re.compile(r"[\s.\-()]")
# What the schema publishes: the forms a client should send (the server also takes any white
# space, dots, dashes and brackets between digits, and a 00 international prefix).
PHONE_PATTERN = (
    r"^(0[1-9]( ?[0-9]{2}){4}|\+33 ?[1-9]( ?[0-9]{2}){4}|\+([1-24-9][0-9]|3[0-24-9])[0-9]{6,13})$"
)


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
        # Only what looks like a zone name reaches the tz database (it is read from files: a
        # long or strange name raised OSError, a 500, before this check).
        if len(value) > 64 or not re.fullmatch(r"[A-Za-z0-9_+\-]+(/[A-Za-z0-9_+\-]+)*", value):
            raise ValueError("not an IANA time zone name (such as Europe/Paris)")
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            raise ValueError(f"{value!r} is not an IANA time zone name") from None
    return value


_KNOWN_ZONES = available_timezones()


# RFC 3339 / ISO 8601 text: a date and a time (the offset is checked once parsed, with its own
# message). pydantic alone would also read a number, or a numeric string such as "0.5" in a
# query, as a Unix time, which carries no offset.
_TIMESTAMP_TEXT = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}", re.ASCII)


def timestamp_text(value: object) -> object:
    """`value` if it is a datetime or reads as an RFC 3339 timestamp; a 422-ready error if not."""
    if isinstance(value, datetime) or (isinstance(value, str) and _TIMESTAMP_TEXT.match(value)):
        return value
    raise PydanticCustomError(
        "timestamp_type",
        "a timestamp is RFC 3339 text with an offset, e.g. 2026-11-23T14:30:00+01:00",
    )


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(
            "a timestamp must carry an offset (RFC 3339), e.g. 2026-11-23T14:30:00+01:00"
        )
    return value


def _strip(value: object) -> object:
    return value.strip() if isinstance(value, str) else value


def _refuse_unstorable(value: object) -> object:
    return storable_text(value) if isinstance(value, str) else value


def _identifier(check: Callable[[str], str], pattern: str, example: str) -> Any:
    """A stripped identifier checked by `check`, its rule published as `pattern`."""
    return Annotated[
        str,
        BeforeValidator(_strip),
        BeforeValidator(_refuse_unstorable),
        AfterValidator(check),
        Published(pattern=pattern, examples=[example]),
    ]


Rpps = _identifier(_rpps, "^[0-9]{11}$", "10003456789")
Finess = _identifier(_finess, "^([0-9]{2}|2[ABab])[0-9]{7}$", "440012345")
InseeCode = _identifier(_insee, "^([0-9]{2}|2[ABab])[0-9]{3}$", "44109")
Postcode = _identifier(_postcode, "^[0-9]{5}$", "44000")
Departement = _identifier(
    _departement, "^(0[1-9]|1[0-9]|2[1-9ABab]|[3-8][0-9]|9[0-5]|97[1-6])$", "44"
)
Phone = Annotated[
    str,
    BeforeValidator(_refuse_unstorable),
    AfterValidator(normalize_phone),
    Published(pattern=PHONE_PATTERN, examples=["06 12 34 56 78", "+33612345678"]),
]
TimeZoneName = Annotated[
    str,
    BeforeValidator(_refuse_unstorable),
    AfterValidator(_timezone),
    Published(examples=["Europe/Paris", "America/Cayenne"]),
]
AwareDatetime = Annotated[datetime, BeforeValidator(timestamp_text), AfterValidator(_aware)]


def _coordinate(value: float) -> float:
    # 7 decimals is about a centimetre; it also turns a subnormal such as 2e-311 into 0, whose
    # trigonometry PostgreSQL would refuse as an underflow.
    return round(value, 7)


Latitude = Annotated[float, Field(ge=-90, le=90), AfterValidator(_coordinate)]
Longitude = Annotated[float, Field(ge=-180, le=180), AfterValidator(_coordinate)]
Name = Annotated[str, StrippedText(200)]


def _language(value: str) -> str:
    code = value.strip().lower()
    if not (2 <= len(code) <= 3 and code.isascii() and code.isalpha()):
        raise ValueError("a language is an ISO 639 code such as 'fr', 'en', 'ar'")
    return code


# Stripped and lower-cased, so " FR" is taken; the schema publishes the form to send.
Language = Annotated[
    str,
    BeforeValidator(_refuse_unstorable),
    AfterValidator(_language),
    Published(pattern="^[a-z]{2,3}$", examples=["fr"]),
]
