"""The search over the free-slot index: the same rules and the same answer as `search.sql`.

The rules are those of `search.service` (module doc); this module computes the same candidates
from memory. The answer is defined, as in SQL, by:
- the radius: the smallest step (base, then enlargements) whose `enough` candidates are found
  among the médecin traitant's slots and those of the `site_cap` nearest sites, each giving its
  earliest `per_site` eligible slots, nearest first, until `row_cap` rows (the SQL's `near`),
  else the largest step;
- the candidates: the médecin traitant's eligible slots (group 0, no cap per site), and of every
  other slot, each site's best `per_site` by (group, score, start, id); all ranked by that order,
  the first `limit` kept.
How it gets there fast: a site's slots are sorted by start and an in-person slot's score grows
with its start, so a site is read from the first start it may offer and only until its best are
known; teleconsultations (whose score does not depend on the site) come from the territory's
own list, also by start; the in-person sites are read nearest first and no longer once the
best score they could reach is worse than the `limit`-th best candidate already found (kept
per site, as the answer counts them).
"""

import bisect
import heapq
import itertools
import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

import numpy as np

from app.services.search.index.store import (
    MODALITY_NAMES,
    VR,
    Directory,
    Entry,
    FreeSlots,
    from_us,
    to_us,
)
from app.services.slots.rules import free_in_memory as is_free

_NEVER = 2**62  # a site with no slot: no score to offer
GROUP_SPAN = 1_000_000.0  # groups apart in one number, as `search.sql`'s key

Candidate = tuple[int, float, int, int, Entry, float]  # (grp, score, start, slot, entry, dist)


@dataclass(frozen=True)
class IndexQuery:
    """A search's inputs, resolved as `search.service` resolves them for the SQL statement."""

    lat: float
    lon: float
    now: datetime
    window_start: datetime
    window_end: datetime
    explicit_end: bool
    modalities: tuple[str, ...]
    territory_ids: tuple[uuid.UUID, ...]
    accessible: bool
    specialty: str | None
    languages: tuple[str, ...] | None
    mt_rpps: str | None
    metres_per_minute: float
    margin_seconds: float
    site_cap: int
    per_site: int
    row_cap: int
    limit: int
    radii_m: tuple[float, ...]
    enough: int


class IndexRow(NamedTuple):
    """One ranked slot, with the columns of the SQL statement's rows."""

    grp: int
    score: float
    slot_id: uuid.UUID
    start_at: datetime
    end_at: datetime
    modality: str
    distance_m: float
    professional_id: uuid.UUID
    rpps: str
    family_name: str
    given_name: str
    site_id: uuid.UUID
    site_name: str
    address: str
    postcode: str
    territory_id: uuid.UUID
    site_lat: float
    site_lon: float
    chosen_radius_m: float


def _distances(lat: np.ndarray, lon: np.ndarray, here_lat: float, here_lon: float) -> np.ndarray:
    """`search.sql`'s haversine on earthdistance's sphere, vectorised."""
    a = (
        np.sin(np.radians(lat - here_lat) / 2) ** 2
        + math.cos(math.radians(here_lat))
        * np.cos(np.radians(lat))
        * np.sin(np.radians(lon - here_lon) / 2) ** 2
    )
    result: np.ndarray = 12756336.0 * np.arcsin(np.sqrt(np.minimum(a, 1.0)))
    return result


def _midnight_after_tomorrow_us(now: datetime, zone: str) -> int:
    tz = ZoneInfo(zone)
    local_today = now.astimezone(tz).date()
    return to_us(datetime.combine(local_today + timedelta(days=3), datetime.min.time(), tz))


class _Search:
    """One search's state: the inputs as plain values and the caches of its checks."""

    def __init__(self, index: FreeSlots, q: IndexQuery) -> None:
        self.index = index
        self.d = index.directory
        self.q = q
        self.now = to_us(q.now)
        self.window_start = to_us(q.window_start)
        self.window_end = to_us(q.window_end)
        self.mods = frozenset(
            code for code, name in enumerate(MODALITY_NAMES) if name in q.modalities
        )
        self.in_person = bool(self.mods - {VR})
        self.mpm = q.metres_per_minute
        self.margin_s = q.margin_seconds
        self.fits_cache: dict[int, int] = {}  # professional → group (1, 2), 0: not offered
        self.ends: dict[str, int] = {}
        self.languages = frozenset(q.languages) if q.languages is not None else None

    def group(self, professional: int) -> int:
        """1 (SAS participant) or 2 (other) if the professional's slots may be offered, else 0."""
        cached = self.fits_cache.get(professional)
        if cached is not None:
            return cached
        p = self.d.professionals[professional]
        q = self.q
        ok = (
            p.active
            and (q.specialty is None or p.specialty == q.specialty)
            and (self.languages is None or bool(p.languages & self.languages))
            and p.rpps != q.mt_rpps
        )
        grp = (1 if p.sas_participant else 2) if ok else 0
        self.fits_cache[professional] = grp
        return grp

    def site_end(self, site: int) -> int:
        if self.q.explicit_end:
            return self.window_end
        zone = self.d.sites[site].timezone
        end = self.ends.get(zone)
        if end is None:
            end = min(self.window_end, _midnight_after_tomorrow_us(self.q.now, zone))
            self.ends[zone] = end
        return end

    def reachable_from(self, distance_m: float) -> int:
        return self.now + round((distance_m / self.mpm * 60.0 + self.margin_s) * 1_000_000)


