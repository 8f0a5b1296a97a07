"""The ``keel.yaml`` schema: strict at the edge, ``${ENV}`` interpolation, messages that name the field.

A deployment is written ``provider/model`` or as a mapping; a tier is one deployment or a list of
them; a model is a list of tiers. With no config at all, ``default_config()`` builds the automatic
cascade from the environment (DESIGN §3a).
"""

from __future__ import annotations

import os
import re
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from .errors import ConfigError
from .telemetry.logs import get_logger

__all__ = [
    "AlertsConfig",
    "BreakerConfig",
    "BudgetConfig",
    "CacheConfig",
    "CacheModelConfig",
    "CaptureConfig",
    "Config",
    "DeploymentConfig",
    "FlagProviderConfig",
    "FlagsConfig",
    "LedgerConfig",
    "LoggingConfig",
    "MetricsConfig",
    "PriceConfig",
    "PricingConfig",
    "PromptGuardConfig",
    "PromptsConfig",
    "ProviderConfig",
    "RateLimitConfig",
    "RetryConfig",
    "RouterConfig",
    "SemanticCacheConfig",
    "ServerConfig",
    "StateOutageConfig",
    "StructuredOutputConfig",
    "TimeoutsConfig",
    "TracingConfig",
    "default_config",
    "load_config",
]

log = get_logger("keel.config")

DEFAULT_ANTHROPIC_MODEL = "claude-haiku-4-5"  # Anthropic's current small model

_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TimeoutsConfig(_Strict):
    """Seconds: to connect, to the first token, between stream chunks, per attempt, per call."""

    connect: float = Field(5.0, gt=0)
    first_token: float = Field(30.0, gt=0)
    idle: float = Field(30.0, gt=0)
    attempt: float = Field(120.0, gt=0)
    total: float = Field(300.0, gt=0)


class RetryConfig(_Strict):
    max_attempts: int = Field(3, ge=1, description="attempts per route within one call")
    initial_backoff: float = Field(0.25, ge=0)
    max_backoff: float = Field(8.0, ge=0)
    max_retry_after: float = Field(5.0, ge=0, description="longest Retry-After waited for on one route")
    per_call_retries: int = Field(4, ge=0, description="retries across all routes of one call")
    budget_ratio: float = Field(0.2, ge=0, description="retries allowed per call, process-wide")
    budget_min_per_second: float = Field(5.0, ge=0)


class BreakerConfig(_Strict):
    failure_threshold: int = Field(5, ge=1)
    window: float = Field(30.0, gt=0)
    open_for: float = Field(30.0, gt=0)


class RouterConfig(_Strict):
    fallback_on_content_policy: bool = False
    continue_streams: bool = Field(
        False, description="finish a stream cut after its first token on a route that accepts prefill"
    )


class BudgetConfig(_Strict):
    """A hard limit in USD or in tokens (exactly one) over a window, for one scope; ``alert_at`` are
    soft thresholds."""

    name: str | None = None
    scope: Literal["global", "key", "team", "user", "model", "feature"] = "global"
    match: str | None = Field(
        None, description="one key id / team / user / model / feature flag; omitted: each one"
    )
    window: Literal["request", "hour", "day", "month", "lifetime"] = "month"
    limit_usd: Decimal | None = Field(None, gt=0)
    limit_tokens: int | None = Field(None, gt=0, description="input (cached too) + output (reasoning too)")
    alert_at: tuple[float, ...] = (0.5, 0.8, 1.0)

    @model_validator(mode="after")
    def _one_limit(self) -> BudgetConfig:
        if (self.limit_usd is None) == (self.limit_tokens is None):
            raise ValueError("a budget has exactly one of limit_usd (dollars) and limit_tokens (tokens)")
        return self

    @property
    def label(self) -> str:
        return self.name or f"{self.scope}{':' + self.match if self.match else ''} {self.window}"

    @property
    def unit(self) -> Literal["usd", "tokens"]:
        return "usd" if self.limit_usd is not None else "tokens"

    @property
    def limit_text(self) -> str:
        """The limit as a message shows it: ``$5`` or ``100,000 tokens``."""
        return f"${self.limit_usd}" if self.limit_usd is not None else f"{self.limit_tokens:,} tokens"


