"""The free-slot index of one process: the directory a search reads and the slots it may offer.

Built for the search's speed and a small footprint (issue 15):
- the directory (territories, sites, professionals, source clients, commune centroids) as
  plain Python records, and per territory its active sites' coordinates as numpy arrays, so the
  distances of a territory's sites are one vectorised haversine;
- the slots that may be offered (status free or held, starting before the index's `until`),
  each one tuple `(start_us, slot_int, meta, hold_until_us)`: `meta` is shared by every slot of
  one (professional, modality, duration, source, site), `hold_until_us` is 0 for a free slot and
  the hold's expiry for a held one (a lapsed hold is free at once, as in SQL). Each site keeps
  its tuples sorted by start; each territory keeps its teleconsultations (VR) sorted by start
  too (the same tuples), since a teleconsultation's score does not depend on its site.
Times are integer microseconds since the epoch (PostgreSQL's own resolution), ids `uuid.int`.
"""

import bisect
import sys
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import numpy as np

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MODALITY_CODES = {"AMB": 0, "HH": 1, "VR": 2}
MODALITY_NAMES = ("AMB", "HH", "VR")
VR = 2


def to_us(at: datetime) -> int:
    """Microseconds since the epoch (exact: timedelta arithmetic, no float)."""
    delta = at - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


_DATETIMES: dict[int, datetime] = {}


def from_us(us: int) -> datetime:
    """The instant `us` (cached: slots share their starts and ends)."""
    found = _DATETIMES.get(us)
    if found is None:
        if len(_DATETIMES) > 100_000:
            _DATETIMES.clear()
        found = _DATETIMES[us] = EPOCH + timedelta(microseconds=us)
    return found


@dataclass(frozen=True, slots=True)
class TerritoryRecord:
    id: uuid.UUID
    active: bool
    departement: str
    timezone: str
    radius_km: float | None
    enlargement_km: float | None


@dataclass(frozen=True, slots=True)
class SiteRecord:
    idx: int
    id: uuid.UUID
    territory_id: uuid.UUID
    lat: float
    lon: float
    timezone: str
    active: bool
    accessible: bool
    name: str
    address: str
    postcode: str


@dataclass(frozen=True, slots=True)
class ProfessionalRecord:
    idx: int
    id: uuid.UUID
    rpps: str
    family_name: str
    given_name: str
    specialty: str | None
    languages: frozenset[str]
    sas_participant: bool
    active: bool


class Meta(NamedTuple):
    """What a slot shares with the other slots of its professional at its site."""

    professional: int
    modality: int
    duration_us: int
    source: int
    site: int


Entry = tuple[int, int, Meta, int]  # (start_us, slot_int, meta, hold_until_us)


@dataclass
class TerritorySites:
    """A territory's active sites: their indexes and coordinates (radians) as arrays."""

    sites: np.ndarray  # int64 site indexes
    lat: np.ndarray  # float64 degrees
    lon: np.ndarray
    accessible: np.ndarray  # bool


