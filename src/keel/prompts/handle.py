"""``PromptHandle``: a named prompt to call from the library — ``gw.prompt("summarize")``.

Keyword arguments are the template's variables; the rest of a call is keyword-only and named as
on ``Gateway.chat``: ``messages`` (appended after the rendered ones), ``user`` (the OpenAI ``user``
field, and the variable ``user`` if the version declares one), ``model`` and ``params`` (overrides,
refused unless the version lists them in ``overridable``), and ``keel`` (Keel's options, ``timeout``
among them). A variable whose
name is one of those goes in ``variables={...}``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .request import PromptRef

if TYPE_CHECKING:
    from ..gateway import Gateway, GatewayStream
    from ..structured import Validator
    from ..types import ChatResponse

__all__ = ["PromptHandle"]


class PromptHandle:
    """``chat``, ``stream``, ``structured`` and ``structured_stream`` on one named prompt."""

    def __init__(
        self, gateway: Gateway, name: str, *, label: str | None = None, version: int | None = None
    ) -> None:
        base = PromptRef.parse(name)
        self._gateway = gateway
        self.name = base.name
        self.label = label or base.label
        self.version = version if version is not None else base.version

    def _args(
        self,
        messages: Iterable[Any],
        user: str | None,
        model: str | None,
        params: Mapping[str, Any] | None,
        variables: Mapping[str, Any] | None,
        named: dict[str, Any],
        keel: Mapping[str, Any] | None,
    ) -> tuple[str, list[Any], dict[str, Any]]:
        values = {**(variables or {}), **named}
        given: dict[str, Any] = dict(params or {})
        if model:
            given["model"] = model
        ref = PromptRef(self.name, self.label, self.version, values, given)
        call_params: dict[str, Any] = dict(params or {})
        if user is not None:
            call_params["user"] = user
        call_params["keel"] = {**(keel or {}), "prompt_ref": ref}
        return model or f"prompt:{self.name}", list(messages), call_params  # spans name it

    async def chat(
        self,
        messages: Iterable[Any] = (),
        *,
        user: str | None = None,
        model: str | None = None,
        params: Mapping[str, Any] | None = None,
        variables: Mapping[str, Any] | None = None,
        keel: Mapping[str, Any] | None = None,
        **named: Any,
    ) -> ChatResponse:
        """One complete answer; ``response.prompt`` names the version (``summarize@3``).

        Raises:
            PromptError: no such prompt, version or label; a variable missing or unknown; an
                override the version does not allow (each names what is wrong).
            KeelError: as ``Gateway.chat``.
        """
        model_name, listed, call_params = self._args(messages, user, model, params, variables, named, keel)
        return await self._gateway.chat(model_name, listed, **call_params)

    def stream(
        self,
        messages: Iterable[Any] = (),
        *,
        user: str | None = None,
        model: str | None = None,
        params: Mapping[str, Any] | None = None,
        variables: Mapping[str, Any] | None = None,
        keel: Mapping[str, Any] | None = None,
        **named: Any,
    ) -> GatewayStream:
        """Chunks of one answer, as ``Gateway.stream``; ``.response.prompt`` names the version."""
        model_name, listed, call_params = self._args(messages, user, model, params, variables, named, keel)
        return self._gateway.stream(model_name, listed, **call_params)

    async def structured(
        self,
        output: Any = None,
        messages: Iterable[Any] = (),
        *,
        validators: Sequence[Validator] = (),
        user: str | None = None,
        model: str | None = None,
        params: Mapping[str, Any] | None = None,
        variables: Mapping[str, Any] | None = None,
        keel: Mapping[str, Any] | None = None,
        **named: Any,
    ) -> Any:
        """A validated answer, as ``Gateway.structured``: ``output`` (a pydantic model, a type or a
        JSON Schema), by default the version's ``response_schema`` (its JSON value is returned)."""
        if output is None:
            selected = await self._gateway.prompts.select(self.name, self.label, self.version)
            output = selected.version.response_schema
            if output is None:
                from ..errors import PromptError

                raise PromptError(
                    f"prompt {selected.version.ref} has no response_schema: pass the output type",
                    param="output",
                )
        model_name, listed, call_params = self._args(messages, user, model, params, variables, named, keel)
        return await self._gateway.structured(
            output, listed, model=model_name, validators=validators, **call_params
        )

    async def structured_stream(
        self, output: Any, messages: Iterable[Any] = (), **kwargs: Any
    ) -> AsyncIterator[Any]:
        """Partial objects, then the validated one, as ``Gateway.structured_stream``."""
        call = {k: kwargs.pop(k) for k in ("user", "model", "params", "variables", "keel") if k in kwargs}
        model_name, listed, call_params = self._args(
            messages, call.get("user"), call.get("model"), call.get("params"), call.get("variables"), kwargs,
            call.get("keel"),
        )  # fmt: skip
        async for item in self._gateway.structured_stream(output, listed, model=model_name, **call_params):
            yield item
