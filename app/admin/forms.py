"""Form fields in, French messages out: the one place that turns the API's refusals (pydantic
errors and service `AppError`s, the same validation as the API) into a message per field.

A form field is named like the API's body field, so `body.rpps` and a pydantic error at
`("rpps",)` both land next to the `rpps` input.
"""

from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from app.core.errors import AppError, Conflict, NotFound

M = TypeVar("M", bound=BaseModel)

# What a field's own check (a ValueError in app/schemas/identifiers.py) means, in French.
_FIELD_RULES = {
    "rpps": "Le numéro RPPS compte exactement 11 chiffres.",
    "finess": "Le numéro FINESS compte 9 caractères et sa clé (9e chiffre) doit être juste.",
    "insee_code": "Le code INSEE compte 5 caractères : 5 chiffres, ou 2A/2B et 3 chiffres.",
    "postcode": "Le code postal compte exactement 5 chiffres.",
    "departement": "Code de département inconnu (01 à 95, 2A, 2B, 971 à 976).",
    "timezone": "Fuseau horaire inconnu (par exemple Europe/Paris).",
    "languages": "Langues en codes ISO 639 séparés par des virgules (fr, en, ar…).",
    "webhook_url": "Adresse web invalide : http:// ou https:// suivi d'un nom d'hôte.",
}

# A service's refusal of a field, in French.
_FIELD_REFUSALS = {
    "rpps": "Un professionnel porte déjà ce numéro RPPS.",
    "finess": "Un territoire porte déjà ce numéro FINESS.",
    "insee_code": "Aucune commune actuelle ne porte ce code INSEE.",
    "postcode": "Ce code postal n'est pas celui de la commune (code INSEE).",
    "territory_id": "Territoire inconnu.",
    "territory_ids": "Un client régulateur ou plateforme SAS dessert au moins un territoire.",
    "professional_ids": (
        "Seul un logiciel de cabinet écrit pour des professionnels, et chacun d'eux exerce "
        "dans un des territoires du client."
    ),
    "webhook_url": (
        "Seul un logiciel de cabinet reçoit des webhooks, à une adresse publique (pas une "
        "adresse privée ou locale)."
    ),
}

_BY_TYPE = {
    "missing": "Ce champ est obligatoire.",
    "string_too_short": "Ce champ est obligatoire.",
    "int_parsing": "Un nombre entier est attendu.",
    "int_from_float": "Un nombre entier est attendu.",
    "float_parsing": "Un nombre est attendu (par exemple 47.2184).",
    "finite_number": "Un nombre est attendu.",
    "uuid_parsing": "Identifiant invalide.",
    "literal_error": "Choisissez une des valeurs proposées.",
    "bool_parsing": "Oui ou non attendu.",
    "url_parsing": _FIELD_RULES["webhook_url"],
    "url_scheme": _FIELD_RULES["webhook_url"],
    "too_long": "Trop d'éléments.",
}


def _field(location: Iterable[Any]) -> str:
    parts = [p for p in location if isinstance(p, str) and p != "body"]
    return parts[0] if parts else "__all__"


def _message(error: Mapping[str, Any], field: str) -> str:
    kind = error["type"]
    context = error.get("ctx") or {}
    if kind == "string_too_long":
        return f"Trop long : {context.get('max_length')} caractères au plus."
    if kind in ("greater_than_equal", "greater_than"):
        return f"La valeur doit être au moins {context.get('ge', context.get('gt'))}."
    if kind in ("less_than_equal", "less_than"):
        return f"La valeur doit être au plus {context.get('le', context.get('lt'))}."
    if kind in ("value_error", "assertion_error") and field in _FIELD_RULES:
        return _FIELD_RULES[field]
    return _BY_TYPE.get(kind, "Valeur invalide.")


def validation_messages(exc: ValidationError) -> dict[str, str]:
    """The first French message of each field a pydantic model refused."""
    out: dict[str, str] = {}
    for error in exc.errors():
        field = _field(error["loc"])
        out.setdefault(field, _message(error, field))
    return out


def refusal_messages(exc: AppError) -> dict[str, str]:
    """A service's refusal, next to the field it names (else at the top of the form)."""
    location = str(exc.extensions.get("location", ""))
    field = _field(location.split("."))
    if field in _FIELD_REFUSALS:
        return {field: _FIELD_REFUSALS[field]}
    if isinstance(exc, NotFound):
        return {"__all__": "Cet élément n'existe pas (ou plus)."}
    if isinstance(exc, Conflict):
        return {"__all__": "Cette modification entre en conflit avec l'état actuel."}
    return {field: "Valeur refusée."}


def parse(model: type[M], data: Mapping[str, Any]) -> tuple[M | None, dict[str, str]]:
    """`model` from form data, or the French message of each refused field."""
    try:
        return model.model_validate(dict(data)), {}
    except ValidationError as exc:
        return None, validation_messages(exc)


def text_or_none(value: object) -> str | None:
    """An optional text input: blank means absent."""
    text = str(value).strip() if value is not None else ""
    return text or None


def checked(form: Mapping[str, Any], name: str) -> bool:
    """A checkbox is sent only when ticked."""
    return name in form


def words(value: object) -> list[str]:
    """A list typed as text: items separated by commas, spaces or new lines."""
    return [w for w in str(value or "").replace(",", " ").split() if w]
