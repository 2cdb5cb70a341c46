"""Regulator accounts of the SAS (flow INT_R02), kept as regulator API clients.

Rules:
- A create (POST) of a regulator whose national id or SAS technical id an account already
  holds is refused (422, `duplicate`): the SAS creates an account once.
- A conditional update (PUT `?identifier=system|value`) updates the account holding that
  identifier, or creates it when none does (the guide: idempotent, as a create).
- An identifier held by another *active* account is refused (422 `duplicate`); one held by a
  deactivated account moves to this one (the guide's reattribution of an IDNPS).
- `active=false` deactivates the account's API client (its key is refused), `active=true`
  reactivates it; a client revoked by an admin stays revoked (422).
- The account is a regulator API client of the SAS platform's territories. INT_R02 hands out
  no key: the SAS never calls our /v1 API as this regulator. The account exists so that a
  booking names its regulator to the SAS (INT_R03) and so that the SAS can switch it off; an
  admin who lets that regulator call /v1 directly gives it a key with
  `POST /v1/clients/{id}/rotate-key`.
- Audit: the create or update, the identifier systems and `active`, never names or e-mails.
"""

import uuid
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.auth import Principal
from app.schemas.api_client import ApiClientCreate
from app.services.audit import record as audit
from app.services.directory.api_clients import create_client
from app.services.fhir import codes
from app.services.fhir.outcome import unprocessable
from app.services.fhir.regulator_body import RegulatorAccount

_COLUMN = {codes.OID_PS: "national_id", codes.OID_SAS: "technical_id"}

_HOLDER = text(
    """
    SELECT r.client_id, c.active FROM sas_regulators r JOIN api_clients c ON c.id = r.client_id
    WHERE (r.national_id = :national_id OR r.technical_id = :technical_id)
    """
)
_BY = {
    column: text(
        f"""SELECT r.client_id FROM sas_regulators r
            WHERE r.{column} = :value FOR UPDATE OF r"""  # noqa: S608 (two constant names)
    )
    for column in _COLUMN.values()
}
_RELEASE = text(
    """
    UPDATE sas_regulators SET
        national_id = CASE WHEN national_id = :national_id THEN NULL ELSE national_id END,
        technical_id = CASE WHEN technical_id = :technical_id THEN NULL ELSE technical_id END,
        updated_at = now()
    WHERE client_id = ANY(CAST(:ids AS uuid[]))
    """
)
_INSERT = text(
    """
    INSERT INTO sas_regulators
        (client_id, national_id, technical_id, family_name, given_name, email)
    VALUES (:client_id, :national_id, :technical_id, :family_name, :given_name, :email)
    """
)
_UPDATE = text(
    """
    UPDATE sas_regulators SET
        national_id = coalesce(:national_id, national_id),
        technical_id = coalesce(:technical_id, technical_id),
        family_name = :family_name, given_name = :given_name, email = :email, updated_at = now()
    WHERE client_id = :client_id
    """
)
_ACTIVATE = text(
    """
    UPDATE api_clients SET active = :active WHERE id = :client_id AND revoked_at IS NULL
    RETURNING id
    """
)
_READ = text(
    """
    SELECT r.client_id, r.national_id, r.technical_id, r.family_name, r.given_name, r.email,
           c.active
    FROM sas_regulators r JOIN api_clients c ON c.id = r.client_id WHERE r.client_id = :client_id
    """
)


@dataclass(frozen=True)
class StoredRegulator:
    client_id: uuid.UUID
    national_id: str | None
    technical_id: str | None
    family_name: str
    given_name: str
    email: str
    active: bool


def _duplicate(detail: str) -> Exception:
    return unprocessable(detail, "Practitioner.identifier", code="duplicate")


async def _claim_identifiers(
    session: AsyncSession, account: RegulatorAccount, owner: uuid.UUID | None
) -> None:
    """Free the account's identifiers from deactivated holders; refuse active ones."""
    rows = (
        await session.execute(
            _HOLDER, {"national_id": account.national_id, "technical_id": account.technical_id}
        )
    ).all()
    others = [r for r in rows if r.client_id != owner]
    if any(r.active for r in others):
        raise _duplicate("a regulator account with this identifier already exists")
    if others:
        await session.execute(
            _RELEASE,
            {
                "national_id": account.national_id,
                "technical_id": account.technical_id,
                "ids": [r.client_id for r in others],
            },
        )


