"""Whether the proxy enforces a request's ``response_format``, and the ``OutputSpec`` it enforces.

Enforced when the caller asks (``x-keel-validate: true``), when the schema says ``strict: true``, or
when the operator lists the model under ``structured_output.enforce`` (``*``: every model) — unless
the caller says ``x-keel-validate: false``. A ``json_schema`` whose schema is not a valid JSON Schema
is the caller's error, refused before any route is asked.
"""

from __future__ import annotations

from typing import Any

from ..config import StructuredOutputConfig
from ..errors import RequestError
from ..types import ChatRequest
from .spec import OutputSpec

__all__ = ["enforced_output"]


def enforced_output(
    request: ChatRequest, asked: bool | None, settings: StructuredOutputConfig
) -> OutputSpec | None:
    """The spec to enforce on ``request``'s answer, or None.

    Raises:
        RequestError: validation asked for without a structured ``response_format``, or a schema
            that is not a JSON Schema.
    """
    if asked is False:
        return None
    response_format = request.response_format or {}
    kind = response_format.get("type")
    if kind not in ("json_schema", "json_object"):
        if asked:
            raise RequestError(
                "x-keel-validate needs a response_format of type json_schema or json_object to enforce",
                code="validation_unavailable",
            )
        return None
    spec_field = response_format.get("json_schema")
    strict = isinstance(spec_field, dict) and spec_field.get("strict") is True
    configured = "*" in settings.enforce or request.model in settings.enforce
    if not (asked or strict or configured):
        return None
    try:
        spec = OutputSpec.of_response_format(response_format, max_reasks=settings.max_reasks)
    except ValueError as error:
        raise RequestError(str(error), code="invalid_response_format") from None
    if spec.schema is not None:
        _check_schema(spec.schema)
    return spec


def _check_schema(schema: dict[str, Any]) -> None:
    from jsonschema import SchemaError, validators

    try:
        validators.validator_for(schema).check_schema(schema)
    except SchemaError as error:
        where = "/".join(str(part) for part in error.absolute_path) or "(root)"
        raise RequestError(
            f"response_format.json_schema.schema is not a valid JSON Schema at {where}: {error.message}",
            code="invalid_response_format",
        ) from None
