"""Credentials as providers and platforms issue them: shapes precise enough to stop an answer for.

Broader than the log redaction's patterns where a format is well known (AWS, GitHub, Slack, Google,
Stripe, private keys, JWTs), and stricter where a log line may be loose: an answer that explains
``Authorization: Bearer <token>`` is not a leak.
"""

from __future__ import annotations

import re

__all__ = ["LONGEST_SECRET", "SECRET", "SECRET_PREFIXES"]

SECRET = re.compile(
    "|".join(
        (
            r"\bsk-ant-(?:api|admin)\d{2}-[A-Za-z0-9_\-]{20,}",  # Anthropic
            r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,}",  # OpenAI, and Keel's virtual keys
            r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",  # AWS access key ids
            r"\bgh[pousr]_[A-Za-z0-9]{36,}",  # GitHub tokens
            r"\bgithub_pat_[A-Za-z0-9_]{22,}",
            r"\bxox[abprs]-[A-Za-z0-9\-]{10,}",  # Slack
            r"\bAIza[0-9A-Za-z_\-]{35}\b",  # Google API keys
            r"\b[rs]k_live_[0-9A-Za-z]{24,}",  # Stripe
            r"-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----",
            r"\beyJ[A-Za-z0-9_\-]{10,}\.eyJ[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}",  # JWTs
        )
    )
)
# The longest text a secret needs before the pattern recognises it (its shortest match): a scan of
# this many characters before the new text never misses one.
LONGEST_SECRET = 64
# How every secret above begins: text with none of these cannot start one, so it is not scanned.
SECRET_PREFIXES = (
    "sk-",
    "AKIA",
    "ASIA",
    "ghp_",
    "gho_",
    "ghu_",
    "ghs_",
    "ghr_",
    "github_pat_",
    "xoxa-",
    "xoxb-",
    "xoxp-",
    "xoxr-",
    "xoxs-",
    "AIza",
    "rk_live_",
    "sk_live_",
    "-----BEGIN ",
    "eyJ",
)