def search_index(index: FreeSlots, q: IndexQuery) -> tuple[list[IndexRow], float]:
    """The ranked slots (at most `limit`) and the radius chosen, in metres."""
    s = _Search(index, q)
    d = s.d
    now = s.now
    sources = d.sources
    # Nothing starts in the window in any of the territories: no walk at all (an empty window).
    if not any(index.any_between(t, s.window_start, s.window_end) for t in q.territory_ids):
        return [], q.radii_m[-1]
    # The scope: its territories' offered sites (arrays built once per directory) and their
    # distances, in one haversine.
    within = _scope(d, q.territory_ids, q.accessible)
    if not within.territories:
        return [], q.radii_m[-1]
    scope = within.territories
    all_sites = within.sites
    all_dist = _distances(within.lat, within.lon, q.lat, q.lon)
    max_radius = q.radii_m[-1]
    vr_asked = VR in s.mods
    position = within.position

    def dist(site: int) -> float:
        return float(all_dist[position[site]])

    # The médecin traitant's slots (group 0), against the largest radius (filtered below).
    mt: list[Candidate] = []
    mt_professional = d.by_rpps.get(q.mt_rpps) if q.mt_rpps is not None else None
    if mt_professional is not None and d.professionals[mt_professional].active:
        p = d.professionals[mt_professional]
        fits = (q.specialty is None or p.specialty == q.specialty) and (
            s.languages is None or bool(p.languages & s.languages)
        )
        for site in index.professional_sites.get(mt_professional, ()) if fits else ():
            if site not in position:
                continue
            distance = dist(site)
            end = s.site_end(site)
            reach = s.reachable_from(distance)
            entries = index.by_site[site]
            i = bisect.bisect_left(entries, s.window_start, key=_start)
            for j in range(i, len(entries)):
                e = entries[j]
                start, slot, meta, hold = e
                if start >= end:
                    break
                if meta.professional != mt_professional or not is_free(start, hold, now):
                    continue
                if meta.modality not in s.mods:
                    continue
                if not sources[meta.source]:
                    continue
                if meta.modality == VR:
                    mt.append((0, (start - now) / 60_000_000, start, slot, e, distance))
                elif distance <= max_radius and start >= reach:
                    score = (start - now) / 60_000_000 + distance / s.mpm
                    mt.append((0, score, start, slot, e, distance))

    # The radius: the SQL's `near`, nearest sites first.
    radii = q.radii_m
    counts = [0] * len(radii)
    for c in mt:
        _count(counts, radii, c)
    chosen = None
    if counts[0] >= q.enough:
        chosen = radii[0]
    else:
        rows = 0
        for k in _nearest(all_dist, q.site_cap).tolist():
            distance = float(all_dist[k])
            if not vr_asked and distance > max_radius:
                break
            site = int(all_sites[k])
            taken = 0
            end = s.site_end(site)
            reach = s.reachable_from(distance)
            in_radius = distance <= max_radius
            entries = index.by_site[site]
            i = bisect.bisect_left(entries, s.window_start, key=_start)
            for j in range(i, len(entries)):
                start, _slot, meta, hold = entries[j]
                if start >= end:
                    break
                if not is_free(start, hold, now) or meta.modality not in s.mods:
                    continue
                if not sources[meta.source] or not s.group(meta.professional):
                    continue
                if meta.modality == VR:
                    for r in range(len(radii)):
                        counts[r] += 1
                elif in_radius and start >= reach:
                    for r in range(len(radii)):
                        if distance <= radii[r]:
                            counts[r] += 1
                else:
                    continue
                taken += 1
                rows += 1
                if taken >= q.per_site or rows >= q.row_cap:
                    break
            if counts[0] >= q.enough or rows >= q.row_cap:
                break
        chosen = next((r for r, c in zip(radii, counts, strict=True) if c >= q.enough), None)
    radius = chosen if chosen is not None else radii[-1]

    per_site: dict[int, list[Candidate]] = {}
    limit = q.limit
    # Teleconsultations of every site, by start, territory by territory.
    if vr_asked:
        _teleconsultations(s, index, scope, per_site, dist)

    candidates = [c for c in mt if c[4][2].modality == VR or c[5] <= radius]
    # The keys of the candidates as the answer counts them (a site's best `per_site` only),
    # sorted: the `limit`-th is the bound no slot may be worse than and still be answered.
    cap = q.per_site
    ranked = sorted(_rank(c) for c in candidates)
    for found in per_site.values():
        found.sort(key=_rank)
        ranked.extend(_rank(c) for c in found[:cap])
    ranked.sort()

    def bound() -> tuple[int, float] | None:
        if len(ranked) < limit:
            return None
        kth = ranked[limit - 1]
        return (kth[0], kth[1])

    # In-person slots, best first: each site inside the radius by the lowest score it could
    # offer (its first slot, or the window's start, or when the patient could be there, plus
    # the travel), read while that may still beat the bound.
    if s.in_person:
        near = np.flatnonzero(all_dist <= radius)
        by_site = index.by_site
        firsts = np.fromiter(
            (es[0][0] if (es := by_site[site]) else _NEVER for site in all_sites[near].tolist()),
            dtype=np.int64,
            count=len(near),
        )
        travels = all_dist[near] / s.mpm
        reachable = now + (travels * 60.0 + s.margin_s) * 1_000_000
        earliest = np.maximum(np.maximum(firsts, s.window_start), reachable)
        # Less a hair: a bound never above a score the walk computes (float rounding).
        lowest = (earliest - now) / 60_000_000 + travels - 1e-6
        order = np.argsort(lowest, kind="stable")
        worst = bound()
        for k, low in zip(near[order].tolist(), lowest[order].tolist(), strict=True):
            if worst is not None and (1, low) > worst:
                break
            distance = float(all_dist[k])
            travel = distance / s.mpm
            site = int(all_sites[k])
            found = _in_person(s, index, site, distance, travel, worst)
            if found:
                mine = per_site.setdefault(site, [])
                for c in mine[:cap]:
                    del ranked[bisect.bisect_left(ranked, _rank(c))]
                mine.extend(found)
                mine.sort(key=_rank)
                for c in mine[:cap]:
                    bisect.insort(ranked, _rank(c))
                worst = bound()

    for found in per_site.values():
        candidates.extend(found[:cap])
    best = heapq.nsmallest(limit, candidates, key=_rank)
    return [_row(d, c, radius) for c in best], radius


