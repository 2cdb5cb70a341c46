"""Text the database can store and compare: one rule for every stored or filtered string.

Rules: no NUL character (PostgreSQL `text` cannot hold U+0000) and no lone surrogate
(U+D800–U+DFFF: not Unicode scalar values, so no valid UTF-8 exists for them; JSON can still
spell them as `"\\ud800"`). Such a value is refused with a 422 that names the field and never
echoes the value, before any other check of the field and before it reaches the database.
"""

import re
from typing import Annotated, Any

from pydantic import BeforeValidator, GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# Published in the OpenAPI document (ECMA-262 and Python `re` read it alike).
NO_NUL_PATTERN = r"^[^\u0000]*$"
# Also at least one character that is not white space: what is left after stripping.
NOT_BLANK_PATTERN = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"


def storable_text(value: str) -> str:
    """`value` unchanged, or a 422-ready error if it holds a NUL or a lone surrogate."""
    if value.isascii() and "\x00" not in value:
        return value
    found = _UNSTORABLE.search(value)
    if found is None:
        return value
    if found.group() == "\x00":
        raise PydanticCustomError("text_nul", "text may not contain a NUL character (U+0000)")
    raise PydanticCustomError(
        "text_surrogate",
        "text may not contain a lone surrogate (U+D800 to U+DFFF); send valid Unicode",
    )


def _refuse_unstorable(value: object) -> object:
    return storable_text(value) if isinstance(value, str) else value


class Published:
    """Publish constraints in the JSON schema that a validator of ours enforces."""

    def __init__(self, **keywords: object) -> None:
        self.keywords = keywords

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        out: dict[str, Any] = handler(schema)
        for keyword, value in self.keywords.items():
            out.setdefault(keyword, value)
        return out


class StrippedText:
    """Metadata for `Annotated[str, StrippedText(n)]`: storable text of at most `n` characters
    as sent, without its surrounding white space, and not blank.

    The length applies to the text as sent, so that the published schema and the server agree
    on every value.
    """

    def __init__(self, max_length: int) -> None:
        self.max_length = max_length

    def _check(self, value: str) -> str:
        if len(value) > self.max_length:
            raise PydanticCustomError(
                "string_too_long",
                "text should have at most {max_length} characters",
                {"max_length": self.max_length},
            )
        stripped = value.strip()
        if not stripped:
            raise PydanticCustomError("text_blank", "text may not be empty or only white space")
        return stripped

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_before_validator_function(
            _refuse_unstorable,
            core_schema.no_info_after_validator_function(self._check, handler(source)),
        )

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        out: dict[str, Any] = handler(schema)
        out.update(pattern=NOT_BLANK_PATTERN, minLength=1, maxLength=self.max_length)
        return out


# Any stored or filtered string: a BeforeValidator, so it runs before the field's own checks.
Text = Annotated[str, BeforeValidator(_refuse_unstorable), Published(pattern=NO_NUL_PATTERN)]
