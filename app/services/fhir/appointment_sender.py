"""One attempt to hand an Appointment to the SAS, over mutual TLS when configured.

Rules: the booking's first message (`booked`) is a create (`POST [base]/Appointment`); a later
status is a conditional update on our identifier (`PUT [base]/Appointment?identifier=…`), which
the SAS treats as a create if it missed the first. 2xx: sent. 408, 425, 429, 5xx and network
failures are retried; another 4xx is a refusal that retrying cannot mend (failed at once).
Redirects are not followed; at most 4 KiB of the answer is read.
"""

import ssl
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from app.core.config import Settings
from app.services.fhir import codes

MAX_RESPONSE_BYTES = 4096
ERROR_CHARS = 300
RETRYABLE = {408, 425, 429}


@dataclass(frozen=True)
class Attempt:
    status_code: int | None
    error: str | None = None
    retry_after: str | None = None

    @property
    def sent(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def retryable(self) -> bool:
        code = self.status_code
        return code is None or code in RETRYABLE or code >= 500


def http_client(settings: Settings) -> httpx.AsyncClient:
    """The client of the SAS endpoint: its CA bundle, and our certificate for mutual TLS."""
    verify: ssl.SSLContext | bool = True
    if settings.sas_ca_bundle_path or settings.sas_client_cert_path:
        context = ssl.create_default_context(
            cafile=str(settings.sas_ca_bundle_path) if settings.sas_ca_bundle_path else None
        )
        if settings.sas_client_cert_path:
            context.load_cert_chain(
                str(settings.sas_client_cert_path),
                str(settings.sas_client_key_path) if settings.sas_client_key_path else None,
            )
        verify = context
    return httpx.AsyncClient(
        verify=verify, timeout=settings.sas_timeout_seconds, follow_redirects=False
    )


async def send_appointment(
    http: httpx.AsyncClient, base: str, resource: dict[str, Any], first: bool
) -> Attempt:
    """Send `resource` (create if `first`, else conditional update); never raises for I/O."""
    identifier = resource["identifier"][0]
    if first:
        method, url, params = "POST", f"{base}/Appointment", None
    else:
        params = {"identifier": f"{identifier['system']}|{identifier['value']}"}
        method, url = "PUT", f"{base}/Appointment"
    headers = {"content-type": codes.FHIR_JSON, "accept": codes.FHIR_JSON}
    try:
        async with http.stream(
            method, url, params=params, content=orjson.dumps(resource), headers=headers
        ) as response:
            read = b""
            async for chunk in response.aiter_raw():
                read += chunk
                if len(read) >= MAX_RESPONSE_BYTES:
                    break
    except httpx.TimeoutException as exc:
        return Attempt(None, f"timeout: {type(exc).__name__}")
    except (httpx.HTTPError, ssl.SSLError, OSError) as exc:
        return Attempt(None, f"{type(exc).__name__}: {exc}"[:ERROR_CHARS])
    code = response.status_code
    if 200 <= code < 300:
        return Attempt(code)
    text = read[:MAX_RESPONSE_BYTES].decode("utf-8", "replace")
    return Attempt(code, f"HTTP {code}: {text}"[:ERROR_CHARS], response.headers.get("retry-after"))