class RateLimitConfig(_Strict):
    """Requests and tokens per minute for one scope; ``route`` limits what Keel sends a provider."""

    scope: Literal["global", "key", "team", "user", "model", "route"] = "key"
    match: str | None = None
    rpm: int | None = Field(None, gt=0)
    tpm: int | None = Field(None, gt=0)


class LedgerConfig(_Strict):
    """Where usage records go is ``database:``; this says how carefully."""

    enabled: bool = True
    durability: Literal["batched", "strict"] = Field(
        "batched", description="strict: a call's record is stored before its response completes"
    )
    strict_wait: float = Field(
        5.0, gt=0, description="strict: seconds a call waits for its record to be stored, then a 503"
    )
    spill_dir: str | None = Field(
        "keel-ledger-spill",
        description="where records wait on disk while the database is away (replayed after); null: in memory",
    )


class AlertsConfig(_Strict):
    webhook_url: str | None = None


class MetricsConfig(_Strict):
    """Prometheus metrics (docs/metrics.md): whether calls are observed, who may scrape, which
    caller labels the token and cost metrics carry."""

    enabled: bool = True
    require_key: bool = Field(False, description="GET /metrics needs the master key")
    labels: tuple[Literal["key", "team"], ...] = Field(
        ("team",), description="caller labels on keel_tokens_total and keel_cost_usd_total (key: the key id)"
    )
    max_label_values: int = Field(
        100, ge=1, description="distinct values per label fed by callers (model, key, team); more: other"
    )


class TracingConfig(_Strict):
    """OpenTelemetry traces and the GenAI client metrics (docs/observability.md; the ``otel`` extra).

    Unset fields fall back to the standard ``OTEL_*`` variables, as the OpenTelemetry SDK reads them.
    """

    enabled: bool = False
    exporter: Literal["otlp", "console", "global", "none"] = Field(
        "otlp",
        description="otlp: OTLP/HTTP; console: stdout; global: the application's own providers; "
        "none: spans for ids and propagation, exported nowhere",
    )
    endpoint: str | None = Field(
        None, description="OTLP/HTTP base URL; defaults to $OTEL_EXPORTER_OTLP_ENDPOINT"
    )
    headers: dict[str, SecretStr] = Field(default_factory=dict, description="sent with every export")
    service_name: str | None = Field(None, description="defaults to $OTEL_SERVICE_NAME, else keel")
    sample_ratio: float = Field(1.0, ge=0, le=1, description="share of new traces kept (parent-based)")
    metrics: bool = Field(True, description="record gen_ai.client.operation.duration and token.usage")
    metrics_interval: float = Field(60.0, gt=0, description="seconds between metric exports")


class LoggingConfig(_Strict):
    """How Keel writes its log lines, and the one call log event per call (docs/observability.md)."""

    format: Literal["kv", "json"] = Field(
        "kv", description="kv: key=value lines; json: one JSON object a line"
    )
    calls: Literal["debug", "info", "warning", "off"] = Field(
        "info", description="level of llm_request_complete (a failed call: at least warning)"
    )
    sample_rate: float = Field(1.0, ge=0, le=1, description="share of completed calls logged; failures all")


class PriceConfig(_Strict):
    """USD per million tokens of each class; ``free`` is all zero. Unset cache prices fall back to
    ``input`` and an unset reasoning price to ``output``, so an override never undercharges."""

    input: Decimal = Field(ge=0)
    output: Decimal = Field(ge=0)
    cached_input: Decimal | None = Field(None, ge=0, description="cache reads")
    cache_write: Decimal | None = Field(None, ge=0)
    reasoning: Decimal | None = Field(None, ge=0)
    per_request: Decimal = Field(Decimal(0), ge=0, description="USD per request, on top of tokens")

    @model_validator(mode="before")
    @classmethod
    def _free(cls, value: Any) -> Any:
        return {"input": 0, "output": 0} if value == "free" else value


