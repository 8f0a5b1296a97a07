"""Keel-only request options: ``x-keel-*`` headers or a ``keel`` body field, never sent upstream.

The call's total deadline: ``x-keel-timeout: 20`` or ``"keel": {"timeout": 20}`` (seconds; it may
shorten the operator's ``timeouts.total``, never lengthen it). The response cache: ``"cache": true``
or ``x-keel-cache: true`` caches a call that is not deterministic, ``false`` keeps one out;
``Cache-Control: no-store`` is ``false``, ``Cache-Control: no-cache`` asks for a fresh answer (which
is then stored); ``x-keel-cache-ttl`` or ``"cache_ttl"`` sets the entry's lifetime in seconds.
Structured output: ``x-keel-validate: true`` or ``"validate": true`` enforces the request's
``response_format`` (``false`` turns off the config's default for the model). Feature flags
(docs/flags.md): ``x-keel-feature: summarizer`` or ``"feature"`` names the call's feature,
``x-keel-user`` or ``"user"`` the user its rollout sticks to (else the body's ``user``), and
``x-keel-attributes: plan=beta,region=eu`` or ``"attributes": {...}`` what targeting rules match. A
header wins over the body field. Unknown keys in the ``keel`` field are a 400, so a typo is not
silently ignored; unknown ``x-keel-*`` headers are ignored, as proxies add headers of their own.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from .errors import ApiError

__all__ = ["KNOWN", "keel_options"]

KNOWN = ("timeout", "cache", "cache_ttl", "validate", "feature", "user", "attributes")
_FLAGS = {"true": True, "1": True, "on": True, "false": False, "0": False, "off": False}


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
    options.update(_cache_options(headers, given))
    flag = headers.get("x-keel-validate")
    validate = given.get("validate") if flag is None else _FLAGS.get(flag.strip().lower(), flag)
    if validate is not None:
        if not isinstance(validate, bool):
            raise ApiError(
                400, f"Keel option 'validate' must be true or false, got {validate!r}", param="keel.validate"
            )
        options["validate"] = validate
    options.update(_feature_options(headers, given))
    return options


def _feature_options(headers: Mapping[str, str], given: dict[str, Any]) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for name, header, option in (
        ("feature", "x-keel-feature", "feature"),
        ("user", "x-keel-user", "feature_user"),
    ):
        value = headers.get(header, given.get(name))
        if value is None:
            continue
        if not isinstance(value, str) or not value.strip() or len(value) > 256:
            raise ApiError(400, f"Keel option {name!r} must be a non-empty string", param=f"keel.{name}")
        options[option] = value.strip()
    pairs = headers.get("x-keel-attributes")
    attributes: Any = given.get("attributes")
    if pairs is not None:
        attributes = {}
        for part in pairs.split(","):
            name, sep, value = part.partition("=")
            if not sep or not name.strip():
                raise ApiError(
                    400, "x-keel-attributes: name=value pairs, comma-separated", param="x-keel-attributes"
                )
            attributes[name.strip()] = value.strip()
    if attributes is not None:
        if not isinstance(attributes, dict) or not all(
            isinstance(v, str | int | float | bool) for v in attributes.values()
        ):
            raise ApiError(
                400, "Keel option 'attributes' must be an object of name: value", param="keel.attributes"
            )
        options["feature_attributes"] = attributes
    return options


def _cache_options(headers: Mapping[str, str], given: dict[str, Any]) -> dict[str, Any]:
    options: dict[str, Any] = {}
    flag = headers.get("x-keel-cache")
    choice = given.get("cache") if flag is None else _FLAGS.get(flag.strip().lower(), flag)
    if choice is not None:
        if not isinstance(choice, bool):
            message = f"Keel option 'cache' must be true or false, got {choice!r}"
            raise ApiError(400, message, param="keel.cache")
        options["cache"] = choice
    directives = {part.strip().lower() for part in headers.get("cache-control", "").split(",")}
    if "no-store" in directives:
        options["cache"] = False
    elif "no-cache" in directives:
        options["cache_refresh"] = True
    ttl = headers.get("x-keel-cache-ttl", given.get("cache_ttl"))
    if ttl is not None:
        options["cache_ttl"] = _seconds(ttl, "cache_ttl")
    return options


def _seconds(value: Any, name: str = "timeout") -> float:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = math.nan
    if isinstance(value, bool) or not (0 < seconds < math.inf):
        raise ApiError(
            400,
            f"Keel option {name!r} must be a positive number of seconds, got {value!r}",
            param=f"keel.{name}",
        )
    return seconds
