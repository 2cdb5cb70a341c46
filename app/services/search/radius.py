"""The radius of a search and its enlargement steps, from the territories' settings and the
SAS radius table (`directory.radii`)."""

from dataclasses import dataclass

from app.services.directory.radii import default_radius
from app.services.search.scope import TerritoryScope

# When neither the territory nor the département table gives a radius (Guyane and Mayotte have
# none in the 2025 table): a rural-sized radius, and half of it as the enlargement step.
FALLBACK_RADIUS_KM = 20.0
# Enlarge at most this many steps, and never beyond MAX_RADIUS_KM.
MAX_ENLARGEMENTS = 3
MAX_RADIUS_KM = 100.0


@dataclass(frozen=True)
class Radius:
    base_km: float
    step_km: float

    def steps(self) -> list[float]:
        """The radii to try in turn: the base, then up to MAX_ENLARGEMENTS enlargements."""
        radii = [self.base_km]
        if self.step_km > 0:
            for _ in range(MAX_ENLARGEMENTS):
                nxt = min(radii[-1] + self.step_km, MAX_RADIUS_KM)
                if nxt <= radii[-1]:
                    break
                radii.append(nxt)
        return radii


def territory_radius(territory: TerritoryScope) -> Radius:
    """The territory's own radius and step, else its département's, else the fallback."""
    table = default_radius(territory.departement)
    base = territory.radius_km or (table.radius_km if table else None) or FALLBACK_RADIUS_KM
    if territory.enlargement_km is not None:
        step = territory.enlargement_km
    elif table is not None and table.enlargement_km is not None:
        step = table.enlargement_km
    else:
        step = base / 2
    return Radius(base_km=float(base), step_km=float(step))


def search_radius(territories: list[TerritoryScope]) -> Radius:
    """With several territories, the widest base radius and the widest step among them."""
    if not territories:
        return Radius(FALLBACK_RADIUS_KM, 0.0)
    radii = [territory_radius(t) for t in territories]
    return Radius(max(r.base_km for r in radii), max(r.step_km for r in radii))
