"""The pinned OpenAI spec is complete in itself, and the tests read it from the repository."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from .pin_openai import PINNED, SCHEMAS, references

TESTS = Path(__file__).resolve().parents[1]


def test_pinned_spec_holds_every_schema_the_tests_use_and_all_they_reference() -> None:
    """Each schema the tests validate against is in the pinned file, and every $ref in it resolves there."""
    assert PINNED.is_file(), f"{PINNED} is missing: see tests/specs/README.md"
    spec = yaml.safe_load(PINNED.read_text())
    schemas = spec["components"]["schemas"]
    assert set(SCHEMAS) <= set(schemas)
    assert references(schemas) <= set(schemas)
    assert spec["info"]["license"]["identifier"] == "MIT"


def test_no_test_reads_a_spec_from_outside_the_repository() -> None:
    """No test module points at the shared specs folder beside the checkout (a fresh clone has none)."""
    folder = "sha" + "red"  # spelled apart, so this module does not name the path it looks for
    hints = (f'"{folder}" / "specs"', f"{folder}/specs", f"../{folder}")
    outside = [
        str(path.relative_to(TESTS))
        for path in TESTS.rglob("*.py")
        if any(hint in path.read_text() for hint in hints)
    ]
    assert not outside


def test_every_schema_a_test_validates_against_is_pinned() -> None:
    """Each schema named in a test's ``validate(..., "Name")`` is in ``SCHEMAS`` (so it is pinned)."""
    named = {
        name
        for path in TESTS.rglob("*.py")
        if path != Path(__file__).resolve()
        for name in re.findall(r"\bvalidate\([^()]*(?:\([^()]*\))?[^()]*,\s*\"(\w+)\"\)", path.read_text())
    }
    assert "CreateChatCompletionRequest" in named  # the pattern finds what the tests use
    assert named <= set(SCHEMAS)
