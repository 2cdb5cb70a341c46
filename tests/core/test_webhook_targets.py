"""Webhooks go to public addresses only (unless WEBHOOK_ALLOW_PRIVATE_TARGETS)."""

import socket
from typing import Any

import pytest

from app.core.errors import InvalidInput
from app.core.webhook_targets import check_webhook_target

# What a resolver would answer; the tests run with no network.
ANSWERS = {
    "hooks.example.com": ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"],
    "sneaky.example.com": ["93.184.215.14", "10.0.0.7"],  # one private answer is enough
    "metadata.example.com": ["169.254.169.254"],
}


@pytest.fixture
def resolver(monkeypatch: pytest.MonkeyPatch) -> None:
    real = socket.getaddrinfo

    def getaddrinfo(host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host in ANSWERS:
            return [
                (
                    socket.AF_INET6 if ":" in a else socket.AF_INET,
                    socket.SOCK_STREAM,
                    6,
                    "",
                    (a, port),
                )
                for a in ANSWERS[host]
            ]
        if host.endswith(".invalid"):
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.mark.usefixtures("resolver")
@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://localhost:8080/hook",
        "http://169.254.169.254/latest/meta-data/",
        "https://10.1.2.3/",
        "https://172.16.0.1/",
        "https://192.168.1.1/",
        "https://100.64.0.1/",
        "https://0.0.0.0/",
        "https://[::1]/",
        "https://[fe80::1]/",
        "https://[fd00::1]/",
        "https://[::ffff:127.0.0.1]/",
        "https://224.0.0.1/",
        "https://sneaky.example.com/",
        "https://metadata.example.com/",
        "https://nowhere.invalid/",
    ],
)
async def test_non_public_targets_are_refused(url: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        await check_webhook_target(url, allow_private=False, location="body.webhook_url")
    assert refused.value.extensions["location"] == "body.webhook_url"


@pytest.mark.usefixtures("resolver")
@pytest.mark.parametrize("url", ["https://hooks.example.com/snp", "https://93.184.215.14/h"])
async def test_public_targets_pass(url: str) -> None:
    await check_webhook_target(url, allow_private=False, location="body.webhook_url")


async def test_private_targets_pass_when_allowed() -> None:
    await check_webhook_target("http://127.0.0.1:9/h", allow_private=True, location="x")
