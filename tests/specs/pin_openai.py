"""Pin the part of OpenAI's OpenAPI document that Keel's tests validate against.

Run from the repository's root with the full document (from github.com/openai/openai-openapi)::

    .venv/bin/python tests/specs/pin_openai.py path/to/openai-openapi.yaml

It writes ``tests/specs/openai-openapi.yaml``: the document's ``openapi`` and ``info`` (licence
included) and the ``components.schemas`` named in ``SCHEMAS`` with every schema they reference,
unchanged. Add a name to ``SCHEMAS`` and run it again when a test validates against a new schema,
then update the date and checksum in ``tests/specs/README.md``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

__all__ = ["PINNED", "SCHEMAS", "references", "trim"]

PINNED = Path(__file__).with_name("openai-openapi.yaml")

SCHEMAS = (
    "CreateChatCompletionRequest",
    "CreateChatCompletionResponse",
    "CreateChatCompletionStreamResponse",
    "CreateEmbeddingResponse",
    "ErrorResponse",
    "ListModelsResponse",
    "Model",
)
"""The schemas the tests validate against: Keel's answers (tests/e2e/test_openai_schemas.py) and the
requests it sends an OpenAI route (tests/e2e/test_cross_format.py)."""


def references(node: Any) -> set[str]:
    """The names of the ``#/components/schemas/...`` that ``node`` refers to, at any depth."""
    found: set[str] = set()
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            ref = item.get("$ref")
            if isinstance(ref, str):
                found.add(ref.removeprefix("#/components/schemas/"))
            stack.extend(value for key, value in item.items() if key != "$ref")
        elif isinstance(item, list):
            stack.extend(item)
    return found


def trim(spec: dict[str, Any], names: tuple[str, ...] = SCHEMAS) -> dict[str, Any]:
    """``spec`` cut down to ``names`` and the schemas they reference, in the document's own order."""
    schemas = spec["components"]["schemas"]
    kept: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        if name not in kept:
            kept.add(name)
            todo.extend(references(schemas[name]))
    return {
        "openapi": spec["openapi"],
        "info": spec["info"],
        "components": {"schemas": {name: body for name, body in schemas.items() if name in kept}},
    }


def main(source: str) -> None:
    with open(source) as handle:
        spec = yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    text = yaml.safe_dump(trim(spec), sort_keys=False, allow_unicode=True, width=100)
    PINNED.write_text(text)
    print(f"{PINNED}: {len(text):,} characters")


if __name__ == "__main__":
    main(*sys.argv[1:])
