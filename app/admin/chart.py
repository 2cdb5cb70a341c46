"""The 48-hour coverage strip as an SVG drawn on the server (no script, readable by a screen
reader through its title, description and the table beside it)."""

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from app.admin.coverage import Hour

WIDTH, HEIGHT, AXIS = 960, 180, 24
COLOURS = {"free": "#1b7a3a", "held": "#b35c00", "booked": "#1f4e9c"}


@dataclass(frozen=True)
class Bar:
    x: float
    width: float
    parts: list[tuple[str, float, float, int]]  # status, y, height, count
    label: str
    tick: str | None


def bars(hours: list[Hour], zone: str) -> tuple[list[Bar], int]:
    """One stacked bar per hour (free at the bottom), scaled to the busiest hour."""
    tz = ZoneInfo(zone)
    top = max([h.free + h.held + h.booked for h in hours] + [1])
    step = WIDTH / max(len(hours), 1)
    out = []
    for i, hour in enumerate(hours):
        local = hour.start.astimezone(tz)
        y = float(HEIGHT - AXIS)
        parts = []
        for status in ("free", "held", "booked"):
            count = getattr(hour, status)
            height = (HEIGHT - AXIS - 4) * count / top
            y -= height
            parts.append((status, y, height, count))
        label = f"{local:%d/%m %Hh} : {hour.free} libres, {hour.held} réservés, {hour.booked} pris"
        tick = f"{local:%Hh}" if local.hour % 6 == 0 else None
        out.append(Bar(i * step, step - 1, parts, label, tick))
    return out, top
