"""FHIR `date` search values: the range a value stands for, with or without an offset.

Rules (FHIR R4 search, "date"): a value is a year, a month, a day, or a date and time to the
minute, the second or a fraction of it; it stands for the whole range of that precision
(`2024-06-12` is that whole day, `…T16:20:00.000` that millisecond). `ge` compares with the
range's start, `le` with its end. A time without an offset, and a date without a time, are
read in the zone given by the caller (the territory's). A `+` of an offset that reached us
as a space (an unencoded `+` in a query string is decoded so) is read as `+`.
"""

import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

_VALUE = re.compile(
    r"^(?P<y>\d{4})(?:-(?P<mo>\d{2})(?:-(?P<d>\d{2})"
    r"(?:T(?P<h>\d{2}):(?P<mi>\d{2})(?::(?P<s>\d{2})(?P<f>\.\d{1,9})?)?"
    r"(?P<tz>Z|[+\- ]\d{2}:\d{2})?)?)?)?$"
)


class InvalidDate(ValueError):
    """The value is not a FHIR date, dateTime or instant."""


def has_offset(value: str) -> bool:
    """The value names its own offset (so no zone is needed to read it)."""
    match = _VALUE.match(value)
    return bool(match and match["tz"])


def _offset(text: str) -> tzinfo:
    if text == "Z":
        return UTC
    sign = -1 if text[0] == "-" else 1
    hours, minutes = int(text[1:3]), int(text[4:6])
    if hours > 14 or minutes > 59:
        raise InvalidDate("offset out of range")
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def _next_month(year: int, month: int) -> tuple[int, int]:
    return (year + 1, 1) if month == 12 else (year, month + 1)


def date_range(value: str, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The range `[start, end)` that `value` stands for, as aware datetimes."""
    match = _VALUE.match(value)
    if match is None:
        raise InvalidDate("not a FHIR date or dateTime (YYYY-MM-DDThh:mm:ss[.fff][+hh:mm])")
    zone_of: tzinfo = _offset(match["tz"]) if match["tz"] else zone
    year = int(match["y"])
    try:
        if match["mo"] is None:
            start = datetime(year, 1, 1, tzinfo=zone_of)
            return start, datetime(year + 1, 1, 1, tzinfo=zone_of)
        month = int(match["mo"])
        if match["d"] is None:
            start = datetime(year, month, 1, tzinfo=zone_of)
            ny, nm = _next_month(year, month)
            return start, datetime(ny, nm, 1, tzinfo=zone_of)
        day = int(match["d"])
        if match["h"] is None:
            start = datetime(year, month, day, tzinfo=zone_of)
            following = start.date() + timedelta(days=1)
            end = datetime(following.year, following.month, following.day, tzinfo=zone_of)
            return start, end
        hour, minute = int(match["h"]), int(match["mi"])
        if match["s"] is None:
            start = datetime(year, month, day, hour, minute, tzinfo=zone_of)
            return start, start + timedelta(minutes=1)
        fraction = match["f"]
        micro = int((fraction[1:] + "000000")[:6]) if fraction else 0
        start = datetime(year, month, day, hour, minute, int(match["s"]), micro, tzinfo=zone_of)
    except ValueError as exc:  # a day 31 in April, an hour 25…
        raise InvalidDate(str(exc)) from exc
    # `.000` stands for a millisecond, `.5` for a tenth of a second (microseconds at the finest).
    digits = min(len(fraction) - 1, 6) if fraction else 0
    return start, start + timedelta(microseconds=10 ** (6 - digits))
