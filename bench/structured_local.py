"""Schema-valid JSON from the local model on real-world JSON Schemas (bench/schemas), before and after.

For each schema the local model (SmolLM2-135M, llama.cpp) is asked for one instance with a short
prompt, three ways, and each answer is validated against the schema with ``jsonschema``:

- ``before``: the schema as sent, straight to llama.cpp with the old 2,048-token context — one
  request, grammar alone (what the local tier did before bounding and the fallbacks);
- ``bounded``: the bounded copy of the schema (``keel.structured.bounded_schema``) at the model's
  8,192-token context — one request, nothing else;
- ``after``: ``gw.structured`` through Keel's library — the bounded grammar, JSON mode for a schema
  llama.cpp cannot compile, re-asks (``max_reasks``) on an invalid or cut answer.

Run: ``.venv/bin/python bench/structured_local.py [--limit N] [--max-tokens 300] [--modes before,after]``;
it prints one line per schema and a summary, and writes ``bench/results/<time>-structured-local.json``.
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

from keel.structured.bounded_schema import bounded

HERE = Path(__file__).resolve().parent


def prompt(name: str, schema: dict[str, Any]) -> list[dict[str, str]]:
    """A short request for one instance: the schema's title (else its file name) and a line of its
    description."""
    subject = schema.get("title") if isinstance(schema.get("title"), str) else name.replace("-", " ")
    description = schema.get("description") if isinstance(schema.get("description"), str) else ""
    about = f" ({description.split('.')[0][:120]})" if description else ""
    return [{"role": "user", "content": f"Write a small, typical example of a {subject}{about} as JSON."}]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=0, help="only the first N schemas")
    parser.add_argument("--max-tokens", type=int, default=300)
    parser.add_argument("--max-reasks", type=int, default=2)
    parser.add_argument("--modes", default="before,bounded,after")
    parser.add_argument("--start", default="", help="skip the schemas whose names sort before this")
    args = parser.parse_args()
    modes = args.modes.split(",")
    files = [path for path in sorted((HERE / "schemas").glob("*.json")) if path.stem >= args.start]
    files = files[: args.limit or None]
    schemas = {path.stem: json.loads(path.read_text()) for path in files}
    params = {"max_tokens": args.max_tokens, "temperature": 0}
    results: dict[str, dict[str, Answer]] = {name: {} for name in schemas}

    for mode, n_ctx in (("before", 2048), ("bounded", 8192)):
        if mode not in modes:
            continue
        async with direct(n_ctx) as model:
            for name, schema in schemas.items():
                sent = schema if mode == "before" else bounded(schema)
                answer = await model.ask(sent, prompt(name, schema), **params)
                answer.valid = answer.error is None and valid(answer.value, schema)
                results[name][mode] = answer
                print(f"{mode:8} {name:52} {'valid' if answer.valid else 'INVALID':8} {answer.error or ''}")
    if "after" in modes:
        with tempfile.TemporaryDirectory() as tmp:
            gw = gateway(Path(tmp))
            try:
                for name, schema in schemas.items():
                    messages = prompt(name, schema)
                    answer = await through_keel(gw, schema, messages, max_reasks=args.max_reasks, **params)
                    results[name]["after"] = answer
                    state = "valid" if answer.valid else "INVALID"
                    print(f"after    {name:52} {state:8} calls={answer.calls} {answer.error or ''}")
            finally:
                await gw.aclose()

    print(f"\n{len(schemas)} schemas, max_tokens {args.max_tokens}, temperature 0")
    summary: dict[str, Any] = {}
    for mode in modes:
        answers = [results[name][mode] for name in schemas if mode in results[name]]
        good = [a for a in answers if a.valid]
        share = len(good) / len(answers) if answers else 0.0
        calls = sum(a.calls for a in answers) / max(len(good), 1)
        seconds = sum(a.seconds for a in answers)
        summary[mode] = {"valid": len(good), "of": len(answers), "share": share, "calls_per_valid": calls}
        print(
            f"{mode:8} schema-valid {len(good)}/{len(answers)} = {share:.0%}; calls per valid answer "
            f"{calls:.2f}; {seconds:.0f} s in all"
        )
    out = HERE / "results" / f"{time.strftime('%Y%m%d-%H%M%S')}-structured-local.json"
    out.write_text(
        json.dumps(
            {
                "args": vars(args),
                "summary": summary,
                "answers": {
                    name: {mode: {k: v for k, v in vars(a).items() if k != "value"} for mode, a in by.items()}
                    for name, by in results.items()
                },
            },
            indent=1,
        )
    )
    print(f"written {out.relative_to(HERE.parent)}")


if __name__ == "__main__":
    asyncio.run(main())
