"""Prometheus metrics: one registry per process, labels that never carry a secret or a prompt.

Every metric Keel keeps is defined here, at import, in ``REGISTRY`` (docs/metrics.md lists them).
Under ``keel serve --workers N`` the values live in prometheus_client's multiprocess files
(``PROMETHEUS_MULTIPROC_DIR``, set up by ``keel serve``), so each gauge says how workers combine.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = [
    "LATENCY_BUCKETS",
    "REGISTRY",
    "attempts",
    "breaker_state",
    "breaker_transitions",
    "budget_alerts",
    "budget_refusals",
    "budget_remaining",
    "budget_spend_tokens",
    "budget_spend_usd",
    "cache_bytes",
    "cache_lookups",
    "coalesced_calls",
    "config_reloads",
    "cost_usd",
    "fallbacks",
    "flag_budget_offs",
    "flag_decisions",
    "guards",
    "in_flight_calls",
    "in_flight_streams",
    "ledger_queue_depth",
    "ledger_records",
    "ledger_write_lag",
    "prompt_rollbacks",
    "rate_limit_refusals",
    "request_duration",
    "time_to_first_token",
    "tokens",
]

REGISTRY = CollectorRegistry(auto_describe=True)

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0)
"""Seconds, from a cache hit's 50 ms to a long reasoning answer's two minutes."""

# Calls: fed by the one ledger record per call (``telemetry.calls``).

request_duration = Histogram(
    "keel_request_duration_seconds",
    "Calls by how long they took, to the end of the answer (a stream's last chunk).",
    ["model", "route", "status", "stream"],
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)

time_to_first_token = Histogram(
    "keel_time_to_first_token_seconds",
    "Streamed calls by the time to their first content-bearing chunk (the commit point).",
    ["model", "route", "status"],
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)

tokens = Counter(
    "keel_tokens_total",
    "Tokens by type (input includes cached_input and cache_write; output includes reasoning).",
    ["model", "route", "type", "key", "team"],
    registry=REGISTRY,
)

cost_usd = Counter(
    "keel_cost_usd_total",
    "What calls cost, in US dollars, as the ledger records it.",
    ["model", "route", "key", "team"],
    registry=REGISTRY,
)

attempts = Counter(
    "keel_attempts_total",
    "Attempts by route, how they ended (outcome) and why they were made (reason).",
    ["route", "outcome", "reason"],
    registry=REGISTRY,
)

fallbacks = Counter(
    "keel_fallbacks_total",
    "Moves from one route to the next within a call.",
    ["from_route", "to_route"],
    registry=REGISTRY,
)

in_flight_calls = Gauge(
    "keel_in_flight_calls",
    "Calls in the gateway now, streams included.",
    registry=REGISTRY,
    multiprocess_mode="livesum",
)

in_flight_streams = Gauge(
    "keel_in_flight_streams",
    "Streams being relayed now.",
    registry=REGISTRY,
    multiprocess_mode="livesum",
)

# Routes: fed by the breaker policy.

breaker_state = Gauge(
    "keel_breaker_state",
    "Circuit state per route as this process last saw it: 0 closed, 1 half-open, 2 open.",
    ["route"],
    registry=REGISTRY,
    multiprocess_mode="livemostrecent",
)

breaker_transitions = Counter(
    "keel_breaker_transitions_total",
    "Circuit state changes per route, by the state entered.",
    ["route", "to"],
    registry=REGISTRY,
)

# Budgets and rate limits: fed by their policies (the budget's attempt listener).

budget_spend_usd = Counter(
    "keel_budget_spend_usd_total",
    "Dollars settled against each dollar budget.",
    ["budget"],
    registry=REGISTRY,
)

budget_spend_tokens = Counter(
    "keel_budget_spend_tokens_total",
    "Tokens settled against each token budget.",
    ["budget"],
    registry=REGISTRY,
)

budget_remaining = Gauge(
    "keel_budget_remaining",
    "What is left of a budget with one subject (global, or with match) in its window, in its unit.",
    ["budget", "unit"],
    registry=REGISTRY,
    multiprocess_mode="livemostrecent",
)

budget_refusals = Counter(
    "keel_budget_refusals_total",
    "Attempts refused because a budget could not cover their worst case.",
    ["budget"],
    registry=REGISTRY,
)

budget_alerts = Counter(
    "keel_budget_alerts_total",
    "Budget thresholds crossed, once per budget, threshold and window.",
    ["budget", "threshold"],
    registry=REGISTRY,
)

prompt_rollbacks = Counter(
    "keel_prompt_rollbacks_total",
    "Labels a rollout guard moved back (once per breach, across replicas).",
    ["prompt", "label"],
    registry=REGISTRY,
)

flag_decisions = Counter(
    "keel_flag_decisions_total",
    "Calls that named a feature, by flag, the variant served (none: refused) and why.",
    ["flag", "variant", "reason"],
    registry=REGISTRY,
)

flag_budget_offs = Counter(
    "keel_flag_budget_offs_total",
    "Flags their budget turned off (once per exhaustion, across replicas).",
    ["flag", "budget"],
    registry=REGISTRY,
)

rate_limit_refusals = Counter(
    "keel_rate_limit_refusals_total",
    "Calls (or, scope route, attempts) refused by Keel's own rate limits.",
    ["scope", "limit"],
    registry=REGISTRY,
)

# Cache and coalescing: fed by their policies.

cache_lookups = Counter(
    "keel_cache_lookups_total",
    "Response cache lookups by result: hit, semantic_hit, miss, or error (a failed backend: a miss).",
    ["result"],
    registry=REGISTRY,
)

cache_bytes = Counter(
    "keel_cache_bytes_total",
    "Bytes of cache entries stored and served.",
    ["direction"],
    registry=REGISTRY,
)

coalesced_calls = Counter(
    "keel_coalesced_calls_total",
    "Calls that shared another's upstream call: in this process (local) or another replica's (remote).",
    ["source"],
    registry=REGISTRY,
)

# The ledger writer.

ledger_queue_depth = Gauge(
    "keel_ledger_queue_depth",
    "Ledger records waiting to be written, as the writer last saw its queue.",
    registry=REGISTRY,
    multiprocess_mode="livesum",
)

ledger_write_lag = Histogram(
    "keel_ledger_write_lag_seconds",
    "Per batch written: how long its oldest record waited in the queue until it was stored.",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
    registry=REGISTRY,
)

ledger_records = Counter(
    "keel_ledger_records_total",
    "Ledger records by what became of them: written, or dropped after the store refused them.",
    ["result"],
    registry=REGISTRY,
)

# Structured output (the validate policy's verdict on each call that asked for it).

structured_outputs = Counter(
    "keel_structured_outputs_total",
    "Calls that asked for structured output, by model and outcome: valid (as produced), repaired, "
    "reasked (valid after asking again), refused, or failed.",
    ["model", "outcome"],
    registry=REGISTRY,
)

structured_reasks = Counter(
    "keel_structured_reasks_total",
    "Times an answer that did not parse or validate was asked for again, by model.",
    ["model"],
    registry=REGISTRY,
)

# Guards (docs/guards.md): each guard that fired on a call, and what it did.

guards = Counter(
    "keel_guards_total",
    "Calls on which a guard fired, by guard (an output guard's configured name, or pii) and mode: "
    "block (stopped), redact (personal data kept from the provider) or flag (recorded, let through).",
    ["guard", "mode"],
    registry=REGISTRY,
)

# The shared state store (Redis), seen from this process.

state_store_up = Gauge(
    "keel_state_store_up",
    "1 while the shared state store (Redis) answers this process, 0 during an outage.",
    registry=REGISTRY,
    multiprocess_mode="liveall",
)

state_outages = Counter(
    "keel_state_outages_total",
    "Outages of the shared state store seen by this process (each logged once at its start and end).",
    registry=REGISTRY,
)

# Config reloads (``keel serve``: SIGHUP, POST /admin/reload, the file watch).

config_reloads = Counter(
    "keel_config_reloads_total",
    "Config reloads by result: applied, unchanged, or refused (invalid, or a key that needs a restart).",
    ["result"],
    registry=REGISTRY,
)
