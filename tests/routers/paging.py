"""Walk a list endpoint page by page, as a client following `next_cursor` would."""

from typing import Any

import httpx


async def walk_pages(
    client: httpx.AsyncClient,
    path: str,
    headers: dict[str, str],
    limit: int,
    **params: Any,
) -> list[list[dict[str, Any]]]:
    """Every page of `path`, following `next_cursor` until it is null."""
    pages: list[list[dict[str, Any]]] = []
    cursor: str | None = None
    while True:
        query = {**params, "limit": limit, **({"cursor": cursor} if cursor else {})}
        response = await client.get(path, params=query, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        assert set(body) == {"items", "next_cursor"}
        assert len(body["items"]) <= limit
        pages.append(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages
        assert body["items"], "a page with a next cursor is never empty"
        assert len(pages) < 100, "the cursor walk does not end"


def ids_of(pages: list[list[dict[str, Any]]]) -> list[str]:
    return [item["id"] if "id" in item else str(item) for page in pages for item in page]
