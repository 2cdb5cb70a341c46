"""Where a webhook may be sent: public (globally routable) addresses only, unless allowed.

Rule: with WEBHOOK_ALLOW_PRIVATE_TARGETS=false, a webhook URL whose host is, or resolves to,
any address that is not global (loopback, private, link-local such as the cloud metadata
address 169.254.169.254, shared, reserved, multicast, unspecified…) is refused; a name that
does not resolve is refused too. Registration checks it, and delivery must check it again
before each send, since DNS answers can change between the two.
"""

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from app.core.errors import InvalidInput

RESOLVE_TIMEOUT_SECONDS = 2.0
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def _is_public(address: Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return _is_public(address.ipv4_mapped)
    return address.is_global and not address.is_multicast


async def _resolve(host: str, port: int) -> list[Address]:
    infos = await asyncio.wait_for(
        asyncio.to_thread(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM),
        RESOLVE_TIMEOUT_SECONDS,
    )
    # An IPv6 answer may carry a zone (`fe80::1%eth0`): the address is what precedes it.
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]


async def target_refusal(url: str, *, allow_private: bool) -> str | None:
    """Why `url` may not receive webhooks now (see the module's rule), or None when it may."""
    parts = urlsplit(url)
    host = (parts.hostname or "").rstrip(".")
    if parts.scheme not in ("http", "https") or not host:
        return "the webhook URL must be an http(s) URL with a host"
    if allow_private:
        return None
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        try:
            addresses = await _resolve(host, parts.port or (443 if parts.scheme == "https" else 80))
        except (OSError, UnicodeError, TimeoutError, ValueError):
            return f"the webhook URL's host {host} does not resolve"
    private = sorted(str(a) for a in addresses if not _is_public(a))
    if not addresses or private:
        return (
            f"the webhook URL's host {host} is or resolves to a loopback, private, link-local "
            f"or otherwise non-public address ({', '.join(private)}); webhooks go to public "
            "addresses only unless WEBHOOK_ALLOW_PRIVATE_TARGETS=true"
        )
    return None


async def check_webhook_target(url: str, *, allow_private: bool, location: str) -> None:
    """422 at `location` unless `url` may receive webhooks (see the module's rule)."""
    refusal = await target_refusal(url, allow_private=allow_private)
    if refusal is not None:
        raise InvalidInput(refusal, location=location)