class PricingConfig(_Strict):
    """Prices over the pricing library's (see docs/pricing.md): overrides, custom models, unknown models."""

    unknown: Literal["refuse"] | PriceConfig = Field(
        "refuse", description="refuse (a PricingError naming the model), or default prices"
    )
    models: dict[str, PriceConfig] = Field(
        default_factory=dict, description="keyed provider/model (a route's name) or provider/*"
    )
    providers: dict[str, str] = Field(
        default_factory=dict, description="a configured provider priced as a genai-prices provider id"
    )
    tokenizer: bool = Field(
        True,
        description="bound a budget's input with the route's own tokenizer where one ships offline "
        "(keel[tokenizer]; ~150 MB per process once loaded); false: the UTF-8 bound everywhere",
    )

    @field_validator("unknown", mode="before")
    @classmethod
    def _one_rule(cls, value: Any) -> Any:
        """One clear message instead of one per branch of the union."""
        if value == "refuse" or isinstance(value, PriceConfig):
            return value
        rule = "use refuse, or default prices as {input: <USD per 1M tokens>, output: <USD per 1M tokens>}"
        if not isinstance(value, dict):
            raise ValueError(rule)
        try:
            return PriceConfig.model_validate(value)
        except ValidationError as exc:
            raise ValueError(f"{rule} ({_explain(exc)})") from None

    @field_validator("models")
    @classmethod
    def _keys_name_routes(cls, value: dict[str, PriceConfig]) -> dict[str, PriceConfig]:
        for key in value:
            provider, _, model = key.partition("/")
            if not provider or not model:
                raise ValueError(f"{key!r}: name a route as provider/model, or provider/* for all its models")
        return value


class CacheModelConfig(_Strict):
    """One model's cache settings, over the section's defaults."""

    enabled: bool = True
    ttl: float | None = Field(None, gt=0, description="seconds; default: cache.ttl")


class SemanticCacheConfig(_Strict):
    """Near-duplicate prompts answered from the cache (the ``semantic`` extra); off by default."""

    enabled: bool = False
    threshold: float = Field(0.95, gt=0, le=1, description="least cosine similarity that counts")
    max_entries: int = Field(10_000, gt=0, description="vectors kept per process (the oldest go first)")


class CacheConfig(_Strict):
    """Exact (and optional semantic) response caching, and coalescing of identical calls in flight.

    Only deterministic calls (temperature 0, or a seed) are cached unless the caller opts in.
    """

    enabled: bool = True
    backend: str = Field("state", description="state (the state: URL), memory://, sqlite:///f.db, redis://")
    ttl: float = Field(3600.0, gt=0, description="seconds an entry lives unless the model or call says")
    max_ttl: float = Field(7 * 86400.0, gt=0, description="longest TTL a caller may ask for")
    models: dict[str, CacheModelConfig] = Field(default_factory=dict)
    max_bytes: int = Field(64 * 1024 * 1024, gt=0, description="memory backend: total size of entries")
    max_entry_bytes: int = Field(
        1024 * 1024, gt=0, description="largest response cached, and the shared-call buffer's bound"
    )
    tenant: Literal["key", "team"] = Field("key", description="who shares entries: one key, or one team")
    timeout: float = Field(0.5, gt=0, description="seconds a backend read or write may take")
    coalesce: bool = True
    lock_wait: float = Field(30.0, gt=0, description="seconds a replica waits for another's shared call")
    semantic: SemanticCacheConfig = Field(default_factory=SemanticCacheConfig)

    @field_validator("backend")
    @classmethod
    def _backend_url(cls, value: str) -> str:
        if value != "state" and not value.startswith(
            ("memory://", "sqlite:///", "redis://", "rediss://", "unix://")
        ):
            raise ValueError(
                "use state (the state: URL), memory://, sqlite:///cache.db or redis://host:6379/0"
            )
        return value


class StructuredOutputConfig(_Strict):
    """Structured output (docs/structured-output.md): which models' JSON answers the proxy enforces
    without being asked (``x-keel-validate``), and how often an invalid answer is asked again."""

    enforce: list[str] = Field(
        default_factory=list,
        description="model names whose json_schema / json_object answers are always enforced; * for all",
    )
    max_reasks: int = Field(2, ge=0, le=10, description="re-asks after an answer that fails validation")
    next_route_after: int = Field(
        2, ge=0, description="a route whose answers failed this often in one call is passed over; 0: never"
    )


def _off_if_false(value: Any) -> Any:
    """YAML reads a bare ``off`` as false: a guard's mode takes it as ``off``."""
    return "off" if value is False else value


