"""The SMART Scheduling Links manifest (`GET /smart/$bulk-publish`), for the OpenAPI document."""

from typing import Literal

from pydantic import BaseModel, Field


class OutputExtension(BaseModel):
    state: list[str] = Field(description="the département codes the file's data pertain to")


class OutputFile(BaseModel):
    type: Literal["Location", "Schedule", "Slot"]
    url: str = Field(description="the full URL of the NDJSON file")
    extension: OutputExtension


class Manifest(BaseModel):
    transactionTime: str = Field(  # noqa: N815 (the spec's name)
        description="when this data set was published (pass it as `_since` next time)"
    )
    request: str = Field(description="the full URL of this manifest")
    output: list[OutputFile]
    error: list[dict[str, str]] = Field(description="always empty")
