"""The tail every write statement ends with: its outbox events and its audit event, as CTEs.

A change, the events that tell of it and the audit event that records it are written by one
statement (so each exists iff the change does, in one round trip). `written_with` spells the
two INSERTs once; a statement gives the SELECTs that feed them and puts the result after the
CTEs that make the change: `WITH changed AS (…), {written_with(events=…, audit=…)} SELECT …`.
`to_each` spells the recipients of an event told to several clients (one row each).
"""

from app.services.audit.record import INSERT_FROM as AUDIT_INSERT

EVENT_INSERT = "INSERT INTO outbox_events (type, recipient_client_id, territory_id, data)"


def written_with(*, events: str | None = None, audit: str | None = None) -> str:
    """CTEs `events` and `trail` for a statement's WITH list.

    `events`: a SELECT of (type, recipient_client_id, territory_id, data jsonb);
    `audit`: a SELECT of the audit columns (see `audit.record.INSERT_FROM`). Both are SQL of
    our own services, never client input; values travel as bound parameters.
    """
    ctes = []
    if events is not None:
        ctes.append(f"events AS ({EVENT_INSERT}\n{events})")
    if audit is not None:
        ctes.append(f"trail AS ({AUDIT_INSERT}\n{audit})")
    if not ctes:
        raise ValueError("a statement's tail writes events, an audit event, or both")
    return ",\n".join(ctes)


def to_each(*recipients: str) -> str:
    """A FROM item giving one row per recipient, `r.recipient_client_id` (one event row each).

    `recipients` are SQL expressions of our own statements (a column, a bound parameter), e.g.
    the slot's practice software and the regulator of the hold: an event is one outbox row per
    (event, recipient), so each client's feed and deliveries scan its own rows only.
    """
    rows = ", ".join(f"(CAST({r} AS uuid))" for r in recipients)
    return f"CROSS JOIN LATERAL (VALUES {rows}) AS r(recipient_client_id)"
