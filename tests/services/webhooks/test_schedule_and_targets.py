"""The retry schedule, Retry-After, the private-target rule and one attempt's bounds."""

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from app.core.config import Settings
from app.core.security import new_webhook_secret
from app.core.webhook_targets import target_refusal
from app.services.webhooks.schedule import next_delay, parse_retry_after
from app.services.webhooks.sender import client, send, signed_headers
from tests.concurrency.receiver import Receiver, running_receiver

DEFAULT_DELAYS = Settings().webhook_retry_delays_seconds


def test_the_default_schedule_is_standard_webhooks() -> None:
    assert DEFAULT_DELAYS == [5, 300, 1800, 7200, 18000, 36000, 36000]


def test_each_retry_waits_its_delay_with_jitter_and_none_after_the_last() -> None:
    for attempts, delay in enumerate(DEFAULT_DELAYS, start=1):
        got = next_delay(attempts, DEFAULT_DELAYS, None)
        assert got is not None
        assert delay * 0.9 <= got <= delay * 1.1
    assert next_delay(len(DEFAULT_DELAYS) + 1, DEFAULT_DELAYS, None) is None


def test_retry_after_is_honoured_up_to_the_longest_delay() -> None:
    assert next_delay(1, DEFAULT_DELAYS, 120.0) == 120.0
    assert next_delay(1, DEFAULT_DELAYS, 10**9) == 36000
    assert next_delay(len(DEFAULT_DELAYS) + 1, DEFAULT_DELAYS, 1.0) is None


def test_retry_after_reads_seconds_and_http_dates() -> None:
    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    assert parse_retry_after("30") == 30.0
    assert parse_retry_after(format_datetime(now + timedelta(minutes=2), usegmt=True), now) == 120
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hooks",
        "http://localhost:8080/hooks",
        "http://10.0.0.7/hooks",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hooks",
        "http://[fe80::1]/hooks",
        "http://[::ffff:192.168.1.1]/hooks",
    ],
)
async def test_private_loopback_and_link_local_targets_are_refused(url: str) -> None:
    refusal = await target_refusal(url, allow_private=False)
    assert refusal is not None
    assert "WEBHOOK_ALLOW_PRIVATE_TARGETS" in refusal
    assert await target_refusal(url, allow_private=True) is None


async def test_a_public_address_and_only_http_are_accepted() -> None:
    assert await target_refusal("https://8.8.8.8/hooks", allow_private=False) is None
    assert await target_refusal("ftp://8.8.8.8/hooks", allow_private=True) is not None


def test_the_signature_verifies_and_a_tampered_body_or_old_timestamp_does_not() -> None:
    secret = new_webhook_secret()
    body = '{"id": "e1", "type": "hold.created", "occurred_at": "x", "data": {}}'
    now = datetime.now(UTC)
    Webhook(secret).verify(body, signed_headers([secret], "e1", body, now))
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(
            body.replace("hold", "bold"), signed_headers([secret], "e1", body, now)
        )
    old = signed_headers([secret], "e1", body, now - timedelta(minutes=10))
    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(secret).verify(body, old)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as receiver:
        receiver.secret = new_webhook_secret()
        yield receiver


async def test_a_redirect_is_not_followed(receiver: Receiver) -> None:
    receiver.answer = lambda _id, _seen: (302, {"location": receiver.url + "/elsewhere"})
    async with client(1, 1) as http:
        attempt = await send(http, receiver.url, [receiver.secret], "e1", "{}", allow_private=True)
    assert attempt.status_code == 302
    assert not attempt.delivered
    assert len(receiver.received) == 1


async def test_a_slow_receiver_times_out(receiver: Receiver) -> None:
    receiver.delay = 1.0
    async with client(0.5, 0.2) as http:
        attempt = await send(http, receiver.url, [receiver.secret], "e1", "{}", allow_private=True)
    assert attempt.status_code is None
    assert attempt.error is not None
    assert attempt.error.startswith("timeout")
    await asyncio.sleep(1.0)  # let the receiver's thread finish


async def test_a_503_carries_its_retry_after(receiver: Receiver) -> None:
    receiver.answer = lambda _id, _seen: (503, {"retry-after": "7"})
    async with client(1, 1) as http:
        attempt = await send(http, receiver.url, [receiver.secret], "e1", "{}", allow_private=True)
    assert (attempt.status_code, attempt.retry_after) == (503, 7.0)
    assert receiver.received[0].verified


async def test_a_private_target_is_refused_at_delivery_time(receiver: Receiver) -> None:
    async with client(1, 1) as http:
        attempt = await send(http, receiver.url, [receiver.secret], "e1", "{}", allow_private=False)
    assert attempt.status_code is None
    assert attempt.error is not None
    assert "private" in attempt.error
    assert receiver.received == []
