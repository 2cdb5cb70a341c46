"""The in-memory search index's change feed (issue 15).

- `ix_outbox_events_slot_changes`: every event after which a slot's state may differ, in feed
  order (txid, id), read by each process's index after its cursor;
- `outbox_events_to_search_index`: NOTIFY `slot_changes` at commit (once per transaction) when a
  statement wrote such an event, so the indexes wake up at once instead of at their next poll;
- `search_directory_version`: one row, bumped (with NOTIFY `search_directory`) by every change
  of what a search reads besides slots (territories, sites, professionals, communes, a client
  created or (de)activated); an index that sees another version reloads.

Revision ID: 0016_search_index
Revises: 0015_smart_publication
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_search_index"
down_revision: str | None = "0015_smart_publication"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen here (a migration never changes): app.models.outbox_event.SLOT_CHANGES_WHERE today.
_CHANGES = (
    "type IN ('slot.created', 'slot.updated', 'slot.transferred', 'hold.released', "
    "'hold.expired', 'booking.cancelled', 'slot.cancelled', 'hold.created', 'hold.renewed', "
    "'booking.created')"
)

_NOTIFY_CHANGES = f"""
CREATE FUNCTION outbox_events_to_search_index() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM new_events WHERE {_CHANGES}) THEN
        PERFORM pg_notify('slot_changes', '');
    END IF;
    RETURN NULL;
END
$$
"""  # noqa: S608 (constants of this module only)

_BUMP = """
CREATE FUNCTION search_directory_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE search_directory_version SET version = version + 1;
    PERFORM pg_notify('search_directory', '');
    RETURN NULL;
END
$$
"""

_STATEMENT_TABLES = ("territories", "sites", "professionals", "communes")


def upgrade() -> None:
    op.create_index(
        "ix_outbox_events_slot_changes",
        "outbox_events",
        ["txid", "id"],
        postgresql_where=sa.text(_CHANGES),
    )
    op.execute(_NOTIFY_CHANGES)
    op.execute(
        "CREATE TRIGGER outbox_events_to_search_index AFTER INSERT ON outbox_events "
        "REFERENCING NEW TABLE AS new_events FOR EACH STATEMENT "
        "EXECUTE FUNCTION outbox_events_to_search_index()"
    )
    op.create_table(
        "search_directory_version",
        sa.Column("id", sa.SmallInteger(), server_default="1", nullable=False),
        sa.Column("version", sa.BigInteger(), server_default="1", nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_search_directory_version_one_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_search_directory_version")),
    )
    op.execute("INSERT INTO search_directory_version DEFAULT VALUES")
    op.execute(_BUMP)
    for table in _STATEMENT_TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_to_search_index "
            f"AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION search_directory_changed()"
        )
    # Clients change often (keys, webhook state): only a new one or a change of `active` counts.
    op.execute(
        "CREATE TRIGGER api_clients_created_to_search_index AFTER INSERT ON api_clients "
        "FOR EACH STATEMENT EXECUTE FUNCTION search_directory_changed()"
    )
    op.execute(
        "CREATE TRIGGER api_clients_active_to_search_index AFTER UPDATE OF active ON api_clients "
        "FOR EACH ROW WHEN (OLD.active IS DISTINCT FROM NEW.active) "
        "EXECUTE FUNCTION search_directory_changed()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER api_clients_active_to_search_index ON api_clients")
    op.execute("DROP TRIGGER api_clients_created_to_search_index ON api_clients")
    for table in _STATEMENT_TABLES:
        op.execute(f"DROP TRIGGER {table}_to_search_index ON {table}")
    op.execute("DROP FUNCTION search_directory_changed()")
    op.drop_table("search_directory_version")
    op.execute("DROP TRIGGER outbox_events_to_search_index ON outbox_events")
    op.execute("DROP FUNCTION outbox_events_to_search_index()")
    op.drop_index("ix_outbox_events_slot_changes", table_name="outbox_events")
