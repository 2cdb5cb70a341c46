"""API keys and admin passwords: generated at random, stored only as hashes."""

import hashlib
import hmac
import secrets
import string

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


_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **_SCRYPT)
    return f"scrypt${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, salt_hex, digest_hex = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    digest = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt_hex), dklen=32, **_SCRYPT)
    return hmac.compare_digest(digest.hex(), digest_hex)
