"""API keys and admin passwords: random, prefixed, stored only as hashes."""

import base64
import hashlib
import re

from app.core.security import (
    hash_api_key,
    hash_password,
    new_api_key,
    new_webhook_secret,
    verify_password,
)


def test_new_api_key_has_a_visible_prefix_and_its_hash() -> None:
    key, prefix, key_hash = new_api_key()
    assert re.fullmatch(r"snp_[0-9a-f]{8}_[A-Za-z0-9_-]{43}", key)
    assert key.startswith(prefix + "_")
    assert re.fullmatch(r"snp_[0-9a-f]{8}", prefix)
    assert key_hash == hashlib.sha256(key.encode()).hexdigest() == hash_api_key(key)
    assert key.rsplit("_", 1)[1] not in key_hash


def test_two_api_keys_never_repeat() -> None:
    keys = {new_api_key()[0] for _ in range(200)}
    prefixes = {k[:12] for k in keys}
    assert len(keys) == 200
    assert len(prefixes) == 200


def test_webhook_secret_is_32_random_bytes_in_standard_webhooks_form() -> None:
    secret = new_webhook_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    assert secret != new_webhook_secret()


def test_password_hash_verifies_the_right_password_only() -> None:
    stored = hash_password("correct horse battery staple")
    assert stored.startswith("$argon2id$")
    assert "correct horse" not in stored
    assert verify_password("correct horse battery staple", stored)
    assert not verify_password("correct horse battery stapl", stored)


def test_same_password_hashes_differently_each_time() -> None:
    assert hash_password("same password!") != hash_password("same password!")


def test_malformed_stored_password_never_verifies() -> None:
    assert not verify_password("anything", "")
    assert not verify_password("anything", "plain$text")
    assert not verify_password("anything", "bcrypt$00$00")


def test_api_key_has_three_parts_and_an_alphanumeric_secret() -> None:
    for _ in range(200):
        key, prefix, _hash = new_api_key()
        scheme, public, secret = key.split("_")
        assert f"{scheme}_{public}" == prefix
        assert len(secret) == 43
        assert secret.isalnum()
