"""Admin pages over ASGI: the API's validation with French messages, the same services and
audit, the dashboard's figures, and what the en-sus pages may show."""

import re
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import ApiClient, AuditEvent, Professional, Site, Territory
from tests.admin.conftest import csrf_of
from tests.conftest import new_rpps
from tests.dispatch_factories import add_slots, make_world


async def _post(
    client: httpx.AsyncClient, form_page: str, action: str, **fields: str
) -> httpx.Response:
    page = await client.get(form_page)
    assert page.status_code == 200, page.text[:500]
    return await client.post(action, data={**fields, "csrf_token": csrf_of(page.text)})


async def test_a_bad_rpps_is_shown_next_to_its_field_in_french(
    signed_in: httpx.AsyncClient, session: AsyncSession
) -> None:
    answer = await _post(
        signed_in,
        "/admin/professionnels/nouveau",
        "/admin/professionnels/nouveau",
        rpps="1234",
        family_name="Martin",
        given_name="",
        profession="10",
    )
    assert answer.status_code == 422
    assert 'id="f-rpps-error">Le numéro RPPS compte exactement 11 chiffres.' in answer.text
    assert 'id="f-given_name-error">Ce champ est obligatoire.' in answer.text
    assert 'value="1234"' in answer.text  # what was typed stays
    assert await session.scalar(select(Professional).where(Professional.rpps == "1234")) is None


async def test_a_duplicate_rpps_is_the_services_refusal_in_french(
    signed_in: httpx.AsyncClient,
) -> None:
    rpps = new_rpps()
    fields = {"rpps": rpps, "family_name": "Martin", "given_name": "Ana", "profession": "10"}
    first = await _post(
        signed_in, "/admin/professionnels/nouveau", "/admin/professionnels/nouveau", **fields
    )
    assert first.status_code == 303
    again = await _post(
        signed_in, "/admin/professionnels/nouveau", "/admin/professionnels/nouveau", **fields
    )
    assert again.status_code == 422
    assert "Un professionnel porte déjà ce numéro RPPS." in again.text


async def test_a_professional_is_edited_and_deactivated(
    signed_in: httpx.AsyncClient, session: AsyncSession
) -> None:
    rpps = new_rpps()
    fields = {"rpps": rpps, "family_name": "Martin", "given_name": "Ana", "profession": "10"}
    created = await _post(
        signed_in, "/admin/professionnels/nouveau", "/admin/professionnels/nouveau", **fields
    )
    path = created.headers["location"].split("?")[0]
    edited = await _post(
        signed_in,
        path,
        path,
        family_name="Durand",
        given_name="Ana",
        profession="10",
        weekly_snp_cap="300",
    )
    assert edited.status_code == 422
    assert "La valeur doit être au plus 200." in edited.text
    edited = await _post(
        signed_in,
        path,
        path,
        family_name="Durand",
        given_name="Ana",
        profession="10",
        accepts_en_sus="on",
        languages="fr, en",
    )
    assert edited.status_code == 200
    assert "Enregistré." in edited.text
    gone = await _post(signed_in, path, path + "/desactiver")
    assert gone.status_code == 303
    professional = await session.scalar(select(Professional).where(Professional.rpps == rpps))
    assert professional is not None
    await session.refresh(professional)
    assert (professional.family_name, professional.accepts_en_sus, professional.active) == (
        "Durand",
        True,
        False,
    )
    assert professional.languages == ["fr", "en"]
    search = await signed_in.get("/admin/professionnels", params={"q": "Durand"})
    assert rpps in search.text


async def test_a_site_with_a_postcode_of_another_commune_is_refused_in_french(
    signed_in: httpx.AsyncClient, session: AsyncSession
) -> None:
    world = await make_world(session)
    form = f"/admin/lieux/nouveau?territoire={world.territory_id}"
    rpps = await session.scalar(
        select(Professional.rpps).where(Professional.id == world.professional_ids[0])
    )
    fields = {
        "name": "MSP Nord",
        "address": "2 rue Haute",
        "insee_code": "44109",
        "lat": "47,22",
        "lon": "-1.55",
        "professional_rpps": f"{rpps}\n00000000000",
    }
    refused = await _post(signed_in, form, form, postcode="75001", **fields)
    assert refused.status_code == 422
    assert "RPPS inconnu(s) : 00000000000" in refused.text
    fields["professional_rpps"] = str(rpps)
    refused = await _post(signed_in, form, form, postcode="75001", **fields)
    assert "Ce code postal n&#39;est pas celui de la commune" in refused.text
    created = await _post(signed_in, form, form, postcode="44000", **fields)
    assert created.status_code == 303
    site = await session.scalar(select(Site).where(Site.name == "MSP Nord"))
    assert site is not None
    assert site.lat == 47.22
    listed = await signed_in.get(f"/admin/lieux?territoire={world.territory_id}&q=MSP")
    assert "MSP Nord" in listed.text


