"""``Gateway``: runs calls on the policy stack its config builds, and swaps in a new config live.

The stack itself is assembled in ``_generation`` (the one place that knows its order). ``reconfigure``
builds the next ``Generation`` from a new config and makes it the one new calls start on; a call
already running finishes on the generation it started on.
"""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from ._generation import DEFAULT_OUTPUT_BOUND, Generation, Lasting, outage_allowance, token_bound
from ._replay import replayed
from ._sync import SyncGateway
from .call import Call, Deadline
from .config import Config, load_config
from .config_changes import changed_keys, check_reloadable
from .errors import (
    ConfigError,
    OutputRefusedError,
    OutputValidationError,
    RequestError,
    StreamInterruptedError,
)
from .flags import open_flags
from .keys import key_budget, key_token_budget
from .policies.flag import FlagSource
from .policies.validate import judge
from .prompts.handle import PromptHandle
from .prompts.registry import PromptRegistry
from .prompts.request import unrendered
from .reply import ChunkStream
from .stores.base import BreakerSettings
from .stores.state import open_breaker_store, open_counters
from .structured import DEFAULT_MAX_REASKS, OutputSpec, Validator
from .structured.previews import Previews
from .telemetry.logs import get_logger
from .types import ChatRequest, ChatResponse, Chunk, Message

if TYPE_CHECKING:
    from ._cache import CacheStores
    from .ledger import LedgerWriter
    from .policies.base import Handler
    from .policies.retry import RetryPolicy
    from .pricing import Pricer
    from .providers.base import Provider
    from .route import Cascade
    from .stores.base import BreakerStore, Counters
    from .stores.outage import StateOutage
    from .telemetry.alerts import BudgetAlerts

__all__ = ["DEFAULT_OUTPUT_BOUND", "Gateway", "GatewayStream", "token_bound"]

log = get_logger("keel.gateway")

_KEEL_ID = re.compile(r"[0-9a-f]{32}")  # what ``new_request_id`` makes

GATEWAY_RESTART_KEYS = ("state", "database")
"""What a gateway opens once: its state and ledger stores (``keel serve`` adds its socket's keys)."""


