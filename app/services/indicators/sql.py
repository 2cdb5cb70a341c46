"""The indicators' statements: one per figure family, each a range of one territory.

Every statement takes `:territory_id` and the period's bounds `:start`, `:end` (instants: the
first day's midnight and the day after the last one's, in the territory's zone); those that
count by week take `:weeks`, the instants each ISO week of the period starts at in that zone
(the period's start first), and say the week of an instant by `width_bucket` over them: a
binary search on plain instants, not a time zone conversion and a text format per row. Each
range walks an index of migration 0013 (or older), so the cost follows the territory's own
volume, not the whole service's:
- slots: `sites` of the territory → `ix_slots_site_start`, grouped before their labels are
  unnested;
- searches: `ix_audit_events_search_territory` (regulators of one territory), and the GIN
  `ix_audit_events_search_territories` (the others' searches list their territories);
- holds, bookings, consultations: `ix_bookings_territory_*`, the last two index-only (they
  carry the facts they count);
- en-sus: `ix_en_sus_requests_territory_created_at`.
"""

from sqlalchemy import text

_WEEK = "width_bucket({at}, CAST(:weeks AS timestamptz[]))"
# From the search to the consultation: the search the hold quoted, else the hold itself.
_DELAY = "(b.starts_at - coalesce(b.searched_at, b.created_at))"
_WITHIN_48H = f"{_DELAY} <= interval '48 hours'"

# Grouped by (week, professional, modality, labels) first, then counted under each label (a
# group without a label under none, NULL); every row carries the period's totals (each slot
# once).
SLOTS = text(
    f"""
    WITH grouped AS (
        SELECT {_WEEK.format(at="s.start_at")} AS week, s.professional_id, s.modality, s.labels,
               count(*) AS slots, sum(EXTRACT(EPOCH FROM s.end_at - s.start_at)) AS seconds
        FROM sites si
        JOIN slots s ON s.site_id = si.id
        WHERE si.territory_id = :territory_id
          AND s.start_at >= :start AND s.start_at < :end
          AND s.status <> 'cancelled'
        GROUP BY 1, 2, 3, 4
    ), totals AS (
        SELECT CAST(sum(slots) AS int) AS all_slots, CAST(sum(seconds) AS float8) AS all_seconds
        FROM grouped
    )
    SELECT g.week, g.professional_id, g.modality, l.label,
           CAST(sum(g.slots) AS int) AS slots, CAST(sum(g.seconds) AS float8) AS seconds,
           min(t.all_slots) AS all_slots, min(t.all_seconds) AS all_seconds
    FROM grouped g
    LEFT JOIN LATERAL unnest(g.labels) AS l(label) ON true
    CROSS JOIN totals t
    GROUP BY 1, 2, 3, 4
    ORDER BY 1, 2, 3, 4 NULLS LAST
    """  # noqa: S608 (constants of this module only)
)

SEARCHES = text(
    """
    SELECT count(*) AS searches,
           count(*) FILTER (WHERE (a.detail ->> 'candidates') = '0') AS without_candidate
    FROM (
        SELECT detail FROM audit_events
        WHERE action = 'search.run' AND territory_id = :territory_id
          AND occurred_at >= :start AND occurred_at < :end
        UNION ALL
        SELECT detail FROM audit_events
        WHERE action = 'search.run' AND territory_id IS NULL
          AND detail -> 'territory_ids' @> jsonb_build_array(CAST(:territory_id AS text))
          AND occurred_at >= :start AND occurred_at < :end
    ) AS a
    """
)

HOLDS = text(
    """
    SELECT count(*) FROM bookings
    WHERE territory_id = :territory_id AND created_at >= :start AND created_at < :end
    """
)

BOOKINGS = text(
    f"""
    SELECT count(*) AS bookings,
           count(*) FILTER (WHERE b.status = 'cancelled') AS cancellations,
           count(*) FILTER (WHERE b.status = 'fulfilled') AS fulfilled,
           count(*) FILTER (WHERE b.status = 'noshow') AS noshow,
           count(*) FILTER (WHERE {_WITHIN_48H}) AS within_48h,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY b.search_distance_m) AS median_distance_m,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM {_DELAY}))
               AS median_delay_s
    FROM bookings b
    WHERE b.territory_id = :territory_id
      AND b.booked_at >= :start AND b.booked_at < :end
    """  # noqa: S608 (constants of this module only)
)

# Consultations that may earn the majoration, by professional and week of their start: not
# cancelled, not a no-show, within 48 h of the search, not by the médecin traitant (when said).
MAJORATION = text(
    f"""
    SELECT b.professional_id, {_WEEK.format(at="b.starts_at")} AS week, count(*) AS consultations
    FROM bookings b
    WHERE b.territory_id = :territory_id
      AND b.starts_at >= :start AND b.starts_at < :end
      AND b.status IN ('booked', 'fulfilled')
      AND {_WITHIN_48H}
      AND b.medecin_traitant_booked IS NOT TRUE
    GROUP BY 1, 2
    """  # noqa: S608 (constants of this module only)
)

# The territory's professionals: the active ones working at its sites, and any with activity.
PROFESSIONALS = text(
    """
    SELECT p.id, p.rpps, p.family_name, p.given_name, p.weekly_snp_cap
    FROM professionals p
    WHERE p.id IN (
        SELECT sp.professional_id
        FROM sites si
        JOIN site_professionals sp ON sp.site_id = si.id
        JOIN professionals q ON q.id = sp.professional_id AND q.active
        WHERE si.territory_id = :territory_id
        UNION
        SELECT unnest(CAST(:with_activity AS uuid[]))
    )
    ORDER BY p.family_name, p.given_name, p.rpps
    """
)

EN_SUS = text(
    """
    SELECT count(*) AS opened,
           count(*) FILTER (WHERE status = 'accepted') AS accepted,
           count(*) FILTER (WHERE status = 'expired') AS expired
    FROM en_sus_requests
    WHERE territory_id = :territory_id AND created_at >= :start AND created_at < :end
    """
)
