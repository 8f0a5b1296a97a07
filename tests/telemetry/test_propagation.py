"""The W3C trace context Keel accepts from a client and sends upstream."""

from __future__ import annotations

import asyncio

from keel.telemetry.propagation import send_upstream, trace_context, with_trace_context

PARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def test_a_valid_traceparent_is_taken_with_its_tracestate() -> None:
    """A version-00 ``traceparent`` (any case, trimmed) is taken lower-cased, with a ``tracestate``."""
    found = trace_context({"traceparent": f" {PARENT.upper()} ", "tracestate": "vendor=abc"})
    assert found == {"traceparent": PARENT, "tracestate": "vendor=abc"}


def test_malformed_or_all_zero_ids_are_refused() -> None:
    """A traceparent with a zero trace or span id, another version or a wrong length is ignored,
    and so is a tracestate without one."""
    for bad in (
        f"00-{'0' * 32}-00f067aa0ba902b7-01",
        f"00-4bf92f3577b34da6a3ce929d0e0e4736-{'0' * 16}-01",
        PARENT.replace("00-", "ff-", 1),
        PARENT[:-1],
        "not a traceparent",
    ):
        assert trace_context({"traceparent": bad, "tracestate": "vendor=abc"}) == {}
    assert trace_context({"tracestate": "vendor=abc"}) == {}


def test_the_context_joins_upstream_headers_of_its_own_task_only() -> None:
    """``send_upstream`` adds the context to the headers of the task that set it, not to another's."""

    async def main() -> tuple[object, object]:
        async def other() -> object:
            return with_trace_context({"a": "1"})

        untouched = await asyncio.create_task(other())
        send_upstream({"traceparent": PARENT})
        return with_trace_context({"a": "1"}), untouched

    mine, untouched = asyncio.run(main())
    assert mine == {"a": "1", "traceparent": PARENT}
    assert untouched == {"a": "1"}
