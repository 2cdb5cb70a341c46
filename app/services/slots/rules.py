"""The two rules every reader of slots shares, as SQL fragments: *free* and *offered*.

Each is written here once and composed into the statements of the search, the hold, the sweep
and the slot-state reads; no other module spells them out. The in-memory search index reads
`free` as `free_in_memory`, its spelling over the index's own fields. Every fragment takes the
aliases and the time expression of the statement it goes into (all constants of our own
services, never client input).

- **Free**: the slot's status is `free`, or `held` by a hold that has lapsed (a lapsed hold is
  free again at once, before the sweeper passes), and the slot has not started yet. A slot whose
  start has passed is free for nobody: not offered by a search, not taken by a hold.
- **Offered** to a regulator: its site is active, the site's territory is active and one of the
  regulator's, its professional is active, and its source (the practice software that pushed
  it) is an active client. A revoked source's free slots are offered to nobody until an admin
  hands them to another client; its held and booked slots keep their hold or booking.
"""


def lapsed_hold(slot: str = "s", now: str = "now()") -> str:
    """The slot is held by a hold whose expiry has passed (what the sweep turns back to free)."""
    return f"({slot}.status = 'held' AND {slot}.hold_expires_at < {now})"


def free(slot: str = "s", now: str = "now()") -> str:
    """The slot may be taken at `now`: free or held by a lapsed hold, and not yet started."""
    # `status IN (…)` first: it is what the partial indexes on open slots are defined on.
    return (
        f"({slot}.status IN ('free', 'held')"
        f" AND ({slot}.status = 'free' OR {lapsed_hold(slot, now)})"
        f" AND {slot}.start_at > {now})"
    )


def free_in_memory(start_us: int, hold_until_us: int, now_us: int) -> bool:
    """`free` as the in-memory search index holds a slot (`search.index.store`): only open
    slots are held there (free, or held with `hold_until_us` its expiry, 0 when free), times
    in microseconds. The same rule as the SQL fragment above, compared to it by the tests."""
    return start_us > now_us and (hold_until_us == 0 or hold_until_us < now_us)


def site_offered(site: str = "si", territories: str = ":territories") -> str:
    """The site is active, in one of `territories` (a uuid[] parameter), its territory active."""
    return f"""({site}.active AND {site}.territory_id = ANY(CAST({territories} AS uuid[]))
        AND EXISTS (SELECT 1 FROM territories t_off
                    WHERE t_off.id = {site}.territory_id AND t_off.active))"""  # noqa: S608


def professional_offered(professional: str = "p") -> str:
    """The professional is active."""
    return f"{professional}.active"


def source_offered(slot: str = "s") -> str:
    """The slot's source client is active (not revoked)."""
    return f"""EXISTS (SELECT 1 FROM api_clients c_off
                   WHERE c_off.id = {slot}.source_client_id AND c_off.active)"""  # noqa: S608


def offered(slot: str = "s", territories: str = ":territories") -> str:
    """The slot is offered in `territories`: its site, professional and source are (see above)."""
    return f"""EXISTS (
        SELECT 1 FROM sites si_off JOIN professionals p_off ON p_off.id = {slot}.professional_id
        WHERE si_off.id = {slot}.site_id
          AND {site_offered("si_off", territories)} AND {professional_offered("p_off")})
        AND {source_offered(slot)}"""  # noqa: S608