@dataclass(frozen=True)
class _Scope:
    """A search scope's offered sites (active territories' active sites, accessible ones only
    if asked), as arrays, and each site's position in them."""

    territories: list[uuid.UUID]
    sites: np.ndarray  # int64 site indexes
    lat: np.ndarray
    lon: np.ndarray
    position: dict[int, int]


_SCOPES_KEPT = 1024


def _scope(d: Directory, territory_ids: tuple[uuid.UUID, ...], accessible: bool) -> _Scope:
    """The scope of `territory_ids`, built once per directory (a directory never changes: a
    change of territories or sites loads a new one)."""
    key = (territory_ids, accessible)
    found: _Scope | None = d.scopes.get(key)
    if found is not None:
        return found
    territories: list[uuid.UUID] = []
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for territory_id in territory_ids:
        territory = d.territories.get(territory_id)
        sites = d.territory_sites.get(territory_id)
        if territory is None or not territory.active or sites is None:
            continue
        if accessible:
            mask = sites.accessible
            part = (sites.sites[mask], sites.lat[mask], sites.lon[mask])
        else:
            part = (sites.sites, sites.lat, sites.lon)
        if len(part[0]):
            territories.append(territory_id)
            parts.append(part)
    if parts:
        site_array = np.concatenate([p[0] for p in parts])
        lat = np.concatenate([p[1] for p in parts])
        lon = np.concatenate([p[2] for p in parts])
    else:
        site_array = np.zeros(0, dtype=np.int64)
        lat = lon = np.zeros(0, dtype=np.float64)
    found = _Scope(
        territories,
        site_array,
        lat,
        lon,
        {site: k for k, site in enumerate(site_array.tolist())},
    )
    if len(d.scopes) >= _SCOPES_KEPT:
        d.scopes.clear()
    d.scopes[key] = found
    return found


