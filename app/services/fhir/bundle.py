"""The searchset Bundle of a Slot search: the matching Slots, then what was asked to include.

Rules: `total` is the number of matching Slots (0 when none); each included resource appears
once (a practitioner at two places gives one Practitioner, two PractitionerRoles and two
Schedules); every entry has an absolute `fullUrl` and its `search.mode`. The Bundle claims
the CPTS Bundle profile for a CPTS search (INT_R04) that found slots, else BundleAgregateur
(the CPTS profile requires at least one Slot).
"""

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from app.services.fhir import codes, resources
from app.services.fhir.search_params import SlotQuery
from app.services.fhir.slot_search import SlotRow

Builder = Callable[[SlotRow], dict[str, Any]]
IdOf = Callable[[SlotRow], str]


def _role(row: SlotRow) -> str:
    return resources.role_id(row.professional_id, row.site_id)


def _professional(row: SlotRow) -> str:
    return str(row.professional_id)


def _territory(row: SlotRow) -> str:
    return str(row.territory_id)


def _includes(query: SlotQuery) -> list[tuple[str, IdOf, Builder]]:
    """(resource type, id of the row's resource, builder) for each kind of resource asked."""
    kinds: list[tuple[str, IdOf, Builder]] = []
    if query.include_schedule:
        kinds.append(("Schedule", _role, resources.schedule))
    if query.include_actors:
        kinds.append(("Practitioner", _professional, resources.practitioner))
        kinds.append(("PractitionerRole", _role, resources.practitioner_role))
    if query.include_service:
        kinds.append(("HealthcareService", _territory, resources.healthcare_service))
    if query.include_organization:
        kinds.append(("Organization", _territory, resources.organization))
    return kinds


def searchset(query: SlotQuery, rows: list[SlotRow], base_url: str) -> dict[str, Any]:
    """The Bundle answering `query` with `rows` (matching slots in start order)."""
    entries: list[dict[str, Any]] = [
        {
            "fullUrl": f"{base_url}/Slot/{row.id}",
            "resource": resources.slot(row),
            "search": {"mode": "match"},
        }
        for row in rows
    ]
    for kind, key, build in _includes(query):
        seen: set[str] = set()
        for row in rows:
            if kind in ("HealthcareService", "Organization") and "CPTS" not in row.labels:
                continue  # only a CPTS slot references its CPTS
            rid = key(row)
            if rid in seen:
                continue
            seen.add(rid)
            entries.append(
                {
                    "fullUrl": f"{base_url}/{kind}/{rid}",
                    "resource": build(row),
                    "search": {"mode": "include"},
                }
            )
    cpts_profile = query.cpts and bool(rows)
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "meta": {
            "lastUpdated": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "profile": [codes.PROFILE_BUNDLE_CPTS if cpts_profile else codes.PROFILE_BUNDLE],
        },
        "type": "searchset",
        "total": len(rows),
        "link": [{"relation": "self", "url": f"{base_url}/Slot?{query.self_query()}"}],
    }
    if entries:  # FHIR JSON has no empty arrays
        bundle["entry"] = entries
    return bundle
