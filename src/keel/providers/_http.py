"""HTTP plumbing shared by adapters: one pooled session per provider, and foreign errors translated once."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import aiohttp

from ..errors import ConnectError, MalformedResponseError, UpstreamError, UpstreamTimeoutError
from ..telemetry.propagation import with_trace_context
from ._lane import lane_connector

__all__ = [
    "SessionPool",
    "new_session",
    "parse_retry_after",
    "post",
    "read_body",
    "scrub_url",
    "transport_errors",
]

ErrorMapper = Callable[..., UpstreamError]


def new_session(*, pool_size: int = 256) -> aiohttp.ClientSession:
    """A pooled session with no timeouts of its own: the deadline policy owns time."""
    connector = lane_connector(limit=pool_size, limit_per_host=pool_size, ttl_dns_cache=300)
    return aiohttp.ClientSession(
        connector=connector,
        timeout=aiohttp.ClientTimeout(total=None),
        auto_decompress=True,
        skip_auto_headers=("User-Agent",),
        json_serialize=None,  # type: ignore[arg-type]  # bodies are bytes we encoded with orjson
    )


class SessionPool:
    """A provider's one pooled session, opened on first use (inside the loop that uses it)."""

    __slots__ = ("_session",)

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = new_session()
        return self._session

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def scrub_url(url: str) -> str:
    """The URL without its query string or credentials, safe to log or show."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


@contextmanager
def transport_errors(route: str, *, headers_received: bool = False) -> Iterator[None]:
    """Translate aiohttp and socket errors to the taxonomy, naming the route but no URL or key."""
    try:
        yield
    except UpstreamError:
        raise
    except aiohttp.ConnectionTimeoutError as exc:
        raise UpstreamTimeoutError("connect timeout", phase="connect", route=route) from exc
    except aiohttp.ClientConnectorError as exc:
        raise ConnectError(f"cannot connect: {exc.os_error.strerror or exc}", route=route) from exc
    except aiohttp.ClientPayloadError as exc:
        raise MalformedResponseError("response body cut short", route=route) from exc
    except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError, ConnectionResetError) as exc:
        if headers_received:
            raise MalformedResponseError("connection closed mid-response", route=route) from exc
        raise ConnectError("connection closed before response headers", route=route) from exc
    except aiohttp.ClientError as exc:
        raise ConnectError(f"transport error: {type(exc).__name__}", route=route) from exc
    except TimeoutError:
        raise


def parse_retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait from ``retry-after-ms``, or ``retry-after`` in seconds or as an HTTP date."""
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(float(millis) / 1000.0, 0.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - (time.time() if now is None else now), 0.0)


_connect_timeouts: dict[float, aiohttp.ClientTimeout] = {}
"""``ClientTimeout`` per connect timeout (it is immutable, and built per request it showed in profiles)."""


async def post(
    session: aiohttp.ClientSession,
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    connect_timeout: float,
    route: str,
    error_from_response: ErrorMapper,
) -> aiohttp.ClientResponse:
    """POST within the connect timeout; an HTTP error status is read and raised as the taxonomy's class."""
    timeout = _connect_timeouts.get(connect_timeout)
    if timeout is None:
        timeout = aiohttp.ClientTimeout(total=None, connect=connect_timeout, sock_connect=connect_timeout)
        if len(_connect_timeouts) < 256:  # the config's few values; a deadline's leftovers are not kept
            _connect_timeouts[connect_timeout] = timeout
    with transport_errors(route):
        response = await session.post(url, data=body, headers=with_trace_context(headers), timeout=timeout)
    if response.status >= 400:
        payload = await read_body(response, route)
        raise error_from_response(response.status, response.headers, payload, route=route)
    return response


async def read_body(response: aiohttp.ClientResponse, route: str) -> bytes:
    """The whole body, the connection given back; a cut body is ``MalformedResponseError``."""
    try:
        with transport_errors(route, headers_received=True):
            return await response.read()
    finally:
        response.release()
