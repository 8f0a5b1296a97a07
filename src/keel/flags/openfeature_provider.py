"""``KeelProvider``: Keel's flags for applications through the OpenFeature Python SDK.

In-process with the library (``KeelProvider(gateway)``: the gateway's flags as last read, the same
decision its calls get) or against ``keel serve``'s admin API (``KeelProvider(base_url=...,
api_key=<master key>)``: ``GET /admin/flags/{name}/evaluate``). The evaluation context's targeting
key is the user (the rollout sticks to it); the attributes ``key`` and ``team`` and any others are
what targeting rules match. A flag's values by type:

- boolean: whether the feature is on for this caller (a variant is served; the fallback counts);
- string: the variant's name (the default value when the flag is off with no fallback);
- object: what the variant changes (``{"model", "prompt", "params"}``).

In-process, the synchronous methods read the gateway's memory and need it loaded (any call naming
a feature loads it, or ``await gw.flags.start()``); the ``*_async`` methods load it themselves.
"""

from __future__ import annotations

import asyncio
import urllib.parse
import urllib.request
from typing import TYPE_CHECKING, Any

import orjson
from openfeature.evaluation_context import EvaluationContext
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import FlagResolutionDetails, Reason
from openfeature.provider import AbstractProvider, Metadata

from ..errors import FlagNotFoundError, KeelError
from .flag import Context, Decision
from .registry import FlagRegistry

if TYPE_CHECKING:
    from ..gateway import Gateway

__all__ = ["KeelProvider"]

_REASONS = {
    "targeted": Reason.TARGETING_MATCH,
    "rollout": Reason.SPLIT,
    "default": Reason.DEFAULT,
    "fallback": Reason.DISABLED,
    "off": Reason.DISABLED,
    "provider": Reason.UNKNOWN,
}


