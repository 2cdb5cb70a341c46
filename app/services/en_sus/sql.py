"""The en-sus requests' statements: who is asked, open, read and accept a request."""

from sqlalchemy import text

from app.services.outbox.tail import written_with

NEAREST_TERRITORY = text(
    """
    SELECT si.territory_id FROM sites si JOIN territories t ON t.id = si.territory_id
    WHERE si.territory_id = ANY(CAST(:territories AS uuid[])) AND si.active AND t.active
    ORDER BY ll_to_earth(si.lat, si.lon) <-> ll_to_earth(:lat, :lon)
    LIMIT 1
    """
)

ASKED = text(
    """
    SELECT * FROM (
        SELECT DISTINCT ON (p.id)
               p.id, p.rpps, p.family_name, p.given_name,
               si.id AS site_id, si.name AS site_name, si.address, si.postcode,
               earth_distance(ll_to_earth(si.lat, si.lon), ll_to_earth(:lat, :lon)) AS distance_m
        FROM professionals p
        JOIN site_professionals sp ON sp.professional_id = p.id
        JOIN sites si ON si.id = sp.site_id
        WHERE si.territory_id = :territory AND si.active AND p.active AND p.accepts_en_sus
          AND (CAST(:specialty AS text) IS NULL OR p.specialty = :specialty)
          AND (CAST(:languages AS text[]) IS NULL OR p.languages && CAST(:languages AS text[]))
          AND (NOT :accessible OR si.accessible)
        ORDER BY p.id, distance_m
    ) nearest
    ORDER BY distance_m, id
    LIMIT :max_asked
    """
)

# Practice-software clients of the asked professionals, each with the ones it acts for.
AUDIENCE = """
    SELECT acp.client_id, jsonb_agg(acp.professional_id ORDER BY acp.professional_id) AS pros
    FROM api_client_professionals acp JOIN api_clients c ON c.id = acp.client_id
    WHERE acp.professional_id = ANY(CAST(:professional_ids AS uuid[]))
      AND c.active AND c.role = 'practice_software'
    GROUP BY acp.client_id
"""

CREATE_TAIL = written_with(
    events="""
        SELECT 'request.created', a.client_id, r.territory_id,
               jsonb_build_object('request_id', r.id, 'expires_at', r.expires_at,
                                  'professional_ids', a.pros)
        FROM request r CROSS JOIN audience a
        UNION ALL
        SELECT 'request.created', r.regulator_client_id, r.territory_id,
               jsonb_build_object('request_id', r.id, 'expires_at', r.expires_at,
                                  'professional_ids',
                                  to_jsonb(CAST(:professional_ids AS uuid[])))
        FROM request r
    """,
    audit="""
        SELECT :actor_id, :actor, 'request.create', 'en_sus_request', CAST(r.id AS text),
               r.territory_id, jsonb_build_object('professionals', CAST(:asked_count AS int))
        FROM request r
    """,
)

CREATE = text(
    f"""
    WITH request AS (
        INSERT INTO en_sus_requests
            (id, territory_id, regulator_client_id, criteria, reason, status, expires_at)
        VALUES (:id, :territory, :regulator, CAST(:criteria AS jsonb), :reason, 'open',
                now() + make_interval(secs => CAST(:ttl AS float8)))
        RETURNING *
    ), audience AS ({AUDIENCE}), {CREATE_TAIL}
    SELECT *, false AS lapsed FROM request
    """  # noqa: S608 (built from this module's constants only)
)

READ = text(
    """
    SELECT *, status = 'open' AND expires_at <= now() AS lapsed
    FROM en_sus_requests WHERE id = :id
    """
)

# The first accept closes the request; the regulator and every client told hear of it.
ACCEPT_TAIL = written_with(
    events="""
        SELECT 'request.accepted', a.client_id, c.territory_id,
               jsonb_build_object('request_id', c.id, 'status', c.status,
                                  'accepted_by_professional_id', c.accepted_by_professional_id)
        FROM closed c CROSS JOIN audience a
    """,
    audit="""
        SELECT :actor_id, :actor, 'request.accept', 'en_sus_request', CAST(c.id AS text),
               c.territory_id, jsonb_build_object('professional_id', c.accepted_by_professional_id)
        FROM closed c
    """,
)

ACCEPT = text(
    f"""
    WITH closed AS (
        UPDATE en_sus_requests
        SET status = 'accepted', accepted_by_professional_id = :professional_id,
            accepted_at = now(), updated_at = now()
        WHERE id = :id AND status = 'open' AND expires_at > now()
        RETURNING *
    ), audience AS (
        {AUDIENCE}
        UNION
        SELECT c.regulator_client_id, NULL FROM closed c
    ), {ACCEPT_TAIL}
    SELECT *, false AS lapsed FROM closed
    """  # noqa: S608 (built from this module's constants only)
)
