"""The webhook part of a client's admin page: health, failed deliveries, replay, secret
rotation (shown once) and re-enabling after a 410."""

import re

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tests.admin.conftest import csrf_of
from tests.dispatch_factories import World, make_world


async def _hooked(session: AsyncSession) -> tuple[World, int]:
    """A practice software with a webhook and one failed delivery of a slot event."""
    world = await make_world(session)
    await session.execute(
        text(
            "UPDATE api_clients SET webhook_url = 'https://hooks.example/snp', "
            "webhook_secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' WHERE id = :id"
        ),
        {"id": world.source_id},
    )
    event = (
        await session.execute(
            text(
                "INSERT INTO outbox_events (type, recipient_client_id, territory_id, data) "
                "VALUES ('slot.created', :c, :t, '{}') RETURNING id"
            ),
            {"c": world.source_id, "t": world.territory_id},
        )
    ).scalar_one()
    delivery = (
        await session.execute(
            text(
                "UPDATE webhook_deliveries SET status = 'failed', attempts = 8, "
                "last_status_code = 500, last_error = 'HTTP 500', last_attempt_at = now() "
                "WHERE outbox_event_id = :e RETURNING id"
            ),
            {"e": event},
        )
    ).scalar_one()
    return world, delivery


async def test_the_page_shows_the_webhooks_health_and_its_failed_deliveries(
    signed_in: httpx.AsyncClient, session: AsyncSession
) -> None:
    world, delivery = await _hooked(session)
    page = await signed_in.get(f"/admin/clients/{world.source_id}")
    assert page.status_code == 200
    assert "En échec" in page.text
    assert "slot.created" in page.text
    assert f"/livraisons/{delivery}/rejouer" in page.text
    assert "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" not in page.text  # never shown again


async def test_replaying_a_failed_delivery_puts_it_back_in_the_queue(
    signed_in: httpx.AsyncClient, session: AsyncSession
) -> None:
    world, delivery = await _hooked(session)
    path = f"/admin/clients/{world.source_id}"
    page = await signed_in.get(path)
    replayed = await signed_in.post(
        f"{path}/livraisons/{delivery}/rejouer", data={"csrf_token": csrf_of(page.text)}
    )
    assert replayed.status_code == 303
    status = await session.scalar(
        text("SELECT status FROM webhook_deliveries WHERE id = :d"), {"d": delivery}
    )
    assert status == "pending"
    after = await signed_in.get(replayed.headers["location"])
    assert "Livraison remise en file" in after.text
    again = await signed_in.post(
        f"{path}/livraisons/{delivery}/rejouer", data={"csrf_token": csrf_of(after.text)}
    )
    assert again.status_code == 409  # already pending: said on the page
    assert "ne peut pas être rejouée" in again.text


async def test_a_delivery_of_another_client_is_not_replayed_from_this_page(
    signed_in: httpx.AsyncClient, session: AsyncSession
) -> None:
    world, delivery = await _hooked(session)
    other = await make_world(session)
    path = f"/admin/clients/{other.source_id}"
    page = await signed_in.get(path)
    refused = await signed_in.post(
        f"{path}/livraisons/{delivery}/rejouer", data={"csrf_token": csrf_of(page.text)}
    )
    assert refused.status_code == 404
    status = await session.scalar(
        text("SELECT status FROM webhook_deliveries WHERE id = :d"), {"d": delivery}
    )
    assert status == "failed"


async def test_a_new_webhook_secret_is_shown_once(
    signed_in: httpx.AsyncClient, session: AsyncSession
) -> None:
    world, _ = await _hooked(session)
    path = f"/admin/clients/{world.source_id}"
    page = await signed_in.get(path)
    rotated = await signed_in.post(
        f"{path}/nouveau-secret", data={"csrf_token": csrf_of(page.text)}
    )
    assert rotated.status_code == 200
    secret = re.search(
        r'id="webhook-secret" class="key" readonly value="(whsec_[^"]+)"', rotated.text
    )
    assert secret
    assert "n'est affiché qu'une seule fois" in rotated.text
    stored = await session.scalar(
        text("SELECT webhook_secret FROM api_clients WHERE id = :c"), {"c": world.source_id}
    )
    assert stored == secret.group(1)
    assert secret.group(1) not in (await signed_in.get(path)).text


async def test_a_disabled_webhook_is_re_enabled(
    signed_in: httpx.AsyncClient, session: AsyncSession
) -> None:
    world, _ = await _hooked(session)
    await session.execute(
        text("UPDATE api_clients SET webhook_disabled_at = now() WHERE id = :c"),
        {"c": world.source_id},
    )
    path = f"/admin/clients/{world.source_id}"
    page = await signed_in.get(path)
    assert "Désactivé" in page.text
    enabled = await signed_in.post(
        f"{path}/webhook/reactiver", data={"csrf_token": csrf_of(page.text)}
    )
    assert enabled.status_code == 303
    disabled_at = await session.scalar(
        text("SELECT webhook_disabled_at FROM api_clients WHERE id = :c"), {"c": world.source_id}
    )
    assert disabled_at is None
