"""No input makes the service answer 5xx: every operation of the OpenAPI document gets NUL
characters, lone surrogates and integers beyond 64 bits in each parameter and body field.

Driven by the document itself, so a new operation or field is covered without editing this
test. Each operation is called with the key of a role it lets through, so that the values
reach the validation and the code behind it (the test's transaction is rolled back).
"""

import json
import uuid
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import unquote_to_bytes

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import MakeKey, bearer
from tests.factories import create_professional, create_site, create_territory

BODY_VALUES: list[Any] = [
    "\x00",
    "x\x00y",
    "\ud800",
    "x\udfffy",
    2**64,
    -(2**70),
    10**400,
    float("inf"),
    float("nan"),
]
# Query and path values travel percent-encoded: a NUL, an encoded lone surrogate (not UTF-8),
# a stray byte and an integer beyond 64 bits.
URL_VALUES = ["%00", "a%00b", "%ED%A0%80", "%FF", "18446744073709551616", "-1e400"]
ROLES = ("admin", "regulator", "practice_software", "sas_platform")


def raw_json(body: Any) -> bytes:
    return json.dumps(body, ensure_ascii=True, allow_nan=True).encode()


def example_of(schema: dict[str, Any], components: dict[str, Any]) -> Any:
    """A plausible instance of `schema`: its example, else one built from its properties."""
    if "$ref" in schema:
        return example_of(components[schema["$ref"].rsplit("/", 1)[1]], components)
    if schema.get("examples"):
        return schema["examples"][0]
    if "anyOf" in schema:
        return example_of(schema["anyOf"][0], components)
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        return {
            name: example_of(field, components)
            for name, field in schema.get("properties", {}).items()
        }
    if kind == "array":
        return [example_of(schema.get("items", {}), components)]
    if kind in ("integer", "number"):
        return schema.get("minimum", 1)
    if kind == "boolean":
        return True
    if schema.get("format") == "uuid":
        return str(uuid.uuid4())
    if schema.get("format") == "date-time":
        return "2026-11-23T14:30:00+01:00"
    return "text"


def leaves(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """The path of every leaf (and of every container) of a JSON value."""
    yield path
    if isinstance(value, dict):
        for key, child in value.items():
            yield from leaves(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from leaves(child, (*path, index))


def replaced(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, head: replaced(value[head], rest, new)}
    copy = list(value)
    copy[head] = replaced(copy[head], rest, new)
    return copy


def hostile_bodies(example: Any) -> Iterator[Any]:
    for path in leaves(example):
        for bad in BODY_VALUES:
            yield replaced(example, path, bad)
    if isinstance(example, dict):
        for bad in BODY_VALUES:
            yield {**example, bad if isinstance(bad, str) else "extra": 1}  # hostile key


def operations(app: FastAPI) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in app.openapi()["paths"].items()
        for method, operation in item.items()
    ]


@pytest.fixture
async def keys(
    client: httpx.AsyncClient, admin_headers: dict[str, str], make_key: MakeKey
) -> dict[str, dict[str, str]]:
    """One key per role, scoped to a small territory with a site and a professional."""
    territory = await create_territory(client, admin_headers)
    professional = await create_professional(client, admin_headers)
    await create_site(client, admin_headers, territory["id"], [professional["id"]])
    territory_ids = [uuid.UUID(territory["id"])]
    made = {"admin": admin_headers}
    for role in ROLES[1:]:
        key, _ = await make_key(
            role,
            territory_ids=territory_ids,
            professional_ids=[uuid.UUID(professional["id"])] if role == "practice_software" else [],
        )
        made[role] = bearer(key)
    return made


async def send(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    headers: Mapping[str, str | bytes],
    body: Any = None,
    has_body: bool = False,
) -> httpx.Response:
    content = raw_json(body) if has_body else None
    sent = {**headers, "Content-Type": "application/json"} if has_body else dict(headers)
    raw = {k.encode(): v if isinstance(v, bytes) else v.encode() for k, v in sent.items()}
    response = await client.request(method, url, content=content, headers=raw)
    assert response.status_code < 500, (method, url, body, response.text)
    if response.status_code >= 400:
        assert response.headers["content-type"] == "application/problem+json", response.text
    return response


async def test_no_operation_answers_5xx_to_hostile_values(
    app: FastAPI, client: httpx.AsyncClient, keys: dict[str, dict[str, str]]
) -> None:
    components = app.openapi()["components"]["schemas"]
    sent = 0
    for method, path, operation in operations(app):
        parameters = operation.get("parameters", [])
        body_schema = (
            operation.get("requestBody", {})
            .get("content", {})
            .get("application/json", {})
            .get("schema")
        )
        has_body = body_schema is not None
        example = example_of(body_schema, components) if has_body else None
        base_url = path
        for parameter in parameters:
            if parameter["in"] == "path":
                base_url = base_url.replace("{" + parameter["name"] + "}", str(uuid.uuid4()))
        # The first role that gets past the key check (any role for open operations).
        headers = keys["admin"]
        for role in ROLES:
            probe = await send(client, method, base_url, keys[role], example, has_body)
            sent += 1
            if probe.status_code not in (401, 403):
                headers = keys[role]
                break
        for parameter in parameters:
            name, where = parameter["name"], parameter["in"]
            for bad in URL_VALUES:
                if where == "path":
                    url = path
                    for other in parameters:
                        if other["in"] == "path":
                            value = bad if other["name"] == name else str(uuid.uuid4())
                            url = url.replace("{" + other["name"] + "}", value)
                    await send(client, method, url, headers, example, has_body)
                elif where == "query":
                    url = f"{base_url}?{name}={bad}"
                    await send(client, method, url, headers, example, has_body)
                elif where == "header":
                    raw: dict[str, str | bytes] = {**headers, name: unquote_to_bytes(bad)}
                    await send(client, method, base_url, raw, example, has_body)
                sent += 1
        if has_body:
            for body in hostile_bodies(example):
                await send(client, method, base_url, headers, body, has_body)
                sent += 1
                if "Idempotency-Key" in {p["name"] for p in parameters}:
                    keyed = headers | {"Idempotency-Key": str(uuid.uuid4())}
                    await send(client, method, base_url, keyed, body, has_body)
                    sent += 1
    assert sent > 1000  # the walk reached every operation's fields