class GuardMatchConfig(_Strict):
    """Where a guard applies: every call unless a list names what it is for (any match applies it)."""

    models: list[str] = Field(default_factory=list, description="model names as the caller asks for them")
    keys: list[str] = Field(default_factory=list, description="virtual key ids")
    teams: list[str] = Field(default_factory=list, description="teams of virtual keys")

    def applies(self, model: str, key_id: str | None, team: str | None) -> bool:
        """Whether a call for ``model`` by this key and team is one the guard checks."""
        if not (self.models or self.keys or self.teams):
            return True
        return model in self.models or key_id in self.keys or team in self.teams

    def applies_to(self, call: Any) -> bool:
        """``applies`` for a ``Call``: its requested model, key and team."""
        return self.applies(call.request.model, call.options.get("key_id"), call.options.get("team"))


class OutputGuardConfig(_Strict):
    """One check of what the client receives, on complete answers and on streams as they flow."""

    name: str | None = Field(None, description="how the guard is named in errors, headers and metrics")
    kind: Literal["patterns", "max_length", "secrets", "pii"]
    mode: Literal["off", "flag", "block"] = Field(
        "block", description="flag: record and let through; block: stop the answer (output_guard_triggered)"
    )
    patterns: list[str] = Field(default_factory=list, description="patterns: regular expressions")
    keywords: list[str] = Field(default_factory=list, description="patterns: words, case-insensitive")
    max_chars: int | None = Field(None, gt=0, description="max_length: characters of answer text")
    kinds: list[Literal["secret", "email", "iban", "card", "national_id", "ip", "phone"]] | None = Field(
        None, description="pii: what counts as personal data; default every kind"
    )
    match: GuardMatchConfig = Field(default_factory=GuardMatchConfig)

    _mode = field_validator("mode", mode="before")(lambda value: _off_if_false(value))

    @model_validator(mode="after")
    def _complete(self) -> OutputGuardConfig:
        if self.kind == "patterns" and not (self.patterns or self.keywords):
            raise ValueError("a patterns guard needs patterns or keywords")
        if self.kind == "max_length" and self.max_chars is None:
            raise ValueError("a max_length guard needs max_chars")
        for pattern in self.patterns:
            try:
                re.compile(pattern)
            except re.error as error:
                raise ValueError(f"pattern {pattern!r} is not a regular expression: {error}") from None
        return self

    @property
    def label(self) -> str:
        return self.name or self.kind


def _default_output_guards() -> list[OutputGuardConfig]:
    return [OutputGuardConfig(kind="secrets", mode="block")]


class PiiGuardConfig(_Strict):
    """Personal data in requests (docs/guards.md): off by default."""

    mode: Literal["off", "flag", "redact", "block"] = Field(
        "off",
        description="flag: record and send as is; redact: placeholders to the provider, the originals put "
        "back in the answer; block: refuse the call (pii_blocked)",
    )
    kinds: list[Literal["secret", "email", "iban", "card", "national_id", "ip", "phone"]] | None = Field(
        None, description="what counts as personal data; default every kind"
    )
    match: GuardMatchConfig = Field(default_factory=GuardMatchConfig)

    _mode = field_validator("mode", mode="before")(lambda value: _off_if_false(value))


class InjectionGuardConfig(_Strict):
    """Prompt-injection detection on what callers and tools put in requests (docs/guards.md)."""

    mode: Literal["off", "flag", "block"] = Field(
        "flag", description="flag: record and send; block: refuse the call (prompt_injection_detected)"
    )
    threshold: float = Field(
        0.5, gt=0, le=1, description="the scanner's score from which a text is an attack"
    )
    history: bool = Field(
        False,
        description="scan every user turn and tool result, not only those after the last assistant "
        "turn (for callers that may write a conversation's history themselves)",
    )
    match: GuardMatchConfig = Field(default_factory=GuardMatchConfig)

    _mode = field_validator("mode", mode="before")(lambda value: _off_if_false(value))


class CanaryGuardConfig(_Strict):
    """A per-attempt canary in the system prompt; an answer that repeats it leaked the prompt."""

    mode: Literal["off", "flag", "block"] = Field(
        "block",
        description="flag: record and let through; block: stop the answer (output_guard_triggered); "
        "off: no canary is placed",
    )
    match: GuardMatchConfig = Field(default_factory=GuardMatchConfig)

    _mode = field_validator("mode", mode="before")(lambda value: _off_if_false(value))


