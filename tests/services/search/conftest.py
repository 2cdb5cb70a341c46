"""The search tests also check the in-memory index: each search they make is asked of the
index too, and the answers must agree (`index_oracle`)."""

import pytest

from tests.services.search.index_oracle import compare_with_index


@pytest.fixture(autouse=True)
def index_agrees_with_sql(monkeypatch: pytest.MonkeyPatch) -> None:
    compare_with_index(monkeypatch)
