"""``Exchange``: one HTTP request on the raw ASGI hot path — its headers, body, ids, timing and reply.

The handlers of the public API work through it instead of a framework's request and response
objects: it decodes only the headers, reads the body under a size limit (refusing before reading it
whole), and writes responses straight to ASGI ``send`` with Keel's headers on every one.
"""

from __future__ import annotations

import functools
import re
import time
from decimal import ROUND_FLOOR, Decimal
from typing import Any

import orjson

from ..call import Call, new_request_id
from .cache_headers import cache_headers
from .errors import ApiError, ErrorRenderer, Headers, openai_error

__all__ = ["RECEIVED_AT", "Exchange"]

RECEIVED_AT = "keel.received_at"
"""Scope key under which ``KeelHttpProtocol`` stamps when the request's first bytes were parsed."""

_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
_KEEL_ID = re.compile(r"[0-9a-f]{32}")


def _personal(request_id: str) -> bool:
    """Whether a client's request id is a key, a card number or an IBAN (what its characters allow of
    the kinds that are never ordinary ids), which the ledger, logs and spans that carry request ids
    must not hold: Keel makes one instead."""
    if _KEEL_ID.fullmatch(request_id):  # Keel's own shape (whose digits may look like a card's)
        return False
    from ..safety.pii import find_pii

    return bool(find_pii(request_id, ("secret", "card", "iban")))


_JSON = (b"content-type", b"application/json")
_MICRO = Decimal("0.000001")


