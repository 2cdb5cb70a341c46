"""The principal: role and scope checks, and the per-process key cache."""

import uuid

import pytest

from app.core.auth import Principal, PrincipalCache
from app.core.errors import Forbidden

TERRITORY = uuid.uuid4()
PROFESSIONAL, OTHER_PROFESSIONAL = uuid.uuid4(), uuid.uuid4()


def principal(role: str) -> Principal:
    return Principal(
        client_id=uuid.uuid4(),
        name="client",
        role=role,
        territory_ids=frozenset({TERRITORY}),
        professional_ids=frozenset({PROFESSIONAL}),
    )


def test_practice_software_acts_only_for_its_professionals() -> None:
    client = principal("practice_software")
    client.require_professional(PROFESSIONAL)
    with pytest.raises(Forbidden):
        client.require_professional(OTHER_PROFESSIONAL)


def test_admin_acts_for_every_professional() -> None:
    admin = Principal(client_id=uuid.uuid4(), name="coordination", role="admin")
    admin.require_professional(OTHER_PROFESSIONAL)


def test_principal_label_names_role_and_client() -> None:
    assert principal("regulator").label == "regulator:client"


def test_cache_returns_a_principal_until_it_is_forgotten() -> None:
    cache = PrincipalCache(ttl=60)
    client = principal("regulator")
    cache.put("hash", client)
    assert cache.get("hash") is client
    cache.forget_client(client.client_id)
    assert cache.get("hash") is None


def test_cache_with_zero_ttl_keeps_nothing() -> None:
    cache = PrincipalCache(ttl=0)
    cache.put("hash", principal("regulator"))
    assert cache.get("hash") is None


def test_cache_entry_expires_after_its_ttl(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1000.0]
    monkeypatch.setattr("app.core.auth.time.monotonic", lambda: clock[0])
    cache = PrincipalCache(ttl=5)
    cache.put("hash", principal("regulator"))
    clock[0] += 4.9
    assert cache.get("hash") is not None
    clock[0] += 0.2
    assert cache.get("hash") is None


def test_cache_keeps_a_key_no_longer_than_it_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1000.0]
    monkeypatch.setattr("app.core.auth.time.monotonic", lambda: clock[0])
    cache = PrincipalCache(ttl=60)
    cache.put("previous", principal("regulator"), valid_for=2)
    cache.put("expired", principal("regulator"), valid_for=-1)
    assert cache.get("expired") is None
    clock[0] += 1.9
    assert cache.get("previous") is not None
    clock[0] += 0.2
    assert cache.get("previous") is None
