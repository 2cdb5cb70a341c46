"""Patient data encrypted at rest: AES-256-GCM, keys from PATIENT_DATA_KEY, rotation by key id.

PATIENT_DATA_KEY holds one or more secrets separated by commas. The first encrypts; every one
decrypts, so an operator rotates by putting the new secret first and keeping the old ones until
the data they sealed is gone (purged or re-sealed). Each secret is stretched to a 32-byte AES key
with HKDF-SHA-256; a 4-byte key id, derived the same way with another label, prefixes every
ciphertext so that decryption picks the right key without trying them all.

A sealed value is `version (1 byte) | key id (4) | nonce (12) | ciphertext and tag`. The caller
names what the value is (`context`, e.g. `bookings.patient:<id>`); it is bound as associated data,
so a ciphertext copied onto another row or column does not decrypt.
"""

import hashlib
import hmac
import os
from functools import lru_cache
from typing import Annotated, Any

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from fastapi import Depends, Request
from pydantic import SecretStr

FORMAT_VERSION = 1
KEY_ID_BYTES = 4
NONCE_BYTES = 12
_HEADER = 1 + KEY_ID_BYTES + NONCE_BYTES
_SALT = b"snp-dispatch patient data"


class UndecryptableData(Exception):
    """A sealed value whose key is not configured, or that was altered or moved."""


def _derive(secret: bytes, label: bytes, length: int) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=_SALT, info=label).derive(secret)


class PatientCipher:
    """Seal and open patient data with the configured keys (the first one seals)."""

    def __init__(self, keys: SecretStr) -> None:
        secrets = [k.strip() for k in keys.get_secret_value().split(",") if k.strip()]
        if not secrets:
            raise ValueError("PATIENT_DATA_KEY holds no key")
        self._keys: dict[bytes, AESGCM] = {}
        self._sealing_id = b""
        self._fingerprint_key = b""
        # Every key's fingerprint key, so a digest made before a rotation still matches.
        self._fingerprint_keys: list[bytes] = []
        for index, secret in enumerate(secrets):
            raw = secret.encode()
            key_id = _derive(raw, b"key id v1", KEY_ID_BYTES)
            if index == 0:
                self._sealing_id = key_id
                self._fingerprint_key = _derive(raw, b"fingerprint key v1", 32)
            self._fingerprint_keys.append(_derive(raw, b"fingerprint key v1", 32))
            self._keys.setdefault(key_id, AESGCM(_derive(raw, b"aes-256-gcm key v1", 32)))

    @property
    def key_id(self) -> str:
        """The id (hex) of the key that seals new data."""
        return self._sealing_id.hex()

    def seal(self, plaintext: bytes, context: str) -> bytes:
        """Encrypt `plaintext` with the first key, bound to `context`."""
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._keys[self._sealing_id].encrypt(nonce, plaintext, context.encode())
        return bytes([FORMAT_VERSION]) + self._sealing_id + nonce + sealed

    def open(self, sealed: bytes, context: str) -> bytes:
        """Decrypt a value sealed by any configured key for the same `context`."""
        if len(sealed) < _HEADER + 16 or sealed[0] != FORMAT_VERSION:
            raise UndecryptableData("not a sealed value of a known format")
        key = self._keys.get(bytes(sealed[1 : 1 + KEY_ID_BYTES]))
        if key is None:
            raise UndecryptableData("sealed with a key that is no longer configured")
        nonce = bytes(sealed[1 + KEY_ID_BYTES : _HEADER])
        try:
            return key.decrypt(nonce, bytes(sealed[_HEADER:]), context.encode())
        except InvalidTag:
            raise UndecryptableData("altered, or sealed for another record") from None

    def sealed_key_id(self, sealed: bytes) -> str:
        """The id (hex) of the key that sealed a value (to find data still under an old key)."""
        return bytes(sealed[1 : 1 + KEY_ID_BYTES]).hex()

    def fingerprint(self, data: bytes) -> bytes:
        """A keyed digest (HMAC-SHA-256) of `data`: comparable, but no dictionary attack on it."""
        return hmac.new(self._fingerprint_key, data, hashlib.sha256).digest()

    def fingerprint_matches(self, data: bytes, digest: bytes) -> bool:
        """Whether `digest` is the fingerprint of `data` under any configured key (in constant
        time), so that a digest stored before a key rotation is still recognised."""
        return any(
            hmac.compare_digest(hmac.new(key, data, hashlib.sha256).digest(), digest)
            for key in self._fingerprint_keys
        )

    def seal_json(self, value: Any, context: str) -> bytes:
        return self.seal(orjson.dumps(value), context)

    def open_json(self, sealed: bytes, context: str) -> Any:
        return orjson.loads(self.open(sealed, context))


@lru_cache(maxsize=8)
def _cipher_for(keys: str) -> PatientCipher:
    return PatientCipher(SecretStr(keys))


def cipher_for(keys: SecretStr) -> PatientCipher:
    """The cipher for a key setting (built once per distinct setting)."""
    return _cipher_for(keys.get_secret_value())


def request_cipher(request: Request) -> PatientCipher:
    """The cipher of the running app's settings."""
    return cipher_for(request.app.state.settings.patient_data_key)


async def _request_cipher(request: Request) -> PatientCipher:
    # A coroutine: FastAPI would run a plain function dependency in a worker thread.
    return request_cipher(request)


CipherDep = Annotated[PatientCipher, Depends(_request_cipher)]
