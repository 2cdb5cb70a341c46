import pytest
from pydantic import SecretStr

from app.core.crypto import PatientCipher, UndecryptableData

PATIENT = {"family_name": "Durand", "given_name": "Léa", "phone": "+33612345678"}


def test_sealed_patient_opens_to_the_same_value_and_hides_the_plaintext() -> None:
    cipher = PatientCipher(SecretStr("first secret"))
    sealed = cipher.seal_json(PATIENT, "bookings.patient:1")
    assert b"Durand" not in sealed
    assert cipher.open_json(sealed, "bookings.patient:1") == PATIENT


def test_same_value_sealed_twice_gives_different_ciphertexts() -> None:
    cipher = PatientCipher(SecretStr("first secret"))
    assert cipher.seal(b"x", "c") != cipher.seal(b"x", "c")


def test_value_sealed_for_one_record_does_not_open_for_another() -> None:
    cipher = PatientCipher(SecretStr("first secret"))
    sealed = cipher.seal_json(PATIENT, "bookings.patient:1")
    with pytest.raises(UndecryptableData):
        cipher.open_json(sealed, "bookings.patient:2")


def test_altered_ciphertext_is_refused() -> None:
    cipher = PatientCipher(SecretStr("first secret"))
    sealed = bytearray(cipher.seal(b"secret", "c"))
    sealed[-1] ^= 1
    with pytest.raises(UndecryptableData):
        cipher.open(bytes(sealed), "c")


def test_rotation_new_key_seals_and_old_key_still_opens() -> None:
    old = PatientCipher(SecretStr("old secret"))
    rotated = PatientCipher(SecretStr("new secret, old secret"))
    sealed_before = old.seal(b"before", "c")
    sealed_after = rotated.seal(b"after", "c")
    assert rotated.open(sealed_before, "c") == b"before"
    assert rotated.sealed_key_id(sealed_after) == rotated.key_id != old.key_id
    assert rotated.sealed_key_id(sealed_before) == old.key_id
    with pytest.raises(UndecryptableData):
        old.open(sealed_after, "c")


def test_value_sealed_by_a_removed_key_is_refused() -> None:
    sealed = PatientCipher(SecretStr("retired")).seal(b"x", "c")
    with pytest.raises(UndecryptableData):
        PatientCipher(SecretStr("current")).open(sealed, "c")


def test_empty_key_setting_is_refused() -> None:
    with pytest.raises(ValueError, match="no key"):
        PatientCipher(SecretStr(" , "))


def test_fingerprint_is_stable_and_depends_on_the_key() -> None:
    cipher = PatientCipher(SecretStr("first secret"))
    assert cipher.fingerprint(b"body") == cipher.fingerprint(b"body")
    assert cipher.fingerprint(b"body") != cipher.fingerprint(b"other")
    assert cipher.fingerprint(b"body") != PatientCipher(SecretStr("other")).fingerprint(b"body")