async def test_the_dashboard_counts_the_territorys_next_hours_and_today(
    signed_in: httpx.AsyncClient, session: AsyncSession
) -> None:
    world = await make_world(session)
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=2)
    await add_slots(session, world, 3, start=start)
    await add_slots(session, world, 2, start=start + timedelta(hours=3), status="held")
    await session.execute(
        text(
            "INSERT INTO audit_events (actor, action, resource_type, territory_id, detail) "
            "VALUES ('regulator:x', 'search.run', 'search', :t, '{\"candidates\": 0}'), "
            "('regulator:x', 'search.run', 'search', :t, '{\"candidates\": 4}')"
        ),
        {"t": world.territory_id},
    )
    page = await signed_in.get(f"/admin?territoire={world.territory_id}")
    assert page.status_code == 200
    assert "libres : 3" in page.text
    assert "réservés : 2" in page.text
    assert re.search(r'id="empty-searches">1<', page.text)
    assert "<svg" in page.text
    assert "<rect" in page.text


async def test_an_api_client_key_is_shown_once_and_revoking_it_refuses_it(
    signed_in: httpx.AsyncClient, session: AsyncSession, client: httpx.AsyncClient
) -> None:
    world = await make_world(session)
    form = f"/admin/clients/nouveau?territoire={world.territory_id}"
    refused = await _post(signed_in, form, form, name="Régulation 44", role="regulator")
    assert refused.status_code == 422
    assert "dessert au moins un territoire" in refused.text
    page = await signed_in.get(form)
    created = await signed_in.post(
        form,
        data={
            "name": "Régulation 44",
            "role": "regulator",
            "territory_ids": str(world.territory_id),
            "csrf_token": csrf_of(page.text),
        },
    )
    assert created.status_code == 201
    key = re.search(r'id="api-key" class="key" readonly value="([^"]+)"', created.text)
    assert key
    api = {"Authorization": f"Bearer {key.group(1)}"}
    search = {"location": {"lat": world.lat, "lon": world.lon}}
    assert (await client.post("/v1/searches", json=search, headers=api)).status_code == 200
    row = await session.scalar(select(ApiClient).where(ApiClient.name == "Régulation 44"))
    assert row is not None
    detail = await signed_in.get(f"/admin/clients/{row.id}")
    assert key.group(1) not in detail.text  # never shown again
    revoked = await _post(
        signed_in, f"/admin/clients/{row.id}", f"/admin/clients/{row.id}/revoquer"
    )
    assert revoked.status_code == 303
    assert (await client.post("/v1/searches", json=search, headers=api)).status_code == 401
    audited = await session.scalar(
        select(AuditEvent.actor).where(
            AuditEvent.action == "client.revoke", AuditEvent.resource_id == str(row.id)
        )
    )
    assert audited == "admin_page:coordination@cpts.example"


async def test_rotating_a_key_shows_the_new_one_once(
    signed_in: httpx.AsyncClient, session: AsyncSession
) -> None:
    world = await make_world(session)
    path = f"/admin/clients/{world.regulator_id}"
    refused = await _post(signed_in, path, path + "/nouvelle-cle", grace_seconds="-1")
    assert refused.status_code == 422
    assert "La valeur doit être au moins 0." in refused.text
    rotated = await _post(signed_in, path, path + "/nouvelle-cle", grace_seconds="0")
    assert rotated.status_code == 200
    assert "n'est affichée qu'une seule fois" in rotated.text
    assert world.regulator_key not in rotated.text