class Gateway:
    """The library entry point: ``await gw.chat(...)``, ``async for c in gw.stream(...)``, ``gw.sync``."""

    def __init__(self, config: Config, *, providers: dict[str, Provider] | None = None) -> None:
        try:
            breakers = open_breaker_store(config.state, BreakerSettings(**config.breaker.model_dump()))
            counters = open_counters(config.state)
        except ImportError as exc:
            raise ConfigError(f"state: {exc}") from None
        self._lasting = _lasting(config, breakers, counters)
        self._lasting.prompts = PromptRegistry(config)
        self._lasting.flags = open_flags(config)
        self._generation = Generation(config, self._lasting, providers=providers)
        self._attach_prompts()
        self._sync: SyncGateway | None = None

    @classmethod
    def from_config(cls, source: str | Path | dict[str, Any] | Config | None = None) -> Gateway:
        """A gateway from a ``keel.yaml`` path, a dict, a ``Config``, or nothing (the default cascade).

        Raises:
            ConfigError: the config is invalid; the message names the field and the fix.
        """
        return cls(load_config(source))

    def reconfigure(
        self,
        source: str | Path | dict[str, Any] | Config,
        *,
        restart_keys: tuple[str, ...] = GATEWAY_RESTART_KEYS,
    ) -> list[str]:
        """Make ``source`` the config new calls run on; the keys it changed (names, never values).

        Calls already running finish on the config they started with. Providers whose settings did
        not change keep their connection pools; breaker state, budget and rate-limit counters, the
        cache and calls in flight for coalescing carry over; what the old config alone used is
        closed when its last call ends. Nothing changes when the config is refused.

        Raises:
            ConfigError: the config is invalid (naming the field), or changes one of
                ``restart_keys`` (``RestartNeededError``).
        """
        config = load_config(source)
        changes = changed_keys(self.config, config)
        check_reloadable(changes, restart_keys)
        prompts = self.prompts
        files = prompts.load(config)  # the prompt files are read again even if keel.yaml is unchanged
        if files != prompts.yaml:
            changes = sorted([*changes, "prompts (files)"])
        if not changes:
            return changes
        previous = self._generation
        self._generation = Generation(config, self._lasting, previous=previous)
        previous.retire()
        prompts.apply(config, files)
        flags = self._lasting.flags
        if flags is not None and hasattr(flags, "settings") and config.flags.provider is None:
            flags.settings = config.flags  # the next poll waits the new interval
        self._attach_prompts()
        return changes

    def _attach_prompts(self) -> None:
        """What the prompts' rollout guards read (the ledger) and alert with (the webhook)."""
        prompts, generation = self.prompts, self._generation
        prompts.ledger = generation.ledger.store if generation.ledger is not None else None
        prompts.notify = generation.alerts.notify
        flags = self._lasting.flags
        if flags is not None:
            flags.notify = generation.alerts.notify

    # What the current config built (a running call keeps the generation it started on).
    @property
    def config(self) -> Config:
        return self._generation.config

    @property
    def providers(self) -> dict[str, Provider]:
        return self._generation.providers

    @property
    def cascades(self) -> dict[str, Cascade]:
        return self._generation.cascades

    @property
    def pricer(self) -> Pricer:
        return self._generation.pricer

    @property
    def cache(self) -> CacheStores | None:
        return self._generation.cache

    @property
    def ledger(self) -> LedgerWriter | None:
        return self._generation.ledger

    @property
    def alerts(self) -> BudgetAlerts:
        return self._generation.alerts

    @property
    def retry(self) -> RetryPolicy:
        return self._generation.retry

    @property
    def prompts(self) -> PromptRegistry:
        """The named prompts this gateway serves (docs/prompts.md)."""
        assert self._lasting.prompts is not None
        return self._lasting.prompts

    @property
    def flags(self) -> FlagSource:
        """Where this gateway's feature flags come from (docs/flags.md)."""
        assert self._lasting.flags is not None
        return self._lasting.flags

    def prompt(self, name: str, *, label: str | None = None, version: int | None = None) -> PromptHandle:
        """A named prompt to call: ``await gw.prompt("summarize").chat(document=text)``.

        Args:
            name: the prompt's name; ``name@3`` names a version, ``name@staging`` a label.
            label: the label to serve (default ``prompts.default_label``; ``latest`` the highest version).
            version: a version number instead of a label.
        """
        return PromptHandle(self, name, label=label, version=version)

    @property
    def breakers(self) -> BreakerStore:
        return self._lasting.breakers

    @property
    def counters(self) -> Counters:
        return self._lasting.counters

    @property
    def limit_counters(self) -> Counters:
        """What rate limits reserve on (this process's share of each limit during an outage)."""
        return self._lasting.limit_counters

    @property
    def state_outage(self) -> StateOutage | None:
        """Whether the shared state store (Redis) answers; None on in-memory state."""
        return self._lasting.outage

    @property
    def _handler(self) -> Handler:
        return self._generation.handler

    def resolve(self, model: str) -> Cascade:
        """The cascade for a model name: a configured alias, or ``provider/model`` for one route."""
        return self._generation.resolve(model)

    @contextlib.contextmanager
    def holding(self) -> Iterator[Generation]:
        """The current config's generation, whose providers and stores stay open until the block
        ends even if a reload replaces it (for work outside ``run``, such as embeddings)."""
        generation = self._generation
        generation.enter()
        try:
            yield generation
        finally:
            generation.leave()

    async def call(
        self, request: ChatRequest, *, stream: bool = False, **options: Any
    ) -> ChatResponse | ChunkStream:
        """Run one request through the whole stack; the ``Reply`` as the policies return it."""
        return await self.run(self.new_call(request, stream=stream, **options))

    async def run(self, call: Call) -> ChatResponse | ChunkStream:
        """Run a prepared ``Call`` (see ``new_call``) through the stack of the config it was made on."""
        generation = call.generation or self._generation
        generation.enter()
        try:
            reply = await generation.handler(call)
        except BaseException:
            generation.leave()
            raise
        if isinstance(reply, ChunkStream) and reply.end is None:
            reply.on_end(generation.leave)
        else:
            generation.leave()
        return reply

    def new_call(self, request: ChatRequest, *, stream: bool = False, **options: Any) -> Call:
        """A call ready for ``run``; ``options`` are Keel's own (``timeout``, ``key_id``, ``team``,
        ``max_cost_usd``, ``principal`` — whose key id, team and key budget it fills in)."""
        principal = options.get("principal")
        if principal is not None:
            options.setdefault("key_id", principal.key_id)
            options.setdefault("team", principal.team)
            try:
                budget = key_budget(principal.metadata or {})
                tokens = key_token_budget(principal.metadata or {})
            except ValueError as error:  # a key stored before its budget fields were checked
                raise ConfigError(f"virtual key {principal.key_id}: {error}") from None
            if budget is not None:
                options.setdefault("key_budget", budget)
            if tokens is not None:
                options.setdefault("key_token_budget", tokens)
        generation = self._generation
        config = generation.config
        if request.user is not None:  # what is stored of who called: a pseudonym (docs/privacy.md)
            options["user_ref"] = generation.user_ids.ref(request.user)
        total = options.pop("timeout", None) or config.timeouts.total
        return Call(
            request=request,
            deadline=Deadline.after(total),
            stream=stream,
            retries_left=config.retry.per_call_retries,
            options=options,
            generation=generation,
        )

    async def chat(self, model: str = "default", messages: Iterable[Any] = (), **params: Any) -> ChatResponse:
        """One complete answer.

        Args:
            model: a configured model name, or ``provider/model``.
            messages: OpenAI-style messages (dicts or ``Message``).
            **params: any Chat Completions parameter (``temperature``, ``tools``, ...); ``timeout``
                sets this call's total deadline in seconds; ``keel={...}`` carries Keel's own
                options (``key_id``, ``team``, ``max_cost_usd``; ``cache``, ``cache_ttl``,
                ``cache_refresh`` — docs/cache.md), never sent upstream.

        Returns:
            The response, naming the route that answered and every attempt made.

        Raises:
            KeelError: a class of ``keel.errors``; ``.attempts`` lists what was tried.
        """
        options = {**_options(params)}
        call = self.new_call(_request(model, messages, params, options), **options)
        try:
            reply = await self.run(call)
        except Exception as error:
            error.attempts = call.attempts  # type: ignore[attr-defined]
            raise
        if isinstance(reply, ChunkStream):  # a policy answered from a stream (e.g. a shared call)
            reply = await reply.collect()
        return _annotate(reply, call)

    async def structured(
        self,
        output: Any,
        messages: Iterable[Any] = (),
        *,
        model: str = "default",
        validators: Sequence[Validator] = (),
        max_reasks: int = DEFAULT_MAX_REASKS,
        **params: Any,
    ) -> Any:
        """An answer parsed and validated as ``output``: a pydantic model (``Invoice``), a type
        (``list[Invoice]``), or a JSON Schema dict (the JSON value is returned).

        The route is asked for the schema (``response_format``); an answer that does not parse or
        validate is repaired when it is near-JSON, else asked again with its problems, up to
        ``max_reasks`` times, inside the call's deadline and budget (``keel={"max_cost_usd": …}``
        caps the whole call). ``validators`` are the caller's own checks of the result: each
        raises ``ValueError`` (or ``AssertionError``) with a message to reject it.

        Raises:
            OutputValidationError: no valid answer within the re-asks (or the cost cap); carries
                the last problems and the attempts.
            OutputRefusedError: the model refused.
            KeelError: as ``chat``.
        """
        spec = OutputSpec.of(output, validators=validators, max_reasks=max_reasks)
        params.setdefault("response_format", spec.response_format())
        options = {**_options(params), "output": spec}
        call = self.new_call(_request(model, messages, params, options), **options)
        try:
            reply = await self.run(call)
        except Exception as error:
            error.attempts = call.attempts  # type: ignore[attr-defined]
            raise
        response = await reply.collect() if isinstance(reply, ChunkStream) else reply
        # A cached or shared answer was validated when it was made: it parses and checks again here.
        verdict = call.options.get("structured") or judge(response, spec)
        if verdict.outcome == "refused":
            refused = OutputRefusedError(f"the model refused to answer: {verdict.text}", refusal=verdict.text)
            refused.attempts = call.attempts
            raise refused
        return verdict.result

    async def structured_stream(
        self,
        output: Any,
        messages: Iterable[Any] = (),
        *,
        model: str = "default",
        validators: Sequence[Validator] = (),
        max_reasks: int = DEFAULT_MAX_REASKS,
        **params: Any,
    ) -> AsyncIterator[Any]:
        """As ``structured``, streamed: partial objects as the answer arrives (fields not yet
        there are ``None``; not validated), then the validated object last. For ``list[Model]``,
        each item once it is complete, validated, instead of partial lists.

        An answer that turns out invalid is asked again without streaming (its partials were
        previews); the last object yielded is always the validated one.

        Raises:
            OutputValidationError, OutputRefusedError, KeelError: as ``structured``.
        """
        spec = OutputSpec.of(output, validators=validators, max_reasks=max_reasks)
        params.setdefault("response_format", spec.response_format())
        options = {
            **_options(params),
            "output": spec,
            "output_live": True,
        }
        call = self.new_call(_request(model, messages, params, options), stream=True, **options)
        try:
            reply = await self.run(call)
        except Exception as error:
            error.attempts = call.attempts  # type: ignore[attr-defined]
            raise
        stream = reply if isinstance(reply, ChunkStream) else replayed(reply)
        previews = Previews(spec)
        try:
            async for chunk in stream:
                piece = chunk.text or "".join(text for _, _, text in chunk.tool_argument_deltas())
                for preview in previews.add(piece):
                    yield preview
        except StreamInterruptedError as error:
            cause = error.__cause__
            raise cause if isinstance(cause, OutputValidationError) else error from None
        finally:
            await stream.aclose()
        verdict = call.options.get("structured") or judge(stream.partial, spec)
        if verdict.outcome == "refused":
            refused = OutputRefusedError(f"the model refused to answer: {verdict.text}", refusal=verdict.text)
            refused.attempts = call.attempts
            raise refused
        for final in previews.final(verdict.result):
            yield final

    def stream(self, model: str = "default", messages: Iterable[Any] = (), **params: Any) -> GatewayStream:
        """Chunks of one answer as they arrive; errors before the first content raise on iteration."""
        options = {**_options(params)}
        request = _request(model, messages, params, options)
        return GatewayStream(self, self.new_call(request, stream=True, **options))

    async def feedback(
        self, request_id: str, score: float, *, comment: str | None = None, key_id: str | None = None
    ) -> None:
        """Record a score for the answer with ``request_id`` (``response.request_id``, or the
        proxy's ``x-request-id``); ``keel prompts stats`` compares versions by it.

        Raises:
            RequestError: a request id that is not one, or a score that is not a finite number.
            ConfigError: no ledger on SQLite or PostgreSQL to keep it in.
        """
        if not isinstance(request_id, str) or not 0 < len(request_id) <= 128:
            raise RequestError("feedback: request_id must be the answer's request id (1-128 characters)")
        if isinstance(score, bool) or not isinstance(score, int | float) or not math.isfinite(score):
            raise RequestError("feedback: score must be a finite number")
        if comment is not None and (not isinstance(comment, str) or len(comment) > 4000):
            raise RequestError("feedback: comment must be text of at most 4000 characters")
        store = self._generation.ledger.store if self._generation.ledger is not None else None
        add = getattr(store, "add_feedback", None)
        if add is None:
            raise ConfigError("feedback needs the ledger (ledger.enabled) on a SQLite or PostgreSQL database")
        from .safety.pii import find_pii, redact

        # A key or an address is never a request id (Keel's own, 32 hex digits, may look like a card).
        if not _KEEL_ID.fullmatch(request_id) and find_pii(request_id, ("secret", "email", "card", "iban")):
            raise RequestError("feedback: request_id must be the answer's request id, not a key or address")
        if comment is not None:  # the caller's words may name a customer: kept redacted, as captured text
            comment = redact(comment)
        await add(request_id, float(score), comment=comment, key_id=key_id)

    @property
    def sync(self) -> SyncGateway:
        """Blocking versions of ``chat`` and ``stream`` for scripts and notebooks."""
        if self._sync is None:
            self._sync = SyncGateway(self)
        return self._sync

    async def aclose(self) -> None:
        """Close every provider and store, of the current config and of any still winding down."""
        await self._lasting.aclose()
        if self._lasting.prompts is not None:
            await self._lasting.prompts.aclose()
        if self._lasting.flags is not None:
            await self._lasting.flags.aclose()
        for store in (self._lasting.breakers, self._lasting.counters):
            close = getattr(store, "aclose", None)
            if close is not None:
                await close()

    def close(self) -> None:
        """Close a gateway used through ``.sync``."""
        if self._sync is not None:
            self._sync.close()
            self._sync = None

    async def __aenter__(self) -> Gateway:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