@dataclass
class Directory:
    territories: dict[uuid.UUID, TerritoryRecord]
    sites: list[SiteRecord]
    site_index: dict[uuid.UUID, int]
    professionals: list[ProfessionalRecord]
    professional_index: dict[uuid.UUID, int]
    by_rpps: dict[str, int]
    sources: list[bool]  # active, by source index
    source_index: dict[uuid.UUID, int]
    centroids: dict[str, tuple[float | None, float | None]]  # (None, None): none loaded
    territory_sites: dict[uuid.UUID, TerritorySites] = field(default_factory=dict)
    # Each active site's position in its territory's arrays (-1: inactive).
    site_pos: list[int] = field(default_factory=list)
    # The search scopes already asked for (search.index.query._scope), built once each.
    scopes: dict[Any, Any] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        territories: list[Any],
        sites: list[Any],
        professionals: list[Any],
        clients: list[Any],
        communes: list[Any],
    ) -> "Directory":
        terr = {
            r["id"]: TerritoryRecord(
                r["id"],
                r["active"],
                r["departement"],
                r["timezone"],
                None if r["radius_km"] is None else float(r["radius_km"]),
                None if r["enlargement_km"] is None else float(r["enlargement_km"]),
            )
            for r in territories
        }
        site_records = [
            SiteRecord(
                i,
                r["id"],
                r["territory_id"],
                float(r["lat"]),
                float(r["lon"]),
                sys.intern(r["timezone"]),
                r["active"],
                r["accessible"],
                r["name"],
                r["address"],
                sys.intern(r["postcode"]),
            )
            for i, r in enumerate(sites)
        ]
        languages: dict[frozenset[str], frozenset[str]] = {}  # shared: most say {"fr"}
        pros = [
            ProfessionalRecord(
                i,
                r["id"],
                r["rpps"],
                r["family_name"],
                r["given_name"],
                None if r["specialty"] is None else sys.intern(r["specialty"]),
                languages.setdefault(
                    frozenset(r["languages"] or ()), frozenset(r["languages"] or ())
                ),
                r["sas_participant"],
                r["active"],
            )
            for i, r in enumerate(professionals)
        ]
        directory = cls(
            territories=terr,
            sites=site_records,
            site_index={s.id: s.idx for s in site_records},
            professionals=pros,
            professional_index={p.id: p.idx for p in pros},
            by_rpps={p.rpps: p.idx for p in pros},
            sources=[bool(r["active"]) for r in clients],
            source_index={r["id"]: i for i, r in enumerate(clients)},
            centroids={r["insee_code"]: (r["lat"], r["lon"]) for r in communes},
        )
        grouped: dict[uuid.UUID, list[SiteRecord]] = {}
        for s in site_records:
            if s.active:
                grouped.setdefault(s.territory_id, []).append(s)
        directory.site_pos = [-1] * len(site_records)
        for territory_id, members in grouped.items():
            for pos, member in enumerate(members):
                directory.site_pos[member.idx] = pos
            directory.territory_sites[territory_id] = TerritorySites(
                sites=np.array([s.idx for s in members], dtype=np.int64),
                lat=np.array([s.lat for s in members], dtype=np.float64),
                lon=np.array([s.lon for s in members], dtype=np.float64),
                accessible=np.array([s.accessible for s in members], dtype=bool),
            )
        return directory


class SlotRow(NamedTuple):
    """A slot as the feed and the loader read it."""

    id: uuid.UUID
    site_id: uuid.UUID
    professional_id: uuid.UUID
    source_client_id: uuid.UUID
    start_at: datetime
    end_at: datetime
    modality: str
    status: str
    hold_expires_at: datetime | None