class SpotlightConfig(_Strict):
    """Untrusted content delimited as data, per attempt, with a note in the system text."""

    mode: Literal["off", "on"] = Field(
        "on",
        description="on: turns marked untrusted (and a prompt's untrusted variables) are delimited and "
        "the system text says they are data; off: sent as they are (the mark is still taken off)",
    )
    tool_results: bool = Field(False, description="treat every tool result as marked untrusted")
    datamark: bool = Field(False, description="also join the words of marked text with '^'")
    match: GuardMatchConfig = Field(default_factory=GuardMatchConfig)

    @field_validator("mode", mode="before")
    @classmethod
    def _on_off(cls, value: Any) -> Any:
        if value is True:
            return "on"
        return _off_if_false(value)


class GuardsConfig(_Strict):
    """Guards on what the client receives (docs/guards.md); secrets in answers are blocked by default."""

    pii: PiiGuardConfig = Field(default_factory=PiiGuardConfig)
    injection: InjectionGuardConfig = Field(default_factory=InjectionGuardConfig)
    canary: CanaryGuardConfig = Field(default_factory=CanaryGuardConfig)
    spotlight: SpotlightConfig = Field(default_factory=SpotlightConfig)

    output: list[OutputGuardConfig] = Field(
        default_factory=_default_output_guards,
        description="output guards, in order; the default blocks answers that carry an API key or token",
    )
    window_chars: int = Field(
        256, ge=16, le=65_536, description="how far back a pattern may start before the text a chunk adds"
    )


class PromptGuardConfig(_Strict):
    """A rollout rule on a label: when the version(s) its last move brought in break it, after
    ``min_calls`` of theirs, the label goes back (docs/prompts.md)."""

    prompt: str
    label: str = "production"
    min_calls: int = Field(200, ge=1, description="calls of the new version(s) before the rule is judged")
    max_error_rate: float | None = Field(None, ge=0, le=1)
    max_validation_failure_rate: float | None = Field(None, ge=0, le=1)
    max_p95_latency_s: float | None = Field(None, gt=0)
    max_cost_per_call_usd: Decimal | None = Field(None, ge=0)
    max_worse_pct: float | None = Field(
        None,
        ge=0,
        description="in a split: the new version(s) no worse than the other(s) by this many percent in "
        "error rate and validation-failure rate (and significantly worse, two-proportion test, p < 0.05), "
        "p95 latency and cost per call; judged once both sides have min_calls",
    )


class PromptsConfig(_Strict):
    """Named, versioned prompts (docs/prompts.md): the YAML directory, the label served by default,
    and how fresh this process keeps the labels the database holds."""

    dir: str | None = Field(
        None, description="a directory of <prompt>/v<N>.yaml files; read at start and reload"
    )
    default_label: str = Field("production", description="the label a call gets when it names none")
    refresh_interval: float = Field(
        0.5, gt=0, le=60, description="seconds between looks at the database's prompt revision"
    )
    max_stale: float = Field(
        60.0, gt=0, description="seconds labels last read are served while the database does not answer"
    )
    guards: list[PromptGuardConfig] = Field(default_factory=list, description="rollout rules on labels")
    guard_interval: float = Field(5.0, gt=0, description="seconds between judgements of the guards")

    @field_validator("default_label")
    @classmethod
    def _label(cls, value: str) -> str:
        if value != "latest" and not re.fullmatch(r"[A-Za-z][A-Za-z0-9_.\-]{0,63}", value):
            raise ValueError("a label: a letter, then letters, digits, _ . - (or latest)")
        return value


class PrivacyConfig(_Strict):
    """What Keel keeps of who called (docs/privacy.md)."""

    user_ids: Literal["pseudonymous", "clear"] = Field(
        "pseudonymous",
        description="pseudonymous: the ledger, counters and logs hold a keyed hash of each user id; "
        "clear: the ids as sent",
    )
    user_id_key: SecretStr | None = Field(
        None,
        description="the hash's key, the same on every replica; default $KEEL_USER_ID_KEY, else "
        "derived from the master key",
    )


class CaptureConfig(_Strict):
    """Prompts and answers kept for debugging (docs/privacy.md): off by default, always redacted."""

    content: bool = Field(
        False,
        description="keep each call's messages and answer, PII- and key-redacted, in the ledger (and on "
        "its span when tracing is on)",
    )
    max_chars: int = Field(8000, gt=0, description="characters kept of a call's request, and of its answer")


