"""What providers' error messages say, when their codes do not: context overflow, content policy; and
what Keel keeps of them (``quoted``): a message may quote the request, so it is redacted first."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import orjson

__all__ = ["CONTEXT_TEXT", "POLICY_TEXT", "UNSUPPORTED_TEXT", "json_or_none", "quoted"]

CONTEXT_TEXT = re.compile(
    r"maximum context length|context (?:length|window|limit)|too many tokens|prompt is too long"
    r"|exceeds? (?:the )?(?:model's )?(?:maximum )?context",
    re.IGNORECASE,
)
POLICY_TEXT = re.compile(
    r"content (?:management |filtering )?policy|usage policy|safety system|flagged", re.IGNORECASE
)
UNSUPPORTED_TEXT = re.compile(r"\bnot supported\b", re.IGNORECASE)


def json_or_none(body: bytes) -> Mapping[str, Any] | Any:
    """An error body parsed, or None when it is not JSON (a proxy's HTML page, say)."""
    try:
        return orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        return None


def quoted(message: str) -> str:
    """A provider's error message as Keel passes it on — to the client, the ledger, the attempt
    records: with the personal data and keys it may quote from the request masked (``[EMAIL]``).
    The redactor is imported with the first upstream error, never at start-up."""
    from ..safety.pii import redact

    return redact(message)
