"""One attempt: a signed POST of an event to an endpoint, bounded in time and in what it reads.

Rules: Standard Webhooks headers (`webhook-id` is the event id, the same on every retry;
`webhook-timestamp` is the attempt's time; `webhook-signature` is `v1,` + base64 HMAC-SHA256 of
`id.timestamp.body`, by the `standardwebhooks` package, once per secret and space-separated
while a rotated secret's overlap lasts, so a receiver verifying with either one accepts);
redirects are not followed (a 3xx is a failed attempt); at most `MAX_RESPONSE_BYTES` of the
answer are read; the target is checked (`targets`) before each attempt.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
from standardwebhooks.webhooks import Webhook

from app.core.webhook_targets import target_refusal
from app.services.webhooks.schedule import parse_retry_after

MAX_RESPONSE_BYTES = 4096
ERROR_CHARS = 300


@dataclass(frozen=True)
class Attempt:
    """What one attempt got: the status code (None: no answer), an error, a Retry-After;
    `sent` is False when nothing left (a refused target)."""

    status_code: int | None
    error: str | None = None
    retry_after: float | None = None
    sent: bool = True

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def signed_headers(
    secrets: Sequence[str], event_id: str, body: str, now: datetime
) -> dict[str, str]:
    """The Standard Webhooks headers of `body` for event `event_id`, signed at `now` with each
    of `secrets` (the new one first)."""
    if not secrets:
        raise ValueError("a webhook is signed with at least one secret")
    timestamp = now.replace(microsecond=0)
    return {
        "content-type": "application/json",
        "webhook-id": event_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": " ".join(
            Webhook(secret).sign(event_id, timestamp, body) for secret in secrets
        ),
    }


async def _head_of(response: httpx.Response) -> bytes:
    """The first bytes of the answer, never more than MAX_RESPONSE_BYTES read."""
    read = b""
    async for chunk in response.aiter_raw():
        read += chunk
        if len(read) >= MAX_RESPONSE_BYTES:
            break
    return read[:MAX_RESPONSE_BYTES]


async def send(
    http: httpx.AsyncClient,
    url: str,
    secrets: Sequence[str],
    event_id: str,
    body: str,
    *,
    allow_private: bool,
) -> Attempt:
    """POST `body` to `url`, signed with `secrets`; never raises for a network or HTTP failure."""
    refusal = await target_refusal(url, allow_private=allow_private)
    if refusal is not None:  # checked again at each send: DNS may have changed
        return Attempt(None, f"refused target: {refusal}"[:ERROR_CHARS], sent=False)
    if not secrets:
        return Attempt(None, "not sent: the client has no webhook secret", sent=False)
    headers = signed_headers(secrets, event_id, body, datetime.now(UTC))
    try:
        async with http.stream("POST", url, content=body.encode(), headers=headers) as response:
            head = await _head_of(response)
    except httpx.TimeoutException as exc:
        return Attempt(None, f"timeout: {type(exc).__name__}")
    except httpx.HTTPError as exc:
        return Attempt(None, f"{type(exc).__name__}: {exc}"[:ERROR_CHARS])
    code = response.status_code
    if 200 <= code < 300:
        return Attempt(code)
    retry_after = (
        parse_retry_after(response.headers.get("retry-after")) if code in (429, 503) else None
    )
    text = head.decode("utf-8", errors="replace").strip()
    return Attempt(
        code, f"HTTP {code}: {text}"[:ERROR_CHARS] if text else f"HTTP {code}", retry_after
    )


def client(connect_timeout: float, read_timeout: float) -> httpx.AsyncClient:
    """The workers' HTTP client: bounded timeouts, no redirects, no proxy from the environment
    (a proxy would defeat the private-target check)."""
    return httpx.AsyncClient(
        follow_redirects=False,
        trust_env=False,
        timeout=httpx.Timeout(read_timeout, connect=connect_timeout, pool=connect_timeout),
        limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
        headers={"user-agent": "snp-dispatch-webhooks"},
    )