class FlagProviderConfig(_Strict):
    """An OpenFeature provider Keel takes its flag values from instead of its own store."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    name: str = Field(description="a name for the provider (logs, metrics' reason)")
    factory: str = Field(
        alias="import",
        description="module:attribute of the provider, or of a callable returning one (called with options)",
    )
    options: dict[str, Any] = Field(default_factory=dict, description="keyword arguments for the callable")
    variants: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="what each variant name the provider answers changes (model, prompt, params)",
    )


class FlagsConfig(_Strict):
    """Feature flags (docs/flags.md): how fresh this process keeps the database's flags, and
    optionally an OpenFeature provider to read them from instead."""

    refresh_interval: float = Field(
        0.5, gt=0, le=60, description="seconds between looks at the database's flag revision"
    )
    max_stale: float = Field(
        60.0, gt=0, description="seconds flags last read are served while the database does not answer"
    )
    provider: FlagProviderConfig | None = None


class StateOutageConfig(_Strict):
    """What each concern does while the shared state store (Redis) is away (docs/state.md)."""

    budgets: Literal["fail_closed", "local_allowance"] = Field(
        "fail_closed",
        description="fail_closed: refuse a budgeted call (503 budget_state_unavailable); local_allowance: "
        "spend up to allowance_usd / allowance_tokens per replica and outage, added to the budgets after",
    )
    allowance_usd: Decimal = Field(
        Decimal(1), ge=0, description="local_allowance: USD per replica per outage"
    )
    allowance_tokens: int = Field(100_000, ge=0, description="local_allowance: tokens per replica per outage")
    replicas: int | None = Field(
        None,
        ge=1,
        description="replicas sharing the state: rate limits run on 1/replicas of each limit during an "
        "outage; unset: the number of replicas seen alive in the last minute",
    )


class ServerConfig(_Strict):
    """``keel serve``: where it listens, who may call it, and what it accepts."""

    host: str = "127.0.0.1"
    port: int = Field(4000, ge=0, le=65535)
    workers: int = Field(1, ge=1)
    master_key: SecretStr | None = Field(None, description="defaults to $KEEL_MASTER_KEY")
    max_body_bytes: int = Field(16 * 1024 * 1024, gt=0)
    drain_timeout: float = Field(30.0, ge=0, description="seconds to finish in-flight calls on shutdown")
    key_grace: float = Field(
        300.0, ge=0, description="seconds a virtual key verified here is accepted while the database is away"
    )
    watch_config: bool = Field(False, description="reload keel.yaml when the file changes")
    watch_interval: float = Field(1.0, gt=0, description="seconds between looks at keel.yaml's file")

    @model_validator(mode="after")
    def _master_key_from_env(self) -> ServerConfig:
        if self.master_key is None and os.environ.get("KEEL_MASTER_KEY"):
            object.__setattr__(self, "master_key", SecretStr(os.environ["KEEL_MASTER_KEY"]))
        return self


class ProviderConfig(_Strict):
    """One endpoint. ``kind`` is the wire protocol; ``profile`` the OpenAI-compatible dialect.

    For ``kind: anthropic`` the base URL defaults to Anthropic's and ``api_version`` is the
    ``anthropic-version`` header (``anthropic-beta`` goes in ``headers``).
    """

    kind: Literal["openai", "anthropic", "local"] = "openai"
    profile: str | None = None
    base_url: str | None = None
    api_key: SecretStr | None = None
    api_version: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    model_path: str | None = None
    context_window: int | None = Field(None, gt=0)
    """``kind: local``: the model's context in tokens; by default what its weights were trained with."""
    timeouts: TimeoutsConfig | None = None

    @field_validator("profile")
    @classmethod
    def _known_profile(cls, value: str | None) -> str | None:
        from .providers.profiles import PROFILES

        if value is not None and value not in PROFILES:
            raise ValueError(f"unknown profile {value!r}; use one of: {', '.join(sorted(PROFILES))}")
        return value