class KeelProvider(AbstractProvider):
    """An OpenFeature provider answering from Keel's flags (in-process or over the admin API)."""

    def __init__(
        self,
        gateway: Gateway | None = None,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float = 5.0,
    ) -> None:
        if (gateway is None) == (base_url is None):
            raise ValueError("KeelProvider needs a gateway (in-process) or a base_url (keel serve), not both")
        self.gateway = gateway
        self.base_url = base_url.rstrip("/") if base_url else None
        self.api_key = api_key
        self.timeout = timeout

    def get_metadata(self) -> Metadata:
        return Metadata(name="keel")

    # Booleans, strings, objects: one decision each, shaped by type.
    def resolve_boolean_details(
        self, flag_key: str, default_value: bool, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[bool]:
        return _shaped(self._decide(flag_key, evaluation_context), "boolean", default_value)

    async def resolve_boolean_details_async(
        self, flag_key: str, default_value: bool, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[bool]:
        return _shaped(await self._decide_async(flag_key, evaluation_context), "boolean", default_value)

    def resolve_string_details(
        self, flag_key: str, default_value: str, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[str]:
        return _shaped(self._decide(flag_key, evaluation_context), "string", default_value)

    async def resolve_string_details_async(
        self, flag_key: str, default_value: str, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[str]:
        return _shaped(await self._decide_async(flag_key, evaluation_context), "string", default_value)

    def resolve_object_details(
        self, flag_key: str, default_value: Any, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[Any]:
        return _shaped(self._decide(flag_key, evaluation_context), "object", default_value)

    async def resolve_object_details_async(
        self, flag_key: str, default_value: Any, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[Any]:
        return _shaped(await self._decide_async(flag_key, evaluation_context), "object", default_value)

    def resolve_integer_details(
        self, flag_key: str, default_value: int, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[int]:
        return _mismatch(default_value)

    async def resolve_integer_details_async(
        self, flag_key: str, default_value: int, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[int]:
        return _mismatch(default_value)

    def resolve_float_details(
        self, flag_key: str, default_value: float, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[float]:
        return _mismatch(default_value)

    async def resolve_float_details_async(
        self, flag_key: str, default_value: float, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[float]:
        return _mismatch(default_value)

    # Decisions.
    def _decide(self, name: str, evaluation: EvaluationContext | None) -> Decision | KeelError:
        context = _context(evaluation)
        if self.base_url is not None:
            return self._remote(name, context)
        assert self.gateway is not None
        flags = self.gateway.flags
        if not isinstance(flags, FlagRegistry):
            return KeelError("the gateway's flags come from another OpenFeature provider")
        flag = flags.flag(name)
        if flag is None:
            return FlagNotFoundError(f"no feature flag named {name!r} (or the flags are not loaded yet)")
        return flag.evaluate(context)

    async def _decide_async(self, name: str, evaluation: EvaluationContext | None) -> Decision | KeelError:
        context = _context(evaluation)
        if self.base_url is not None:
            return await asyncio.to_thread(self._remote, name, context)
        assert self.gateway is not None
        try:
            return await self.gateway.flags.decide(name, context)
        except KeelError as error:
            return error

    def _remote(self, name: str, context: Context) -> Decision | KeelError:
        query = {k: v for k, v in (("user", context.user), ("key", context.key), ("team", context.team)) if v}
        query.update({f"attr.{k}": str(v) for k, v in context.attributes.items()})
        url = (
            f"{self.base_url}/admin/flags/{urllib.parse.quote(name)}/evaluate?{urllib.parse.urlencode(query)}"
        )
        request = urllib.request.Request(url, headers={"Authorization": f"Bearer {self.api_key or ''}"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                found = orjson.loads(response.read())
        except urllib.error.HTTPError as error:
            body = orjson.loads(error.read() or b"{}").get("error", {})
            if error.code == 404:
                return FlagNotFoundError(body.get("message", f"no feature flag named {name!r}"))
            return KeelError(body.get("message", f"keel serve answered {error.code}"))
        except (OSError, ValueError) as error:
            return KeelError(f"keel serve cannot be reached: {type(error).__name__}")
        from .flag import Variant

        settings = Variant.model_validate(found["value"]) if found.get("value") is not None else None
        return Decision(
            name, found["variant"], found["reason"], found.get("off"), found.get("stale"), settings
        )


def _context(evaluation: EvaluationContext | None) -> Context:
    if evaluation is None:
        return Context()
    attributes = dict(evaluation.attributes)
    key, team = attributes.pop("key", None), attributes.pop("team", None)
    user = evaluation.targeting_key or attributes.pop("user", None)
    return Context(
        key=str(key) if key is not None else None,
        team=str(team) if team is not None else None,
        user=str(user) if user is not None else None,
        attributes=attributes,
    )


def _shaped(decision: Decision | KeelError, kind: str, default: Any) -> FlagResolutionDetails[Any]:
    if isinstance(decision, KeelError):
        code = ErrorCode.FLAG_NOT_FOUND if isinstance(decision, FlagNotFoundError) else ErrorCode.GENERAL
        return FlagResolutionDetails(default, code, decision.message, Reason.ERROR)
    reason = Reason.STALE if decision.stale is not None else _REASONS.get(decision.reason, Reason.UNKNOWN)
    metadata = {"keel_reason": decision.reason}
    if decision.variant is None:
        value = False if kind == "boolean" else default
    elif kind == "boolean":
        value = True
    elif kind == "string":
        value = decision.variant
    else:
        value = decision.settings.model_dump(mode="json") if decision.settings is not None else {}
    return FlagResolutionDetails(value, None, None, reason, decision.variant, metadata)


def _mismatch(default: Any) -> FlagResolutionDetails[Any]:
    message = "Keel's flags answer booleans, strings (the variant) and objects (the variant's settings)"
    return FlagResolutionDetails(default, ErrorCode.TYPE_MISMATCH, message, Reason.ERROR)
