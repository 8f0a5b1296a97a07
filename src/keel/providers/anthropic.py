"""``AnthropicProvider``: the Anthropic Messages API over HTTP, for Claude routes.

A request that came in Anthropic's own format (``native_format == "anthropic"``) is sent as the
client wrote it — only ``model`` is the route's and Keel-only fields are stripped — so thinking
blocks, ``cache_control`` and every Anthropic-only field pass through intact (DESIGN §3a); the
client's ``anthropic-beta`` features (``ChatRequest.native_headers``) join the configured ones.
Any other request is translated (``keel.formats``). Every answer keeps the upstream's own bytes as
``Native("anthropic", …)``: the whole body, or on each chunk the stream events it came from.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any

import aiohttp
import orjson
from pydantic import SecretStr

from ..errors import MalformedResponseError, UpstreamError
from ..formats.anthropic_request import DEFAULT_MAX_TOKENS, to_anthropic_request
from ..formats.anthropic_response import from_anthropic_message
from ..formats.anthropic_stream import AnthropicStreamDecoder
from ..route import Capabilities
from ..types import ChatRequest, ChatResponse, Chunk, Native
from ._anthropic_errors import error_from_payload, error_from_response
from ._http import SessionPool, post, read_body
from ._stream_reads import BatchReader
from .base import AttemptLimits, one_by_one

if TYPE_CHECKING:
    from ..route import Route

__all__ = ["ANTHROPIC_CAPABILITIES", "API_VERSION", "DEFAULT_BASE_URL", "AnthropicProvider"]

DEFAULT_BASE_URL = "https://api.anthropic.com"
API_VERSION = "2023-06-01"
# Claude continues a trailing assistant message (prefill); JSON schemas go through a forced tool, or
# natively (output_config.format) on the models that take it (set per route, from the model's name).
# Anthropic requires max_tokens and Keel sends this one when a caller sets none, so it bounds the output.
ANTHROPIC_CAPABILITIES = Capabilities(
    max_output_tokens=DEFAULT_MAX_TOKENS, supports_prefill=True, supports_json_schema=True
)
_KEEL_FIELDS = ("keel",)


class AnthropicProvider:
    """One Messages API endpoint: a base URL, a key, the API version, and one connection pool.

    Args:
        name: the provider's name in config.
        base_url: defaults to ``https://api.anthropic.com`` (a trailing ``/v1`` is accepted).
        api_key: sent as ``x-api-key``.
        headers: extra headers for every request.
        api_version: the ``anthropic-version`` header, ``2023-06-01`` unless given.
        beta: ``anthropic-beta`` feature names.
    """

    def __init__(
        self,
        name: str,
        *,
        base_url: str | None = None,
        api_key: SecretStr | str | None = None,
        headers: dict[str, str] | None = None,
        api_version: str | None = None,
        beta: Sequence[str] = (),
    ) -> None:
        self.name = name
        self.base_url = (base_url or DEFAULT_BASE_URL).rstrip("/").removesuffix("/v1")
        key = api_key.get_secret_value() if isinstance(api_key, SecretStr) else api_key
        self._headers = {
            "content-type": "application/json",
            "accept": "application/json",
            "anthropic-version": api_version or API_VERSION,
            **({"anthropic-beta": ",".join(beta)} if beta else {}),
            **(headers or {}),
            **({"x-api-key": key} if key else {}),
        }
        self._stream_headers = {**self._headers, "accept": "text/event-stream"}
        self._pool = SessionPool()

    def __repr__(self) -> str:
        return f"AnthropicProvider({self.name!r})"

    @property
    def session(self) -> aiohttp.ClientSession:
        return self._pool.session

    def _body(self, request: ChatRequest, route: Route, *, stream: bool) -> tuple[bytes, str | None]:
        """The body to send, and the forced JSON tool whose input is the answer (if any)."""
        json_tool = None
        body: dict[str, Any]
        if request.native_format == "anthropic" and request.native:
            body = {key: value for key, value in request.native.items() if key not in _KEEL_FIELDS}
            body.setdefault("max_tokens", route.capabilities.max_output_tokens or DEFAULT_MAX_TOKENS)
        else:
            translated = to_anthropic_request(
                request,
                max_tokens=route.capabilities.max_output_tokens,
                native_json=route.capabilities.native_structured_output,
            )
            body, json_tool = translated.body, translated.json_tool
        body["model"] = route.upstream_model
        body.pop("stream", None)
        if stream:
            body["stream"] = True
        return orjson.dumps(body), json_tool

    def _headers_for(self, request: ChatRequest, *, stream: bool) -> dict[str, str]:
        """The request headers; the client's own ``anthropic-beta`` features join the configured ones."""
        headers = self._stream_headers if stream else self._headers
        return _with_beta(headers, (request.native_headers or {}).get("anthropic-beta"))

    async def _post(
        self,
        body: bytes,
        route: Route,
        limits: AttemptLimits,
        headers: dict[str, str],
        endpoint: str = "/v1/messages",
    ) -> aiohttp.ClientResponse:
        return await post(
            self.session,
            f"{self.base_url}{endpoint}",
            body,
            headers,
            connect_timeout=limits.connect,
            route=route.name,
            error_from_response=error_from_response,
        )

    async def chat(self, request: ChatRequest, route: Route, limits: AttemptLimits) -> ChatResponse:
        body, json_tool = self._body(request, route, stream=False)
        response = await self._post(body, route, limits, self._headers_for(request, stream=False))
        payload = await read_body(response, route.name)
        request_id = response.headers.get("request-id")
        try:
            raw = orjson.loads(payload)
            if isinstance(raw, dict) and raw.get("type") == "error":
                raise error_from_payload(raw, status=response.status, route=route.name)
            result = from_anthropic_message(raw, json_tool=json_tool)
        except UpstreamError:
            raise
        except (ValueError, TypeError, AttributeError) as exc:
            raise MalformedResponseError(
                "response body is not an Anthropic message", route=route.name, upstream_request_id=request_id
            ) from exc
        result.upstream_request_id = request_id
        result.native = Native("anthropic", payload)
        return result

    async def count_tokens(
        self, body: dict[str, Any], route: Route, limits: AttemptLimits, beta: str | None = None
    ) -> tuple[Native, str | None]:
        """``POST /v1/messages/count_tokens`` with ``body`` (its ``model`` the route's; ``beta`` the
        client's ``anthropic-beta`` features): the raw answer and the upstream's request id.

        Raises ``MalformedResponseError`` unless the answer carries an integer ``input_tokens``.
        """
        payload = orjson.dumps({**body, "model": route.upstream_model})
        headers = _with_beta(self._headers, beta)
        response = await self._post(payload, route, limits, headers, "/v1/messages/count_tokens")
        data = await read_body(response, route.name)
        request_id = response.headers.get("request-id")
        try:
            raw = orjson.loads(data)
            valid = isinstance(raw, dict) and type(raw.get("input_tokens")) is int
        except orjson.JSONDecodeError:
            valid = False
        if not valid:
            raise MalformedResponseError(
                "response body is not a token count", route=route.name, upstream_request_id=request_id
            )
        return Native("anthropic", data), request_id

    def stream(self, request: ChatRequest, route: Route, limits: AttemptLimits) -> AsyncIterator[Chunk]:
        return one_by_one(self.stream_batches(request, route, limits))

    def stream_batches(
        self, request: ChatRequest, route: Route, limits: AttemptLimits
    ) -> AsyncIterator[list[Chunk]]:
        """The stream's chunks, as many at a time as each network read brings (never none)."""
        body, json_tool = self._body(request, route, stream=True)

        def decoder(request_id: str | None) -> AnthropicStreamDecoder:
            def in_stream_error(payload: dict[str, Any]) -> UpstreamError:
                error = error_from_payload(payload, status=200, route=route.name)
                error.upstream_request_id = error.upstream_request_id or request_id
                return error

            return AnthropicStreamDecoder(
                route=route.name, on_error=in_stream_error, json_tool=json_tool, request_id=request_id
            )

        headers = self._headers_for(request, stream=True)
        return BatchReader(lambda: self._post(body, route, limits, headers), decoder, "request-id")

    async def aclose(self) -> None:
        await self._pool.aclose()


def _with_beta(headers: dict[str, str], wanted: str | None) -> dict[str, str]:
    """``headers`` with the ``anthropic-beta`` features ``wanted`` joined to the configured ones."""
    if not wanted:
        return headers
    names = [*headers.get("anthropic-beta", "").split(","), *wanted.split(",")]
    beta = ",".join(dict.fromkeys(name.strip() for name in names if name.strip()))
    return {**headers, "anthropic-beta": beta}
