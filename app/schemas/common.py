"""Shapes shared by every domain: strict input models, partial updates and cursor pages."""

from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator

T = TypeVar("T")


class Input(BaseModel):
    """A request body: unknown fields are an error, so a typo never passes silently."""

    model_config = ConfigDict(extra="forbid")


def _publish_nulls_allowed(schema: dict[str, Any], model: type[Any]) -> None:
    """A Patch's schema says what the server takes: `null` only where the field may be empty,
    and no default (an absent field keeps its value)."""
    nullable: frozenset[str] = getattr(model, "nullable", frozenset())
    for name, field in schema.get("properties", {}).items():
        field.pop("default", None)
        if name in nullable:
            continue
        alternatives = [s for s in field.get("anyOf", []) if s.get("type") != "null"]
        if len(alternatives) == 1:
            field.pop("anyOf")
            field.update(alternatives[0])


class Patch(Input):
    """A partial update: absent fields stay; `null` is refused unless the field may be empty."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_publish_nulls_allowed)
    nullable: ClassVar[frozenset[str]] = frozenset()

    # A field validator (not a model one) so that the error's location names the field.
    @field_validator("*", mode="before")
    @classmethod
    def _no_null_for_required_fields(cls, value: object, info: ValidationInfo) -> object:
        if value is None and info.field_name not in cls.nullable:
            raise ValueError("may not be null; leave the field out to keep its value")
        return value

    def changes(self) -> dict[str, object]:
        return self.model_dump(exclude_unset=True)


class Output(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None
