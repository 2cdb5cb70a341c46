"""Shapes shared by every domain: strict input models, partial updates and cursor pages."""

from typing import ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator

T = TypeVar("T")


class Input(BaseModel):
    """A request body: unknown fields are an error, so a typo never passes silently."""

    model_config = ConfigDict(extra="forbid")


class Patch(Input):
    """A partial update: absent fields stay; `null` is refused unless the field may be empty."""

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
