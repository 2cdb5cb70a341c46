"""The live search index against SQL, through random writes (issue 15, hypothesis).

A database of its own, a `SearchIndex` loaded at the start and caught up after every step, and
for each example a new committed world (two territories, sites 0-60 km around Nantes,
professionals with specialties and languages, SAS participants or not, a practice software and a
regulator). Each step goes through the real write paths (push, re-push, hold, release, booking,
cancellation, practice cancel, sync, the expiry sweep); after it, random searches are asked of
the index and of SQL with the same `now` (sometimes minutes ahead, so that holds lapse without a
write, as they do) and must give the same answer.
"""

import asyncio
import math
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule, run_state_machine_as_test
from prometheus_client import REGISTRY
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.core.auth import Principal
from app.core.config import Settings
from app.core.crypto import cipher_for
from app.core.db import create_engine
from app.core.errors import AppError
from app.schemas.booking import BookingCreate, Patient
from app.schemas.hold import HoldCreate
from app.schemas.search import LatLon, SearchQuery, SearchWindow
from app.services.bookings import service as bookings
from app.services.holds import lifecycle as holds
from app.services.holds.expiry import expire_holds
from app.services.search import service
from app.services.search.index.live import SearchIndex, serving
from app.services.slots import agenda
from tests.conftest import migrated_database, new_finess, new_rpps, unlimited_settings
from tests.dispatch_factories import new_client
from tests.services.search.index_oracle import comparable

pytestmark = pytest.mark.slow

# The real search, taken before the search tests' autouse oracle wraps `rank_candidates`.
real_rank_candidates = service.rank_candidates

NANTES = (47.2184, -1.5536)
SPECIALTIES = ["SM54", "SM26"]
LANGUAGES = ["fr", "en", "es"]
MODALITIES = ["AMB", "HH", "VR"]
PATIENT = Patient(
    family_name="Durand", given_name="Léa", birth_date=date(1984, 5, 17), phone="0612345678"
)
EXAMPLES = 25
STEPS = 15

T = TypeVar("T")


def point(bearing_deg: float, km: float) -> tuple[float, float]:
    """The point `km` km from Nantes towards `bearing_deg` (good enough at these distances)."""
    lat = NANTES[0] + km * math.cos(math.radians(bearing_deg)) / 111.195
    lon = NANTES[1] + km * math.sin(math.radians(bearing_deg)) / (
        111.195 * math.cos(math.radians(NANTES[0]))
    )
    return lat, lon


@dataclass
class Pro:
    id: uuid.UUID
    rpps: str
    site_ids: list[uuid.UUID]


@dataclass
class Context:
    """What lives as long as the test: its loop, database, engine and index."""

    run: Callable[[Coroutine[Any, Any, Any]], Any]
    engine: AsyncEngine
    settings: Settings
    index: SearchIndex
    compared: list[int] = field(default_factory=list)


@dataclass
class Pushed:
    external_id: str
    slot_id: uuid.UUID
    rpps: str


def _index_answers() -> float:
    value = REGISTRY.get_sample_value("snp_search_answers_total", {"source": "index", "reason": ""})
    return value or 0.0


QUERY = st.fixed_dictionaries(
    {
        "bearing": st.floats(0, 360),
        "km": st.floats(0, 70),
        "modalities": st.none() | st.lists(st.sampled_from(MODALITIES), min_size=1, unique=True),
        "window": st.none()
        | st.tuples(st.integers(-2, 70), st.integers(1, 80)),  # start, length (hours from now)
        "limit": st.integers(1, 10),
        "specialty": st.none() | st.sampled_from(SPECIALTIES),
        "languages": st.none() | st.lists(st.sampled_from(LANGUAGES), min_size=1, unique=True),
        "accessible": st.sampled_from([None, True, False]),
        "mt": st.none() | st.integers(0, 5),
        "ahead_seconds": st.sampled_from([0, 0, 30, 600, 1000]),
    }
)
QUERIES = st.lists(QUERY, min_size=1, max_size=3)
SLOT = st.tuples(
    st.integers(0, 5),  # professional
    st.integers(0, 1),  # its site
    st.integers(0, 80 * 60),  # start, minutes from now
    st.sampled_from([15, 20, 30]),
    st.sampled_from(MODALITIES),
)