def _values(account: RegulatorAccount) -> dict[str, str | None]:
    return {
        "national_id": account.national_id,
        "technical_id": account.technical_id,
        "family_name": account.family_name,
        "given_name": account.given_name,
        "email": account.email,
    }


async def _set_active(session: AsyncSession, client_id: uuid.UUID, active: bool) -> None:
    done = await session.scalar(_ACTIVATE, {"client_id": client_id, "active": active})
    if done is None:
        raise unprocessable(
            "this regulator's API client was revoked by an administrator", "Practitioner.active"
        )


async def read(session: AsyncSession, client_id: uuid.UUID) -> StoredRegulator:
    row = (await session.execute(_READ, {"client_id": client_id})).one()
    return StoredRegulator(*row)


async def create_regulator(
    session: AsyncSession, actor: Principal, account: RegulatorAccount
) -> StoredRegulator:
    """A new regulator account (POST); 422 `duplicate` if its identifier is already held."""
    if not account.national_id and not account.technical_id:
        raise unprocessable("Practitioner.identifier is required", "Practitioner.identifier")
    async with session.begin_nested():
        try:
            await _claim_identifiers(session, account, None)
            created = await create_client(
                session,
                actor,
                ApiClientCreate(
                    name=f"SAS {account.given_name} {account.family_name}"[:200],
                    role="regulator",
                    territory_ids=sorted(actor.territory_ids),
                ),
            )
            await session.execute(_INSERT, {"client_id": created.id, **_values(account)})
        except IntegrityError as exc:  # a concurrent create of the same regulator
            raise _duplicate("a regulator account with this identifier already exists") from exc
    if not account.active:
        await _set_active(session, created.id, False)
    await _audit(session, actor, "sas_regulator.create", created.id, account)
    return await read(session, created.id)


async def upsert_regulator(
    session: AsyncSession, actor: Principal, system: str, value: str, account: RegulatorAccount
) -> tuple[StoredRegulator, bool]:
    """The conditional update (PUT): (the account, whether it was created)."""
    owner = await session.scalar(_BY[_COLUMN[system]], {"value": value})
    if owner is None:
        return await create_regulator(session, actor, account), True
    async with session.begin_nested():
        try:
            await _claim_identifiers(session, account, owner)
            await session.execute(_UPDATE, {"client_id": owner, **_values(account)})
        except IntegrityError as exc:
            raise _duplicate("another regulator account holds this identifier") from exc
    await _set_active(session, owner, account.active)
    await _audit(session, actor, "sas_regulator.update", owner, account)
    return await read(session, owner), False


async def _audit(
    session: AsyncSession,
    actor: Principal,
    action: str,
    client_id: uuid.UUID,
    account: RegulatorAccount,
) -> None:
    systems = [
        s
        for s, v in ((codes.OID_PS, account.national_id), (codes.OID_SAS, account.technical_id))
        if v
    ]
    await audit.record(
        session,
        actor,
        action,
        "api_client",
        client_id,
        detail={"identifier_systems": systems, "active": account.active},
    )


def practitioner(stored: StoredRegulator) -> dict[str, object]:
    """The account as a FrPractitionerRegul resource (the answer to POST and PUT)."""
    identifiers: list[dict[str, object]] = []
    if stored.national_id:
        identifiers.append(
            {
                "type": {"coding": [{"system": codes.V2_0203, "code": "IDNPS"}]},
                "system": codes.OID_PS,
                "value": stored.national_id,
            }
        )
    if stored.technical_id:
        identifiers.append(
            {
                "type": {"coding": [{"system": codes.V2_0203, "code": "INTRN"}]},
                "system": codes.OID_SAS,
                "value": stored.technical_id,
            }
        )
    resource: dict[str, object] = {
        "resourceType": "Practitioner",
        "id": str(stored.client_id),
        "meta": {"profile": [codes.PROFILE_PRACTITIONER_REGUL], "source": codes.OID_SAS},
    }
    if identifiers:
        resource["identifier"] = identifiers
    resource["active"] = stored.active
    resource["name"] = [{"family": stored.family_name, "given": [stored.given_name]}]
    resource["telecom"] = [{"system": "email", "value": stored.email}]
    return resource