class GatewayStream:
    """Chunks of one answer; ``response`` is the answer so far, with its route and attempts."""

    def __init__(self, gateway: Gateway, call: Call) -> None:
        self._gateway = gateway
        self.call = call
        self._stream: ChunkStream | None = None

    def __aiter__(self) -> GatewayStream:
        return self

    async def __anext__(self) -> Chunk:
        if self._stream is None:
            try:
                reply = await self._gateway.run(self.call)
            except Exception as error:
                error.attempts = self.call.attempts  # type: ignore[attr-defined]
                raise
            self._stream = reply if isinstance(reply, ChunkStream) else replayed(reply)
        return await self._stream.__anext__()

    @property
    def response(self) -> ChatResponse | None:
        """What has been delivered so far, as one response."""
        return _annotate(self._stream.partial, self.call) if self._stream else None

    async def aclose(self) -> None:
        if self._stream is not None:
            await self._stream.aclose()


def _lasting(config: Config, breakers: BreakerStore, counters: Counters) -> Lasting:
    """The process-wide parts; with a shared store, each concern wrapped in its outage policy."""
    if config.state.startswith("memory://"):
        return Lasting(breakers, counters, flights={}, budget_counters=counters, limit_counters=counters)
    from .policies._budget_rebuild import BudgetRebuild
    from .stores.outage import StateOutage
    from .stores.resilient import ResilientBreakers, SharedBudgets, SharedLimits

    outage = StateOutage()
    rebuild = (
        BudgetRebuild(counters.redis, None) if hasattr(counters, "redis") else None
    )  # ledger: per config
    return Lasting(
        ResilientBreakers(breakers, outage),
        counters,
        flights={},
        budget_counters=SharedBudgets(counters, outage, rebuild, allowance=outage_allowance(config)),
        limit_counters=SharedLimits(counters, outage, replicas=config.state_outage.replicas),
        outage=outage,
    )


