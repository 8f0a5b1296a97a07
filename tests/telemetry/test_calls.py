"""Per-call metrics from a ledger record: labels bounded, caller labels only as configured."""

from decimal import Decimal

from keel.config import MetricsConfig
from keel.ledger import LedgerRecord
from keel.telemetry import calls
from keel.telemetry.exposition import scrape

from ..scrape import by, parse, total

UNBOUNDED = MetricsConfig(max_label_values=1_000_000)  # above what the suite's other tests showed


def record(model: str, **fields: object) -> LedgerRecord:
    base: dict[str, object] = {"request_id": "0" * 32, "started_at": 0.0, "status": "ok", "stream": False}
    return LedgerRecord(requested_model=model, **{**base, **fields})  # type: ignore[arg-type]


def test_a_model_that_never_resolved_is_unresolved() -> None:
    """A failed call without attempts (an unknown model name) is labelled ``unresolved``, not by its name."""
    calls.configure(UNBOUNDED)
    calls.call_started()
    calls.call_ended(record("no-such-model-x1", status="model_not_found"), UNBOUNDED)
    samples = parse(scrape().decode())
    assert total(samples, "keel_request_duration_seconds_count", model="no-such-model-x1") == 0
    assert total(samples, "keel_request_duration_seconds_count", model="unresolved") >= 1


def test_caller_labels_appear_only_when_configured() -> None:
    """The key id is a label only with ``metrics.labels: [key]``; the team by default."""
    answered = record(
        "labels-model-x2", route="mock/x2", key_id="key_x2", team="team-x2", input_tokens=7,
        output_tokens=3, cost_usd=Decimal("0.5"), attempts=[{"route": "mock/x2", "outcome": "ok"}],
    )  # fmt: skip
    calls.configure(UNBOUNDED)
    for labels in (("team",), ("key", "team")):
        calls.call_started()
        calls.call_ended(answered, UNBOUNDED.model_copy(update={"labels": labels}))
    samples = parse(scrape().decode())
    tokens = by(samples, "keel_tokens_total", "key", "team", "type", model="labels-model-x2")
    assert tokens == {
        ("", "team-x2", "input"): 7, ("", "team-x2", "output"): 3,
        ("key_x2", "team-x2", "input"): 7, ("key_x2", "team-x2", "output"): 3,
    }  # fmt: skip
    assert total(samples, "keel_cost_usd_total", model="labels-model-x2") == 1.0
    assert total(samples, "keel_attempts_total", route="mock/x2", outcome="ok", reason="first") == 2
