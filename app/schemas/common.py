"""Shapes shared by every domain: strict input models, partial updates and cursor pages."""

from typing import ClassVar, Generic, Self, TypeVar

from pydantic import BaseModel, ConfigDict, model_validator

T = TypeVar("T")


class Input(BaseModel):
    """A request body: unknown fields are an error, so a typo never passes silently."""

    model_config = ConfigDict(extra="forbid")


class Patch(Input):
    """A partial update: absent fields stay; `null` is refused unless the field may be empty."""

    nullable: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="after")
    def _no_null_for_required_fields(self) -> Self:
        nulls = [
            name
            for name in self.model_fields_set
            if getattr(self, name) is None and name not in self.nullable
        ]
        if nulls:
            raise ValueError(f"{', '.join(sorted(nulls))} may not be null")
        return self

    def changes(self) -> dict[str, object]:
        return self.model_dump(exclude_unset=True)


class Output(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None
