"""FHIR errors: an OperationOutcome with one issue, and the HTTP status that carries it.

Rules: every answer under /fhir that is not a success is an OperationOutcome (never
problem+json); `code` is from the FHIR IssueType value set, `expression` names the faulty
parameter or element when there is one. Client input is never echoed back whole.
"""

from typing import Any


class FhirError(Exception):
    """A refusal of a /fhir request, rendered as an OperationOutcome."""

    def __init__(
        self,
        status: int,
        code: str,
        diagnostics: str,
        expression: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(diagnostics)
        self.status = status
        self.code = code
        self.diagnostics = diagnostics
        self.expression = expression
        self.headers = headers


def bad_request(diagnostics: str, expression: str | None = None) -> FhirError:
    return FhirError(400, "invalid", diagnostics, expression)


def unprocessable(
    diagnostics: str, expression: str | None = None, code: str = "invariant"
) -> FhirError:
    return FhirError(422, code, diagnostics, expression)


def operation_outcome(
    code: str, diagnostics: str, expression: str | None = None, severity: str = "error"
) -> dict[str, Any]:
    issue: dict[str, Any] = {"severity": severity, "code": code, "diagnostics": diagnostics}
    if expression:
        issue["expression"] = [expression]
    return {"resourceType": "OperationOutcome", "issue": [issue]}


def printable(text: str, limit: int = 80) -> str:
    """Client text made safe to quote in a diagnostic: cut, control characters replaced."""
    cut = text[:limit].encode("utf-8", "replace").decode("utf-8")
    return "".join(c if c.isprintable() else "\ufffd" for c in cut)
