"""A search's reference (`search_id`): what a hold quoting it needs of the search, sealed.

Rules: the reference seals the search's time and location (AES-GCM, `core.crypto`, bound to the
regulator client that searched, so another client's reference does not open); the service keeps
no copy of the location. A hold that quotes it stores the search time and the distance from the
search location to the held slot's site (plain facts for the indicators), never the location.
"""

import base64
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from app.core.crypto import PatientCipher, UndecryptableData


@dataclass(frozen=True)
class SearchReference:
    searched_at: datetime
    lat: float
    lon: float


def _context(client_id: uuid.UUID) -> str:
    return f"search:{client_id}"


def seal_reference(cipher: PatientCipher, client_id: uuid.UUID, ref: SearchReference) -> str:
    """The opaque `search_id` a search answers with."""
    sealed = cipher.seal_json([ref.searched_at.timestamp(), ref.lat, ref.lon], _context(client_id))
    return base64.urlsafe_b64encode(sealed).rstrip(b"=").decode()


def open_reference(
    cipher: PatientCipher, client_id: uuid.UUID, search_id: str
) -> SearchReference | None:
    """The search behind a `search_id`, or None when it is not one this client was given."""
    try:
        sealed = base64.urlsafe_b64decode(search_id + "=" * (-len(search_id) % 4))
        at, lat, lon = cipher.open_json(sealed, _context(client_id))
        return SearchReference(datetime.fromtimestamp(float(at), UTC), float(lat), float(lon))
    except (UndecryptableData, ValueError, TypeError):
        return None
