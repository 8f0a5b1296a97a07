"""Keel-only request options: ``x-keel-*`` headers or a ``keel`` body field, never sent upstream.

Today there is one, the call's total deadline: ``x-keel-timeout: 20`` or ``"keel": {"timeout": 20}``
(seconds; it may shorten the operator's ``timeouts.total``, never lengthen it). A header wins over
the body field. Unknown keys in the ``keel`` field are a 400, so a typo is not silently ignored;
unknown ``x-keel-*`` headers are ignored, as proxies add headers of their own.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from .errors import ApiError

__all__ = ["KNOWN", "keel_options"]

KNOWN = ("timeout",)


def keel_options(headers: Mapping[str, str], body: dict[str, Any], *, max_timeout: float) -> dict[str, Any]:
    """The options for ``Gateway.new_call``; removes the ``keel`` field from ``body``.

    Raises:
        ApiError: 400 for an unknown option or a value of the wrong type.
    """
    given: dict[str, Any] = {}
    field = body.pop("keel", None)
    if field is not None:
        if not isinstance(field, dict):
            raise ApiError(400, "'keel' must be an object of Keel options", param="keel")
        unknown = sorted(set(field) - set(KNOWN))
        if unknown:
            raise ApiError(
                400,
                f"unknown Keel option {unknown[0]!r}; known: {', '.join(KNOWN)}",
                param=f"keel.{unknown[0]}",
            )
        given.update(field)
    header = headers.get("x-keel-timeout")
    if header is not None:
        given["timeout"] = header
    options: dict[str, Any] = {}
    if "timeout" in given:
        options["timeout"] = min(_seconds(given["timeout"]), max_timeout)
    return options


def _seconds(value: Any) -> float:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = math.nan
    if isinstance(value, bool) or not (0 < seconds < math.inf):
        raise ApiError(
            400,
            f"Keel option 'timeout' must be a positive number of seconds, got {value!r}",
            param="keel.timeout",
        )
    return seconds