class DeploymentConfig(_Strict):
    """One provider's model in a tier; capability fields override the profile's."""

    provider: str
    model: str | None = None
    weight: float = Field(1.0, gt=0)
    context_window: int | None = Field(None, gt=0)
    max_output_tokens: int | None = Field(None, gt=0)
    supports_prefill: bool | None = None
    supports_json_schema: bool | None = None
    native_structured_output: bool | None = None
    supports_tools: bool | None = None
    timeouts: TimeoutsConfig | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_shorthand(cls, value: Any) -> Any:
        if isinstance(value, str):
            provider, _, model = value.partition("/")
            return {"provider": provider, "model": model or None}
        return value


class Config(_Strict):
    """The whole of ``keel.yaml``."""

    providers: dict[str, ProviderConfig] = Field(default_factory=dict)
    models: dict[str, list[list[DeploymentConfig]]] = Field(default_factory=dict)
    timeouts: TimeoutsConfig = Field(default_factory=TimeoutsConfig)
    retry: RetryConfig = Field(default_factory=RetryConfig)
    breaker: BreakerConfig = Field(default_factory=BreakerConfig)
    router: RouterConfig = Field(default_factory=RouterConfig)
    server: ServerConfig = Field(default_factory=ServerConfig)
    budgets: list[BudgetConfig] = Field(default_factory=list)
    rate_limits: list[RateLimitConfig] = Field(default_factory=list)
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    ledger: LedgerConfig = Field(default_factory=LedgerConfig)
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
    tracing: TracingConfig = Field(default_factory=TracingConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)
    pricing: PricingConfig = Field(default_factory=PricingConfig)
    cache: CacheConfig = Field(default_factory=CacheConfig)
    structured_output: StructuredOutputConfig = Field(default_factory=StructuredOutputConfig)
    guards: GuardsConfig = Field(default_factory=GuardsConfig)
    privacy: PrivacyConfig = Field(default_factory=PrivacyConfig)
    capture: CaptureConfig = Field(default_factory=CaptureConfig)
    prompts: PromptsConfig = Field(default_factory=PromptsConfig)
    flags: FlagsConfig = Field(default_factory=FlagsConfig)
    state_outage: StateOutageConfig = Field(default_factory=StateOutageConfig)
    state: str = "memory://"
    database: str = "sqlite:///keel.db"

    @model_validator(mode="before")
    @classmethod
    def _builtin_local(cls, value: Any) -> Any:
        """``local`` names the bundled local model unless the config defines it otherwise."""
        if isinstance(value, dict) and isinstance(value.get("providers", {}), dict):
            value = {**value, "providers": {"local": {"kind": "local"}, **value.get("providers", {})}}
        return value

    @field_validator("models", mode="before")
    @classmethod
    def _tiers_from_shorthand(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        return {
            name: [t if isinstance(t, list) else [t] for t in _as_list(tiers)]
            for name, tiers in value.items()
        }

    @field_validator("state")
    @classmethod
    def _state_url(cls, value: str) -> str:
        if not value.startswith(("memory://", "redis://", "rediss://")):
            raise ValueError("use memory:// (one process) or redis://host:port/db (several)")
        return value

    @field_validator("database")
    @classmethod
    def _database_url(cls, value: str) -> str:
        if not value.startswith(("sqlite:///", "postgresql://", "postgres://")):
            raise ValueError("use sqlite:///path/keel.db or postgresql://user@host/db")
        return value

    @model_validator(mode="after")
    def _workers_share_state(self) -> Config:
        if self.server.workers > 1 and self.state.startswith("memory://"):
            raise ValueError(
                f"server.workers: {self.server.workers} workers would each keep their own budgets, limits "
                "and breakers; set state: redis://host:6379/0 or run one worker"
            )
        return self

    @model_validator(mode="after")
    def _routes_name_providers(self) -> Config:
        for name, tiers in self.models.items():
            if not tiers or not all(tiers):
                raise ValueError(f"model {name!r} needs at least one deployment in every tier")
            for t, tier in enumerate(tiers):
                for d, deployment in enumerate(tier):
                    if deployment.provider not in self.providers:
                        known = ", ".join(sorted(self.providers)) or "none"
                        raise ValueError(
                            f"models.{name}[{t}][{d}]: unknown provider {deployment.provider!r} "
                            f"(configured providers: {known}); add it under providers: or fix the name"
                        )
                    provider = self.providers[deployment.provider]
                    if provider.kind != "local" and not deployment.model:
                        raise ValueError(
                            f"models.{name}[{t}][{d}]: say which model to ask {deployment.provider!r} for, "
                            f"e.g. {deployment.provider}/gpt-4o-mini"
                        )
        return self


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def interpolate(value: Any, path: str = "") -> Any:
    """Replace ``${VAR}`` and ``${VAR:-default}`` in every string; a missing variable is an error."""
    if isinstance(value, dict):
        return {key: interpolate(item, f"{path}.{key}" if path else str(key)) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, f"{path}[{i}]") for i, item in enumerate(value)]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in os.environ:
            return os.environ[name]
        if default is not None:
            return default
        raise ConfigError(
            f"{path}: environment variable {name} is not set; export it or give a default "
            f"as ${{{name}:-value}}"
        )

    return _ENV.sub(substitute, value)