def _options(params: dict[str, Any]) -> dict[str, Any]:
    """Keel's own options of a library call, taken out of ``params``: ``timeout``, ``feature`` (and
    ``feature_attributes``), and the ``keel`` dict."""
    options: dict[str, Any] = {"timeout": params.pop("timeout", None)}
    for name in ("feature", "feature_attributes"):
        if name in params:
            options[name] = params.pop(name)
    options.update(params.pop("keel", None) or {})
    return options


def _request(
    model: str, messages: Iterable[Any], params: dict[str, Any], options: dict[str, Any] | None = None
) -> ChatRequest:
    if options is not None and "prompt_ref" in options:  # rendered by the prompt policy
        return unrendered(model, messages, params)
    try:
        return ChatRequest(
            model=model,
            messages=[m if isinstance(m, Message) else Message.model_validate(m) for m in messages],
            **params,
        )
    except ValidationError as exc:
        raise RequestError(f"invalid request: {exc.errors(include_url=False)[0]['msg']}") from None


def _annotate(response: ChatResponse, call: Call) -> ChatResponse:
    response.attempts = call.attempts
    response.request_id = call.request_id
    if "prompt_version" in call.options:
        response.prompt = f"{call.options['prompt']}@{call.options['prompt_version']}"
    response.cache = call.options.get("cache_info")
    answered = [attempt for attempt in call.attempts if attempt.outcome in ("ok", "streaming")]
    if answered:
        response.route = answered[-1].route
        response.upstream_request_id = response.upstream_request_id or answered[-1].upstream_request_id
    return response
