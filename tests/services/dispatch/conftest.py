"""Every search of the dispatch tests is also asked of the in-memory index (`index_oracle`)."""

from tests.services.search.conftest import index_agrees_with_sql

__all__ = ["index_agrees_with_sql"]