def _nearest(distances: np.ndarray, count: int) -> np.ndarray:
    """The positions of the `count` smallest distances, nearest first."""
    if len(distances) > count:
        part = np.argpartition(distances, count - 1)[:count]
        result: np.ndarray = part[np.argsort(distances[part], kind="stable")]
        return result
    return np.argsort(distances, kind="stable")


def _start(entry: Entry) -> int:
    return entry[0]


def _rank(c: Candidate) -> tuple[int, float, int, int]:
    return (c[0], c[1], c[2], c[3])


def _count(counts: list[int], radii: tuple[float, ...], c: Candidate) -> None:
    for r in range(len(radii)):
        if c[4][2].modality == VR or c[5] <= radii[r]:
            counts[r] += 1


def _teleconsultations(
    s: _Search,
    index: FreeSlots,
    scope: list[uuid.UUID],
    per_site: dict[int, list[Candidate]],
    dist: Callable[[int], float],
) -> None:
    """Each site's best teleconsultations of the scope: per group (SAS participants, then the
    others), the territories' lists merged by (start, id), until `limit` of the group are found
    (no later one can rank before them), at most `per_site` of a group at a site."""
    q = s.q
    now = s.now
    sites = s.d.sites
    sources = s.d.sources
    cap = q.per_site
    for group in (1, 2):
        walks = []
        for territory_id in scope:
            entries = index.vr_by_territory.get((territory_id, group))
            if entries:
                i = bisect.bisect_left(entries, s.window_start, key=_start)
                if i < len(entries) and entries[i][0] < s.window_end:
                    walks.append(itertools.islice(entries, i, None))
        if not walks:
            continue
        # Entries compare by (start, slot id), both unique together: the answer's tie order.
        merged = walks[0] if len(walks) == 1 else heapq.merge(*walks)
        taken: dict[int, int] = {}
        found = 0
        for e in merged:
            start, slot, meta, hold = e
            if start >= s.window_end:
                break
            if not is_free(start, hold, now) or not sources[meta.source]:
                continue
            site = meta.site
            record = sites[site]
            if not record.active or (q.accessible and not record.accessible):
                continue
            if start >= s.site_end(site) or s.group(meta.professional) != group:
                continue
            if taken.get(site, 0) >= cap:
                continue
            taken[site] = taken.get(site, 0) + 1
            per_site.setdefault(site, []).append(
                (group, (start - now) / 60_000_000, start, slot, e, dist(site))
            )
            found += 1
            if found >= q.limit:
                break


def _in_person(
    s: _Search,
    index: FreeSlots,
    site: int,
    distance: float,
    travel: float,
    bound: tuple[int, float] | None,
) -> list[Candidate]:
    """The site's best in-person slots (at most `per_site` of each group), by start."""
    now = s.now
    sources = s.d.sources
    cap = s.q.per_site
    end = s.site_end(site)
    reach = s.reachable_from(distance)
    entries = index.by_site[site]
    first: list[Candidate] = []
    second: list[Candidate] = []
    i = bisect.bisect_left(entries, max(s.window_start, reach), key=_start)
    for j in range(i, len(entries)):
        e = entries[j]
        start, slot, meta, hold = e
        if start >= end:
            break
        score = (start - now) / 60_000_000 + travel
        if bound is not None and (1, score) > bound:
            break  # every later slot here scores worse than the answer's last
        if not is_free(start, hold, now) or meta.modality == VR:
            continue
        if meta.modality not in s.mods or not sources[meta.source]:
            continue
        grp = s.group(meta.professional)
        if grp == 1:
            first.append((1, score, start, slot, e, distance))
            if len(first) >= cap:
                break
        elif grp == 2 and len(second) < cap:
            second.append((2, score, start, slot, e, distance))
    return first + second[: cap - len(first)] if len(first) < cap else first


def _row(d: Directory, c: Candidate, radius: float) -> IndexRow:
    grp, score, start, slot, entry, distance = c
    meta = entry[2]
    p = d.professionals[meta.professional]
    site = d.sites[meta.site]
    return IndexRow(
        grp=grp,
        score=score,
        slot_id=uuid.UUID(int=slot),
        start_at=from_us(start),
        end_at=from_us(start + meta.duration_us),
        modality=MODALITY_NAMES[meta.modality],
        distance_m=distance,
        professional_id=p.id,
        rpps=p.rpps,
        family_name=p.family_name,
        given_name=p.given_name,
        site_id=site.id,
        site_name=site.name,
        address=site.address,
        postcode=site.postcode,
        territory_id=site.territory_id,
        site_lat=site.lat,
        site_lon=site.lon,
        chosen_radius_m=radius,
    )