class IndexAgainstSql(RuleBasedStateMachine):
    c: Context  # set by the test on a subclass

    def __init__(self) -> None:
        super().__init__()
        self.pros: list[Pro] = []
        self.sites: list[uuid.UUID] = []
        self.pushed: list[Pushed] = []
        self.holds: list[uuid.UUID] = []
        self.bookings: list[uuid.UUID] = []
        self.counter = 0

    # -- plumbing -----------------------------------------------------------------------------

    def write(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T | None:
        """One committed transaction; a refusal of the service (409, 404…) rolls it back."""

        async def attempt() -> T | None:
            async with AsyncSession(self.c.engine, expire_on_commit=False) as session:
                try:
                    value = await work(session)
                except AppError:
                    await session.rollback()
                    return None
                await session.commit()
                return value

        result: T | None = self.c.run(attempt())
        return result

    def software(self) -> Principal:
        return Principal(
            client_id=self.source_id,
            name="practice",
            role="practice_software",
            territory_ids=frozenset(self.territory_ids),
            professional_ids=frozenset(p.id for p in self.pros),
        )

    def regulator(self) -> Principal:
        return Principal(
            client_id=self.regulator_id,
            name="regulator",
            role="regulator",
            territory_ids=frozenset(self.territory_ids),
        )

    def check(self, queries: list[dict[str, Any]]) -> None:
        """Catch up, then each query asked of the index and of SQL must answer the same."""
        self.c.run(self.c.index.catch_up())
        self.c.run(self._compare(queries))

    async def _compare(self, queries: list[dict[str, Any]]) -> None:
        for q in queries:
            now = datetime.now(UTC) + timedelta(seconds=q["ahead_seconds"])
            lat, lon = point(q["bearing"], q["km"])
            window = None
            if q["window"] is not None:
                start = now + timedelta(hours=q["window"][0])
                window = SearchWindow(start=start, end=start + timedelta(hours=q["window"][1]))
            mt = None
            if q["mt"] is not None and q["mt"] < len(self.pros):
                mt = self.pros[q["mt"]].rpps
            query = SearchQuery(
                location=LatLon(lat=lat, lon=lon),
                window=window,
                modalities=q["modalities"],
                specialty=q["specialty"],
                languages=q["languages"],
                accessible=q["accessible"],
                medecin_traitant_rpps=mt,
                limit=q["limit"],
            )
            answers = []
            before = _index_answers()
            # As the routes choose it: the index while it is usable (counted), else SQL.
            chosen = serving(self.c.index)
            assert chosen is self.c.index, "the index was not usable (lagging or not loaded)"
            for index in (chosen, None):
                async with AsyncSession(self.c.engine) as session:
                    result = await real_rank_candidates(
                        session,
                        self.regulator(),
                        query,
                        now=now,
                        settings=self.c.settings,
                        index=index,
                    )
                    await session.rollback()
                answers.append(comparable(result))
            # The index answered the first one (never lagging here: see the test's settings).
            assert _index_answers() == before + 1
            from_index, from_sql = answers
            assert from_index == from_sql, (
                f"index and SQL disagree at now={now.isoformat()} for {query!r}:\n"
                f"index {from_index}\nsql   {from_sql}"
            )
            self.c.compared.append(len(from_sql["candidates"]))

    # -- the world ---------------------------------------------------------------------------

    @initialize(
        territories=st.lists(
            st.tuples(st.none() | st.sampled_from([10.0, 25.0]), st.none() | st.just(15.0)),
            min_size=1,
            max_size=2,
        ),
        sites=st.lists(
            st.tuples(st.integers(0, 1), st.floats(0, 360), st.floats(0, 60), st.booleans()),
            min_size=3,
            max_size=6,
        ),
        pros=st.lists(
            st.tuples(
                st.sampled_from(SPECIALTIES),
                st.lists(st.sampled_from(LANGUAGES), min_size=1, unique=True),
                st.booleans(),
                st.lists(st.integers(0, 5), min_size=1, max_size=2, unique=True),
            ),
            min_size=2,
            max_size=6,
        ),
        slots=st.lists(SLOT, min_size=5, max_size=20),
        queries=QUERIES,
    )
    def build(
        self,
        territories: list[tuple[float | None, float | None]],
        sites: list[tuple[int, float, float, bool]],
        pros: list[tuple[str, list[str], bool, list[int]]],
        slots: list[tuple[int, int, int, int, str]],
        queries: list[dict[str, Any]],
    ) -> None:
        async def builder(session: AsyncSession) -> None:
            self.territory_ids = [
                (
                    await session.execute(
                        text(
                            "INSERT INTO territories (name, finess, departement, radius_km, "
                            "enlargement_km) VALUES ('CPTS', :f, '44', :r, :e) RETURNING id"
                        ),
                        {"f": new_finess(), "r": radius, "e": enlargement},
                    )
                ).scalar_one()
                for radius, enlargement in territories
            ]
            for which, bearing, km, accessible in sites:
                lat, lon = point(bearing, km)
                territory = self.territory_ids[which % len(self.territory_ids)]
                self.sites.append(
                    (
                        await session.execute(
                            text(
                                "INSERT INTO sites (territory_id, name, address, postcode, "
                                "insee_code, lat, lon, accessible) VALUES (:t, 'MSP', "
                                "'1 rue de la Paix', '44000', '44109', :lat, :lon, :a) "
                                "RETURNING id"
                            ),
                            {"t": territory, "lat": lat, "lon": lon, "a": accessible},
                        )
                    ).scalar_one()
                )
            for specialty, languages, sas, at in pros:
                rpps = new_rpps()
                pro_id = (
                    await session.execute(
                        text(
                            "INSERT INTO professionals (rpps, family_name, given_name, "
                            "profession, specialty, languages, sas_participant) VALUES "
                            "(:rpps, 'Martin', 'Camille', '10', :s, :l, :sas) RETURNING id"
                        ),
                        {"rpps": rpps, "s": specialty, "l": languages, "sas": sas},
                    )
                ).scalar_one()
                site_ids = sorted({self.sites[i % len(self.sites)] for i in at})
                for site_id in site_ids:
                    await session.execute(
                        text(
                            "INSERT INTO site_professionals (site_id, professional_id) "
                            "VALUES (:s, :p)"
                        ),
                        {"s": site_id, "p": pro_id},
                    )
                self.pros.append(Pro(pro_id, rpps, site_ids))
            self.source_id, _ = await new_client(
                session, "practice_software", professional_ids=[p.id for p in self.pros]
            )
            self.regulator_id, _ = await new_client(
                session, "regulator", territory_ids=self.territory_ids
            )

        self.write(builder)
        self.check(queries)
        self.push(slots, queries)

    # -- the steps ---------------------------------------------------------------------------

    def _item(
        self, external_id: str, pro: Pro, site: int, start_minutes: int, minutes: int, modality: str
    ) -> dict[str, Any]:
        start = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(
            minutes=start_minutes
        )
        return {
            "external_id": external_id,
            "professional_rpps": pro.rpps,
            "site_id": str(pro.site_ids[site % len(pro.site_ids)]),
            "start": start.isoformat(),
            "end": (start + timedelta(minutes=minutes)).isoformat(),
            "modality": modality,
        }

    def _push(self, items: list[dict[str, Any]]) -> None:
        answer = self.write(lambda s: agenda.push_slots(s, self.software(), items))
        assert answer is not None
        for item, out in zip(items, answer["results"], strict=True):
            known = {p.external_id for p in self.pushed}
            if "id" in out and item["external_id"] not in known:
                self.pushed.append(
                    Pushed(item["external_id"], uuid.UUID(out["id"]), item["professional_rpps"])
                )

    @rule(slots=st.lists(SLOT, min_size=1, max_size=4), queries=QUERIES)
    def push(
        self, slots: list[tuple[int, int, int, int, str]], queries: list[dict[str, Any]]
    ) -> None:
        items = []
        for pro, site, start, minutes, modality in slots:
            self.counter += 1
            items.append(
                self._item(
                    f"ext-{self.counter}",
                    self.pros[pro % len(self.pros)],
                    site,
                    start,
                    minutes,
                    modality,
                )
            )
        self._push(items)
        self.check(queries)

    @rule(which=st.integers(0, 1000), slot=SLOT, queries=QUERIES)
    def move(
        self, which: int, slot: tuple[int, int, int, int, str], queries: list[dict[str, Any]]
    ) -> None:
        """Re-push a known external_id with other times, site, modality (or professional)."""
        if self.pushed:
            pushed = self.pushed[which % len(self.pushed)]
            pro, site, start, minutes, modality = slot
            self._push(
                [
                    self._item(
                        pushed.external_id,
                        self.pros[pro % len(self.pros)],
                        site,
                        start,
                        minutes,
                        modality,
                    )
                ]
            )
        self.check(queries)

    @rule(which=st.integers(0, 1000), ttl=st.sampled_from([10, 60, 300]), queries=QUERIES)
    def hold(self, which: int, ttl: int, queries: list[dict[str, Any]]) -> None:
        if self.pushed:
            slot_id = self.pushed[which % len(self.pushed)].slot_id
            data = HoldCreate(slot_id=slot_id, ttl_seconds=ttl)
            out = self.write(lambda s: holds.hold_slot(s, self.regulator(), data))
            if out is not None:
                self.holds.append(out.id)
        self.check(queries)

    @rule(which=st.integers(0, 1000), queries=QUERIES)
    def release(self, which: int, queries: list[dict[str, Any]]) -> None:
        if self.holds:
            hold_id = self.holds[which % len(self.holds)]
            self.write(lambda s: holds.release_hold(s, self.regulator(), hold_id))
        self.check(queries)

    @rule(which=st.integers(0, 1000), queries=QUERIES)
    def book(self, which: int, queries: list[dict[str, Any]]) -> None:
        if self.holds:
            hold_id = self.holds[which % len(self.holds)]
            data = BookingCreate(hold_id=hold_id, patient=PATIENT)
            cipher = cipher_for(self.c.settings.patient_data_key)
            out = self.write(
                lambda s: bookings.book_hold(s, self.regulator(), cipher, data, str(uuid.uuid4()))
            )
            if out is not None:
                self.bookings.append(out.id)
        self.check(queries)

    @rule(which=st.integers(0, 1000), queries=QUERIES)
    def cancel_booking(self, which: int, queries: list[dict[str, Any]]) -> None:
        if self.bookings:
            booking_id = self.bookings[which % len(self.bookings)]
            self.write(lambda s: bookings.cancel_booking(s, self.regulator(), booking_id))
        self.check(queries)

    @rule(which=st.integers(0, 1000), queries=QUERIES)
    def practice_cancel(self, which: int, queries: list[dict[str, Any]]) -> None:
        if self.pushed:
            external_id = self.pushed[which % len(self.pushed)].external_id
            self.write(lambda s: agenda.cancel_slot(s, self.software(), external_id))
        self.check(queries)

    @rule(
        start=st.integers(0, 80), hours=st.integers(1, 24), keep=st.integers(0, 3), queries=QUERIES
    )
    def sync(self, start: int, hours: int, keep: int, queries: list[dict[str, Any]]) -> None:
        """A sync of a window listing nothing new: the source's free slots in it are cancelled
        (but `keep` of the pushed external_ids, re-pushed as a new slot of the window)."""
        begin = datetime.now(UTC) + timedelta(hours=start)
        end = begin + timedelta(hours=hours)
        items = []
        for pushed in self.pushed[:keep]:
            pro = next(p for p in self.pros if p.rpps == pushed.rpps)
            items.append(self._item(pushed.external_id, pro, 0, start * 60 + 1, 15, "AMB"))
        self.write(lambda s: agenda.sync_slots(s, self.software(), items, begin, end))
        self.check(queries)

    @rule(queries=QUERIES)
    def sweep(self, queries: list[dict[str, Any]]) -> None:
        """The expiry sweeper (holds of 10 s lapse during a run)."""
        self.write(expire_holds)
        self.check(queries)


def test_the_live_index_answers_like_sql_through_random_writes(server_url: str) -> None:
    runner = asyncio.Runner()
    try:
        url = runner.run(_database(server_url))
        try:
            _run(runner, url)
        finally:
            runner.run(_drop(url))
    finally:
        runner.close()


_databases: dict[str, Any] = {}


async def _database(server_url: str) -> str:
    manager = migrated_database(server_url, "snp_index_property")
    url = await manager.__aenter__()
    _databases[url] = manager
    return url


async def _drop(url: str) -> None:
    await _databases.pop(url).__aexit__(None, None, None)


def _run(runner: asyncio.Runner, url: str) -> None:
    # A long lag bound: every search of this test reads the index (the check counts them).
    settings = unlimited_settings(
        database_url=url, api_key_cache_seconds=0, search_index_max_lag_seconds=300
    )
    engine = create_engine(url, settings)
    index = SearchIndex(url, settings)
    try:
        runner.run(index.load())
        context = Context(runner.run, engine, settings, index)

        class Here(IndexAgainstSql):
            c = context

        run_state_machine_as_test(
            Here,
            settings=hypothesis_settings(
                max_examples=EXAMPLES,
                stateful_step_count=STEPS,
                deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
                database=None,
            ),
        )
        # Not vacuous: many searches compared, and many of them with candidates.
        assert len(context.compared) > EXAMPLES * 5
        assert sum(1 for n in context.compared if n) > len(context.compared) // 5
    finally:
        runner.run(index.close())
        runner.run(engine.dispose())