async def test_the_en_sus_list_and_detail_show_no_patient_data(
    signed_in: httpx.AsyncClient, session: AsyncSession, client: httpx.AsyncClient
) -> None:
    world = await make_world(session, accepts_en_sus=True)
    body = {"location": {"lat": world.lat, "lon": world.lon}, "reason": "douleur thoracique"}
    made = await client.post(
        "/v1/requests", json=body, headers={"Authorization": f"Bearer {world.regulator_key}"}
    )
    assert made.status_code == 201, made.text
    listed = await signed_in.get(f"/admin/demandes?territoire={world.territory_id}")
    assert made.json()["id"] in listed.text
    assert "douleur" not in listed.text
    detail = await signed_in.get(f"/admin/demandes/{made.json()['id']}")
    assert detail.status_code == 200
    assert "douleur" not in detail.text
    assert "Réservé au régulateur" in detail.text
    read = await session.scalar(
        select(AuditEvent.detail).where(
            AuditEvent.action == "request.read", AuditEvent.resource_id == made.json()["id"]
        )
    )
    assert read == {"patient_fields": False}


async def test_territory_settings_are_validated_like_the_api(
    signed_in: httpx.AsyncClient, session: AsyncSession
) -> None:
    world = await make_world(session)
    path = f"/admin/parametres?territoire={world.territory_id}"
    refused = await _post(signed_in, path, path, radius_km="0", timezone="Mars/Olympus")
    assert refused.status_code == 422
    assert "La valeur doit être au moins 0.1." in refused.text
    assert "Fuseau horaire inconnu" in refused.text
    saved = await _post(
        signed_in, path, path, radius_km="12,5", enlargement_km="", timezone="Indian/Reunion"
    )
    assert saved.status_code == 200
    territory = await session.get(Territory, world.territory_id)
    assert territory is not None
    await session.refresh(territory)
    assert (territory.radius_km, territory.enlargement_km, territory.timezone) == (
        12.5,
        None,
        "Indian/Reunion",
    )


async def test_a_professionals_week_shows_each_slot_with_its_status(
    signed_in: httpx.AsyncClient, session: AsyncSession
) -> None:
    world = await make_world(session)
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=90)
    await add_slots(session, world, 2, start=start)
    await add_slots(session, world, 1, start=start + timedelta(hours=2), status="held")
    week = await signed_in.get(
        "/admin/creneaux",
        params={
            "territoire": str(world.territory_id),
            "professionnel": str(world.professional_ids[0]),
        },
    )
    assert week.status_code == 200
    assert week.text.count('class="slot free"') == 2
    assert week.text.count('class="slot held"') == 1


async def test_the_audit_trail_is_filtered_by_actor(signed_in: httpx.AsyncClient) -> None:
    fields = {"rpps": new_rpps(), "family_name": "Petit", "given_name": "Léa", "profession": "10"}
    await _post(
        signed_in, "/admin/professionnels/nouveau", "/admin/professionnels/nouveau", **fields
    )
    mine = await signed_in.get(
        "/admin/journal", params={"acteur": "admin_page:coordination@cpts.example"}
    )
    assert "professional.create" in mine.text
    others = await signed_in.get("/admin/journal", params={"acteur": "admin:nobody"})
    assert "professional.create" not in others.text
    future = await signed_in.get("/admin/journal", params={"du": "2999-01-01"})
    assert "Aucun événement." in future.text


async def test_an_unknown_id_is_a_french_404_page(signed_in: httpx.AsyncClient) -> None:
    answer = await signed_in.get("/admin/professionnels/00000000-0000-0000-0000-000000000001")
    assert answer.status_code == 404
    assert "Introuvable" in answer.text


async def test_territory_settings_choose_the_published_smart_labels(
    signed_in: httpx.AsyncClient, session: AsyncSession
) -> None:
    world = await make_world(session)
    path = f"/admin/parametres?territoire={world.territory_id}"
    shown = await signed_in.get(path)
    assert 'name="smart_labels" value="PUBLIC" checked' in shown.text
    assert 'name="smart_labels" value="SNP">' in shown.text
    page = await signed_in.get(path)
    saved = await signed_in.post(
        path,
        data={
            "timezone": "Europe/Paris",
            "smart_labels_shown": "1",
            "smart_labels": ["PUBLIC", "SNP"],
            "csrf_token": csrf_of(page.text),
        },
    )
    assert saved.status_code == 200, saved.text[:500]
    assert 'value="SNP" checked' in saved.text
    territory = await session.get(Territory, world.territory_id)
    assert territory is not None
    await session.refresh(territory)
    assert territory.smart_labels == ["PUBLIC", "SNP"]
    # No box ticked: nothing published.
    page = await signed_in.get(path)
    await signed_in.post(
        path,
        data={
            "timezone": "Europe/Paris",
            "smart_labels_shown": "1",
            "csrf_token": csrf_of(page.text),
        },
    )
    await session.refresh(territory)
    assert territory.smart_labels == []
