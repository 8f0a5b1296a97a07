"""``OpenAIProvider``: Chat Completions over HTTP, for OpenAI and every OpenAI-compatible endpoint."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import aiohttp
import orjson
from pydantic import SecretStr, ValidationError

from ..errors import MalformedResponseError
from ..types import ChatRequest, ChatResponse, Chunk, Native, Usage
from ._http import SessionPool, post, read_body
from ._openai_chunks import OpenAIStreamDecoder
from ._openai_errors import error_from_payload, error_from_response
from ._stream_reads import BatchReader
from .base import AttemptLimits, one_by_one
from .profiles import Profile, get_profile

if TYPE_CHECKING:
    from ..route import Route

__all__ = ["OpenAIProvider"]


class OpenAIProvider:
    """One OpenAI-compatible endpoint: a base URL, a key, a profile, and one connection pool."""

    def __init__(
        self,
        name: str,
        *,
        base_url: str | None = None,
        api_key: SecretStr | str | None = None,
        profile: Profile | str = "openai",
        headers: dict[str, str] | None = None,
        api_version: str | None = None,
    ) -> None:
        self.name = name
        self.profile = get_profile(profile) if isinstance(profile, str) else profile
        url = base_url or self.profile.base_url
        if not url:
            raise ValueError(f"provider {name!r}: profile {self.profile.name!r} needs a base_url")
        self.base_url = url.rstrip("/")
        self.api_version = api_version
        key = api_key.get_secret_value() if isinstance(api_key, SecretStr) else api_key
        self._headers = {
            "content-type": "application/json",
            "accept": "application/json",
            **(headers or {}),
            **self.profile.auth_headers(key),
        }
        self._stream_headers = {**self._headers, "accept": "text/event-stream"}
        if self.profile.close_after_stream:
            self._stream_headers["connection"] = "close"
        self._pool = SessionPool()

    def __repr__(self) -> str:
        return f"OpenAIProvider({self.name!r}, profile={self.profile.name!r})"

    @property
    def session(self) -> aiohttp.ClientSession:
        return self._pool.session

    def _body(self, request: ChatRequest, route: Route, *, stream: bool) -> bytes:
        body = (
            dict(request.native) if request.native_format == "openai" and request.native else request.wire()
        )
        body["model"] = route.upstream_model
        body.pop("stream", None)
        if stream:
            body["stream"] = True
            if route.capabilities.supports_stream_usage:
                body["stream_options"] = {**(body.get("stream_options") or {}), "include_usage": True}
        else:
            body.pop("stream_options", None)
        return orjson.dumps(self.profile.prepare(body, route.upstream_model))

    async def _post(
        self, request: ChatRequest, route: Route, limits: AttemptLimits, *, stream: bool
    ) -> aiohttp.ClientResponse:
        url = self.profile.chat_url(self.base_url, route.upstream_model, self.api_version)
        return await post(
            self.session,
            url,
            self._body(request, route, stream=stream),
            self._stream_headers if stream else self._headers,
            connect_timeout=limits.connect,
            route=route.name,
            error_from_response=error_from_response,
        )

    async def chat(self, request: ChatRequest, route: Route, limits: AttemptLimits) -> ChatResponse:
        response = await self._post(request, route, limits, stream=False)
        payload = await read_body(response, route.name)
        request_id = response.headers.get("x-request-id")
        try:
            raw = orjson.loads(payload)
            if "error" in raw and "choices" not in raw:
                raise error_from_payload(raw, status=response.status, route=route.name)
            result = ChatResponse.model_validate(raw)
        except (orjson.JSONDecodeError, ValidationError, TypeError) as exc:
            raise MalformedResponseError(
                "response body is not a chat completion", route=route.name, upstream_request_id=request_id
            ) from exc
        result.usage = Usage.from_openai(raw.get("usage"))
        result.upstream_request_id = request_id
        result.native = Native("openai", payload)
        return result

    def stream(self, request: ChatRequest, route: Route, limits: AttemptLimits) -> AsyncIterator[Chunk]:
        return one_by_one(self.stream_batches(request, route, limits))

    def stream_batches(
        self, request: ChatRequest, route: Route, limits: AttemptLimits
    ) -> AsyncIterator[list[Chunk]]:
        """The stream's chunks, as many at a time as each network read brings (never none)."""

        def decoder(request_id: str | None) -> OpenAIStreamDecoder:
            usage = route.capabilities.supports_stream_usage
            return OpenAIStreamDecoder(route.name, request_id, choices=request.n or 1, usage_asked=usage)

        return BatchReader(lambda: self._post(request, route, limits, stream=True), decoder, "x-request-id")

    async def embeddings(
        self, body: dict[str, Any], route: Route, limits: AttemptLimits
    ) -> tuple[Native, str | None]:
        """``POST /embeddings`` with ``body`` (its ``model`` replaced by the route's): the raw answer
        and the upstream's request id.

        Raises ``MalformedResponseError`` unless the answer is an embeddings list.
        """
        url = self.profile.chat_url(self.base_url, route.upstream_model, self.api_version, "embeddings")
        payload = {**body, "model": route.upstream_model}
        if self.profile.deployment_urls:
            payload.pop("model")
        response = await post(
            self.session,
            url,
            orjson.dumps(payload),
            self._headers,
            connect_timeout=limits.connect,
            route=route.name,
            error_from_response=error_from_response,
        )
        data = await read_body(response, route.name)
        request_id = response.headers.get("x-request-id")
        try:
            raw = orjson.loads(data)
            valid = isinstance(raw, dict) and isinstance(raw.get("data"), list)
        except orjson.JSONDecodeError:
            valid = False
        if not valid:
            raise MalformedResponseError(
                "response body is not an embeddings list", route=route.name, upstream_request_id=request_id
            )
        return Native("openai", data), request_id

    async def aclose(self) -> None:
        await self._pool.aclose()