class Exchange:
    """The request as the API handlers see it, and the state the access log reports at the end."""

    __slots__ = (
        "attempts",
        "call",
        "continued_from",
        "headers",
        "method",
        "outcome",
        "overhead_ms",
        "path",
        "principal",
        "receive",
        "received_at",
        "request_id",
        "route",
        "scope",
        "send",
        "status",
        "upstream_done",
        "upstream_request_id",
    )

    def __init__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        now = time.perf_counter()
        self.scope = scope
        self.receive = receive
        self.send = send
        self.received_at: float = scope.get(RECEIVED_AT) or now
        self.method: str = scope["method"]
        self.path: str = scope["path"]
        self.headers: dict[str, str] = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        given = self.headers.get("x-request-id", "")
        self.request_id = given if _REQUEST_ID.fullmatch(given) and not _personal(given) else new_request_id()
        self.status = 0
        self.call: Call | None = None
        self.principal: Any = None
        self.route: str | None = None
        self.continued_from: str | None = None  # the route a stream's headers named, when another finished it
        self.attempts = 0
        self.upstream_request_id: str | None = None
        self.outcome: str | None = None
        self.overhead_ms: float | None = None
        self.upstream_done = 0.0

    async def read_body(self, limit: int) -> bytes:
        """The whole body; ``ApiError(413)`` as soon as it is known to exceed ``limit`` bytes."""
        declared = self.headers.get("content-length")
        if declared is not None:
            if not declared.isdigit():
                raise ApiError(400, "Content-Length is not a number")
            if int(declared) > limit:
                raise _too_large(limit)
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                raise ApiError(400, "the client went away while sending the body")
            part = message.get("body", b"")
            size += len(part)
            if size > limit:
                raise _too_large(limit)
            chunks.append(part)
            if not message.get("more_body", False):
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    def note_call(self, call: Call) -> None:
        """Take the route, attempt count and upstream request id from a call for headers and logs
        (at the end of a continued stream: the finishing route's, and the one its headers named).

        An attempt a budget refused, or a route passed over for its open circuit, never left Keel:
        it is not counted.
        """
        self.call = call
        self.attempts = sum(1 for attempt in call.attempts if attempt.outcome not in _NOT_SENT)
        for attempt in reversed(call.attempts):
            if attempt.outcome in ("ok", "streaming"):
                if self.status and self.route and attempt.route != self.route:
                    # A stream continued on another route after its headers named this one.
                    self.continued_from = self.continued_from or self.route
                    self.upstream_request_id = attempt.upstream_request_id
                self.route = attempt.route
                self.upstream_request_id = self.upstream_request_id or attempt.upstream_request_id
                break

    def keel_headers(self) -> Headers:
        """``x-request-id``, the overhead so far, and the route, attempts, upstream id, remaining
        budget (USD, tokens) and dropped tools when known."""
        headers: Headers = [
            (b"x-request-id", self.request_id.encode()),
            (b"x-keel-overhead-ms", f"{self._overhead_ms():.3f}".encode()),
        ]
        if self.call is not None or self.route:  # a chat call, or a one-shot answer (embeddings, a count)
            headers.append((b"x-keel-attempts", str(self.attempts).encode()))
        if self.call is not None:
            remaining = self.call.options.get("budget_remaining_usd")
            if remaining is not None:  # the tightest budget that applies, to the micro-dollar below
                micros = Decimal(remaining).quantize(_MICRO, ROUND_FLOOR)
                headers.append((b"x-keel-budget-remaining", str(micros).encode()))
            tokens = self.call.options.get("budget_remaining_tokens")
            if tokens is not None:  # the tightest token budget that applies
                headers.append((b"x-keel-budget-remaining-tokens", str(tokens).encode()))
            headers += cache_headers(self.call.options)
            if self.call.options.get("tools_dropped"):  # the answering route cannot call tools
                headers.append((b"x-keel-tools-dropped", b"true"))
            version = self.call.options.get("prompt_version")
            if version is not None:  # the named prompt's version that was sent: summarize@3
                headers.append((b"x-keel-prompt", _header_value(f"{self.call.options['prompt']}@{version}")))
                stale = self.call.options.get("prompt_stale")
                if stale is not None:  # its labels as last read, this many seconds ago
                    headers.append((b"x-keel-prompt-stale", f"{stale:.1f}".encode()))
            variant = self.call.options.get("feature_variant")
            if variant is not None:  # the feature flag's variant the call was served as: summarizer=new
                headers.append(
                    (b"x-keel-feature", _header_value(f"{self.call.options['feature']}={variant}"))
                )
                stale = self.call.options.get("feature_stale")
                if stale is not None:  # the flags as last read, this many seconds ago
                    headers.append((b"x-keel-feature-stale", f"{stale:.1f}".encode()))
            validation = self.call.options.get("validation")
            if validation is not None:  # structured output: valid, repaired, refused; and re-asks
                headers.append((b"x-keel-validation", validation["outcome"].encode()))
                headers.append((b"x-keel-reasks", str(validation["reasks"]).encode()))
            findings = self.call.options.get("guards")
            if findings:  # which output guards fired and what they did, never what they found
                said = ",".join(f"{finding.guard}={finding.mode}" for finding in findings)
                headers.append((b"x-keel-guard", _header_value(said)))
        if self.route:
            headers.append((b"x-keel-route", _route_header(self.route)))
        if self.upstream_request_id:
            headers.append((b"x-keel-upstream-request-id", _header_value(self.upstream_request_id)))
        return headers

    def _overhead_ms(self) -> float:
        """Keel's own time: before the first upstream attempt began and since the answer arrived.

        The span from the first attempt's start to the answer (retry waits and fallbacks included)
        is the upstream's, and so is a wait for another caller's shared (coalesced) call;
        ``upstream_done`` is stamped by the handler when the gateway returned (or raised).
        """
        now = time.perf_counter()
        total = now - self.received_at
        call = self.call
        since = _upstream_since(call) if call is not None else None
        if since is None:
            self.overhead_ms = total * 1000
            return self.overhead_ms
        started = since - (time.time() - now)  # wall clock to perf_counter
        upstream = max(0.0, self.upstream_done - max(started, self.received_at))
        self.overhead_ms = max(0.0, total - upstream) * 1000
        return self.overhead_ms

    async def respond(self, status: int, body: bytes, headers: Headers | None = None) -> None:
        """A complete JSON response."""
        self.status = status
        await self.send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    _JSON,
                    (b"content-length", str(len(body)).encode()),
                    *self.keel_headers(),
                    *(headers or ()),
                ],
            }
        )
        await self.send({"type": "http.response.body", "body": body})

    async def respond_json(self, status: int, value: Any) -> None:
        await self.respond(status, orjson.dumps(value))

    async def respond_error(self, error: BaseException, render: ErrorRenderer = openai_error) -> None:
        """The error in the API's shape (OpenAI's unless told), with its status and headers."""
        status, headers, body = render(error)
        self.outcome = self.outcome or _outcome(error)
        await self.respond(status, body, headers)


def _upstream_since(call: Call) -> float | None:
    """When (wall clock) the call first waited on an upstream: its first attempt, or a shared call.
    An attempt a budget refused, or a route passed over for its open circuit, never left Keel."""
    shared: float | None = call.options.get("shared_since")
    first = next((a.started_at for a in call.attempts if a.outcome not in _NOT_SENT), None)
    if first is None:
        return shared
    return first if shared is None else min(first, shared)


_NOT_SENT = frozenset(("refused", "circuit_open"))


def _outcome(error: BaseException) -> str:
    code = getattr(error, "code", None)
    if isinstance(code, str):
        return code
    return str(getattr(error, "type", None) or getattr(error, "openai_type", None) or "internal_error")


def _too_large(limit: int) -> ApiError:
    return ApiError(
        413,
        f"request body is larger than the server's limit of {limit} bytes",
        code="request_too_large",
    )


@functools.lru_cache(maxsize=1024)
def _route_header(route: str) -> bytes:
    """``_header_value`` of a route name (there are few; each is encoded once)."""
    return _header_value(route)


def _header_value(value: str) -> bytes:
    """A header-safe encoding of a value that came from elsewhere (no control characters)."""
    if value.isascii() and value.isprintable():  # the usual case: nothing to drop
        return value.encode()
    return "".join(ch for ch in value if 32 <= ord(ch) < 127).encode()
