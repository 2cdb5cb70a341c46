"""Settings from the environment; production refuses the development defaults."""

import pytest
from pydantic import SecretStr, ValidationError

from app.core.config import Settings
from app.core.db import async_url, plain_url


def test_settings_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@db:5432/snp")
    monkeypatch.setenv("WEBHOOK_ALLOW_PRIVATE_TARGETS", "true")
    monkeypatch.setenv("MAX_BODY_BYTES", "4096")
    settings = Settings()
    assert settings.database_url == "postgresql://u@db:5432/snp"
    assert settings.webhook_allow_private_targets is True
    assert settings.max_body_bytes == 4096


def test_production_refuses_the_default_patient_data_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PATIENT_DATA_KEY", raising=False)
    with pytest.raises(ValidationError, match="PATIENT_DATA_KEY"):
        Settings(app_env="production", database_url="postgresql://u@db/snp")


def test_production_refuses_the_embedded_database(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    with pytest.raises(ValidationError, match="DATABASE_URL"):
        Settings(app_env="production", patient_data_key=SecretStr("k" * 32))


def test_production_starts_with_its_own_secrets() -> None:
    settings = Settings(
        app_env="production",
        database_url="postgresql://u@db/snp",
        patient_data_key=SecretStr("k" * 32),
    )
    assert settings.app_env == "production"
    assert "k" * 32 not in repr(settings)


def test_unknown_app_env_is_refused() -> None:
    with pytest.raises(ValidationError):
        Settings(app_env="staging")


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://u@h/db",
        "postgres://u@h/db",
        "postgresql+asyncpg://u@h/db",
        "postgresql+psycopg://u@h/db",
    ],
)
def test_every_postgresql_url_gets_the_asyncpg_driver(url: str) -> None:
    assert async_url(url) == "postgresql+asyncpg://u@h/db"
    assert plain_url(async_url(url)) == "postgresql://u@h/db"


def test_unix_socket_url_keeps_its_host_parameter() -> None:
    url = "postgresql://u@/snp?host=/var/run/postgresql"
    assert async_url(url) == "postgresql+asyncpg://u@/snp?host=/var/run/postgresql"


@pytest.mark.parametrize("url", ["sqlite:///snp.db", "mysql://u@h/db"])
def test_a_database_other_than_postgresql_is_refused(url: str) -> None:
    with pytest.raises(ValueError, match="PostgreSQL"):
        async_url(url)


def test_idempotency_records_live_at_most_a_day() -> None:
    """Most replayed answers derive from a patient: none is kept past 24 h."""
    assert Settings(idempotency_ttl_seconds=86400).idempotency_ttl_seconds == 86400
    with pytest.raises(ValidationError, match="idempotency_ttl_seconds"):
        Settings(idempotency_ttl_seconds=86401)


def test_the_audit_buffer_bound_holds_at_least_one_flush() -> None:
    with pytest.raises(ValidationError, match="AUDIT_BUFFER_MAX_ROWS"):
        Settings(audit_flush_rows=5000, audit_buffer_max_rows=4999)
    assert Settings(audit_flush_rows=5000, audit_buffer_max_rows=5000).audit_buffer_max_rows == 5000
