"""A fixed extraction set through the local model: schema-valid and correct answers, with and
without the grammar, with and without re-asks, and what each valid answer cost in calls and tokens.

The set is ``bench/extraction/people.json``: 50 short texts made by the project ("Alice is 18 and
lives in Paris.") with the answer each holds (``{"name", "age", "city"}``). Four ways to ask:

- ``json-mode``: one request in JSON mode (``json_object``) with the schema in a system message, as
  Keel words it — no grammar, no re-ask;
- ``grammar``: one request with ``response_format: json_schema`` as sent — llama.cpp's grammar alone;
- ``keel-json-mode``: ``gw.structured`` on a local route without JSON schemas
  (``supports_json_schema: false``) — JSON mode plus validation and re-asks;
- ``keel``: ``gw.structured`` on the local route — the bounded grammar plus validation and re-asks.

An answer is correct when its name and city equal the known ones (ignoring case and surrounding
spaces) and its age is the known number.

Run: ``.venv/bin/python bench/structured_extraction.py [--limit N] [--modes ...]``; it writes
``bench/results/<time>-structured-extraction.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _local_structured import Answer, direct, gateway, through_keel, valid

from keel import Gateway
from keel.structured.strategy import with_json_mode
from keel.types import ChatRequest

HERE = Path(__file__).resolve().parent
MODES = ("json-mode", "grammar", "keel-json-mode", "keel")


def correct(value: Any, expected: dict[str, Any]) -> bool:
    if not isinstance(value, dict):
        return False
    same = lambda key: str(value.get(key, "")).strip().lower() == str(expected[key]).lower()  # noqa: E731
    return same("name") and same("city") and value.get("age") == expected["age"]


def json_mode_messages(schema: dict[str, Any], messages: list[dict[str, str]]) -> list[dict[str, str]]:
    """The messages Keel sends a route in JSON mode (the schema in a system message first)."""
    request = ChatRequest(
        model="local",
        messages=messages,
        response_format={"type": "json_schema", "json_schema": {"name": "person", "schema": schema}},
    )
    return [m.model_dump(exclude_none=True) for m in with_json_mode(request).messages]


def keel_json_mode(tmp: Path) -> Gateway:
    """A gateway whose local route says it takes no JSON schema: JSON mode, validation, re-asks."""
    return Gateway.from_config(
        {
            "providers": {"local": {"kind": "local"}},
            "models": {"local": [{"provider": "local", "supports_json_schema": False}]},
            "database": f"sqlite:///{tmp}/keel.db",
            "timeouts": {"connect": 5, "first_token": 60, "idle": 30, "attempt": 120, "total": 400},
        }
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--max-tokens", type=int, default=120)
    parser.add_argument("--max-reasks", type=int, default=2)
    parser.add_argument("--modes", default=",".join(MODES))
    args = parser.parse_args()
    modes = args.modes.split(",")
    data = json.loads((HERE / "extraction" / "people.json").read_text())
    schema, cases = data["schema"], data["cases"][: args.limit or None]
    params = {"max_tokens": args.max_tokens, "temperature": 0}

    def ask(text: str) -> list[dict[str, str]]:
        return [{"role": "user", "content": f"{data['instruction']}\nText: {text}"}]

    results: dict[str, list[Answer]] = {mode: [] for mode in modes}
    if "json-mode" in modes or "grammar" in modes:
        async with direct(8192) as model:
            for case in cases:
                if "json-mode" in modes:
                    answer = await model.ask(None, json_mode_messages(schema, ask(case["text"])), **params)
                    results["json-mode"].append(answer)
                if "grammar" in modes:
                    results["grammar"].append(await model.ask(schema, ask(case["text"]), **params))
    for mode, make in (("keel-json-mode", keel_json_mode), ("keel", gateway)):
        if mode not in modes:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            gw = make(Path(tmp))
            try:
                for case in cases:
                    answer = await through_keel(
                        gw, schema, ask(case["text"]), max_reasks=args.max_reasks, **params
                    )
                    results[mode].append(answer)
            finally:
                await gw.aclose()

    print(f"{len(cases)} inputs, max_tokens {args.max_tokens}, temperature 0, max_reasks {args.max_reasks}")
    print(f"{'mode':15} {'valid':>7} {'correct':>8} {'calls/valid':>12} {'tokens/valid':>13} {'seconds':>8}")
    summary: dict[str, Any] = {}
    for mode in modes:
        answers = results[mode]
        for answer, case in zip(answers, cases, strict=True):
            answer.valid = answer.error is None and valid(answer.value, schema)
            answer.notes["correct"] = answer.valid and correct(answer.value, case["answer"])
        good = [a for a in answers if a.valid]
        right = sum(1 for a in answers if a.notes["correct"])
        calls = sum(a.calls for a in answers) / max(len(good), 1)
        tokens = sum(a.tokens for a in answers) / max(len(good), 1)
        seconds = sum(a.seconds for a in answers)
        summary[mode] = {
            "valid": len(good) / len(answers),
            "correct": right / len(answers),
            "calls_per_valid": calls,
            "tokens_per_valid": tokens,
            "seconds": seconds,
        }
        print(
            f"{mode:15} {len(good) / len(answers):7.0%} {right / len(answers):8.0%} {calls:12.2f} "
            f"{tokens:13.0f} {seconds:8.1f}"
        )
    out = HERE / "results" / f"{time.strftime('%Y%m%d-%H%M%S')}-structured-extraction.json"
    detail = {
        mode: [
            {
                "text": case["text"],
                "value": a.value,
                "valid": a.valid,
                "correct": a.notes["correct"],
                "calls": a.calls,
            }
            for a, case in zip(results[mode], cases, strict=True)
        ]
        for mode in modes
    }
    out.write_text(json.dumps({"args": vars(args), "summary": summary, "answers": detail}, indent=1))
    print(f"written {out.relative_to(HERE.parent)}")


if __name__ == "__main__":
    asyncio.run(main())