class FreeSlots:
    """The slots that may be offered: by site; and by territory, their starts (whether a window
    holds anything at all) and their teleconsultations, SAS participants' apart from the
    others' (a teleconsultation's score does not depend on its site)."""

    def __init__(self, directory: Directory, until_us: int) -> None:
        self.directory = directory
        self.until_us = until_us  # slots starting at or after it are not held here
        self.by_site: list[list[Entry]] = [[] for _ in directory.sites]
        # (territory, 1: SAS participants' | 2: the others') → teleconsultations by start.
        self.vr_by_territory: dict[tuple[uuid.UUID, int], list[Entry]] = {}
        self.starts_by_territory: dict[uuid.UUID, list[int]] = {}
        self.where: dict[int, Entry] = {}  # slot_int → its entry
        self.professional_sites: dict[int, list[int]] = {}
        self._metas: dict[Meta, Meta] = {}
        self._starts: dict[int, int] = {}  # one int object per distinct start

    def __len__(self) -> int:
        return len(self.where)

    def settle(self) -> None:
        """After a full load: forget the tables that shared the metas and starts between the
        rows loaded (~10 % of a national index); later rows get their own."""
        self._metas = {}
        self._starts = {}

    def _entry(self, row: SlotRow) -> Entry | None:
        d = self.directory
        site = d.site_index.get(row.site_id)
        professional = d.professional_index.get(row.professional_id)
        source = d.source_index.get(row.source_client_id)
        if site is None or professional is None or source is None:
            return None  # unknown to this directory: a reload follows the change that made it
        start = to_us(row.start_at)
        start = self._starts.setdefault(start, start)
        meta = Meta(
            professional,
            MODALITY_CODES[row.modality],
            to_us(row.end_at) - start,
            source,
            site,
        )
        meta = self._metas.setdefault(meta, meta)
        hold = 0
        if row.status == "held":
            hold = to_us(row.hold_expires_at) if row.hold_expires_at is not None else 0
        return (start, row.id.int, meta, hold)

    def _vr_key(self, meta: Meta) -> tuple[uuid.UUID, int]:
        d = self.directory
        participant = d.professionals[meta.professional].sas_participant
        return (d.sites[meta.site].territory_id, 1 if participant else 2)

    def put(self, row: SlotRow) -> None:
        """Make the index hold `row` as it is now (added, changed or removed)."""
        self.remove(row.id.int)
        if row.status not in ("free", "held"):
            return
        entry = self._entry(row)
        if entry is None or entry[0] >= self.until_us:
            return
        meta = entry[2]
        self.where[entry[1]] = entry
        bisect.insort(self.by_site[meta.site], entry, key=_order)
        self._at_professional(meta)
        territory = self.directory.sites[meta.site].territory_id
        bisect.insort(self.starts_by_territory.setdefault(territory, []), entry[0])
        if meta.modality == VR:
            bisect.insort(
                self.vr_by_territory.setdefault(self._vr_key(meta), []), entry, key=_order
            )

    def _at_professional(self, meta: Meta) -> None:
        sites = self.professional_sites.setdefault(meta.professional, [])
        if meta.site not in sites:
            sites.append(meta.site)

    def remove(self, slot_int: int) -> None:
        entry = self.where.pop(slot_int, None)
        if entry is None:
            return
        meta = entry[2]
        _delete(self.by_site[meta.site], entry)
        starts = self.starts_by_territory[self.directory.sites[meta.site].territory_id]
        del starts[bisect.bisect_left(starts, entry[0])]
        if meta.modality == VR:
            _delete(self.vr_by_territory[self._vr_key(meta)], entry)

    def load(self, rows: list[SlotRow]) -> None:
        """Add many rows at once (start-up, a roll forward): sorted once per list, not per row."""
        touched_sites: set[int] = set()
        touched: set[uuid.UUID] = set()
        touched_vr: set[tuple[uuid.UUID, int]] = set()
        sites = self.directory.sites
        for row in rows:
            self.remove(row.id.int)
            if row.status not in ("free", "held"):
                continue
            entry = self._entry(row)
            if entry is None or entry[0] >= self.until_us:
                continue
            meta = entry[2]
            self.where[entry[1]] = entry
            self.by_site[meta.site].append(entry)
            touched_sites.add(meta.site)
            self._at_professional(meta)
            territory = sites[meta.site].territory_id
            self.starts_by_territory.setdefault(territory, []).append(entry[0])
            touched.add(territory)
            if meta.modality == VR:
                key = self._vr_key(meta)
                self.vr_by_territory.setdefault(key, []).append(entry)
                touched_vr.add(key)
        for site in touched_sites:
            self.by_site[site].sort(key=_order)
        for territory in touched:
            self.starts_by_territory[territory].sort()
        for key in touched_vr:
            self.vr_by_territory[key].sort(key=_order)

    def any_between(self, territory_id: uuid.UUID, start_us: int, end_us: int) -> bool:
        """Whether the territory holds a slot starting in [start_us, end_us)."""
        starts = self.starts_by_territory.get(territory_id)
        if not starts:
            return False
        i = bisect.bisect_left(starts, start_us)
        return i < len(starts) and starts[i] < end_us

    def drop_started(self, now_us: int) -> int:
        """Forget the slots that have started (never offered again); how many went."""
        gone = 0
        for entries in self.by_site:
            if entries and entries[0][0] <= now_us:
                cut = bisect.bisect_right(entries, now_us, key=_start)
                for entry in entries[:cut]:
                    self.where.pop(entry[1], None)
                del entries[:cut]
                gone += cut
        for entries in self.vr_by_territory.values():
            if entries and entries[0][0] <= now_us:
                del entries[: bisect.bisect_right(entries, now_us, key=_start)]
        for starts in self.starts_by_territory.values():
            if starts and starts[0] <= now_us:
                del starts[: bisect.bisect_right(starts, now_us)]
        return gone


def _order(entry: Entry) -> tuple[int, int]:
    return (entry[0], entry[1])


def _start(entry: Entry) -> int:
    return entry[0]


def _delete(entries: list[Entry], entry: Entry) -> None:
    i = bisect.bisect_left(entries, _order(entry), key=_order)
    if i < len(entries) and entries[i] is entry:
        del entries[i]
    else:  # never expected: the index and `where` are kept together
        entries.remove(entry)
