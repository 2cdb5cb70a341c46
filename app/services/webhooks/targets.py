"""Where a webhook may go: never to a private, loopback or link-local address unless allowed.

Rule: before each attempt the endpoint's host is resolved and every address it resolves to must
be public (not loopback, private, link-local, multicast, reserved or unspecified), unless
WEBHOOK_ALLOW_PRIVATE_TARGETS is true (tests, on-premise receivers). Only http and https.
A resolver check at registration is another matter (not here); this one runs at delivery time
because a name may resolve elsewhere since it was registered.
"""

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit


class TargetRefused(Exception):
    """The endpoint may not be called; the message says why (kept as the delivery's error)."""


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    # `is_global` is false for private, loopback, link-local, shared (CGNAT), reserved and
    # unspecified addresses alike.
    return ip.is_global and not ip.is_multicast


async def check_target(url: str, *, allow_private: bool) -> None:
    """Raise TargetRefused unless `url` may receive a webhook now."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TargetRefused("webhook_url must be an http(s) URL with a host")
    if allow_private:
        return
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            parts.hostname, port, type=socket.SOCK_STREAM
        )
    except OSError as exc:
        raise TargetRefused(f"cannot resolve {parts.hostname}: {exc}") from exc
    addresses = {str(info[4][0]) for info in infos}
    private = sorted(a for a in addresses if not _is_public(a))
    if not addresses or private:
        raise TargetRefused(
            f"{parts.hostname} resolves to a private, loopback or link-local address "
            f"({', '.join(private)}); set WEBHOOK_ALLOW_PRIVATE_TARGETS=true to allow"
        )
