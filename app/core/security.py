"""API keys and admin passwords: generated at random, stored only as hashes."""

import hashlib
import secrets
import string

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

KEY_PREFIX = "snp"
_ALPHANUMERIC = string.ascii_letters + string.digits


def new_api_key() -> tuple[str, str, str]:
    """A fresh key `snp_<public>_<secret>`, its visible prefix and its SHA-256 hash.

    The prefix lets an operator recognise a key in a list without keeping the key; the secret has
    256 bits of randomness, so an unsalted SHA-256 is enough to store it (no password stretching).
    """
    public = secrets.token_hex(4)
    # Letters and digits only (43 of them: 256 bits), so the key splits cleanly on "_" and
    # survives double-click selection and shell quoting.
    secret = "".join(secrets.choice(_ALPHANUMERIC) for _ in range(43))
    key = f"{KEY_PREFIX}_{public}_{secret}"
    return key, f"{KEY_PREFIX}_{public}", hash_api_key(key)


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_webhook_secret() -> str:
    """A Standard Webhooks signing secret: `whsec_` and base64 of 32 random bytes."""
    import base64

    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


# Argon2id with the library's defaults (RFC 9106's second recommended profile, 64 MiB, t=3).
_PASSWORDS = PasswordHasher()


def hash_password(password: str) -> str:
    """An Argon2id hash of an admin password (salted; the parameters are in the string)."""
    return _PASSWORDS.hash(password)


def verify_password(password: str, stored: str) -> bool:
    """Whether `password` matches `stored`; any malformed or foreign hash is a mismatch."""
    try:
        return _PASSWORDS.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False