def load_config(source: str | Path | dict[str, Any] | Config | None = None) -> Config:
    """A validated config from a path, a dict, or — with nothing given — ``$KEEL_CONFIG``,
    ``./keel.yaml``, or else the automatic default cascade."""
    if isinstance(source, Config):
        return source
    origin = "config"
    if source is None:
        found = os.environ.get("KEEL_CONFIG") or ("keel.yaml" if Path("keel.yaml").exists() else None)
        if found is None:
            return default_config()
        source = Path(found)
    if isinstance(source, str | Path):
        origin = str(source)
        try:
            raw = yaml.safe_load(Path(source).read_text()) or {}
        except FileNotFoundError:
            raise ConfigError(f"{origin}: no such file") from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"{origin}: not valid YAML: {exc}") from None
    else:
        raw = source
    if not isinstance(raw, dict):
        raise ConfigError(f"{origin}: the top level must be a mapping (providers:, models:, ...)")
    try:
        return Config.model_validate(interpolate(raw))
    except ValidationError as exc:
        raise ConfigError(f"{origin}: " + _explain(exc)) from None


def _explain(exc: ValidationError) -> str:
    lines = []
    for error in exc.errors(include_url=False):
        where = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in error["loc"])
        where = where.lstrip(".")
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown field; check the spelling against the documented fields"
        # A check of the whole config names its field in its message (``models.smart[0][0]: …``).
        lines.append(f"{where}: {message}" if where else message)
    return "; ".join(lines)


def default_config() -> Config:
    """The automatic cascade: OpenAI, then Anthropic, when their keys are in the environment; then
    the local model."""
    providers: dict[str, Any] = {"local": {"kind": "local"}}
    default: list[Any] = []
    if os.environ.get("OPENAI_API_KEY"):
        providers["openai"] = {"kind": "openai", "profile": "openai", "api_key": os.environ["OPENAI_API_KEY"]}
        if os.environ.get("OPENAI_BASE_URL"):
            providers["openai"]["base_url"] = os.environ["OPENAI_BASE_URL"]
        default.append("openai/gpt-4o-mini")
    if os.environ.get("ANTHROPIC_API_KEY"):
        providers["anthropic"] = {"kind": "anthropic", "api_key": os.environ["ANTHROPIC_API_KEY"]}
        if os.environ.get("ANTHROPIC_BASE_URL"):
            providers["anthropic"]["base_url"] = os.environ["ANTHROPIC_BASE_URL"]
        default.append(f"anthropic/{DEFAULT_ANTHROPIC_MODEL}")
    _warn_missing_keys(default)
    default.append("local")
    return Config.model_validate({"providers": providers, "models": {"default": default, "local": ["local"]}})


def _warn_missing_keys(cloud: list[str]) -> None:
    """One warning naming every key that would add a cloud route, and what ``default`` serves without."""
    routes = {
        "OPENAI_API_KEY": "openai/gpt-4o-mini",
        "ANTHROPIC_API_KEY": f"anthropic/{DEFAULT_ANTHROPIC_MODEL}",
    }
    missing = [name for name in routes if not os.environ.get(name)]
    if not missing:
        return
    local = "the bundled local model (SmolLM2-135M, offline)"
    serves = ", then ".join([*cloud, local]) if cloud else f"only {local}"
    adds = " or ".join(f"{name} to add {routes[name]}" for name in missing)
    verb = "is" if len(missing) == 1 else "are"
    log.warning(f"{' and '.join(missing)} {verb} not set: the default cascade serves {serves}; set {adds}")
